//! Control-side dest handling (IPVS `ip_vs_ctl.c`'s add/edit/del dest and its trash list,
//! with `ip_vs_conn.c`'s `ip_vs_bind_dest`/`ip_vs_unbind_dest`): carrying services and dests
//! into a new config snapshot, and the per-dest conn counters and stats that conns move.
//! Apart from the packet path because it runs on a config change, not per packet.

use crate::config::{Config, DestConfig, FwdMethod, SvcKey, TunCsum, TunType};
use crate::conn::{Conn, ConnAddr, ConnFlags, ConnTable, InsertError, Tick, NIL};
use crate::rt::{gone, Core, DestRt, Released, SvcDests, SvcRt};
use crate::stats::{Counters, Estimator};
use core::net::IpAddr;
use rvs_sched::{SchedCtx, Scheduler};
use rvs_wire::frame::FrameInfo;
use std::collections::HashMap;
use std::sync::Arc;

impl Core {
    /// Carry runtime state into a new snapshot by service key and dest id.
    pub(crate) fn reconcile(&mut self, cfg: Arc<Config>, now: u64) {
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

    /// Ask the service's scheduler for a dest slot.
    pub(crate) fn pick(&mut self, si: usize, fi: &FrameInfo, now: u64) -> Option<u32> {
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

    fn next_random(&mut self) -> u64 {
        // splitmix64: tiny, and good enough for twos and for drop_packet's coin.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn alloc_dest(&mut self, d: &DestConfig) -> u32 {
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

    pub(crate) fn retire_dest(&mut self, slot: u32, now: u64) {
        let d = &mut self.dests[slot as usize];
        d.svc = NIL;
        d.unavail_since = Some(now);
        if d.refs == 0 {
            self.free_dest(slot);
        } else if self.dest_by_id.get(&d.id) == Some(&slot) {
            self.dest_by_id.remove(&d.id);
        }
    }

    pub(crate) fn free_dest(&mut self, slot: u32) {
        let d = &mut self.dests[slot as usize];
        // A retired slot shares its id with its successor; only unmap our own entry.
        if self.dest_by_id.get(&d.id) == Some(&slot) {
            self.dest_by_id.remove(&d.id);
        }
        d.in_use = false;
        d.hop = None;
        self.dest_free.push(slot);
    }

    /// Remove a conn from its table and settle its dest and template.
    pub(crate) fn release<A: ConnAddr>(&mut self, table: &mut ConnTable<A>, idx: u32) {
        let c = table.remove(idx);
        gone(&mut self.feed, &self.dests, &c);
        self.settle(table, Released::of(&c));
    }

    pub(crate) fn settle<A: ConnAddr>(&mut self, table: &mut ConnTable<A>, r: Released) {
        if !r.flags.contains(ConnFlags::TEMPLATE) && r.control != NIL {
            let t = table.get_mut(r.control);
            if t.flags.contains(ConnFlags::IN_USE) && t.is_template() {
                t.control = t.control.saturating_sub(1);
            }
        }
        self.unbind(r.dest, r.flags);
    }

    /// Bind a new entry to its dest and insert it; what the insert evicts is settled (and
    /// reported to the feed). On a full table the bind is undone.
    pub(crate) fn bind_insert<A: ConnAddr>(
        &mut self,
        table: &mut ConnTable<A>,
        c: Conn<A>,
        now: Tick,
    ) -> Result<u32, InsertError> {
        self.bind(c.dest, c.flags);
        let (released, feed, dests) = (&mut self.released, &mut self.feed, &self.dests);
        released.clear();
        let inserted = table.insert(c, now, |e| {
            released.push(Released::of(e));
            gone(feed, dests, e);
        });
        self.settle_released(table);
        if inserted.is_err() {
            self.unbind(c.dest, c.flags);
        }
        inserted
    }

    pub(crate) fn settle_released<A: ConnAddr>(&mut self, table: &mut ConnTable<A>) {
        let rel = core::mem::take(&mut self.released);
        for r in &rel {
            self.settle(table, *r);
        }
        self.released = rel;
        self.released.clear();
    }

    /// IPVS `ip_vs_bind_dest`.
    #[inline]
    pub(crate) fn bind(&mut self, slot: u32, flags: ConnFlags) {
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
    #[inline]
    pub(crate) fn unbind(&mut self, slot: u32, flags: ConnFlags) {
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
    #[inline]
    pub(crate) fn set_active<A: ConnAddr>(&mut self, c: &mut Conn<A>, active: bool) {
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

    #[inline]
    pub(crate) fn count_in(&mut self, dest: u32, bytes: usize) {
        self.count(dest, bytes, true);
    }

    #[inline]
    pub(crate) fn count_out(&mut self, dest: u32, bytes: usize) {
        self.count(dest, bytes, false);
    }

    /// A packet on `dest`'s conn, counted on the dest and its service. `inbound` is a
    /// constant at every call, so each wrapper inlines to its own direction's adds.
    #[inline(always)]
    fn count(&mut self, dest: u32, bytes: usize, inbound: bool) {
        if dest == NIL {
            return;
        }
        let d = &mut self.dests[dest as usize];
        d.stats.count_pkt(inbound, bytes as u64);
        if d.svc != NIL {
            self.svcs[d.svc as usize]
                .stats
                .count_pkt(inbound, bytes as u64);
        }
    }

    /// The tunnel parameters of a dest.
    #[inline]
    pub(crate) fn dest_tunnel(&self, slot: u32) -> Option<(IpAddr, TunType, TunCsum)> {
        let d = &self.dests[slot as usize];
        match d.cfg.fwd {
            FwdMethod::Tunnel { tun, csum } => Some((d.cfg.addr, tun, csum)),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn count_related(&mut self, dest: u32, bytes: usize, inbound: bool) {
        self.counters.icmp_related += 1;
        if inbound {
            self.count_in(dest, bytes)
        } else {
            self.count_out(dest, bytes)
        }
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
