//! Locality-based least-connection with replication (`ip_vs_lblcr.c`).
//!
//! Each destination address maps to a *set* of dests:
//!
//! ```text
//! if serverSet[dest_ip] is null then
//!         n, serverSet[dest_ip] <- {weighted least-conn node};
//! else
//!         n <- {least-conn (alive) node in serverSet[dest_ip]};
//!         if (n is null) OR
//!            (n.conns>n.weight AND
//!             there is a node m with m.conns<m.weight/2) then
//!             n <- {weighted least-conn node};
//!             add n to serverSet[dest_ip];
//!         if |serverSet[dest_ip]| > 1 AND
//!             now - serverSet[dest_ip].lastMod > T then
//!             m <- {most conn node in serverSet[dest_ip]};
//!             remove m from serverSet[dest_ip];
//! if serverSet[dest_ip] changed then
//!         serverSet[dest_ip].lastMod <- now;
//! return n;
//! ```
//!
//! Details from the code: the set is a list with new members added at the head
//! (`list_add_rcu`), so "first" in a set means most recently added. `ip_vs_dest_set_min` is
//! wlc over the set, skipping overloaded and non-available members (and weight 0: it cannot
//! win); `ip_vs_dest_set_max` is the member with the highest `overhead / weight` among positive
//! weights (`moh * dw < doh * mw`, strict, so the first wins ties), whatever its flags. The
//! shrink runs on a lookup when the set has more than one member and
//! `time_after(now, lastmod + lblcr_expiration)`; it happens after the least-loaded member was
//! chosen, so that member may be the one removed and still be returned. The shrink and an
//! insertion set `lastmod`. `is_overloaded` is lblc's rule. Unlike lblc, a member with
//! `IP_VS_DEST_F_OVERLOAD` is never returned.
//!
//! Ageing and bound are lblc's (see [`crate::lblc`]): the same timer, full check with
//! `lblcr_expiration` (default 24 h, [`Lblcr::set_expiration_ms`]), partial collection over
//! `max_size` in the kernel's bucket order (`hash_32(ntohl(addr_fold), 10)`), and at most
//! [`MAX_ENTRIES`] entries. A set holds each dest at most once, so it is bounded by the number
//! of dests. rvs difference: a dest removed from the service leaves every set at the next
//! `update` (the kernel keeps it, unavailable, until `ip_vs_dest_set_max` picks it or the entry
//! expires), since rvs cannot read the load of a dest it no longer has.

use crate::lblc::{is_overloaded, positions, Ager, LastUse, DEFAULT_EXPIRATION_MS, MAX_ENTRIES};
use crate::wlc::least_weighted;
use crate::{resolve, DestKey, DestSet, SchedCtx, SchedFlags, SchedOps};
use core::net::IpAddr;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Member {
    dest: DestKey,
    /// Index of `dest` at the last update.
    hint: u32,
}

/// `struct ip_vs_dest_set`: members, most recently added first.
#[derive(Clone, Debug)]
struct ServerSet {
    members: Vec<Member>,
    lastmod: u64,
}

#[derive(Clone, Debug)]
struct Entry {
    set: ServerSet,
    lastuse: u64,
}

impl LastUse for Entry {
    fn lastuse(&self) -> u64 {
        self.lastuse
    }
}

impl ServerSet {
    /// `ip_vs_dest_set_min`: weighted least-connection member, available and not overloaded.
    fn min<D: DestSet>(&self, dests: &D) -> Option<usize> {
        let mut it = self
            .members
            .iter()
            .filter_map(|m| resolve(dests, m.dest, m.hint));
        let mut least = it.find(|&i| !dests.load(i).unavailable())?;
        let mut lw = u128::from(dests.load(least).weight);
        let mut loh = u128::from(dests.load(least).overhead());
        for i in it {
            let d = dests.load(i);
            if d.overloaded {
                continue;
            }
            let doh = u128::from(d.overhead());
            let dw = u128::from(d.weight);
            // loh/lw > doh/dw  <=>  loh*dw > doh*lw
            if loh * dw > doh * lw {
                least = i;
                loh = doh;
                lw = dw;
            }
        }
        Some(least)
    }

    /// `ip_vs_dest_set_max`: position in the set of the weighted most-connection member.
    fn max<D: DestSet>(&self, dests: &D) -> Option<usize> {
        let mut it = self
            .members
            .iter()
            .enumerate()
            .filter_map(|(k, m)| resolve(dests, m.dest, m.hint).map(|i| (k, dests.load(i))));
        let (mut most, first) = it.find(|(_, d)| d.weight > 0)?;
        let mut mw = u128::from(first.weight);
        let mut moh = u128::from(first.overhead());
        for (k, d) in it {
            let doh = u128::from(d.overhead());
            let dw = u128::from(d.weight);
            // moh/mw < doh/dw  <=>  moh*dw < doh*mw, where mw, dw > 0
            if moh * dw < doh * mw && dw > 0 {
                most = k;
                moh = doh;
                mw = dw;
            }
        }
        Some(most)
    }

