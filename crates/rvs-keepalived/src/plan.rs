//! [`KeepalivedConfig`] → what rvsd applies, in ipvsadm's own types (rvs-ctl): the
//! services as [`ServiceSpec`]s, each real server's forwarding as a [`DestSpec`] template,
//! and the checker's targets. [`plan`] runs once per load, from one validated expansion
//! (the same as [`crate::to_engine`]'s, so its errors name file and line); the daemon
//! applies [`service_commands`] and [`action_commands`] through the same transaction as
//! `ipvsadm`, so `ipvsadm -Ln` shows exactly what keepalived's kernel table would.
//!
//! The configuration owns the services; the checker owns which real servers are in them.
//! A reload diffs the services into `-A/-E/-D`; the checker's update emits only the pool
//! diff, so a changed weight is an `-e` and a removed real server a `-d` (its conns drain).

use crate::engine::{expand, MAX_EXPANSION};
use crate::{Diag, KeepalivedConfig, Script, VirtualServer, VsKey};
use rvs_check::machine::{Action, RsConfig, SvcId, VsConfig};
use rvs_check::spec::CheckSpec;
use rvs_ctl::cmd::{
    self, Command, DestSpec, Forward, FwmarkRule, Netmask, Protocol, ServiceKey, ServiceSpec,
    TunnelCsum, TunnelType,
};
use rvs_engine::config::{FwdMethod, SvcKey, TunCsum, TunType};
use rvs_proto::Proto;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// What a configuration asks of the table and of the checker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Each virtual server's id (stable across reloads) and the services it expands to.
    pub services: Vec<(SvcId, Vec<ServiceSpec>)>,
    /// How each real server (and sorry server) of a virtual server is forwarded to.
    pub dests: HashMap<(SvcId, SocketAddr), DestSpec>,
    pub targets: Vec<CheckTarget>,
    pub timeouts: Option<cmd::Timeouts>,
    pub fwmark_rules: Vec<FwmarkRule>,
    /// `lvs_flush`: clear the table at startup.
    pub flush: bool,
    /// The VRRP instances, scripts and sync groups; empty without any `vrrp_instance`
    /// (rvsd then runs no VRRP at all).
    pub vrrp: rvs_vrrp::VrrpConfig,
}

/// A virtual server as the checker sees it: what `rvs_check::runner::VsTarget` holds, kept
/// here because the runner (and its tokio) is not part of this sans-IO crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckTarget {
    pub vs: VsConfig,
    pub real_servers: Vec<RsTarget>,
}

/// A real server with its checks (`rvs_check::runner::Target`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsTarget {
    pub rs: RsConfig,
    /// `alpha`: start with the checks down until they pass.
    pub alpha: bool,
    /// No checks: always alive.
    pub checks: Vec<CheckSpec>,
}

/// The running table, as far as the translation looks at it (the daemon's model).
pub trait Table {
    /// Every service, in table order.
    fn services(&self) -> impl Iterator<Item = &ServiceSpec>;
    /// The real servers of service `key`, none if it does not exist.
    fn dests(&self, key: &ServiceKey) -> Vec<SocketAddr>;
    fn fwmark_rules(&self) -> &[FwmarkRule];
}

/// keepalived names a virtual server by protocol and address, mark or group; the checker
/// and the daemon use that name to match actions to services across reloads.
pub fn svc_id(vs: &VirtualServer) -> SvcId {
    let proto = vs.protocol.name();
    SvcId(match &vs.key {
        VsKey::Addr { addr, port } => format!("{proto} {}", SocketAddr::new(*addr, *port)),
        VsKey::Fwmark { mark } => format!("FWM {mark}"),
        VsKey::Group(g) => format!("{proto} group {g}"),
    })
}

fn protocol(p: Proto) -> Protocol {
    match p {
        Proto::Tcp => Protocol::Tcp,
        Proto::Udp => Protocol::Udp,
        Proto::Sctp => Protocol::Sctp,
    }
}

/// The ipvsadm spec of one service a virtual server expands to.
fn service_spec(vs: &VirtualServer, key: &SvcKey) -> ServiceSpec {
    let v6 = key.is_v6();
    let key = match *key {
        SvcKey::Addr { proto, addr, port } => ServiceKey::Inet {
            protocol: protocol(proto),
            addr,
            port,
        },
        SvcKey::Fwmark { mark, v6 } => ServiceKey::Fwmark { mark, ipv6: v6 },
    };
    // keepalived's granularity defaults to one client address of the service's family.
    let prefix = vs
        .persistence_granularity
        .filter(|_| vs.persistence_timeout.is_some());
    let netmask = if v6 {
        Netmask::V6(prefix.unwrap_or(128))
    } else {
        let p = u32::from(prefix.unwrap_or(32).min(32));
        Netmask::V4((if p == 0 { 0 } else { u32::MAX << (32 - p) }).into())
    };
    let f = vs.sched_flags.0;
    let bit = |engine: u32, cli: u8| if f & engine != 0 { cli } else { 0 };
    ServiceSpec {
        key,
        scheduler: vs.sched.clone(),
        persistence: vs.persistence_timeout,
        netmask,
        pe: vs.persistence_engine.clone(),
        one_packet: vs.ops,
        sched_flags: bit(rvs_sched::SchedFlags::SCHED1, cmd::SCHED_FLAG_1)
            | bit(rvs_sched::SchedFlags::SCHED2, cmd::SCHED_FLAG_2)
            | bit(rvs_sched::SchedFlags::SCHED3, cmd::SCHED_FLAG_3),
        laddrs: Vec::new(),
    }
}

