//! Destination hashing (`ip_vs_dh.c`).
//!
//! A static 256-bucket table (`IP_VS_DH_TAB_BITS` = 8) maps the hash of the packet's
//! destination address to a dest. `ip_vs_dh_reassign` fills the buckets by cycling through the
//! dest list one bucket per dest, weights ignored: bucket `i` gets dest `i mod n`.
//! `ip_vs_dh_hashkey` is `hash_32(ntohl(addr_fold), 8)` (IPv6 folded with XOR) — older kernels
//! used `(addr * 2654435761) & 255`, which only looks at the low byte; current ones take the
//! top bits of the golden-ratio product.
//!
//! There is no fallback: when the bucket's dest is overloaded or has weight 0 the kernel
//! returns NULL ("no destination available") even if other dests could serve, so that
//! a cache cluster can bypass to the origin. rvs does the same.

use crate::{addr_fold, hash_32, DestSet, SchedCtx, SchedFlags, SchedOps, NO_DEST};

const TAB_BITS: u32 = 8;
const TAB_SIZE: usize = 1 << TAB_BITS;

#[derive(Clone, Debug)]
pub struct Dh {
    flags: SchedFlags,
    buckets: [u32; TAB_SIZE],
}

impl Dh {
    pub fn new(flags: SchedFlags) -> Self {
        Self {
            flags,
            buckets: [NO_DEST; TAB_SIZE],
        }
    }

    /// The bucket of a destination address (`ip_vs_dh_hashkey`).
    #[inline]
    fn hashkey(addr: core::net::IpAddr) -> usize {
        hash_32(addr_fold(addr), TAB_BITS) as usize
    }
}

impl SchedOps for Dh {
    const NAME: &'static str = "dh";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    /// `ip_vs_dh_reassign`: one bucket per dest, cycling through the list.
    fn update<D: DestSet>(&mut self, dests: &D) {
        let n = dests.len();
        for (i, b) in self.buckets.iter_mut().enumerate() {
            *b = if n == 0 { NO_DEST } else { (i % n) as u32 };
        }
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, ctx: &SchedCtx) -> Option<usize> {
        let i = self.buckets[Self::hashkey(ctx.vaddr)] as usize;
        // NO_DEST and a stale index (dests shrank without update) are both out of range.
        (i < dests.len() && !dests.load(i).unavailable()).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestVec;
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    #[test]
    fn hashkey_is_hash_32_of_the_host_order_address() {
        // 10.0.0.1 = 0x0a000001; 0x0a000001 * 0x61C88647 mod 2^32 = 0x27C88647 -> top byte 0x27.
        assert_eq!(Dh::hashkey(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), 0x27);
        // Addresses differing only in the high octets land in different buckets (the old
        // low-bits hash put all of x.y.z.1 in one bucket).
        let a = Dh::hashkey(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        let b = Dh::hashkey(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)));
        assert_ne!(a, b);
        let v6: Ipv6Addr = "::a00:1".parse().unwrap();
        assert_eq!(Dh::hashkey(v6.into()), 0x27);
    }

    #[test]
    fn buckets_cycle_through_dests() {
        let d = weighted(&[1, 9, 0]);
        let mut s = Dh::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(&s.buckets[..5], &[0, 1, 2, 0, 1]);
        s.update(&DestVec::default());
        assert!(s.buckets.iter().all(|&b| b == NO_DEST));
    }

    #[test]
    fn no_fallback_to_another_dest() {
        let mut d = weighted(&[1, 1, 1]);
        let mut s = Dh::new(SchedFlags::default());
        s.update(&d);
        let c = ctx_v(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 0); // 0x0a000002 -> bucket 0x89 = 137 -> 137 % 3 = 2
        assert_eq!(s.schedule(&d, &c), Some(2));
        d.0[2].1.overloaded = true;
        assert_eq!(s.schedule(&d, &c), None);
        d.0[2].1.overloaded = false;
        d.0[2].1.weight = 0;
        assert_eq!(s.schedule(&d, &c), None);
    }

    #[test]
    fn stale_table_does_not_index_out_of_range() {
        let d = weighted(&[1, 1, 1]);
        let mut s = Dh::new(SchedFlags::default());
        s.update(&d);
        let c = ctx_v(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 0); // dest 2
        assert_eq!(s.schedule(&weighted(&[1]), &c), None);
        assert_eq!(s.schedule(&DestVec::default(), &c), None);
    }

    proptest! {
        /// Same address, same dest: across calls and across an update with an unchanged list.
        #[test]
        fn stable(weights in prop::collection::vec(1u32..5, 1..20), addrs in prop::collection::vec(any::<u32>(), 1..50)) {
            let d = weighted(&weights);
            let mut s = Dh::new(SchedFlags::default());
            s.update(&d);
            let first: Vec<_> = addrs.iter().map(|&a| s.schedule(&d, &ctx_v(IpAddr::V4(a.into()), 0))).collect();
            s.update(&d);
            let again: Vec<_> = addrs.iter().map(|&a| s.schedule(&d, &ctx_v(IpAddr::V4(a.into()), 0))).collect();
            prop_assert_eq!(&first, &again);
            for (r, &a) in first.iter().zip(&addrs) {
                let bucket = hash_32(a, 8) as usize;
                prop_assert_eq!(*r, Some(bucket % weights.len()));
            }
        }
    }
}