    /// `ip_vs_dest_set_insert(set, dest, check = true)`: at the head, once.
    fn insert(&mut self, m: Member, now: u64) {
        if self.members.iter().any(|e| e.dest == m.dest) {
            return;
        }
        self.members.insert(0, m);
        self.lastmod = now;
    }
}

#[derive(Clone, Debug)]
pub struct Lblcr {
    flags: SchedFlags,
    table: HashMap<IpAddr, Entry>,
    ager: Ager,
    expiration_ms: u64,
}

impl Lblcr {
    pub fn new(flags: SchedFlags) -> Self {
        Self {
            flags,
            table: HashMap::new(),
            ager: Ager::new(),
            expiration_ms: DEFAULT_EXPIRATION_MS,
        }
    }

    /// The `net.ipv4.vs.lblcr_expiration` sysctl, in milliseconds: both the set shrinking
    /// period and the full-check expiry of entries.
    pub fn set_expiration_ms(&mut self, ms: u64) {
        self.expiration_ms = ms;
    }

    /// Entries in the address table.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The dests in the set of `daddr`, most recently added first (for tests and inspection).
    pub fn set_of(&self, daddr: IpAddr) -> Option<Vec<DestKey>> {
        self.table
            .get(&daddr)
            .map(|e| e.set.members.iter().map(|m| m.dest).collect())
    }
}

impl SchedOps for Lblcr {
    const NAME: &'static str = "lblcr";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    /// The kernel has no dest hooks for lblcr; rvs refreshes the members' index hints and drops
    /// members that left the service.
    fn update<D: DestSet>(&mut self, dests: &D) {
        let pos = positions(dests);
        for e in self.table.values_mut() {
            e.set.members.retain_mut(|m| match pos.get(&m.dest) {
                Some(&i) => {
                    m.hint = i;
                    true
                }
                None => false,
            });
        }
    }

    fn schedule<D: DestSet>(&mut self, dests: &D, ctx: &SchedCtx) -> Option<usize> {
        let now = ctx.now_ms;
        let daddr = ctx.vaddr;
        // First look in our cache.
        if let Some(en) = self.table.get_mut(&daddr) {
            en.lastuse = now;
            // Get the least loaded destination.
            let dest = en.set.min(dests);
            // More than one destination + enough time passed by, cleanup.
            if en.set.members.len() > 1 && now > en.set.lastmod.saturating_add(self.expiration_ms) {
                if let Some(k) = en.set.max(dests) {
                    en.set.members.remove(k);
                    en.set.lastmod = now;
                }
            }
            // If the destination is not overloaded, use it.
            if let Some(i) = dest {
                if !is_overloaded(dests.load(i), dests) {
                    return Some(i);
                }
            }
            // The cache entry is invalid, time to schedule.
            let i = least_weighted(dests)?;
            en.set.insert(
                Member {
                    dest: dests.key(i),
                    hint: i as u32,
                },
                now,
            );
            return Some(i);
        }
        // No cache entry, time to schedule.
        let i = least_weighted(dests)?;
        if self.table.len() < MAX_ENTRIES {
            let set = ServerSet {
                members: vec![Member {
                    dest: dests.key(i),
                    hint: i as u32,
                }],
                lastmod: now,
            };
            self.table.insert(daddr, Entry { set, lastuse: now });
        }
        Some(i)
    }

