//! The packet path (IPVS `ip_vs_core.c`): one frame and `now` in, one verdict out.
//!
//! [`Engine`] owns the conn tables and the per-worker runtime (scheduler state, counters,
//! next-hop caches); the virtual server table comes from an immutable [`Config`] snapshot
//! that the control side swaps in. The engine notices a new snapshot at the start of a call
//! and reconciles by stable ids, so a change to one service leaves every other service's
//! scheduler state and connections alone.

use crate::config::{
    Config, DestConfig, DestId, FwdMethod, ServiceConfig, SvcKey, TunCsum, TunType,
};
use crate::conn::{tick_of, Conn, ConnAddr, ConnFlags, ConnKey, ConnTable, FwdKind, NIL};
use crate::net::{NetView, PortId};
use crate::packet::PacketBuf;
use crate::stats::{Counters, Estimator, Rates, EST_PERIOD_MS};
use crate::verdict::{DropReason, EngineCounters, Verdict};
use crate::xmit::{self, Hdr};
use arc_swap::{ArcSwap, Cache};
use core::net::IpAddr;
use rvs_proto::{sctp, tcp, Proto};
use rvs_sched::{DestKey, DestLoad, DestSet, SchedCtx, Scheduler};
use rvs_wire::ethernet::MacAddr;
use rvs_wire::frame::{parse_frame, Frag, FrameInfo, L3};
use rvs_wire::{icmpv4, icmpv6, ip_proto, tcp::flags as tcpf};
use std::collections::HashMap;
use std::sync::Arc;

/// Sizes and seed of one engine instance.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    pub conn_capacity_v4: u32,
    pub conn_capacity_v6: u32,
    /// Seeds the conn-table hash and the scheduler randomness (twos), so runs are repeatable.
    pub seed: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            conn_capacity_v4: 1 << 20,
            conn_capacity_v6: 1 << 16,
            seed: 0x5eed,
        }
    }
}

/// A resolved next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hop {
    pub port: PortId,
    pub src_mac: MacAddr,
    pub dst_mac: Option<MacAddr>,
    pub next_hop: IpAddr,
    pub src: IpAddr,
    pub mtu: u16,
}

impl Hop {
    #[inline]
    pub fn finish(&self, f: &mut [u8]) -> Verdict {
        match self.dst_mac {
            Some(mac) => {
                xmit::set_macs(f, self.src_mac, mac);
                Verdict::Tx(self.port)
            }
            None => {
                xmit::set_macs(f, self.src_mac, MacAddr([0; 6]));
                Verdict::TxPending {
                    port: self.port,
                    next_hop: self.next_hop,
                }
            }
        }
    }
}

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
    hop: Option<(u64, Hop)>,
}

impl DestRt {
    fn available(&self) -> bool {
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
struct SvcDests<'a> {
    slots: &'a [u32],
    dests: &'a [DestRt],
}

impl DestSet for SvcDests<'_> {
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
struct Released {
    dest: u32,
    control: u32,
    flags: ConnFlags,
}

impl Released {
    fn of<A: ConnAddr>(c: &Conn<A>) -> Self {
        Released {
            dest: c.dest,
            control: c.control,
            flags: c.flags,
        }
    }
}

const CLIENT_HOP_CACHE: usize = 1024;
/// The whole table is swept about once a second.
const SWEEP_PERIOD_MS: u64 = 1000;
/// IPVS re-arms an expired template that still controls conns for 60 s.
const TEMPLATE_LINGER_MS: u32 = 60_000;
const LPORT_MIN: u16 = 1024;

/// Everything but the conn tables, so that a table and the rest can be borrowed apart.
pub struct Core {
    pub(crate) cfg: Arc<Config>,
    pub(crate) svcs: Vec<SvcRt>,
    pub(crate) dests: Vec<DestRt>,
    dest_free: Vec<u32>,
    dest_by_id: HashMap<DestId, u32>,
    net: Arc<dyn NetView>,
    net_gen: u64,
    client_hops: Box<[Option<(IpAddr, u64, Hop)>]>,
    pub(crate) counters: EngineCounters,
    rng: u64,
    ip_ident: u16,
    scratch: Vec<u8>,
    released: Vec<Released>,
    ingress: PortId,
    last_sweep_ms: Option<u64>,
    last_est_ms: u64,
    pressure: bool,
    drop_counter: u32,
}

pub struct Engine {
    core: Core,
    conns4: ConnTable<[u8; 4]>,
    conns6: ConnTable<[u8; 16]>,
    cfg_cache: Cache<Arc<ArcSwap<Config>>, Arc<Config>>,
}

/// Selects the conn table of an address family.
trait Family: ConnAddr {
    fn split(e: &mut Engine) -> (&mut Core, &mut ConnTable<Self>);
}

impl Family for [u8; 4] {
    fn split(e: &mut Engine) -> (&mut Core, &mut ConnTable<Self>) {
        (&mut e.core, &mut e.conns4)
    }
}

impl Family for [u8; 16] {
    fn split(e: &mut Engine) -> (&mut Core, &mut ConnTable<Self>) {
        (&mut e.core, &mut e.conns6)
    }
}

/// Conn-table memory the embedder provides (see [`Engine::with_conn_memory`]).
pub struct ConnMemory {
    pub v4: &'static mut [Conn<[u8; 4]>],
    pub v6: &'static mut [Conn<[u8; 16]>],
    /// `None` for fresh memory. For memory a previous engine left: what to add to its
    /// deadlines to put them on this engine's clock (its `now_ms` origin minus ours).
    pub clock_shift_ms: Option<i64>,
}

/// What adopting a previous engine's conns gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Adopted {
    /// Conns and templates taken over.
    pub kept: u32,
    /// Entries dropped: their service or real server is no longer configured.
    pub orphaned: u32,
}

impl Engine {
    /// An engine whose conn tables live in `mem`. Memory that a previous engine (a crashed
    /// or upgraded rvsd) left is adopted: every entry whose service and real server still
    /// exist in `config` keeps forwarding as before, its deadline moved onto this clock.
    pub fn with_conn_memory(
        config: Arc<ArcSwap<Config>>,
        net: Arc<dyn NetView>,
        opts: EngineOptions,
        mem: ConnMemory,
    ) -> (Self, Adopted) {
        let mut e = Engine::new_with(
            config,
            net,
            opts,
            ConnTable::with_entries(crate::conn::Entries::External(mem.v4), opts.seed),
            ConnTable::with_entries(
                crate::conn::Entries::External(mem.v6),
                opts.seed.rotate_left(17),
            ),
        );
        let shift = mem.clock_shift_ms;
        let mut report = Adopted::default();
        let core = &mut e.core;
        adopt(core, &mut e.conns4, shift, &mut report);
        adopt(core, &mut e.conns6, shift, &mut report);
        (e, report)
    }

    pub fn new(config: Arc<ArcSwap<Config>>, net: Arc<dyn NetView>, opts: EngineOptions) -> Self {
        let v4 = ConnTable::new(opts.conn_capacity_v4, opts.seed);
        let v6 = ConnTable::new(opts.conn_capacity_v6, opts.seed.rotate_left(17));
        Self::new_with(config, net, opts, v4, v6)
    }

