//! Shortest expected delay (`ip_vs_sed.c`).
//!
//! The expected delay of a new job on a dest is `(activeconns + 1) / weight`
//! (`ip_vs_sed_dest_overhead`: only active connections count, plus the incoming one). As in
//! wlc, `h1 * w2 > h2 * w1` stands for `h1 / w1 > h2 / w2` with positive weights, no division.
//! `(2^32) * (2^32 - 1) < 2^64`, so the products fit in `u64`.
//!
//! The first non-overloaded dest with a positive weight seeds the search, a later one replaces
//! it only when strictly better (ties: the first), and the second loop skips only overloaded
//! dests, where a weight-0 dest can never win.

use crate::{DestLoad, DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug, Default)]
pub struct Sed {
    flags: SchedFlags,
}

impl Sed {
    pub fn new(flags: SchedFlags) -> Self {
        Self { flags }
    }
}

/// `ip_vs_sed_dest_overhead` (and nq's identical `ip_vs_nq_dest_overhead`).
#[inline]
pub(crate) fn expected_overhead(d: DestLoad) -> u64 {
    u64::from(d.activeconns) + 1
}

impl SchedOps for Sed {
    const NAME: &'static str = "sed";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, _ctx: &SchedCtx) -> Option<usize> {
        let n = dests.len();
        let first = (0..n).find(|&i| !dests.load(i).unavailable())?;
        let mut least = first;
        let mut lw = u64::from(dests.load(first).weight);
        let mut loh = expected_overhead(dests.load(first));
        for i in first + 1..n {
            let d = dests.load(i);
            if d.overloaded {
                continue;
            }
            let doh = expected_overhead(d);
            let dw = u64::from(d.weight);
            // loh/lw > doh/dw  <=>  loh*dw > doh*lw
            if loh * dw > doh * lw {
                least = i;
                loh = doh;
                lw = dw;
            }
        }
        Some(least)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use proptest::prelude::*;

    #[test]
    fn hand_checked() {
        let mut s = Sed::new(SchedFlags::default());
        // (0+1)/1 = 1 vs (2+1)/4 = 0.75 -> dest 1; wlc would pick the idle dest 0.
        let d = dests(&[load(1, 0, 0), load(4, 2, 0)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
        // Inactive connections do not count: (1+1)/2 = 1 == (0+1)/1, tie -> first.
        let d = dests(&[load(2, 1, 1000), load(1, 0, 0)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let mut s = Sed::new(SchedFlags::default());
        let d = dests(&[load(u32::MAX, u32::MAX, 0), load(1, 0, 0)]);
        // (2^32)/(2^32-1) > 1/1
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
    }

    fn arb_load() -> impl Strategy<Value = DestLoad> {
        (
            prop_oneof![Just(0u32), 1u32..8, Just(u32::MAX)],
            prop_oneof![0u32..10, Just(u32::MAX)],
            0u32..600,
            prop::bool::weighted(0.2),
        )
            .prop_map(|(weight, activeconns, inactconns, overloaded)| DestLoad {
                weight,
                activeconns,
                inactconns,
                overloaded,
            })
    }

    proptest! {
        #[test]
        fn picks_first_minimum_expected_delay(loads in prop::collection::vec(arb_load(), 0..16)) {
            let d = dests(&loads);
            let want = first_min(&d, available, |l| (u128::from(l.activeconns) + 1, u128::from(l.weight)));
            prop_assert_eq!(Sed::new(SchedFlags::default()).schedule(&d, &ctx()), want);
        }
    }
}
