//! The packet path (IPVS `ip_vs_core.c`): one frame and `now` in, one verdict out.
//!
//! [`Engine`] owns the conn tables and the per-worker runtime (scheduler state, counters,
//! next-hop caches); the virtual server table comes from an immutable [`Config`] snapshot
//! that the control side swaps in. The engine notices a new snapshot at the start of a call
//! and reconciles by stable ids, so a change to one service leaves every other service's
//! scheduler state and connections alone.
//!
//! The other parts implement on the shared runtime `Core` (`rt`), one file each as IPVS
//! splits its own: `dest` (dests and their conn counters, `ip_vs_ctl.c`), `persist`
//! (templates), `proto` (conn state transitions), `route` (next hops), `reply` (ICMP errors
//! the engine sends), `timer` (expiry and defences), `status` and `adopt`. The transmitters
//! (`xmit`, `ip_vs_xmit.c`) are handed what they need and never call back.

use crate::config::{Config, FwdMethod, SvcKey};
use crate::conn::{tick_of, Conn, ConnAddr, ConnFlags, ConnKey, ConnTable, FwdKind, NIL};
use crate::feed::ConnEventKind;
use crate::net::{NetView, PortId};
use crate::packet::PacketBuf;
use crate::route::CLIENT_HOP_CACHE;
use crate::rt::{defence_on, Core, Timers};
use crate::verdict::{DropReason, EngineCounters, Verdict};
use crate::vip::VipOwnership;
use crate::xmit::icmp::Related;
use crate::xmit::{self, Hdr, IpIdent};
use arc_swap::{ArcSwap, Cache};
use core::net::IpAddr;
use rvs_proto::tcp;
use rvs_wire::frame::{parse_frame, Frag, FrameInfo, L3};
use rvs_wire::{ip_proto, tcp::flags as tcpf};
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

pub struct Engine {
    pub(crate) core: Core,
    pub(crate) conns4: ConnTable<[u8; 4]>,
    pub(crate) conns6: ConnTable<[u8; 16]>,
    cfg_cache: Cache<Arc<ArcSwap<Config>>, Arc<Config>>,
}

/// Selects the conn table of an address family.
pub(crate) trait Family: ConnAddr {
    /// The family's index in per-family arrays (v4 0, v6 1).
    const INDEX: usize;
    fn split(e: &mut Engine) -> (&mut Core, &mut ConnTable<Self>);
}

impl Family for [u8; 4] {
    const INDEX: usize = 0;
    fn split(e: &mut Engine) -> (&mut Core, &mut ConnTable<Self>) {
        (&mut e.core, &mut e.conns4)
    }
}

impl Family for [u8; 16] {
    const INDEX: usize = 1;
    fn split(e: &mut Engine) -> (&mut Core, &mut ConnTable<Self>) {
        (&mut e.core, &mut e.conns6)
    }
}

impl Engine {
    pub fn new(config: Arc<ArcSwap<Config>>, net: Arc<dyn NetView>, opts: EngineOptions) -> Self {
        let v4 = ConnTable::new(opts.conn_capacity_v4, opts.seed);
        let v6 = ConnTable::new(opts.conn_capacity_v6, opts.seed.rotate_left(17));
        Self::new_with(config, net, opts, v4, v6)
    }

    pub(crate) fn new_with(
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
            ip_ident: IpIdent(opts.seed as u16),
            scratch: Vec::with_capacity(1500),
            released: Vec::new(),
            ingress: PortId(0),
            timers: Timers::default(),
            vips: VipOwnership::default(),
            feed: None,
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
    pub(crate) fn refresh(&mut self, now_ms: u64) {
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
                match crate::local::arp(&c.cfg, &*c.net, &c.vips, pkt, fi, ingress) {
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
                        crate::local::echo(&core.cfg, &*core.net, &core.vips, pkt, fi, core.ingress)
                    }
                    (true, 135) => crate::local::solicit(
                        &core.cfg,
                        &*core.net,
                        &core.vips,
                        pkt,
                        fi,
                        core.ingress,
                    ),
                    _ => None,
                };
                if let Some(v) = answer {
                    core.counters.local_answers += 1;
                    return v;
                }
                return core.icmp(table, pkt, &h, fi, now);
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
}

enum Hit {
    Use,
    Reschedule,
}

fn is_bare_syn(fi: &FrameInfo) -> bool {
    fi.protocol == ip_proto::TCP && fi.tcp_flags & (tcpf::SYN | tcpf::ACK) == tcpf::SYN
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
        let t = self.transition(c, false, fi, l4, now);
        if t.embryonic {
            table.note_embryonic(i);
        }
        let c = *table.get(i);
        if t.changed && self.feed.is_some() {
            self.emit(table, ConnEventKind::State, &c);
        }
        self.count_in(c.dest, h.ip_len);
        self.xmit_in(pkt, h, &c)
    }