    fn new_with(
        config: Arc<ArcSwap<Config>>,
        net: Arc<dyn NetView>,
        opts: EngineOptions,
        conns4: ConnTable<[u8; 4]>,
        conns6: ConnTable<[u8; 16]>,
    ) -> Self {
        let cfg = config.load_full();
        let mut core = Core {
            cfg: Arc::new(Config::default()),
            svcs: Vec::new(),
            dests: Vec::new(),
            dest_free: Vec::new(),
            dest_by_id: HashMap::new(),
            net_gen: net.generation(),
            net,
            client_hops: vec![None; CLIENT_HOP_CACHE].into_boxed_slice(),
            counters: EngineCounters::default(),
            rng: opts.seed ^ 0xa076_1d64_78bd_642f,
            ip_ident: opts.seed as u16,
            scratch: Vec::with_capacity(1500),
            released: Vec::new(),
            ingress: PortId(0),
            last_sweep_ms: None,
            last_est_ms: 0,
            pressure: false,
            drop_counter: 0,
        };
        core.reconcile(cfg, 0);
        Engine {
            core,
            conns4,
            conns6,
            cfg_cache: Cache::new(config),
        }
    }

    /// Pick up a new config snapshot, if the control side swapped one in.
    #[inline]
    fn refresh(&mut self, now_ms: u64) {
        let cur = self.cfg_cache.load();
        if !Arc::ptr_eq(cur, &self.core.cfg) {
            let cur = cur.clone();
            self.core.reconcile(cur, now_ms);
        }
        self.core.net_gen = self.core.net.generation();
    }

    /// Process one received frame. `now_ms` is a monotonic clock in milliseconds.
    pub fn process(&mut self, pkt: &mut PacketBuf, ingress: PortId, now_ms: u64) -> Verdict {
        self.refresh(now_ms);
        let v = match parse_frame(pkt.data()) {
            Ok(fi) => self.process_parsed(pkt, &fi, NIL, ingress, now_ms),
            Err(_) => Verdict::Drop(DropReason::Malformed),
        };
        self.core.counters.rx += 1;
        self.core.counters.count(&v);
        v
    }

    /// Process a batch from one port. Lookups are staged so that the conn-table cache
    /// misses of the whole batch overlap instead of being paid one after the other.
    pub fn process_batch(
        &mut self,
        pkts: &mut [PacketBuf],
        ingress: PortId,
        now_ms: u64,
        out: &mut [Verdict],
    ) {
        // Enough packets in flight to overlap their DRAM latencies, few enough that the
        // prefetched lines are still in L1 when their packet's turn comes.
        const STAGE: usize = 32;
        self.refresh(now_ms);
        let n = pkts.len().min(out.len());
        let mut infos: [Option<FrameInfo>; STAGE] = [None; STAGE];
        let mut buckets = [NIL; STAGE];
        let mut start = 0;
        while start < n {
            let end = (start + STAGE).min(n);
            for (k, pkt) in pkts[start..end].iter().enumerate() {
                infos[k] = parse_frame(pkt.data()).ok();
                buckets[k] = match infos[k].as_ref().and_then(Self::in_key4) {
                    Some(key) => {
                        let b = self.conns4.bucket(&key);
                        prefetch(self.conns4.in_head_ptr(b) as *const u8);
                        b
                    }
                    None => NIL,
                };
            }
            for &b in buckets.iter().take(end - start) {
                if b != NIL {
                    let p = self.conns4.entry_ptr(self.conns4.in_head(b));
                    if !p.is_null() {
                        prefetch(p as *const u8);
                        prefetch(
                            (p as *const u8)
                                .wrapping_add(core::mem::size_of::<Conn<[u8; 4]>>() - 1),
                        );
                    }
                }
            }
            for k in 0..end - start {
                let v = match &infos[k] {
                    Some(fi) => {
                        let fi = *fi;
                        self.process_parsed(&mut pkts[start + k], &fi, buckets[k], ingress, now_ms)
                    }
                    None => Verdict::Drop(DropReason::Malformed),
                };
                self.core.counters.rx += 1;
                self.core.counters.count(&v);
                out[start + k] = v;
            }
            start = end;
        }
    }

    #[inline]
    fn in_key4(fi: &FrameInfo) -> Option<ConnKey<[u8; 4]>> {
        match (fi.l3, fi.src, fi.dst) {
            (L3::Ipv4, IpAddr::V4(s), IpAddr::V4(d)) if fi.l4_ok => Some(ConnKey {
                proto: fi.protocol,
                template: false,
                a1: s.octets(),
                p1: fi.sport,
                a2: d.octets(),
                p2: fi.dport,
            }),
            _ => None,
        }
    }

    /// `bucket` is the IPv4 conn-table bucket of the frame's key if the batch already
    /// hashed it, else NIL.
    fn process_parsed(
        &mut self,
        pkt: &mut PacketBuf,
        fi: &FrameInfo,
        bucket: u32,
        ingress: PortId,
        now_ms: u64,
    ) -> Verdict {
        self.core.ingress = ingress;
        match fi.l3 {
            L3::Ipv4 => self.ip::<[u8; 4]>(pkt, fi, bucket, now_ms),
            L3::Ipv6 => self.ip::<[u8; 16]>(pkt, fi, NIL, now_ms),
            L3::Arp => {
                let c = &mut self.core;
                match crate::local::arp(&c.cfg, &*c.net, pkt, fi, ingress) {
                    Some(v) => {
                        c.counters.local_answers += 1;
                        v
                    }
                    None => Verdict::Pass,
                }
            }
            L3::Other(_) => Verdict::Pass,
        }
    }

    fn ip<A: Family>(
        &mut self,
        pkt: &mut PacketBuf,
        fi: &FrameInfo,
        bucket: u32,
        now: u64,
    ) -> Verdict {
        let (core, table) = A::split(self);
        let h = Hdr {
            l3: fi.l3_offset,
            l4: fi.l4_offset,
            v6: matches!(fi.l3, L3::Ipv6),
            proto: fi.protocol,
            l4_ok: fi.l4_ok,
            ip_len: fi.ip_len,
        };
        match fi.protocol {
            ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP => {}
            ip_proto::ICMP | ip_proto::ICMPV6 if fi.frag == Frag::None && fi.l4_ok => {
                let answer = match (h.v6, fi.l4_kind) {
                    (false, 8) | (true, 128) => {
                        crate::local::echo(&core.cfg, &*core.net, pkt, fi, core.ingress)
                    }
                    (true, 135) => {
                        crate::local::solicit(&core.cfg, &*core.net, pkt, fi, core.ingress)
                    }
                    _ => None,
                };
                if let Some(v) = answer {
                    core.counters.local_answers += 1;
                    return v;
                }
                return xmit::icmp::icmp(core, table, pkt, &h, fi, now);
            }
            _ => return core.not_ours(fi),
        }
        if fi.frag != Frag::None {
            // No reassembly yet: later fragments carry no ports to find the conn by.
            return if core.cfg.is_vaddr(fi.dst) {
                Verdict::Drop(DropReason::Fragment)
            } else {
                Verdict::Pass
            };
        }
        if !fi.l4_ok {
            // Without a complete transport header there are no ports to match a service by.
            return if core.cfg.is_vaddr(fi.dst) {
                Verdict::Drop(DropReason::Malformed)
            } else {
                Verdict::Pass
            };
        }
        let (Some(src), Some(dst)) = (A::from_ip(fi.src), A::from_ip(fi.dst)) else {
            return Verdict::Pass;
        };
        let tnow = tick_of(now);
        let key = ConnKey {
            proto: fi.protocol,
            template: false,
            a1: src,
            p1: fi.sport,
            a2: dst,
            p2: fi.dport,
        };
        let bucket = if bucket != NIL {
            bucket
        } else {
            table.bucket(&key)
        };
        if let Some(i) = table.find_in_bucket(bucket, &key) {
            let c = table.get(i);
            if c.expired(tnow) {
                core.release(table, i);
            } else {
                match core.check_hit(c, fi) {
                    Hit::Use => return core.conn_in(table, i, pkt, &h, fi, now),
                    Hit::Reschedule => {
                        if fi.tcp_flags & tcpf::SYN != 0 {
                            core.counters.conns_reused += 1;
                        } else {
                            core.counters.conns_nodest_expired += 1;
                        }
                        core.release(table, i);
                    }
                }
            }
        } else {
            // A bare SYN to a service opens a conn; only otherwise can it be a reply (a
            // simultaneous open), so the common case skips the `out` probe.
            let svc = if is_bare_syn(fi) {
                core.cfg.find_service(fi.protocol, fi.dst, fi.dport)
            } else {
                None
            };
            if svc.is_some() {
                return core.new_conn(table, pkt, &h, fi, src, dst, svc, now);
            }
            if let Some(i) = table.find_out_bucket(bucket, &key) {
                if table.get(i).expired(tnow) {
                    core.release(table, i);
                    return Verdict::Pass;
                }
                return core.conn_out(table, i, pkt, &h, fi, now);
            }
        }
        let svc = core.cfg.find_service(fi.protocol, fi.dst, fi.dport);
        core.new_conn(table, pkt, &h, fi, src, dst, svc, now)
    }

