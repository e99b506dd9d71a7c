//! Weighted least-connection (`ip_vs_wlc.c`), the default IPVS scheduler.
//!
//! The load of a dest is `overhead / weight` with `overhead = activeconns * 256 + inactconns`
//! (`ip_vs_dest_conn_overhead`). "Remember -- no floats in kernel mode!!!": for positive weights
//! `h1 * w2 > h2 * w1` is equivalent to `h1 / w1 > h2 / w2`, so the kernel cross-multiplies in
//! 64 bits. Here the overhead is up to 2^40 and a weight up to 2^32, so the products are taken
//! in `u128` and cannot overflow.
//!
//! The first non-overloaded dest with a positive weight seeds the search; later dests replace it
//! only when strictly less loaded, so ties go to the first in list order. The second loop of
//! `ip_vs_wlc_schedule` skips only overloaded dests: a weight-0 dest can never win there
//! (`loh * 0 > doh * w` is false), which this code keeps as is.
//!
//! lblc and lblcr pick a new dest with exactly this function (`__ip_vs_lblc_schedule`).

use crate::{DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug, Default)]
pub struct Wlc {
    flags: SchedFlags,
}

impl Wlc {
    pub fn new(flags: SchedFlags) -> Self {
        Self { flags }
    }
}

/// The weighted least-connection dest: `ip_vs_wlc_schedule`, `__ip_vs_lblc_schedule` and
/// `__ip_vs_lblcr_schedule` are this same loop.
#[inline]
pub(crate) fn least_weighted<D: DestSet>(dests: &D) -> Option<usize> {
    let n = dests.len();
    let first = (0..n).find(|&i| !dests.load(i).unavailable())?;
    let mut least = first;
    let mut lw = u128::from(dests.load(first).weight);
    let mut loh = u128::from(dests.load(first).overhead());
    for i in first + 1..n {
        let d = dests.load(i);
        if d.overloaded {
            continue;
        }
        let doh = u128::from(d.overhead());
        let dw = u128::from(d.weight);
        // loh/lw > doh/dw  <=>  loh*dw > doh*lw   (lw > 0; dw = 0 never wins)
        if loh * dw > doh * lw {
            least = i;
            loh = doh;
            lw = dw;
        }
    }
    Some(least)
}

impl SchedOps for Wlc {
    const NAME: &'static str = "wlc";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, _ctx: &SchedCtx) -> Option<usize> {
        least_weighted(dests)
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
        let mut s = Wlc::new(SchedFlags::default());
        // loads: 512/1 = 512, 768/3 = 256, 1024/4 = 256 -> dest 1 (first of the tie)
        let d = dests(&[load(1, 2, 0), load(3, 3, 0), load(4, 4, 0)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
        // Idle dests are all 0/w: the first available wins regardless of weight.
        let d = dests(&[load(0, 0, 0), load(1, 0, 0), load(100, 0, 0)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
        // 257/2 = 128.5 vs 256/1 = 256 vs 0 inactive-only 100/1
        let d = dests(&[load(2, 1, 1), load(1, 1, 0), load(1, 0, 100)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(2));
    }

    #[test]
    fn huge_counters_do_not_overflow() {
        let mut s = Wlc::new(SchedFlags::default());
        let d = dests(&[
            load(u32::MAX, u32::MAX, u32::MAX),
            load(u32::MAX - 1, u32::MAX, u32::MAX),
        ]);
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
    }

    #[test]
    fn none_when_all_unavailable() {
        let mut s = Wlc::new(SchedFlags::default());
        let mut d = dests(&[load(0, 0, 0), load(3, 0, 0)]);
        d.0[1].1.overloaded = true;
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
        fn picks_first_minimum_overhead_per_weight(loads in prop::collection::vec(arb_load(), 0..16)) {
            let d = dests(&loads);
            let want = first_min(&d, available, |l| (u128::from(l.overhead()), u128::from(l.weight)));
            prop_assert_eq!(Wlc::new(SchedFlags::default()).schedule(&d, &ctx()), want);
        }
    }
}
