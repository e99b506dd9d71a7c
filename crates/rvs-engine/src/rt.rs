//! The runtime state the engine's parts share (IPVS keeps it in `ip_vs.h`'s structs:
//! `ip_vs_service`, `ip_vs_dest`, `netns_ipvs`). It is apart so that the packet path, the
//! control side, persistence, routing, replies and status can each implement on [`Core`]
//! in their own file without importing one another.

use crate::config::{Config, DestConfig, DestId, ServiceConfig};
use crate::conn::{Conn, ConnAddr, ConnFlags, ConnTable, NIL};
use crate::feed::{record, ConnEventKind, Feed};
use crate::net::{NetView, PortId};
use crate::stats::{Counters, Estimator};
use crate::verdict::EngineCounters;
use crate::vip::VipOwnership;
use crate::xmit::{Hop, IpIdent};
use core::net::IpAddr;
use rvs_sched::{DestKey, DestLoad, DestSet, Scheduler};
use std::collections::HashMap;
use std::sync::Arc;

/// Runtime of one real server, kept in a slot that outlives its config while conns point
/// at it (IPVS keeps removed dests in a trash list for the same reason).
#[derive(Clone, Debug)]
pub(crate) struct DestRt {
    pub id: DestId,
    pub cfg: DestConfig,
    /// Index of its service in the current snapshot, or NIL once removed.
    pub svc: u32,
    pub in_use: bool,
    /// When it was removed or set to weight 0 (UDP grace period), else None.
    pub unavail_since: Option<u64>,
    pub activeconns: u32,
    pub inactconns: u32,
    pub persistconns: u32,
    pub overloaded: bool,
    /// Conns and templates bound to it.
    pub refs: u32,
    pub stats: Counters,
    pub est: Estimator,
    pub hop: Option<(u64, Hop)>,
}

impl DestRt {
    #[inline]
    pub fn available(&self) -> bool {
        self.svc != NIL
    }
}

pub(crate) struct SvcRt {
    pub cfg: Arc<ServiceConfig>,
    pub sched: Scheduler,
    /// Dest slots newest first (IPVS list order): the scheduler's indexes point into this.
    pub dest_slots: Vec<u32>,
    pub stats: Counters,
    pub est: Estimator,
}

/// The scheduler's window onto one service's dests.
pub(crate) struct SvcDests<'a> {
    pub slots: &'a [u32],
    pub dests: &'a [DestRt],
}

impl DestSet for SvcDests<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.slots.len()
    }
    #[inline]
    fn load(&self, i: usize) -> DestLoad {
        let d = &self.dests[self.slots[i] as usize];
        DestLoad {
            weight: d.cfg.weight,
            activeconns: d.activeconns,
            inactconns: d.inactconns,
            overloaded: d.overloaded,
        }
    }
    #[inline]
    fn key(&self, i: usize) -> DestKey {
        let d = &self.dests[self.slots[i] as usize];
        DestKey {
            addr: d.cfg.addr,
            port: d.cfg.port,
        }
    }
}

/// What is left to settle after a conn left a table (dest counters, template refcount).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Released {
    pub dest: u32,
    pub control: u32,
    pub flags: ConnFlags,
}

impl Released {
    #[inline]
    pub fn of<A: ConnAddr>(c: &Conn<A>) -> Self {
        Released {
            dest: c.dest,
            control: c.control,
            flags: c.flags,
        }
    }
}

/// Everything but the conn tables, so that a table and the rest can be borrowed apart.
pub(crate) struct Core {
    pub cfg: Arc<Config>,
    pub svcs: Vec<SvcRt>,
    pub dests: Vec<DestRt>,
    pub dest_free: Vec<u32>,
    pub dest_by_id: HashMap<DestId, u32>,
    pub net: Arc<dyn NetView>,
    pub net_gen: u64,
    pub client_hops: Box<[Option<(IpAddr, u64, Hop)>]>,
    pub counters: EngineCounters,
    pub rng: u64,
    pub ip_ident: IpIdent,
    pub scratch: Vec<u8>,
    pub released: Vec<Released>,
    pub ingress: PortId,
    pub timers: Timers,
    pub vips: VipOwnership,
    /// The conn change feed, while a consumer has it on.
    pub feed: Option<Box<Feed>>,
    pub pressure: bool,
    pub drop_counter: u32,
}

/// When `poll` last did what (see `timer`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timers {
    /// The last housekeeping tick (sweep debt, ageing, defences); None before the first poll.
    pub last_tick_ms: Option<u64>,
    pub last_poll_ms: u64,
    pub last_est_ms: u64,
    /// Slots the sweeping hand still owes, per family (v4, v6).
    pub sweep_owed: [u64; 2],
}

/// Whether a defence strategy at `level` (see `Settings::secure_tcp`) is on now (IPVS
/// `update_defense_level`).
#[inline]
pub(crate) fn defence_on(level: u8, pressure: bool) -> bool {
    level >= 3 || (level >= 1 && pressure)
}

#[inline]
pub(crate) fn dest_id(dests: &[DestRt], slot: u32) -> Option<DestId> {
    if slot == NIL {
        return None;
    }
    dests.get(slot as usize).map(|d| d.id)
}

/// Queue the event of a conn leaving its table, if the feed is on. A free function so that
/// the table's eviction and sweep callbacks can call it while the table is borrowed.
#[inline]
pub(crate) fn gone<A: ConnAddr>(feed: &mut Option<Box<Feed>>, dests: &[DestRt], c: &Conn<A>) {
    if let Some(f) = feed {
        f.push(
            ConnEventKind::Expired,
            record(c, dest_id(dests, c.dest), None),
        );
    }
}

impl Core {
    /// Queue an event about `c` (in `table`), if the feed is on.
    #[inline]
    pub(crate) fn emit<A: ConnAddr>(
        &mut self,
        table: &ConnTable<A>,
        kind: ConnEventKind,
        c: &Conn<A>,
    ) {
        if self.feed.is_some() {
            let mut r = record(c, dest_id(&self.dests, c.dest), Some(table));
            r.timeout_ms = self.armed_timeout_ms(c);
            if let Some(f) = &mut self.feed {
                f.push(kind, r);
            }
        }
    }

    /// The timeout a conn is armed with in its state (a template's is its own); not kept
    /// in the conn, so that the packet path stores nothing more per packet.
    pub(crate) fn armed_timeout_ms<A: ConnAddr>(&self, c: &Conn<A>) -> u32 {
        if c.is_template() {
            return c.timeout_ms;
        }
        let Some(p) = rvs_proto::Proto::from_number(c.proto) else {
            return 0;
        };
        let s = self.cfg.settings().timeouts.for_state(p, c.state) as u64 * 1000;
        s.min(crate::conn::MAX_TIMEOUT_MS as u64) as u32
    }
}