    /// Timers: reclaim expired conns, age lblc/lblcr tables, step the rate estimators and
    /// re-evaluate the defences. Call it every few tens of milliseconds.
    pub fn poll(&mut self, now_ms: u64) {
        self.refresh(now_ms);
        let elapsed = match self.core.last_sweep_ms {
            Some(t) => now_ms.saturating_sub(t),
            None => SWEEP_PERIOD_MS,
        };
        self.core.last_sweep_ms = Some(now_ms);
        self.sweep::<[u8; 4]>(now_ms, elapsed);
        self.sweep::<[u8; 16]>(now_ms, elapsed);
        for s in &mut self.core.svcs {
            s.sched.expire(now_ms);
        }
        if now_ms.saturating_sub(self.core.last_est_ms) >= EST_PERIOD_MS {
            self.core.last_est_ms = now_ms;
            for s in &mut self.core.svcs {
                s.est.tick(&s.stats);
            }
            for d in self.core.dests.iter_mut().filter(|d| d.in_use) {
                d.est.tick(&d.stats);
            }
        }
        let s = &self.core.cfg.settings();
        let pct = s.pressure_pct.min(100) as u64;
        let full = |len: u32, cap: u32| len as u64 * 100 >= cap as u64 * pct;
        self.core.pressure = full(self.conns4.len(), self.conns4.capacity())
            || full(self.conns6.len(), self.conns6.capacity());
        if defence_on(s.drop_entry, self.core.pressure) {
            self.drop_embryonic::<[u8; 4]>();
            self.drop_embryonic::<[u8; 16]>();
        }
    }

    /// IPVS `ip_vs_random_dropentry`: shed half-open conns (their templates settle too).
    fn drop_embryonic<A: Family>(&mut self) {
        let (core, table) = A::split(self);
        core.released.clear();
        let rel = &mut core.released;
        table.drop_embryonic(64, |c| rel.push(Released::of(c)));
        core.settle_released(table);
    }

    fn sweep<A: Family>(&mut self, now_ms: u64, elapsed: u64) {
        let (core, table) = A::split(self);
        let cap = table.capacity() as u64;
        let budget = (cap * elapsed / SWEEP_PERIOD_MS).clamp(64, cap) as u32;
        core.released.clear();
        let rel = &mut core.released;
        let tnow = tick_of(now_ms);
        table.sweep(
            tnow,
            budget,
            |c| {
                if c.is_template() && c.control != 0 {
                    // IPVS ip_vs_conn_expire: a template that still controls conns lives on.
                    c.timeout_ms = TEMPLATE_LINGER_MS;
                    c.expires = tnow.wrapping_add(TEMPLATE_LINGER_MS);
                    false
                } else {
                    true
                }
            },
            |c| rel.push(Released::of(c)),
        );
        core.settle_released(table);
    }

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

enum Hit {
    Use,
    Reschedule,
}

#[inline]
/// Take over the entries a previous engine left in `table`'s memory: map each to this
/// engine's service and dest by address (dest slots are per-process), shift its deadline,
/// drop what no longer has a home, then rebuild the indexes and the dest counters.
fn adopt<A: ConnAddr>(
    core: &mut Core,
    table: &mut ConnTable<A>,
    shift: Option<i64>,
    report: &mut Adopted,
) {
    let Some(shift) = shift else {
        table.rebuild(|_, _| false);
        return;
    };
    let v6 = core::mem::size_of::<A>() == 16;
    let slots = table.slots_mut();
    let mut kept = vec![false; slots.len()];
    for (i, c) in slots.iter_mut().enumerate() {
        if !c.flags.contains(ConnFlags::IN_USE) {
            continue;
        }
        let svc = if c.is_template() && c.proto == 0 {
            let a = c.vaddr.as_ref();
            let mark = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
            core.cfg.find_by_key(&SvcKey::Fwmark { mark, v6 })
        } else if c.is_template() {
            Proto::from_number(c.proto).and_then(|proto| {
                core.cfg.find_by_key(&SvcKey::Addr {
                    proto,
                    addr: c.vaddr.to_ip(),
                    port: c.vport,
                })
            })
        } else {
            core.cfg.find_service(c.proto, c.vaddr.to_ip(), c.vport)
        };
        let daddr = c.daddr.to_ip();
        let slot = svc.and_then(|si| {
            core.svcs[si].dest_slots.iter().copied().find(|&d| {
                let d = &core.dests[d as usize].cfg;
                d.addr == daddr && (d.port == c.dport || d.port == 0)
            })
        });
        match slot {
            Some(slot) => {
                c.dest = slot;
                c.expires = (c.expires as i64).wrapping_add(shift) as u32;
                kept[i] = true;
                report.kept += 1;
            }
            None => report.orphaned += 1,
        }
    }
    // Templates count the conns they control; recount over what stayed.
    for (i, c) in slots.iter_mut().enumerate() {
        if kept[i] && c.is_template() {
            c.control = 0;
        }
    }
    for i in 0..slots.len() {
        let c = slots[i];
        if !kept[i] || c.is_template() || c.control == NIL {
            continue;
        }
        let t = c.control as usize;
        if t < slots.len() && kept[t] && slots[t].is_template() {
            slots[t].control += 1;
        } else {
            slots[i].control = NIL;
        }
    }
    table.rebuild(|i, _| kept[i as usize]);
    let live: Vec<(u32, ConnFlags)> = table.iter().map(|(_, c)| (c.dest, c.flags)).collect();
    for (slot, flags) in live {
        core.bind(slot, flags);
    }
}

fn is_bare_syn(fi: &FrameInfo) -> bool {
    fi.protocol == ip_proto::TCP && fi.tcp_flags & (tcpf::SYN | tcpf::ACK) == tcpf::SYN
}

fn defence_on(level: u8, pressure: bool) -> bool {
    level >= 3 || (level >= 1 && pressure)
}

#[inline]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, even on an invalid address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Core {
    /// Carry runtime state into a new snapshot by service key and dest id.
    fn reconcile(&mut self, cfg: Arc<Config>, now: u64) {
        let mut old: HashMap<SvcKey, SvcRt> = self.svcs.drain(..).map(|s| (s.cfg.key, s)).collect();
        let mut seen = std::collections::HashSet::new();
        let mut svcs = Vec::with_capacity(cfg.services().len());
        for (si, s) in cfg.services().iter().enumerate() {
            let mut slots = Vec::with_capacity(s.dests.len());
            let mut dests_changed = false;
            // The kernel adds a dest at the head of svc->destinations, so schedulers see the
            // newest first; ties and the dh/sh/mh tables then match an IPVS director.
            for d in s.dests.iter().rev() {
                seen.insert(d.id);
                let slot = match self.dest_by_id.get(&d.id) {
                    Some(&slot) if same_identity(&self.dests[slot as usize].cfg, d) => slot,
                    Some(&slot) => {
                        // A new address or forwarding method makes a new dest: conns made
                        // under the old one keep forwarding the old way until they end.
                        self.retire_dest(slot, now);
                        dests_changed = true;
                        self.alloc_dest(d)
                    }
                    None => {
                        dests_changed = true;
                        self.alloc_dest(d)
                    }
                };
                let rt = &mut self.dests[slot as usize];
                if rt.cfg != *d || rt.svc != si as u32 {
                    dests_changed = true;
                    update_dest(rt, d, now);
                }
                rt.svc = si as u32;
                slots.push(slot);
            }
            let rt = match old.remove(&s.key) {
                Some(mut rt) => {
                    let same_sched = rt.cfg.sched == s.sched && rt.cfg.sched_flags == s.sched_flags;
                    if !same_sched {
                        rt.sched = Scheduler::new(&s.sched, s.sched_flags)
                            .expect("validated by Config::new");
                    }
                    if !same_sched || dests_changed || rt.dest_slots != slots {
                        rt.dest_slots = slots;
                        rt.sched.update(&SvcDests {
                            slots: &rt.dest_slots,
                            dests: &self.dests,
                        });
                    }
                    rt.cfg = s.clone();
                    rt
                }
                None => {
                    let mut sched =
                        Scheduler::new(&s.sched, s.sched_flags).expect("validated by Config::new");
                    sched.update(&SvcDests {
                        slots: &slots,
                        dests: &self.dests,
                    });
                    SvcRt {
                        cfg: s.clone(),
                        sched,
                        dest_slots: slots,
                        stats: Counters::default(),
                        est: Estimator::default(),
                    }
                }
            };
            svcs.push(rt);
        }
        // Removed dests stay as long as conns point at them, unavailable to schedulers.
        for slot in 0..self.dests.len() {
            let d = &mut self.dests[slot];
            if d.in_use && !seen.contains(&d.id) {
                if d.svc != NIL {
                    d.svc = NIL;
                    d.unavail_since = Some(now);
                }
                if d.refs == 0 {
                    self.free_dest(slot as u32);
                }
            }
        }
        self.svcs = svcs;
        self.cfg = cfg;
    }

