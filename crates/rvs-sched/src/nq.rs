//! Never queue (`ip_vs_nq.c`).
//!
//! A two-speed model: the first available dest with no active connection is returned at once
//! (`atomic_read(&dest->activeconns) == 0`, inactive connections do not make a dest busy);
//! failing that, the shortest expected delay `(activeconns + 1) / weight`, compared by
//! cross-multiplication as in sed (`h1 * w2 > h2 * w1` for `h1 / w1 > h2 / w2`, in `u64`:
//! `(2^32) * (2^32 - 1) < 2^64`). Overloaded and weight-0 dests are skipped; ties go to the
//! first in list order.

use crate::sed::expected_overhead;
use crate::{DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug, Default)]
pub struct Nq {
    flags: SchedFlags,
}

impl Nq {
    pub fn new(flags: SchedFlags) -> Self {
        Self { flags }
    }
}

impl SchedOps for Nq {
    const NAME: &'static str = "nq";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, _ctx: &SchedCtx) -> Option<usize> {
        let mut least: Option<usize> = None;
        let mut loh = 0u64;
        let mut lw = 0u64;
        for i in 0..dests.len() {
            let d = dests.load(i);
            if d.unavailable() {
                continue;
            }
            // Return the server directly if it is idle.
            if d.activeconns == 0 {
                return Some(i);
            }
            let doh = expected_overhead(d);
            let dw = u64::from(d.weight);
            // loh/lw > doh/dw  <=>  loh*dw > doh*lw
            if least.is_none() || loh * dw > doh * lw {
                least = Some(i);
                loh = doh;
                lw = dw;
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
    fn idle_first_even_if_slow() {
        let mut s = Nq::new(SchedFlags::default());
        // sed would pick dest 0 ((3+1)/100); nq takes the idle dest 2 (weight 1).
        let d = dests(&[load(100, 3, 0), load(1, 1, 0), load(1, 0, 50)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(2));
        // An idle but quiesced or overloaded dest does not count.
        let mut d = dests(&[load(100, 3, 0), load(0, 0, 0), load(1, 0, 0)]);
        d.0[2].1.overloaded = true;
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
    }

    #[test]
    fn otherwise_shortest_expected_delay_first_wins() {
        let mut s = Nq::new(SchedFlags::default());
        // (1+1)/2 = 1, (3+1)/4 = 1, (1+1)/1 = 2 -> tie, first
        let d = dests(&[load(2, 1, 0), load(4, 3, 0), load(1, 1, 0)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
        let d = dests(&[load(2, 2, 0), load(4, 3, 0)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
    }

    fn arb_load() -> impl Strategy<Value = DestLoad> {
        (
            prop_oneof![Just(0u32), 1u32..8, Just(u32::MAX)],
            prop_oneof![0u32..6, Just(u32::MAX)],
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
        fn idle_else_first_minimum_expected_delay(loads in prop::collection::vec(arb_load(), 0..16)) {
            let d = dests(&loads);
            let idle = (0..loads.len()).find(|&i| available(loads[i]) && loads[i].activeconns == 0);
            let want = idle.or_else(|| {
                first_min(&d, available, |l| (u128::from(l.activeconns) + 1, u128::from(l.weight)))
            });
            prop_assert_eq!(Nq::new(SchedFlags::default()).schedule(&d, &ctx()), want);
        }
    }
}
