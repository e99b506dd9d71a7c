//! Least-connection (`ip_vs_lc.c`).
//!
//! `ip_vs_lc_schedule` picks the dest with the least `ip_vs_dest_conn_overhead`
//! (`activeconns * 256 + inactconns`), skipping `IP_VS_DEST_F_OVERLOAD` and weight-0 dests. The
//! comparison is strict (`doh < loh`), so on a tie the first dest in list order wins. Weights
//! play no other part.

use crate::{DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug, Default)]
pub struct Lc {
    flags: SchedFlags,
}

impl Lc {
    pub fn new(flags: SchedFlags) -> Self {
        Self { flags }
    }
}

impl SchedOps for Lc {
    const NAME: &'static str = "lc";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, _ctx: &SchedCtx) -> Option<usize> {
        let mut least = None;
        let mut loh = 0u64;
        for i in 0..dests.len() {
            let d = dests.load(i);
            if d.unavailable() {
                continue;
            }
            let doh = d.overhead();
            if least.is_none() || doh < loh {
                least = Some(i);
                loh = doh;
            }
        }
        least
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestLoad;
    use proptest::prelude::*;

    #[test]
    fn hand_checked() {
        let mut s = Lc::new(SchedFlags::default());
        // overheads: 2*256+0 = 512, 1*256+300 = 556, 0*256+600 = 600
        let d = dests(&[load(1, 2, 0), load(9, 1, 300), load(1, 0, 600)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
        // 300 inactive < one active (256 each): dest 2 now has 1*256+0 < 2*256.
        let d = dests(&[load(1, 2, 0), load(1, 1, 300), load(1, 1, 0)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(2));
    }

    #[test]
    fn ties_go_to_the_first_and_unavailable_are_skipped() {
        let mut s = Lc::new(SchedFlags::default());
        let mut d = dests(&[load(0, 0, 0), load(1, 1, 0), load(5, 1, 0), load(1, 0, 0)]);
        d.0[3].1.overloaded = true;
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
        d.0[1].1.weight = 0;
        d.0[2].1.weight = 0;
        assert_eq!(s.schedule(&d, &ctx()), None);
    }

    fn arb_load() -> impl Strategy<Value = DestLoad> {
        (
            prop_oneof![Just(0u32), 1u32..5, Just(65535u32)],
            0u32..4,
            // Cross ties: one active connection weighs as much as 256 inactive ones.
            prop_oneof![0u32..3, 254u32..259, 510u32..514],
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
        fn picks_first_minimum_overhead(loads in prop::collection::vec(arb_load(), 0..16)) {
            let d = dests(&loads);
            let want = first_min(&d, available, |l| (u128::from(l.overhead()), 1));
            prop_assert_eq!(Lc::new(SchedFlags::default()).schedule(&d, &ctx()), want);
        }
    }
}