    fn alloc_dest(&mut self, d: &DestConfig) -> u32 {
        let rt = DestRt {
            id: d.id,
            cfg: d.clone(),
            svc: NIL,
            in_use: true,
            unavail_since: None,
            activeconns: 0,
            inactconns: 0,
            persistconns: 0,
            overloaded: false,
            refs: 0,
            stats: Counters::default(),
            est: Estimator::default(),
            hop: None,
        };
        let slot = match self.dest_free.pop() {
            Some(s) => {
                self.dests[s as usize] = rt;
                s
            }
            None => {
                self.dests.push(rt);
                (self.dests.len() - 1) as u32
            }
        };
        self.dest_by_id.insert(d.id, slot);
        slot
    }

    fn retire_dest(&mut self, slot: u32, now: u64) {
        let d = &mut self.dests[slot as usize];
        d.svc = NIL;
        d.unavail_since = Some(now);
        if d.refs == 0 {
            self.free_dest(slot);
        } else if self.dest_by_id.get(&d.id) == Some(&slot) {
            self.dest_by_id.remove(&d.id);
        }
    }

    fn free_dest(&mut self, slot: u32) {
        let d = &mut self.dests[slot as usize];
        // A retired slot shares its id with its successor; only unmap our own entry.
        if self.dest_by_id.get(&d.id) == Some(&slot) {
            self.dest_by_id.remove(&d.id);
        }
        d.in_use = false;
        d.hop = None;
        self.dest_free.push(slot);
    }

