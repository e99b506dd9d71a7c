//! Status and export (IPVS `ip_vs_ctl.c`'s listings, `ipvsadm -L`/`-Lc`/`-Z`): services,
//! dests and conns as the control plane sees them, counters, and an invariant check for
//! tests. Apart from the packet path because it only reads the runtime, off the hot path.

use crate::config::{Config, DestConfig, DestId, ServiceConfig, SvcKey};
use crate::conn::{tick_of, ConnAddr, ConnFlags, ConnTable, FwdKind, NIL};
use crate::engine::Engine;
use crate::feed::{record, ConnEvent, ConnRecord, Feed, FeedStats};
use crate::rt::{dest_id, Core};
use crate::stats::{Counters, Estimator, Rates};
use crate::verdict::EngineCounters;
use crate::vip::VipOwnership;
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
    /// The VIP-ownership overlay this engine answers ARP/NS/ping by. The daemon keeps a
    /// clone to mark addresses (not) owned; rvs-io's steering reads the same handle.
    pub fn vip_ownership(&self) -> VipOwnership {
        self.core.vips.clone()
    }

    /// Share an overlay between engines (one per worker, later) or replace it.
    pub fn set_vip_ownership(&mut self, vips: VipOwnership) {
        self.core.vips = vips;
    }

    /// The current snapshot the engine runs on.
    pub fn config(&self) -> &Arc<Config> {
        &self.core.cfg
    }

    /// The protocol of a conn's number, for listings.
    pub fn proto_name(proto: u8) -> &'static str {
        Proto::from_number(proto).map(|p| p.name()).unwrap_or("IP")
    }
}

/// Where [`Engine::export_records`] goes on from: templates before conns, v4 before v6, so
/// that an importer meets a conn's template before the conn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportCursor {
    /// 0: v4 templates, 1: v4 conns, 2: v6 templates, 3: v6 conns.
    phase: u8,
    slot: u32,
}

impl ExportCursor {
    pub const START: ExportCursor = ExportCursor { phase: 0, slot: 0 };
}

/// Slots one export call visits at most, so that a sparse table still costs one short
/// lock hold per call.
const EXPORT_VISITS: u32 = 4096;

impl Engine {
    /// Turn the conn change feed on with room for `capacity` events (the ring is allocated
    /// here, never on the packet path), replacing any previous feed and its pending events.
    pub fn enable_feed(&mut self, capacity: u32) {
        self.core.feed = Some(Box::new(Feed::new(capacity)));
    }

    /// Turn the feed off; the packet path is back to one branch per conn event.
    pub fn disable_feed(&mut self) {
        self.core.feed = None;
    }

    /// Move up to `max` pending events, oldest first, to `out`; returns how many. Drain in
    /// pieces of a few hundred under the engine lock, and do the slow work after releasing
    /// it.
    pub fn drain_events(&mut self, out: &mut Vec<ConnEvent>, max: usize) -> usize {
        match &mut self.core.feed {
            Some(f) => f.drain(out, max),
            None => 0,
        }
    }

    /// The feed's counters (overflow: events lost to a full ring), or None while it is off.
    pub fn feed_stats(&self) -> Option<FeedStats> {
        self.core.feed.as_ref().map(|f| f.stats())
    }

    /// Copy up to `max` live records from `cursor` on into `out`, visiting a bounded number
    /// of slots: a bulk sync copies the whole table across many short lock holds. Returns
    /// the cursor to continue from, or None once every table was walked. Conns made or
    /// gone between calls may be missed or seen twice; the change feed covers those.
    pub fn export_records(
        &self,
        mut cursor: ExportCursor,
        max: usize,
        now_ms: u64,
        out: &mut Vec<ConnRecord>,
    ) -> Option<ExportCursor> {
        let mut w = Walk {
            tnow: tick_of(now_ms),
            visits: EXPORT_VISITS.max(max.min(u32::MAX as usize / 4) as u32 * 4),
            left: max,
            out,
        };
        while cursor.phase < 4 {
            let templates = cursor.phase.is_multiple_of(2);
            let slot = &mut cursor.slot;
            let done = if cursor.phase < 2 {
                w.phase(&self.core, &self.conns4, templates, slot)
            } else {
                w.phase(&self.core, &self.conns6, templates, slot)
            };
            if !done {
                return Some(cursor);
            }
            cursor = ExportCursor {
                phase: cursor.phase + 1,
                slot: 0,
            };
        }
        None
    }
}

/// An export call's budget and output.
struct Walk<'a> {
    tnow: u32,
    visits: u32,
    left: usize,
    out: &'a mut Vec<ConnRecord>,
}

impl Walk<'_> {
    /// One phase of an export from `slot` on: returns whether the table was walked to its
    /// end.
    fn phase<A: ConnAddr>(
        &mut self,
        core: &Core,
        t: &ConnTable<A>,
        templates: bool,
        slot: &mut u32,
    ) -> bool {
        while *slot < t.capacity() {
            if self.visits == 0 || self.left == 0 {
                return false;
            }
            self.visits -= 1;
            let c = t.get(*slot);
            *slot += 1;
            if !c.flags.contains(ConnFlags::IN_USE)
                || c.is_template() != templates
                || c.expired(self.tnow)
            {
                continue;
            }
            let mut r = record(c, dest_id(&core.dests, c.dest), Some(t));
            r.timeout_ms = core.armed_timeout_ms(c);
            self.out.push(r);
            self.left -= 1;
        }
        true
    }
}
