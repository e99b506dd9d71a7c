//! Source hashing (`ip_vs_sh.c`), with the sh-fallback and sh-port flags.
//!
//! A static 256-bucket table (`IP_VS_SH_TAB_BITS` = 8). `ip_vs_sh_reassign` walks the dest list
//! cyclically and gives each dest `weight` consecutive buckets: "don't move to next dest until
//! filling weight", `if (++d_count >= weight) next`. A weight-0 dest therefore still takes one
//! bucket (`1 >= 0`), and a dest whose weights push the total past 256 may get none at all
//! (weights 300 and 1: the first dest fills the whole table).
//!
//! `ip_vs_sh_hashkey(addr, port, offset) = (offset + hash_32(port + ntohl(addr_fold), 8)) & 255`,
//! all in wrapping `u32`; `port` is the client port with sh-port (flag-2), else 0. The engine
//! passes `cport = 0` for protocols without ports, as `ip_vs_sh_get_port` does.
//!
//! Without sh-fallback an unavailable bucket dest (weight 0 or overloaded) means NULL, even if
//! other dests could serve. With sh-fallback (flag-1), `ip_vs_sh_get_fallback` retries with
//! `roffset = (offset + ihash) % 256` for `offset` in `0..256`, i.e. every bucket once, starting
//! from bucket `2 * ihash`; it returns the first available dest, and NULL only if none of the
//! dests holding a bucket is available.

use crate::{addr_fold, hash_32, DestSet, SchedCtx, SchedFlags, SchedOps, NO_DEST};
use core::net::IpAddr;

const TAB_BITS: u32 = 8;
const TAB_SIZE: usize = 1 << TAB_BITS;
const TAB_MASK: u32 = TAB_SIZE as u32 - 1;

#[derive(Clone, Debug)]
pub struct Sh {
    flags: SchedFlags,
    buckets: [u32; TAB_SIZE],
}

impl Sh {
    pub fn new(flags: SchedFlags) -> Self {
        Self {
            flags,
            buckets: [NO_DEST; TAB_SIZE],
        }
    }

    /// `ip_vs_sh_hashkey`.
    #[inline]
    fn hashkey(addr: IpAddr, port: u16, offset: u32) -> usize {
        (offset.wrapping_add(hash_32(
            u32::from(port).wrapping_add(addr_fold(addr)),
            TAB_BITS,
        )) & TAB_MASK) as usize
    }

    /// The dest in bucket `b`, if any and still in range of `dests`.
    #[inline]
    fn bucket<D: DestSet>(&self, dests: &D, b: usize) -> Option<usize> {
        let i = self.buckets[b] as usize;
        (self.buckets[b] != NO_DEST && i < dests.len()).then_some(i)
    }
}

