//! Status and export (IPVS `ip_vs_ctl.c`'s listings, `ipvsadm -L`/`-Lc`/`-Z`): services,
//! dests and conns as the control plane sees them, counters, and an invariant check for
//! tests. Apart from the packet path because it only reads the runtime, off the hot path.

use crate::config::{Config, DestConfig, DestId, ServiceConfig, SvcKey};
use crate::conn::{tick_of, ConnAddr, ConnFlags, ConnTable, FwdKind, NIL};
use crate::engine::Engine;
use crate::rt::Core;
use crate::stats::{Counters, Estimator, Rates};
use crate::verdict::EngineCounters;
use core::net::IpAddr;
use rvs_proto::Proto;
use std::collections::HashMap;
use std::sync::Arc;

impl Engine {
    /// Counters of every packet outcome.
    pub fn counters(&self) -> &EngineCounters {
        &self.core.counters
    }

    pub fn table_counters(&self) -> (crate::conn::TableCounters, crate::conn::TableCounters) {
        (self.conns4.counters, self.conns6.counters)
    }

    /// Live conns (v4, v6).
    pub fn conn_count(&self) -> (u32, u32) {
        (self.conns4.len(), self.conns6.len())
    }

    /// Heap held by the conn tables, for the bytes-per-conn figure.
    pub fn conn_heap_bytes(&self) -> (usize, usize) {
        (self.conns4.heap_bytes(), self.conns6.heap_bytes())
    }

    /// The services with their dests, counters and rates, in snapshot order.
    pub fn services(&self) -> Vec<SvcStatus> {
        self.core
            .svcs
            .iter()
            .map(|s| SvcStatus {
                cfg: s.cfg.clone(),
                stats: s.stats,
                rates: s.est.rates(),
                // In the order they were added; ipvsadm sorts its listing anyway.
                dests: s
                    .cfg
                    .dests
                    .iter()
                    .map(|d| self.core.dest_status(self.core.dest_by_id[&d.id]))
                    .collect(),
            })
            .collect()
    }

    /// Every conn and template, for `ipvsadm -Lc` and for export to a sync peer.
    pub fn conns(&self, now_ms: u64) -> Vec<ConnInfo> {
        let mut v = Vec::with_capacity((self.conns4.len() + self.conns6.len()) as usize);
        let tnow = tick_of(now_ms);
        collect(&self.core, &self.conns4, tnow, &mut v);
        collect(&self.core, &self.conns6, tnow, &mut v);
        v
    }

    /// Cross-check the dest counters and template references against the conn tables.
    /// O(table); for tests and fuzzing.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut want = vec![(0u32, 0u32, 0u32, 0u32); self.core.dests.len()];
        fn scan<A: ConnAddr>(
            t: &ConnTable<A>,
            want: &mut [(u32, u32, u32, u32)],
        ) -> Result<(), String> {
            let mut controls: HashMap<u32, u32> = HashMap::new();
            for (_, c) in t.iter() {
                if c.dest != NIL {
                    let w = want
                        .get_mut(c.dest as usize)
                        .ok_or("conn points past the dest slots")?;
                    w.3 += 1;
                    if c.is_template() {
                        w.2 += 1;
                    } else if c.flags.contains(ConnFlags::INACTIVE) {
                        w.1 += 1;
                    } else {
                        w.0 += 1;
                    }
                }
                if !c.is_template() && c.control != NIL {
                    *controls.entry(c.control).or_default() += 1;
                }
            }
            for (ti, n) in controls {
                let t = t.get(ti);
                if !t.is_template() || t.control != n {
                    return Err(format!(
                        "template {ti} controls {} but {n} conns point at it",
                        t.control
                    ));
                }
            }
            Ok(())
        }
        scan(&self.conns4, &mut want)?;
        scan(&self.conns6, &mut want)?;
        for (slot, d) in self.core.dests.iter().enumerate() {
            let (a, i, p, r) = want[slot];
            if !d.in_use {
                if r != 0 {
                    return Err(format!("free dest slot {slot} still has {r} conns"));
                }
                continue;
            }
            if (d.activeconns, d.inactconns, d.persistconns, d.refs) != (a, i, p, r) {
                return Err(format!(
                    "dest {:?}: counters active/inactive/persistent/refs {:?} but the tables hold {:?}",
                    d.id,
                    (d.activeconns, d.inactconns, d.persistconns, d.refs),
                    (a, i, p, r)
                ));
            }
        }
        Ok(())
    }

    /// `ipvsadm -Z`: zero the counters of one service (and its dests), or of all.
    pub fn zero(&mut self, key: Option<&SvcKey>) {
        let core = &mut self.core;
        for s in &mut core.svcs {
            if key.is_none_or(|k| *k == s.cfg.key) {
                s.stats = Counters::default();
                s.est = Estimator::default();
                for &d in &s.dest_slots {
                    core.dests[d as usize].stats = Counters::default();
                    core.dests[d as usize].est = Estimator::default();
                }
            }
        }
    }
}

fn collect<A: ConnAddr>(core: &Core, t: &ConnTable<A>, tnow: u32, v: &mut Vec<ConnInfo>) {
    for (_, c) in t.iter() {
        if c.expired(tnow) {
            continue;
        }
        let d = (c.dest != NIL).then(|| &core.dests[c.dest as usize]);
        v.push(ConnInfo {
            proto: c.proto,
            template: c.is_template(),
            caddr: c.caddr.to_ip(),
            cport: c.cport,
            vaddr: c.vaddr.to_ip(),
            vport: c.vport,
            daddr: d.map(|d| d.cfg.addr).unwrap_or(c.daddr.to_ip()),
            dport: c.dport,
            laddr: (c.flags.fwd() == FwdKind::FullNat).then(|| (c.laddr.to_ip(), c.lport)),
            fwd: c.flags.fwd(),
            state: c.state,
            expires_ms: c.remaining_ms(tnow),
            dest: d.map(|d| d.id),
        });
    }
}

/// One conn as the control plane sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// IP protocol number; 0 for fwmark templates (IPVS uses IPPROTO_IP there).
    pub proto: u8,
    pub template: bool,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    pub laddr: Option<(IpAddr, u16)>,
    pub fwd: FwdKind,
    pub state: u8,
    pub expires_ms: u32,
    pub dest: Option<DestId>,
}

#[derive(Clone, Debug)]
pub struct DestStatus {
    pub id: DestId,
    pub cfg: DestConfig,
    pub activeconns: u32,
    pub inactconns: u32,
    pub persistconns: u32,
    pub overloaded: bool,
    pub stats: Counters,
    pub rates: Rates,
}

#[derive(Clone, Debug)]
pub struct SvcStatus {
    pub cfg: Arc<ServiceConfig>,
    pub stats: Counters,
    pub rates: Rates,
    pub dests: Vec<DestStatus>,
}

impl Core {
    pub(crate) fn dest_status(&self, slot: u32) -> DestStatus {
        let d = &self.dests[slot as usize];
        DestStatus {
            id: d.id,
            cfg: d.cfg.clone(),
            activeconns: d.activeconns,
            inactconns: d.inactconns,
            persistconns: d.persistconns,
            overloaded: d.overloaded,
            stats: d.stats,
            rates: d.est.rates(),
        }
    }
}

impl Engine {
    /// The current snapshot the engine runs on.
    pub fn config(&self) -> &Arc<Config> {
        &self.core.cfg
    }

    /// The protocol of a conn's number, for listings.
    pub fn proto_name(proto: u8) -> &'static str {
        Proto::from_number(proto).map(|p| p.name()).unwrap_or("IP")
    }
}