    fn expire(&mut self, now_ms: u64) {
        self.ager
            .expire(&mut self.table, now_ms, self.expiration_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestVec;
    use core::net::Ipv4Addr;

    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

    fn fresh(d: &DestVec) -> Lblcr {
        let mut s = Lblcr::new(SchedFlags::default());
        s.update(d);
        s
    }

    #[test]
    fn set_grows_when_its_least_loaded_member_is_overloaded() {
        let mut d = dests(&[load(2, 0, 0), load(2, 0, 0), load(8, 0, 0)]);
        let mut s = fresh(&d);
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 0)), Some(0));
        assert_eq!(s.set_of(VIP).unwrap(), [key(0)]);
        // dest 0 over its weight while dest 2 is under half of its own: add the wlc choice.
        d.0[0].1.activeconns = 3;
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 10)), Some(1));
        assert_eq!(s.set_of(VIP).unwrap(), [key(1), key(0)]);
        // Set min now prefers the newest member on ties; dest 1 idle -> dest 1.
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 20)), Some(1));
        // Both members over: wlc picks dest 2 (0/8), the set grows again.
        d.0[1].1.activeconns = 3;
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 30)), Some(2));
        assert_eq!(s.set_of(VIP).unwrap(), [key(2), key(1), key(0)]);
    }

    #[test]
    fn set_min_skips_overloaded_and_quiesced_members() {
        let mut d = dests(&[load(4, 0, 0), load(4, 0, 0)]);
        let mut s = fresh(&d);
        s.schedule(&d, &ctx_v(VIP, 0));
        d.0[0].1.activeconns = 5;
        d.0[1].1.activeconns = 1; // witness: 2 < 4
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 0)), Some(1)); // set {1, 0}
        d.0[1].1.overloaded = true;
        // set_min: dest 1 flagged -> dest 0, which is_overloaded -> wlc over the service:
        // only dest 0 is available -> dest 0 (already in the set).
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 0)), Some(0));
        assert_eq!(s.set_of(VIP).unwrap().len(), 2);
        d.0[0].1.weight = 0;
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 0)), None);
    }

    #[test]
    fn set_shrinks_by_its_most_loaded_member_after_expiration() {
        let t = 1000;
        let mut d = dests(&[load(2, 0, 0), load(2, 0, 0), load(2, 0, 0)]);
        let mut s = fresh(&d);
        s.set_expiration_ms(t);
        s.schedule(&d, &ctx_v(VIP, 0));
        d.0[0].1.activeconns = 3;
        d.0[2].1.activeconns = 0;
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 5)), Some(1)); // set {1, 0}, lastmod 5
        d.0[1].1.activeconns = 1;
        // Not yet: now must be strictly after lastmod + T.
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 5 + t)), Some(1));
        assert_eq!(s.set_of(VIP).unwrap().len(), 2);
        // Expired: the most loaded member (dest 0, 768/2) leaves; dest 1 is returned.
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 6 + t)), Some(1));
        assert_eq!(s.set_of(VIP).unwrap(), [key(1)]);
        // A single member is never removed.
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 100 * t)), Some(1));
        assert_eq!(s.set_of(VIP).unwrap(), [key(1)]);
    }

    #[test]
    fn shrink_may_remove_the_member_it_returns() {
        let t = 1000;
        let mut d = dests(&[load(4, 0, 0), load(4, 0, 0)]);
        let mut s = fresh(&d);
        s.set_expiration_ms(t);
        s.schedule(&d, &ctx_v(VIP, 0));
        d.0[0].1.activeconns = 5;
        d.0[1].1.activeconns = 1;
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 0)), Some(1)); // set {1, 0}
                                                             // Equal loads: set_min and set_max both settle on the first member, dest 1. The
                                                             // shrink removes it, and it is still returned (chosen before the shrink).
        d.0[0].1.activeconns = 1;
        d.0[1].1.activeconns = 1;
        assert_eq!(s.schedule(&d, &ctx_v(VIP, 2 * t)), Some(1));
        assert_eq!(s.set_of(VIP).unwrap(), [key(0)]);
    }

    #[test]
    fn removed_dest_leaves_the_sets() {
        let mut d = dests(&[load(2, 0, 0), load(2, 0, 0)]);
        let mut s = fresh(&d);
        s.schedule(&d, &ctx_v(VIP, 0));
        d.0[0].1.activeconns = 3;
        s.schedule(&d, &ctx_v(VIP, 0));
        assert_eq!(s.set_of(VIP).unwrap(), [key(1), key(0)]);
        let only0 = DestVec(vec![d.0[0]]);
        s.update(&only0);
        assert_eq!(s.set_of(VIP).unwrap(), [key(0)]);
        // Its remaining member resolves at its new index.
        let mut idle = only0.clone();
        idle.0[0].1.activeconns = 0;
        assert_eq!(s.schedule(&idle, &ctx_v(VIP, 0)), Some(0));
        // Stale call (no update) with fewer dests: nothing out of range.
        assert_eq!(s.schedule(&DestVec::default(), &ctx_v(VIP, 0)), None);
    }

    #[test]
    fn entries_expire_and_table_is_bounded() {
        let d = weighted(&[1]);
        let mut s = fresh(&d);
        s.expire(0);
        s.schedule(&d, &ctx_v(VIP, 0));
        for m in 1..=30u64 {
            s.expire(m * 60 * 1000);
        }
        // 30 min < 24 h: still there.
        assert_eq!(s.len(), 1);
        s.set_expiration_ms(60 * 1000);
        for m in 31..=60u64 {
            s.expire(m * 60 * 1000);
        }
        assert!(s.is_empty());
        for k in 0..(MAX_ENTRIES as u32 + 5) {
            s.schedule(&d, &ctx_v(IpAddr::V4(Ipv4Addr::from(k)), 0));
        }
        assert_eq!(s.len(), MAX_ENTRIES);
    }
}