impl SchedOps for Sh {
    const NAME: &'static str = "sh";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    /// `ip_vs_sh_reassign`: each dest takes `weight` consecutive buckets (at least one).
    fn update<D: DestSet>(&mut self, dests: &D) {
        let n = dests.len();
        if n == 0 {
            self.buckets = [NO_DEST; TAB_SIZE];
            return;
        }
        let mut p = 0usize;
        let mut d_count = 0u64;
        for b in self.buckets.iter_mut() {
            *b = p as u32;
            // Don't move to the next dest until its weight is filled.
            d_count += 1;
            if d_count >= u64::from(dests.load(p).weight) {
                p = (p + 1) % n;
                d_count = 0;
            }
        }
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, ctx: &SchedCtx) -> Option<usize> {
        let port = if self.flags.has(SchedFlags::PORT) {
            ctx.cport
        } else {
            0
        };
        let addr = ctx.caddr;
        let ihash = Self::hashkey(addr, port, 0);
        // A stale index (dests shrank without update) reads like an empty bucket.
        let first = self.bucket(dests, ihash)?;
        if !dests.load(first).unavailable() {
            return Some(first);
        }
        if !self.flags.has(SchedFlags::FALLBACK) {
            return None;
        }
        // Loop around the table starting from ihash to find a new dest.
        for offset in 0..TAB_SIZE as u32 {
            let roffset = (offset + ihash as u32) % TAB_SIZE as u32;
            let i = self.bucket(dests, Self::hashkey(addr, port, roffset))?;
            if !dests.load(i).unavailable() {
                return Some(i);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestVec;
    use core::net::Ipv4Addr;
    use proptest::prelude::*;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)); // 0xC0000201

    #[test]
    fn hashkey_hand_checked() {
        // hash_32(0xC0000201, 8) = 50; with port 40000: hash_32(0xC0000201 + 40000, 8) = 214.
        assert_eq!(Sh::hashkey(CLIENT, 0, 0), 50);
        assert_eq!(Sh::hashkey(CLIENT, 40000, 0), 214);
        assert_eq!(Sh::hashkey(CLIENT, 0, 250), (250 + 50) & 255);
    }

    #[test]
    fn weight_consecutive_buckets_and_weight_zero_takes_one() {
        let d = weighted(&[2, 0, 3]);
        let mut s = Sh::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(&s.buckets[..12], &[0, 0, 1, 2, 2, 2, 0, 0, 1, 2, 2, 2]);
        // Bucket counts: 256 = 42 full rounds of 6 + [0, 0, 1, 2].
        let count = |k: u32| s.buckets.iter().filter(|&&b| b == k).count();
        assert_eq!((count(0), count(1), count(2)), (86, 43, 127));
    }

    #[test]
    fn a_heavy_first_dest_can_take_every_bucket() {
        let d = weighted(&[300, 1]);
        let mut s = Sh::new(SchedFlags::default());
        s.update(&d);
        assert!(s.buckets.iter().all(|&b| b == 0));
        // Documented kernel behaviour: with dest 0 down, even sh-fallback finds nothing.
        let mut down = d.clone();
        down.0[0].1.overloaded = true;
        let mut f = Sh::new(SchedFlags(SchedFlags::FALLBACK));
        f.update(&d);
        assert_eq!(f.schedule(&down, &ctx_c(CLIENT)), None);
    }

    #[test]
    fn port_flag_and_fallback_walk() {
        let d = weighted(&[1, 1, 1]);
        let mut plain = Sh::new(SchedFlags::default());
        plain.update(&d);
        let mut port = Sh::new(SchedFlags(SchedFlags::PORT));
        port.update(&d);
        let c = ctx_c(CLIENT);
        // bucket 50 -> dest 50 % 3 = 2; with the port, bucket 214 -> dest 1.
        assert_eq!(plain.schedule(&d, &c), Some(2));
        assert_eq!(plain.schedule(&d, &SchedCtx { cport: 1, ..c }), Some(2));
        assert_eq!(port.schedule(&d, &c), Some(1));

        let mut down = d.clone();
        down.0[2].1.weight = 0;
        assert_eq!(plain.schedule(&down, &c), None);
        let mut fb = Sh::new(SchedFlags(SchedFlags::FALLBACK));
        fb.update(&d);
        // ihash = 50; offset 0: roffset 50, bucket (50 + 50) & 255 = 100 -> dest 100 % 3 = 1.
        assert_eq!(fb.schedule(&down, &c), Some(1));
        down.0[1].1.overloaded = true;
        // offset 1: bucket 101 -> dest 2 (down); offset 2: bucket 102 -> dest 0.
        assert_eq!(fb.schedule(&down, &c), Some(0));
        down.0[0].1.weight = 0;
        assert_eq!(fb.schedule(&down, &c), None);
    }

    #[test]
    fn empty_or_stale() {
        let mut s = Sh::new(SchedFlags(SchedFlags::FALLBACK));
        s.update(&DestVec::default());
        assert_eq!(s.schedule(&DestVec::default(), &ctx()), None);
        s.update(&weighted(&[1, 1, 1, 1]));
        for a in 0..64u32 {
            let got = s.schedule(&weighted(&[1]), &ctx_c(IpAddr::V4(a.into())));
            assert!(got.is_none() || got == Some(0));
        }
    }

    proptest! {
        /// Same client, same dest: across calls and across an update with an unchanged list.
        #[test]
        fn stable(
            weights in prop::collection::vec(0u32..6, 1..12),
            flags in prop_oneof![Just(0u32), Just(SchedFlags::FALLBACK), Just(SchedFlags::PORT)],
            clients in prop::collection::vec((any::<u32>(), any::<u16>()), 1..40),
        ) {
            let d = weighted(&weights);
            let mut s = Sh::new(SchedFlags(flags));
            s.update(&d);
            let go = |s: &mut Sh| -> Vec<Option<usize>> {
                clients.iter().map(|&(a, p)| s.schedule(&d, &SchedCtx { caddr: IpAddr::V4(a.into()), cport: p, ..ctx() })).collect()
            };
            let first = go(&mut s);
            prop_assert_eq!(&first, &go(&mut s));
            s.update(&d);
            prop_assert_eq!(&first, &go(&mut s));
        }

        /// sh-fallback never returns an unavailable dest, and finds one whenever an available
        /// dest holds a bucket (the table has weight-many buckets per dest, so keep sum <= 256).
        #[test]
        fn fallback_finds_an_available_dest(
            spec in prop::collection::vec((0u32..20, any::<bool>()), 1..12),
            clients in prop::collection::vec(any::<u32>(), 1..20),
        ) {
            let mut d = weighted(&spec.iter().map(|s| s.0).collect::<Vec<_>>());
            let mut s = Sh::new(SchedFlags(SchedFlags::FALLBACK));
            s.update(&d);
            for (e, sp) in d.0.iter_mut().zip(&spec) {
                e.1.overloaded = sp.1;
            }
            let holders: Vec<usize> = (0..spec.len()).filter(|&i| s.buckets.contains(&(i as u32))).collect();
            let any_ok = holders.iter().any(|&i| available(d.0[i].1));
            for a in clients {
                match s.schedule(&d, &ctx_c(IpAddr::V4(a.into()))) {
                    Some(i) => prop_assert!(available(d.0[i].1)),
                    None => prop_assert!(!any_ok),
                }
            }
        }
    }
}
