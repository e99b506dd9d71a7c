//! The operator's view: [`crate::InstanceStatus`] from an instance, and the text of
//! `rvsadm --vrrp-status` in keepalived's data-dump shape.

use std::fmt::Write;

use crate::instance::Instance;
use crate::{DropReason, InstanceStatus, State, Version};

pub fn of(i: &Instance) -> InstanceStatus {
    InstanceStatus {
        name: i.cfg.name.clone(),
        interface: i.cfg.interface.clone(),
        vrid: i.cfg.vrid,
        version: i.cfg.version,
        state: i.state,
        priority: i.cfg.priority,
        effective_priority: i.eff_prio,
        master: i.master,
        master_priority: i.master_priority,
        advert_int_cs: (i.adver_int_ms() / 10) as u16,
        master_advert_int_cs: (i.master_adver_int_ms / 10) as u16,
        vips: i
            .cfg
            .vips
            .iter()
            .chain(&i.cfg.vips_excluded)
            .map(|v| v.addr)
            .collect(),
        vips_excluded: i.cfg.vips_excluded.iter().map(|v| v.addr).collect(),
        fault: (i.state == State::Fault).then(|| i.fault.clone()).flatten(),
        counters: i.counters(),
        transitions: i.transitions.iter().cloned().collect(),
        accept: i.cfg.accept,
        // the router fills it in: groups are its business
        sync_group: None,
    }
}

pub fn state_name(s: State) -> &'static str {
    match s {
        State::Init => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}

/// The lower-case names `Dropped (...)` lines use.
pub fn drop_name(r: DropReason) -> &'static str {
    match r {
        DropReason::Malformed => "malformed",
        DropReason::Ttl => "ttl",
        DropReason::Version => "version",
        DropReason::Type => "type",
        DropReason::Checksum => "checksum",
        DropReason::UnknownVrid => "unknown_vrid",
        DropReason::Auth => "auth",
        DropReason::Interval => "interval",
        DropReason::Addresses => "addresses",
        DropReason::NotPeer => "not_peer",
        DropReason::Own => "own",
    }
}

/// Centiseconds as seconds with two decimals (`1.00`).
fn secs(cs: u16) -> String {
    format!("{}.{:02}", cs / 100, cs % 100)
}

pub fn lines(status: &[InstanceStatus], now: u64) -> Vec<String> {
    let mut out = Vec::new();
    for s in status {
        let kv = |out: &mut Vec<String>, k: &str, v: &dyn std::fmt::Display| {
            out.push(format!("   {k} = {v}"));
        };
        out.push(format!(" VRRP Instance = {}", s.name));
        kv(&mut out, "State", &state_name(s.state));
        kv(&mut out, "Interface", &s.interface);
        kv(&mut out, "Virtual Router ID", &s.vrid);
        kv(
            &mut out,
            "Version",
            &match s.version {
                Version::V2 => 2,
                Version::V3 => 3,
            },
        );
        kv(&mut out, "Priority", &s.priority);
        kv(&mut out, "Effective priority", &s.effective_priority);
        match s.master {
            Some(m) => kv(&mut out, "Master router", &m),
            None => kv(&mut out, "Master router", &"none"),
        }
        match s.master_priority {
            Some(p) => kv(&mut out, "Master priority", &p),
            None => kv(&mut out, "Master priority", &"none"),
        }
        kv(
            &mut out,
            "Advert interval",
            &format!("{} sec", secs(s.advert_int_cs)),
        );
        kv(
            &mut out,
            "Master advert interval",
            &format!("{} sec", secs(s.master_advert_int_cs)),
        );
        for v in &s.vips {
            kv(&mut out, "Virtual IP", v);
        }
        for v in &s.vips_excluded {
            kv(&mut out, "Excluded virtual IP", v);
        }
        kv(
            &mut out,
            "Accept",
            &if s.accept {
                "yes"
            } else {
                "yes (no_accept is not enforced by rvs)"
            },
        );
        match &s.sync_group {
            Some((name, state)) => kv(
                &mut out,
                "Sync group",
                &format!("{name} {}", state_name(*state)),
            ),
            None => kv(&mut out, "Sync group", &"none"),
        }
        kv(&mut out, "Fault", &s.fault.as_deref().unwrap_or("none"));
        let c = &s.counters;
        kv(&mut out, "Adverts received", &c.adverts_rx);
        kv(&mut out, "Adverts sent", &c.adverts_tx);
        kv(&mut out, "Became master", &c.became_master);
        kv(&mut out, "Released master", &c.released_master);
        kv(&mut out, "Priority zero received", &c.priority_zero_rx);
        kv(&mut out, "Priority zero sent", &c.priority_zero_tx);
        kv(&mut out, "Split brain", &c.split_brain);
        for r in crate::instance::DROP_REASONS {
            let n = c.drops.iter().find(|(x, _)| *x == r).map_or(0, |(_, n)| *n);
            kv(&mut out, &format!("Dropped ({})", drop_name(r)), &n);
        }
        for t in &s.transitions {
            let age = now.saturating_sub(t.at);
            let mut line = String::new();
            let _ = write!(
                line,
                "{}.{:03} s ago {} -> {} ({})",
                age / 1000,
                age % 1000,
                state_name(t.from),
                state_name(t.to),
                t.reason
            );
            kv(&mut out, "Transition", &line);
        }
    }
    out
}