/// The ipvsadm spec of a real server forwarded with `fwd`.
pub fn dest_spec(
    addr: IpAddr,
    port: u16,
    fwd: &FwdMethod,
    weight: u32,
    u: u32,
    l: u32,
) -> DestSpec {
    let (forward, tun_type, tun_port, tun_csum) = match fwd {
        FwdMethod::Masq => (Forward::Masq, TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        FwdMethod::Route => (Forward::Route, TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        FwdMethod::FullNat => (Forward::FullNat, TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        FwdMethod::Tunnel { tun, csum } => {
            let (t, p) = match tun {
                TunType::Ipip => (TunnelType::Ipip, 0),
                TunType::Gue { port } => (TunnelType::Gue, *port),
                TunType::Gre => (TunnelType::Gre, 0),
            };
            let c = match csum {
                TunCsum::NoCsum => TunnelCsum::NoCsum,
                TunCsum::Csum => TunnelCsum::Csum,
                TunCsum::RemCsum => TunnelCsum::RemCsum,
            };
            (Forward::Tunnel, t, p, c)
        }
    };
    DestSpec {
        addr,
        port,
        forward,
        weight,
        u_threshold: u,
        l_threshold: l,
        tun_type,
        tun_port,
        tun_csum,
    }
}

fn script(s: &Option<Script>) -> Option<String> {
    s.as_ref().map(|s| s.command.clone())
}

/// Turn a parsed configuration into a plan. The whole file expands and validates before
/// anything is applied; an error names the file and line of its virtual server.
pub fn plan(cfg: &KeepalivedConfig) -> Result<Plan, Diag> {
    let x = expand(cfg, MAX_EXPANSION)?;
    let mut p = Plan {
        flush: cfg.global.lvs_flush,
        // Typed and checked by the parser; the daemon takes it as is.
        vrrp: cfg.vrrp.clone(),
        ..Plan::default()
    };
    let t = cfg.global.lvs_timeouts;
    if t.tcp.is_some() || t.tcpfin.is_some() || t.udp.is_some() {
        // The ones left out are the defaults, as keepalived's lvs_timeouts leaves them.
        let (tcp, tcp_fin, udp) = x.tables.settings.timeouts.get();
        p.timeouts = Some(cmd::Timeouts { tcp, tcp_fin, udp });
    }
    p.fwmark_rules = cfg
        .fwmark_rules
        .iter()
        .map(|r| FwmarkRule {
            protocol: protocol(r.rule.proto.unwrap_or(Proto::Tcp)),
            addr: r.rule.daddr,
            prefix: r.rule.prefix,
            port_lo: r.rule.dport_lo,
            port_hi: r.rule.dport_hi,
            mark: r.rule.mark,
        })
        .collect();
    for (vs, keys) in cfg.virtual_servers.iter().zip(&x.keys) {
        if keys.is_empty() {
            continue;
        }
        let id = svc_id(vs);
        p.services.push((
            id.clone(),
            keys.iter().map(|k| service_spec(vs, k)).collect(),
        ));
        let mut reals = Vec::new();
        for rs in &vs.real_servers {
            let sa = SocketAddr::new(rs.addr, rs.port);
            let tmpl = dest_spec(
                rs.addr,
                rs.port,
                &rs.fwd,
                rs.weight,
                rs.uthreshold,
                rs.lthreshold,
            );
            p.dests.insert((id.clone(), sa), tmpl);
            reals.push(RsTarget {
                rs: RsConfig {
                    rs: sa,
                    weight: rs.weight,
                    inhibit_on_failure: rs.inhibit_on_failure,
                    notify_up: script(&rs.notify_up),
                    notify_down: script(&rs.notify_down),
                },
                alpha: rs.alpha,
                checks: rs.checks.clone(),
            });
        }
        let sorry = vs.sorry_server.as_ref().map(|s| {
            let sa = SocketAddr::new(s.addr, s.port);
            p.dests
                .insert((id.clone(), sa), dest_spec(s.addr, s.port, &s.fwd, 1, 0, 0));
            (sa, 1)
        });
        p.targets.push(CheckTarget {
            vs: VsConfig {
                svc: id,
                quorum: u64::from(vs.quorum),
                hysteresis: u64::from(vs.hysteresis),
                quorum_up: script(&vs.quorum_up),
                quorum_down: script(&vs.quorum_down),
                sorry_server: sorry,
                sorry_server_inhibit: vs.sorry_server.as_ref().is_some_and(|s| s.inhibit),
                omega: vs.omega,
            },
            real_servers: reals,
        });
    }
    Ok(p)
}

/// The commands that bring the table's services (not their real servers: the checker's
/// business) and global settings to `plan`, as one transaction. `first` is the load at
/// startup.
pub fn service_commands(table: &impl Table, plan: &Plan, first: bool) -> Vec<Command> {
    let mut out = Vec::new();
    if first && plan.flush {
        out.push(Command::Flush);
    }
    let want: HashMap<ServiceKey, &ServiceSpec> = plan
        .services
        .iter()
        .flat_map(|(_, specs)| specs.iter().map(|s| (s.key, s)))
        .collect();
    for s in table.services() {
        if !want.contains_key(&s.key) {
            out.push(Command::DelService(s.key));
        }
    }
    // At start the checker's view of each pool is empty; a table restored from the state
    // directory may still hold real servers, which would then never be taken out. Clear
    // them (their conns drain and are adopted as usual); the checker adds the live ones
    // within milliseconds.
    if first {
        for s in table.services().filter(|s| want.contains_key(&s.key)) {
            for d in table.dests(&s.key) {
                out.push(Command::DelDest {
                    service: s.key,
                    addr: d.ip(),
                    port: d.port(),
                });
            }
        }
    }
    let have: HashMap<ServiceKey, &ServiceSpec> = table.services().map(|s| (s.key, s)).collect();
    for (_, specs) in &plan.services {
        for spec in specs {
            match have.get(&spec.key) {
                None => out.push(Command::AddService(spec.clone())),
                Some(cur) if *cur != spec => out.push(Command::EditService(spec.clone())),
                Some(_) => {}
            }
        }
    }
    let rules = table.fwmark_rules();
    for r in rules {
        if !plan.fwmark_rules.contains(r) {
            out.push(Command::DelFwmarkRule(*r));
        }
    }
    for r in &plan.fwmark_rules {
        if !rules.contains(r) {
            out.push(Command::AddFwmarkRule(*r));
        }
    }
    if let Some(t) = plan.timeouts {
        out.push(Command::SetTimeout(t));
    }
    out
}

/// The commands of one checker action: the same change on every service the virtual
/// server expands to. Actions that change no table (notify, quorum) give none.
pub fn action_commands(plan: &Plan, a: &Action) -> Vec<Command> {
    let (svc, rs) = match a {
        Action::AddDest { svc, rs, .. }
        | Action::SetWeight { svc, rs, .. }
        | Action::RemoveDest { svc, rs } => (svc, *rs),
        _ => return Vec::new(),
    };
    let Some((_, specs)) = plan.services.iter().find(|(id, _)| id == svc) else {
        return Vec::new();
    };
    let tmpl = plan.dests.get(&(svc.clone(), rs));
    let dest = |weight: u32| -> Option<DestSpec> {
        tmpl.map(|t| DestSpec {
            weight,
            ..t.clone()
        })
    };
    specs
        .iter()
        .filter_map(|s| match a {
            Action::AddDest { weight, .. } => Some(Command::AddDest {
                service: s.key,
                dest: dest(*weight)?,
            }),
            Action::SetWeight { weight, .. } => Some(Command::EditDest {
                service: s.key,
                dest: dest(*weight)?,
            }),
            _ => Some(Command::DelDest {
                service: s.key,
                addr: rs.ip(),
                port: rs.port(),
            }),
        })
        .collect()
}

/// An add for a real server the table already has is an edit, and an edit or delete of one
/// it lacks is nothing: the table may have been changed behind the checker's back (an
/// operator's ipvsadm), and one stale command must not fail the whole transaction.
pub fn reconcile_with(table: &impl Table, cmds: Vec<Command>) -> Vec<Command> {
    let has = |k: &ServiceKey, addr: IpAddr, port: u16| {
        table.dests(k).contains(&SocketAddr::new(addr, port))
    };
    cmds.into_iter()
        .filter_map(|c| match c {
            Command::AddDest { service, dest } if has(&service, dest.addr, dest.port) => {
                Some(Command::EditDest { service, dest })
            }
            Command::EditDest { service, ref dest } if !has(&service, dest.addr, dest.port) => None,
            Command::DelDest {
                service,
                addr,
                port,
            } if !has(&service, addr, port) => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests;