    fn dest_status(&self, slot: u32) -> DestStatus {
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

    /// A packet we do not handle: drop it if it targets a virtual address (the kernel would
    /// answer with a RST or an unreachable and break the service), else let the kernel have it.
    fn not_ours(&self, fi: &FrameInfo) -> Verdict {
        if self.cfg.is_vaddr(fi.dst)
            && self
                .cfg
                .find_service(fi.protocol, fi.dst, fi.dport)
                .is_some()
        {
            Verdict::Drop(DropReason::Unsupported)
        } else {
            Verdict::Pass
        }
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64: tiny, and good enough for twos and for drop_packet's coin.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn next_ip_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }

    /// IPVS `ip_vs_in`: should this packet use the conn it matched?
    fn check_hit<A: ConnAddr>(&self, c: &Conn<A>, fi: &FrameInfo) -> Hit {
        let s = &self.cfg.settings();
        let d = if c.dest != NIL {
            Some(&self.dests[c.dest as usize])
        } else {
            None
        };
        let dest_gone = d.is_none_or(|d| !d.available());
        let is_syn = c.proto == ip_proto::TCP
            && fi.tcp_flags & (tcpf::SYN | tcpf::ACK | tcpf::RST) == tcpf::SYN;
        if is_syn && s.conn_reuse_mode != 0 {
            // A new connection on an old tuple. IPVS drops this SYN when the old conn
            // used conntrack, costing the client a 1 s retransmit; rvs reschedules at once.
            let st = tcp::TcpState::from_u8(c.state);
            // A SYN on a half-open conn is a retransmission of the same handshake, whose
            // SYN-ACK may already be on its way: it stays, even on a draining server.
            let handshaking = matches!(
                st,
                Some(
                    tcp::TcpState::SynRecv
                        | tcp::TcpState::SynSent
                        | tcp::TcpState::Synack
                        | tcp::TcpState::None
                )
            );
            let quiescent = d.is_some_and(|d| d.cfg.weight == 0) && !handshaking;
            let reusable = matches!(
                st,
                Some(tcp::TcpState::TimeWait) | Some(tcp::TcpState::Close)
            ) || (s.conn_reuse_mode & 2 != 0
                && st == Some(tcp::TcpState::FinWait)
                && c.flags.contains(ConnFlags::NOOUTPUT));
            if dest_gone || quiescent || reusable {
                return Hit::Reschedule;
            }
        }
        if dest_gone && s.expire_nodest_conn {
            return Hit::Reschedule;
        }
        Hit::Use
    }

    /// Remove a conn from its table and settle its dest and template.
    fn release<A: ConnAddr>(&mut self, table: &mut ConnTable<A>, idx: u32) {
        let c = table.remove(idx);
        self.settle(table, Released::of(&c));
    }

    fn settle<A: ConnAddr>(&mut self, table: &mut ConnTable<A>, r: Released) {
        if !r.flags.contains(ConnFlags::TEMPLATE) && r.control != NIL {
            let t = table.get_mut(r.control);
            if t.flags.contains(ConnFlags::IN_USE) && t.is_template() {
                t.control = t.control.saturating_sub(1);
            }
        }
        self.unbind(r.dest, r.flags);
    }

    fn settle_released<A: ConnAddr>(&mut self, table: &mut ConnTable<A>) {
        let rel = core::mem::take(&mut self.released);
        for r in &rel {
            self.settle(table, *r);
        }
        self.released = rel;
        self.released.clear();
    }

    /// IPVS `ip_vs_bind_dest`.
    fn bind(&mut self, slot: u32, flags: ConnFlags) {
        let d = &mut self.dests[slot as usize];
        d.refs += 1;
        if flags.contains(ConnFlags::TEMPLATE) {
            d.persistconns += 1;
        } else {
            if flags.contains(ConnFlags::INACTIVE) {
                d.inactconns += 1;
            } else {
                d.activeconns += 1;
            }
            if d.cfg.u_threshold != 0 && d.activeconns + d.inactconns >= d.cfg.u_threshold {
                d.overloaded = true;
            }
        }
    }

    /// IPVS `ip_vs_unbind_dest`, with its threshold rule: below the lower threshold, or
    /// below ¾ of the upper one when only that is set, the dest takes new conns again.
    fn unbind(&mut self, slot: u32, flags: ConnFlags) {
        if slot == NIL {
            return;
        }
        let d = &mut self.dests[slot as usize];
        d.refs = d.refs.saturating_sub(1);
        if flags.contains(ConnFlags::TEMPLATE) {
            d.persistconns = d.persistconns.saturating_sub(1);
        } else {
            if flags.contains(ConnFlags::INACTIVE) {
                d.inactconns = d.inactconns.saturating_sub(1);
            } else {
                d.activeconns = d.activeconns.saturating_sub(1);
            }
            let total = d.activeconns as u64 + d.inactconns as u64;
            if d.cfg.l_threshold != 0 {
                if total < d.cfg.l_threshold as u64 {
                    d.overloaded = false;
                }
            } else if d.cfg.u_threshold != 0 {
                if total * 4 < d.cfg.u_threshold as u64 * 3 {
                    d.overloaded = false;
                }
            } else {
                d.overloaded = false;
            }
        }
        if !d.available() && d.refs == 0 && d.in_use {
            self.free_dest(slot);
        }
    }

    /// Move a conn between activeconns and inactconns as its state changes.
    fn set_active<A: ConnAddr>(&mut self, c: &mut Conn<A>, active: bool) {
        let was_active = !c.flags.contains(ConnFlags::INACTIVE);
        if was_active == active || c.dest == NIL {
            return;
        }
        let d = &mut self.dests[c.dest as usize];
        if active {
            d.inactconns = d.inactconns.saturating_sub(1);
            d.activeconns += 1;
            c.flags.remove(ConnFlags::INACTIVE);
        } else {
            d.activeconns = d.activeconns.saturating_sub(1);
            d.inactconns += 1;
            c.flags.insert(ConnFlags::INACTIVE);
        }
    }

    /// Advance the protocol state machine and re-arm the timeout (IPVS `set_tcp_state`,
    /// `set_sctp_state`, `udp_state_transition`). `l4` is the transport header and payload.
    /// Returns true when the conn just became embryonic.
    fn transition<A: ConnAddr>(
        &mut self,
        c: &mut Conn<A>,
        output: bool,
        fi: &FrameInfo,
        l4: &[u8],
        now: u64,
    ) -> bool {
        let mut embryonic = false;
        let mut noout = c.flags.contains(ConnFlags::NOOUTPUT);
        let (proto, old, new) = match c.proto {
            ip_proto::TCP => {
                let secure = defence_on(self.cfg.settings().secure_tcp, self.pressure);
                let old = tcp::TcpState::from_u8(c.state).unwrap_or(tcp::TcpState::None);
                let new = tcp::set_tcp_state(old, &mut noout, output, fi.tcp_flags, secure);
                embryonic = new == tcp::TcpState::SynRecv && old != new;
                (Proto::Tcp, old as u8, new as u8)
            }
            ip_proto::SCTP => {
                let old = sctp::SctpState::from_u8(c.state).unwrap_or(sctp::SctpState::None);
                // No complete chunk: the kernel leaves state, flag and timer alone.
                let Some(new) =
                    sctp::set_sctp_state(old, &mut noout, output, l4.get(12..).unwrap_or(&[]))
                else {
                    return false;
                };
                (Proto::Sctp, old as u8, new as u8)
            }
            _ => (Proto::Udp, 0, 0),
        };
        if !noout {
            c.flags.remove(ConnFlags::NOOUTPUT);
        }
        if new != old {
            c.state = new;
            match rvs_proto::activity_change(proto, c.flags.contains(ConnFlags::INACTIVE), old, new)
            {
                Some(rvs_proto::ActivityChange::ToActive) => self.set_active(c, true),
                Some(rvs_proto::ActivityChange::ToInactive) => self.set_active(c, false),
                None => {}
            }
        }
        let s = &self.cfg.settings();
        let timeout_s = s.timeouts.for_state(proto, new);
        let mut expires_ms =
            now + (timeout_s as u64 * 1000).min(crate::conn::MAX_TIMEOUT_MS as u64);
        if c.proto == ip_proto::UDP && c.dest != NIL {
            // A UDP "conn" never ends by itself; do not let it pin a dead server forever.
            let d = &self.dests[c.dest as usize];
            if let Some(since) = d.unavail_since {
                // Never in the past: a deadline older than the wrapping clock's range would
                // read as far in the future.
                expires_ms = expires_ms
                    .min(since + s.udp_nodest_grace_s as u64 * 1000)
                    .max(now);
            }
        }
        c.expires = tick_of(expires_ms);
        embryonic
    }

    fn count_in(&mut self, dest: u32, bytes: usize) {
        if dest == NIL {
            return;
        }
        let d = &mut self.dests[dest as usize];
        d.stats.inpkts += 1;
        d.stats.inbytes += bytes as u64;
        if d.svc != NIL {
            let s = &mut self.svcs[d.svc as usize].stats;
            s.inpkts += 1;
            s.inbytes += bytes as u64;
        }
    }

    fn count_out(&mut self, dest: u32, bytes: usize) {
        if dest == NIL {
            return;
        }
        let d = &mut self.dests[dest as usize];
        d.stats.outpkts += 1;
        d.stats.outbytes += bytes as u64;
        if d.svc != NIL {
            let s = &mut self.svcs[d.svc as usize].stats;
            s.outpkts += 1;
            s.outbytes += bytes as u64;
        }
    }

    /// A packet from the client side of a conn.
    fn conn_in<A: ConnAddr>(
        &mut self,
        table: &mut ConnTable<A>,
        i: u32,
        pkt: &mut PacketBuf,
        h: &Hdr,
        fi: &FrameInfo,
        now: u64,
    ) -> Verdict {
        let c = table.get_mut(i);
        let l4 = &pkt.data()[h.l4.min(pkt.len())..(h.l3 + h.ip_len).min(pkt.len())];
        if self.transition(c, false, fi, l4, now) {
            table.note_embryonic(i);
        }
        let c = *table.get(i);
        self.count_in(c.dest, h.ip_len);
        self.xmit_in(pkt, h, &c)
    }

    fn xmit_in<A: ConnAddr>(&mut self, pkt: &mut PacketBuf, h: &Hdr, c: &Conn<A>) -> Verdict {
        match c.flags.fwd() {
            FwdKind::Masq => xmit::nat::nat_in(self, pkt, h, c),
            FwdKind::FullNat => xmit::fullnat::fullnat_in(self, pkt, h, c),
            FwdKind::Route => xmit::dr::dr(self, pkt, h, c.dest),
            FwdKind::Tunnel => xmit::tun::tun(self, pkt, h, c.dest),
        }
    }

    /// A reply from the real server of a NAT or FULLNAT conn.
    fn conn_out<A: ConnAddr>(
        &mut self,
        table: &mut ConnTable<A>,
        i: u32,
        pkt: &mut PacketBuf,
        h: &Hdr,
        fi: &FrameInfo,
        now: u64,
    ) -> Verdict {
        let c = table.get_mut(i);
        let l4 = &pkt.data()[h.l4.min(pkt.len())..(h.l3 + h.ip_len).min(pkt.len())];
        self.transition(c, true, fi, l4, now);
        let c = *table.get(i);
        self.count_out(c.dest, h.ip_len);
        match c.flags.fwd() {
            FwdKind::FullNat => xmit::fullnat::fullnat_out(self, pkt, h, &c),
            _ => xmit::nat::nat_out(self, pkt, h, &c),
        }
    }

    /// IPVS `ip_vs_schedule` and `ip_vs_sched_persist`: a packet that opens a conn.
    #[allow(clippy::too_many_arguments)]
    fn new_conn<A: ConnAddr>(
        &mut self,
        table: &mut ConnTable<A>,
        pkt: &mut PacketBuf,
        h: &Hdr,
        fi: &FrameInfo,
        src: A,
        dst: A,
        svc: Option<usize>,
        now: u64,
    ) -> Verdict {
        let Some(si) = svc else {
            return Verdict::Pass;
        };
        let s = &self.cfg.settings();
        let opens = match fi.protocol {
            // IPVS tcp_conn_schedule: SYN (with or without ACK) or anything when sloppy; never RST.
            ip_proto::TCP => {
                fi.tcp_flags & tcpf::RST == 0 && (fi.tcp_flags & tcpf::SYN != 0 || s.sloppy_tcp)
            }
            ip_proto::SCTP => fi.l4_kind == rvs_wire::sctp::chunk::INIT || s.sloppy_sctp,
            _ => true,
        };
        if !opens {
            return Verdict::Drop(DropReason::NoConn);
        }
        if defence_on(s.drop_packet, self.pressure) {
            // IPVS ip_vs_todrop: refuse a share of new conns that grows with the pressure.
            self.drop_counter = self.drop_counter.wrapping_add(1);
            if !self.drop_counter.is_multiple_of(4) {
                return Verdict::Drop(DropReason::Defence);
            }
        }
        let (key, persistence, ops) = {
            let c = &self.svcs[si].cfg;
            (c.key, c.persistence, c.ops)
        };
        let tnow = tick_of(now);
        let (slot, template) = match persistence {
            Some(p) => match self.sched_persist(table, si, key, fi, src, dst, p, now) {
                Ok(x) => x,
                Err(Verdict::Drop(DropReason::NoDest)) => return self.no_dest(pkt, h),
                Err(v) => return v,
            },
            None => match self.pick(si, fi, now) {
                Some(slot) => (slot, NIL),
                None => return self.no_dest(pkt, h),
            },
        };
        let d = &self.dests[slot as usize];
        let fwd = d.cfg.fwd;
        let dport = if persistence.is_some() {
            match key {
                SvcKey::Addr { port, .. } if fi.dport == port && d.cfg.port != 0 => d.cfg.port,
                _ => fi.dport,
            }
        } else if d.cfg.port != 0 {
            d.cfg.port
        } else {
            fi.dport
        };
        let mut c = Conn::<A>::EMPTY;
        c.caddr = src;
        c.cport = fi.sport;
        c.vaddr = dst;
        c.vport = fi.dport;
        c.daddr = A::from_ip(d.cfg.addr).unwrap_or(A::UNSPEC);
        c.dport = dport;
        c.proto = fi.protocol;
        c.dest = slot;
        c.control = template;
        c.flags.set_fwd(fwd.kind());
        // IPVS gives every new conn IP_VS_CONN_F_INACTIVE (dest conn_flags) and only the
        // protocol's move to ESTABLISHED makes it active.
        c.flags.insert(ConnFlags::INACTIVE);
        if !fwd.kind().sees_replies() {
            c.flags.insert(ConnFlags::NOOUTPUT);
        }
        if fwd.kind().sees_replies() {
            c.flags.insert(ConnFlags::OUT_HASHED);
        }
        if fwd == FwdMethod::FullNat {
            match alloc_local_port(table, &self.cfg, &self.svcs[si].cfg, &c, self.rng) {
                Some((laddr, lport)) => {
                    c.laddr = laddr;
                    c.lport = lport;
                }
                None => {
                    self.release_template_ref(table, template);
                    return Verdict::Drop(DropReason::NoLocalPort);
                }
            }
        }
        // ip_vs_conn_new's initial timeout, until the protocol sets its own.
        c.expires = tick_of(now + rvs_proto::timeouts::NEW_CONN_TIMEOUT as u64 * 1000);
        self.counters.conns_new += 1;
        self.dests[slot as usize].stats.conns += 1;
        self.svcs[si].stats.conns += 1;
        if ops && fi.protocol == ip_proto::UDP {
            // One-packet scheduling: the conn is used once and never hashed.
            c.flags.insert(ConnFlags::ONE_PACKET);
            self.count_in(slot, h.ip_len);
            return self.xmit_in(pkt, h, &c);
        }
        self.bind(slot, c.flags);
        let released = &mut self.released;
        released.clear();
        let inserted = table.insert(c, tnow, |e| released.push(Released::of(e)));
        self.settle_released(table);
        match inserted {
            Ok(i) => {
                if template != NIL {
                    let t = table.get_mut(template);
                    if t.is_template() {
                        t.control = t.control.saturating_add(1);
                    }
                }
                self.conn_in(table, i, pkt, h, fi, now)
            }
            Err(_) => {
                self.unbind(slot, c.flags);
                self.release_template_ref(table, template);
                Verdict::Drop(DropReason::TableFull)
            }
        }
    }

    fn release_template_ref<A: ConnAddr>(&mut self, _table: &mut ConnTable<A>, _template: u32) {
        // The template's n_control is only raised once its conn is in the table, so a
        // failed conn leaves nothing to undo; the template expires on its own timer.
    }

    /// Ask the service's scheduler for a dest slot.
    fn pick(&mut self, si: usize, fi: &FrameInfo, now: u64) -> Option<u32> {
        let random = self.next_random();
        let ctx = SchedCtx {
            caddr: fi.src,
            cport: fi.sport,
            vaddr: fi.dst,
            vport: fi.dport,
            now_ms: now,
            random,
        };
        let Core { svcs, dests, .. } = self;
        let svc = &mut svcs[si];
        let i = svc.sched.schedule(
            &SvcDests {
                slots: &svc.dest_slots,
                dests,
            },
            &ctx,
        )?;
        svc.dest_slots.get(i).copied()
    }

    /// IPVS `ip_vs_sched_persist`: reuse the client's template, or schedule and make one.
    #[allow(clippy::too_many_arguments)]
    fn sched_persist<A: ConnAddr>(
        &mut self,
        table: &mut ConnTable<A>,
        si: usize,
        svc_key: SvcKey,
        fi: &FrameInfo,
        src: A,
        dst: A,
        p: crate::config::Persistence,
        now: u64,
    ) -> Result<(u32, u32), Verdict> {
        let tnow = tick_of(now);
        let snet = src.masked(p.prefix);
        let (tproto, tvaddr, tvport) = match svc_key {
            SvcKey::Fwmark { mark, .. } => (0, A::from_mark(mark), 0),
            SvcKey::Addr { port, .. } => {
                (fi.protocol, dst, if fi.dport == port { port } else { 0 })
            }
        };
        let key = ConnKey {
            proto: tproto,
            template: true,
            a1: snet,
            p1: 0,
            a2: tvaddr,
            p2: tvport,
        };
        if let Some(ti) = table.find_in(&key) {
            let t = *table.get(ti);
            if t.expired(tnow) {
                self.release(table, ti);
            } else if !self.template_valid(t.dest) {
                self.invalidate_template(table, ti);
            } else {
                let t = table.get_mut(ti);
                t.expires = tnow.wrapping_add(t.timeout_ms);
                return Ok((t.dest, ti));
            }
        }
        let Some(slot) = self.pick(si, fi, now) else {
            return Err(Verdict::Drop(DropReason::NoDest));
        };
        let d = &self.dests[slot as usize];
        let mut t = Conn::<A>::EMPTY;
        t.caddr = snet;
        t.vaddr = tvaddr;
        t.vport = tvport;
        t.daddr = A::from_ip(d.cfg.addr).unwrap_or(A::UNSPEC);
        t.dport = d.cfg.port;
        t.proto = tproto;
        t.dest = slot;
        t.control = 0;
        t.flags.insert(ConnFlags::TEMPLATE);
        t.flags.set_fwd(d.cfg.fwd.kind());
        t.timeout_ms = p
            .timeout_s
            .saturating_mul(1000)
            .min(crate::conn::MAX_TIMEOUT_MS);
        t.expires = tnow.wrapping_add(t.timeout_ms);
        self.bind(slot, t.flags);
        let released = &mut self.released;
        released.clear();
        let inserted = table.insert(t, tnow, |e| released.push(Released::of(e)));
        self.settle_released(table);
        match inserted {
            Ok(ti) => Ok((slot, ti)),
            Err(_) => {
                self.unbind(slot, t.flags);
                Err(Verdict::Drop(DropReason::TableFull))
            }
        }
    }

    /// IPVS `ip_vs_check_template`: the template's dest must still be in the service, and
    /// not quiescent when expire_quiescent_template is set.
    fn template_valid(&self, slot: u32) -> bool {
        if slot == NIL {
            return false;
        }
        let d = &self.dests[slot as usize];
        d.available() && !(self.cfg.settings().expire_quiescent_template && d.cfg.weight == 0)
    }

    /// Make a template unfindable while the conns it controls finish (IPVS re-hashes it
    /// with vport 0xffff for the same reason, `ip_vs_check_template`).
    fn invalidate_template<A: ConnAddr>(&mut self, table: &mut ConnTable<A>, ti: u32) {
        if table.get(ti).control == 0 {
            self.release(table, ti);
            return;
        }
        table.rekey(ti, |t| {
            t.vport = 0xffff;
            t.dport = 0xffff;
            t.cport = 0;
        });
    }

    /// No real server: IPVS `ip_vs_leave` answers with ICMP port unreachable.
    fn no_dest(&mut self, pkt: &mut PacketBuf, h: &Hdr) -> Verdict {
        let t4 = (icmpv4::kind::DEST_UNREACH, icmpv4::kind::PORT_UNREACH);
        let t6 = (icmpv6::kind::DST_UNREACH, icmpv6::kind::PORT_UNREACH);
        self.answer(pkt, h, t4, t6, 0, DropReason::NoDest)
    }

    pub(crate) fn icmp_time_exceeded(&mut self, pkt: &mut PacketBuf, h: &Hdr) -> Verdict {
        let t4 = (icmpv4::kind::TIME_EXCEEDED, 0);
        let t6 = (icmpv6::kind::TIME_EXCEEDED, 0);
        self.answer(pkt, h, t4, t6, 0, DropReason::TtlExceeded)
    }

    pub(crate) fn icmp_too_big(&mut self, pkt: &mut PacketBuf, h: &Hdr, mtu: u32) -> Verdict {
        let t4 = (icmpv4::kind::DEST_UNREACH, icmpv4::kind::FRAG_NEEDED);
        let t6 = (icmpv6::kind::PACKET_TOO_BIG, 0);
        let rest = if h.v6 { mtu.max(1280) } else { mtu & 0xffff };
        self.answer(pkt, h, t4, t6, rest, DropReason::TooBig)
    }

    /// The packet is dropped for `reason`; the sender hears of it by ICMP when one can be
    /// built. Counted once either way: here when answered (the verdict is then a Tx), by
    /// the caller's verdict count when not.
    fn answer(
        &mut self,
        pkt: &mut PacketBuf,
        h: &Hdr,
        t4: (u8, u8),
        t6: (u8, u8),
        rest: u32,
        reason: DropReason,
    ) -> Verdict {
        match self.icmp_reply(pkt, h, t4, t6, rest) {
            Some(v) => {
                self.counters.drops[reason as usize] += 1;
                v
            }
            None => Verdict::Drop(reason),
        }
    }

    /// Build an ICMP error about the frame in its place and send it back the way it came,
    /// to the sender's MAC. Its source is the address the packet was sent to.
    fn icmp_reply(
        &mut self,
        pkt: &mut PacketBuf,
        h: &Hdr,
        t4: (u8, u8),
        t6: (u8, u8),
        rest: u32,
    ) -> Option<Verdict> {
        let f = pkt.data();
        // RFC 1122 3.2.2 / RFC 4443 2.4: no ICMP error about an ICMP error.
        if matches!(h.proto, ip_proto::ICMP | ip_proto::ICMPV6) {
            let t = *f.get(h.l4)?;
            let informational = if h.v6 {
                t >= 128
            } else {
                matches!(t, 0 | 8 | 13 | 14)
            };
            if !informational {
                return None;
            }
        }
        let ip_end = (h.l3 + h.ip_len).min(f.len());
        // RFC 1812 (576 bytes) and RFC 4443 (1280 bytes) bound the whole error packet.
        let max_orig = if h.v6 { 1280 - 40 - 8 } else { 576 - 20 - 8 };
        let orig_len = (ip_end - h.l3).min(max_orig);
        let ident = if h.v6 { 0 } else { self.next_ip_ident() };
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&pkt.data()[h.l3..h.l3 + orig_len]);
        let l2 = h.l3;
        let mut mac = [0u8; 12];
        mac.copy_from_slice(&f[..12]);
        let room = pkt.room_mut();
        let ip_hdr = if h.v6 { 40 } else { 20 };
        if room.len() < l2 + ip_hdr + 8 + orig_len {
            return None;
        }
        room[..6].copy_from_slice(&mac[6..12]);
        room[6..12].copy_from_slice(&mac[..6]);
        let o = &self.scratch;
        let icmp_len = if h.v6 {
            let src: [u8; 16] = o[24..40].try_into().ok()?;
            let dst: [u8; 16] = o[8..24].try_into().ok()?;
            let n = icmpv6::emit_icmpv6_error(
                &mut room[l2 + 40..],
                src.into(),
                dst.into(),
                t6.0,
                t6.1,
                rest,
                o,
            )
            .ok()?;
            let r = &mut room[l2..l2 + 40];
            r[0..4].copy_from_slice(&(6u32 << 28).to_be_bytes());
            xmit::wr16(r, 4, n as u16);
            r[6] = ip_proto::ICMPV6;
            r[7] = 64;
            r[8..24].copy_from_slice(&src);
            r[24..40].copy_from_slice(&dst);
            n
        } else {
            let n = icmpv4::emit_icmpv4_error(&mut room[l2 + 20..], t4.0, t4.1, rest, o).ok()?;
            let r = &mut room[l2..l2 + 20];
            r[0] = 0x45;
            r[1] = 0xc0;
            xmit::wr16(r, 2, (20 + n) as u16);
            xmit::wr16(r, 4, ident);
            xmit::wr16(r, 6, 0);
            r[8] = 64;
            r[9] = ip_proto::ICMP;
            xmit::wr16(r, 10, 0);
            r[12..16].copy_from_slice(&o[16..20]);
            r[16..20].copy_from_slice(&o[12..16]);
            let c = rvs_wire::checksum::finish(rvs_wire::checksum::sum(&r[..20]));
            xmit::wr16(r, 10, c);
            n
        };
        pkt.set_len(l2 + ip_hdr + icmp_len);
        self.counters.icmp_sent += 1;
        Some(Verdict::Tx(self.ingress))
    }

    fn resolve(&self, ip: IpAddr) -> Result<Hop, DropReason> {
        let r = self.net.route(ip).ok_or(DropReason::NoRoute)?;
        let dst_mac = self.net.neighbour(r.port, r.next_hop);
        Ok(Hop {
            port: r.port,
            src_mac: r.port_mac,
            dst_mac,
            next_hop: r.next_hop,
            src: r.src,
            mtu: r.mtu,
        })
    }

    /// The next hop toward a dest, cached in its slot until routes or neighbours change.
    pub(crate) fn hop_to_dest(&mut self, slot: u32) -> Result<Hop, DropReason> {
        let gen = self.net_gen;
        let d = &self.dests[slot as usize];
        if let Some((g, hop)) = d.hop {
            if g == gen && hop.dst_mac.is_some() {
                return Ok(hop);
            }
        }
        let hop = self.resolve(d.cfg.addr)?;
        self.dests[slot as usize].hop = Some((gen, hop));
        Ok(hop)
    }

    /// The next hop toward a client, from a small direct-mapped cache.
    pub(crate) fn hop_to(&mut self, ip: IpAddr) -> Result<Hop, DropReason> {
        let gen = self.net_gen;
        let slot = match ip {
            IpAddr::V4(a) => (u32::from(a).wrapping_mul(0x9e37_79b1) >> 22) as usize,
            IpAddr::V6(a) => {
                ((u128::from(a) as u64 ^ (u128::from(a) >> 64) as u64)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    >> 54) as usize
            }
        } % CLIENT_HOP_CACHE;
        if let Some((a, g, hop)) = self.client_hops[slot] {
            if a == ip && g == gen && hop.dst_mac.is_some() {
                return Ok(hop);
            }
        }
        let hop = self.resolve(ip)?;
        self.client_hops[slot] = Some((ip, gen, hop));
        Ok(hop)
    }

    /// The tunnel parameters of a dest.
    pub(crate) fn dest_tunnel(&self, slot: u32) -> Option<(IpAddr, TunType, TunCsum)> {
        let d = &self.dests[slot as usize];
        match d.cfg.fwd {
            FwdMethod::Tunnel { tun, csum } => Some((d.cfg.addr, tun, csum)),
            _ => None,
        }
    }

    pub(crate) fn count_related(&mut self, dest: u32, bytes: usize, inbound: bool) {
        self.counters.icmp_related += 1;
        if inbound {
            self.count_in(dest, bytes)
        } else {
            self.count_out(dest, bytes)
        }
    }

    pub(crate) fn xmit_related_in<A: ConnAddr>(
        &mut self,
        pkt: &mut PacketBuf,
        h: &Hdr,
        c: &Conn<A>,
    ) -> Verdict {
        self.xmit_in(pkt, h, c)
    }
}

fn same_identity(a: &DestConfig, b: &DestConfig) -> bool {
    a.addr == b.addr && a.port == b.port && a.fwd == b.fwd
}

/// A dest's config changed in the new snapshot.
fn update_dest(rt: &mut DestRt, d: &DestConfig, now: u64) {
    // IPVS __ip_vs_update_dest: a raised or removed upper threshold lifts the overload.
    if d.u_threshold == 0 || d.u_threshold > rt.cfg.u_threshold {
        rt.overloaded = false;
    }
    if rt.cfg.addr != d.addr {
        rt.hop = None;
    }
    let was_unavailable = rt.svc == NIL || rt.cfg.weight == 0;
    rt.cfg = d.clone();
    if d.weight == 0 {
        if !was_unavailable || rt.unavail_since.is_none() {
            rt.unavail_since = Some(now);
        }
    } else {
        rt.unavail_since = None;
    }
}

/// Pick a FULLNAT local address and port whose reply key is free.
fn alloc_local_port<A: ConnAddr>(
    table: &ConnTable<A>,
    cfg: &Config,
    svc: &ServiceConfig,
    c: &Conn<A>,
    seed: u64,
) -> Option<(A, u16)> {
    let pool = if svc.laddrs.is_empty() {
        &cfg.settings().laddrs
    } else {
        &svc.laddrs
    };
    let span = (u16::MAX - LPORT_MIN) as u64 + 1;
    let h = ConnKey {
        proto: c.proto,
        template: false,
        a1: c.caddr,
        p1: c.cport,
        a2: c.daddr,
        p2: c.dport,
    }
    .hash([seed, !seed]);
    for laddr in pool.iter().filter_map(|a| A::from_ip(*a)) {
        for probe in 0..64u64 {
            let lport =
                LPORT_MIN + ((h.wrapping_add(probe.wrapping_mul(0x9e37_79b9))) % span) as u16;
            let key = ConnKey {
                proto: c.proto,
                template: false,
                a1: c.daddr,
                p1: c.dport,
                a2: laddr,
                p2: lport,
            };
            if !table.out_key_taken(&key) {
                return Some((laddr, lport));
            }
        }
    }
    None
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