    /// Hand a client-side packet to its conn's transmitter, with the hop to the real server.
    // Every forwarded packet passes here; LLVM stopped inlining it once it took over the hop
    // lookup from the transmitters, which cost ~10 instructions a packet.
    #[inline(always)]
    fn xmit_in<A: ConnAddr>(&mut self, pkt: &mut PacketBuf, h: &Hdr, c: &Conn<A>) -> Verdict {
        let sent = match c.flags.fwd() {
            FwdKind::Masq => self
                .hop_to_dest(c.dest)
                .map(|hop| xmit::nat::nat_in(pkt, h, c, &hop)),
            FwdKind::FullNat => self
                .hop_to_dest(c.dest)
                .map(|hop| xmit::fullnat::fullnat_in(pkt, h, c, &hop)),
            FwdKind::Route => self
                .hop_to_dest(c.dest)
                .map(|hop| xmit::dr::dr(pkt, h, &hop)),
            FwdKind::Tunnel => match self.dest_tunnel(c.dest) {
                // An adopted conn's dest may no longer be a tunnel.
                None => return Verdict::Drop(DropReason::Unsupported),
                Some(t) => self
                    .hop_to_dest(c.dest)
                    .map(|hop| xmit::tun::tun(pkt, h, &hop, t, &mut self.ip_ident)),
            },
        };
        match sent {
            Ok(sent) => self.sent(pkt, h, sent),
            Err(r) => Verdict::Drop(r),
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
        let t = self.transition(c, true, fi, l4, now);
        let c = *table.get(i);
        if t.changed && self.feed.is_some() {
            self.emit(table, ConnEventKind::State, &c);
        }
        self.count_out(c.dest, h.ip_len);
        let hop = match self.hop_to(c.caddr.to_ip()) {
            Ok(hop) => hop,
            Err(r) => return Verdict::Drop(r),
        };
        let sent = match c.flags.fwd() {
            FwdKind::FullNat => xmit::fullnat::fullnat_out(pkt, h, &c, &hop),
            _ => xmit::nat::nat_out(pkt, h, &c, &hop),
        };
        self.sent(pkt, h, sent)
    }

    /// IPVS `ip_vs_in_icmp` / `ip_vs_out_icmp`: an ICMP error about one of our conns goes on
    /// to the conn's other end.
    fn icmp<A: ConnAddr>(
        &mut self,
        table: &ConnTable<A>,
        pkt: &mut PacketBuf,
        h: &Hdr,
        fi: &FrameInfo,
        now: u64,
    ) -> Verdict {
        match xmit::icmp::related(table, pkt, h, fi, now) {
            None => Verdict::Pass,
            Some(Related::In { c, ih }) => {
                self.count_related(c.dest, h.ip_len, true);
                match c.flags.fwd() {
                    FwdKind::Masq | FwdKind::FullNat => {
                        let hop = self.hop_to_dest(c.dest);
                        xmit::icmp::relay_in(pkt, h, &ih, &c, hop)
                    }
                    // DR and TUN forward the error as it is, like any packet of the conn.
                    FwdKind::Route | FwdKind::Tunnel => self.xmit_in(pkt, h, &c),
                }
            }
            Some(Related::Out { c, ih }) => {
                self.count_related(c.dest, h.ip_len, false);
                match self.hop_to(c.caddr.to_ip()) {
                    Ok(hop) => xmit::icmp::relay_out(pkt, h, &ih, &c, &hop),
                    Err(r) => Verdict::Drop(r),
                }
            }
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
            match xmit::fullnat::alloc_local_port(
                table,
                &self.cfg,
                &self.svcs[si].cfg,
                &c,
                self.rng,
            ) {
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
        match self.bind_insert(table, c, tnow) {
            Ok(i) => {
                if template != NIL {
                    let t = table.get_mut(template);
                    if t.is_template() {
                        t.control = t.control.saturating_add(1);
                    }
                }
                if self.feed.is_some() {
                    self.emit(table, ConnEventKind::Created, &c);
                }
                self.conn_in(table, i, pkt, h, fi, now)
            }
            Err(_) => {
                self.release_template_ref(table, template);
                Verdict::Drop(DropReason::TableFull)
            }
        }
    }
}
