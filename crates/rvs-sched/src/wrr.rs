//! Weighted round-robin (`ip_vs_wrr.c`).
//!
//! State (`struct ip_vs_wrr_mark`): `cl` the current dest (or the list head), `cw` the current
//! weight, `mw` the maximum weight and `di` the step, the gcd of all positive weights. Each pass
//! over the list picks, in list order, every non-overloaded dest with `weight >= cw`; after a
//! pass `cw` drops by `di`, and when it reaches 0 it restarts at `mw`. One cycle therefore picks
//! each dest `weight / di` times, `sum(weights) / di` picks in all, and weight-0 dests never.
//!
//! Since weights may change under the scheduler, the kernel lowers `mw` by `di - 1`
//! (`mw = max_weight - (di - 1)`) so that the last pass runs with `cw = 1` and still catches a
//! dest whose weight fell below `di`. `ip_vs_wrr_dest_changed` resets `cl` to the head and
//! keeps `cw` unless it is now above `mw` (or 0), else rounds it to `k * di + 1`.
//! `ip_vs_wrr_schedule` gives up ("all destinations are overloaded") once every dest has been
//! checked against `cw = 1`, using the same `last_pass`/`restarted`/`stop` bookkeeping.

use crate::{DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug)]
pub struct Wrr {
    flags: SchedFlags,
    /// Current dest; `None` is the list head (`mark->cl`).
    cl: Option<usize>,
    /// Current weight (`mark->cw`).
    cw: i64,
    /// Maximum weight less `di - 1` (`mark->mw`); 0 means no dest has a positive weight.
    mw: i64,
    /// Decreasing interval: the gcd of the positive weights, or 1 (`mark->di`).
    di: i64,
    /// `dests.len()` at the last update, to detect a stale call.
    n: usize,
}

impl Wrr {
    pub fn new(flags: SchedFlags) -> Self {
        // ip_vs_wrr_init_svc on a service without dests: di = 1, mw = cw = 0.
        Self {
            flags,
            cl: None,
            cw: 0,
            mw: 0,
            di: 1,
            n: 0,
        }
    }
}

/// `ip_vs_wrr_gcd_weight`: gcd of the positive weights, 1 when there is none.
fn gcd_weight<D: DestSet>(dests: &D) -> i64 {
    let g = (0..dests.len())
        .map(|i| i64::from(dests.load(i).weight))
        .filter(|&w| w > 0)
        .fold(0, gcd);
    if g > 0 {
        g
    } else {
        1
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `ip_vs_wrr_max_weight`: over every dest, overloaded or not.
fn max_weight<D: DestSet>(dests: &D) -> i64 {
    (0..dests.len())
        .map(|i| i64::from(dests.load(i).weight))
        .max()
        .unwrap_or(0)
}

impl SchedOps for Wrr {
    const NAME: &'static str = "wrr";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    /// `ip_vs_wrr_dest_changed` (add_dest, del_dest and upd_dest alike).
    fn update<D: DestSet>(&mut self, dests: &D) {
        self.cl = None;
        self.di = gcd_weight(dests);
        self.mw = max_weight(dests) - (self.di - 1);
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di) * self.di + 1;
        }
        self.n = dests.len();
    }

    fn schedule<D: DestSet>(&mut self, dests: &D, _ctx: &SchedCtx) -> Option<usize> {
        if dests.len() != self.n {
            // Stale: the list changed without an update; recompute (no allocation).
            self.update(dests);
        }
        let n = self.n;
        // No available dests? (err_noavail leaves cl where it was.)
        if self.mw == 0 {
            return None;
        }
        let last = self.cl;
        let mut cursor = self.cl;
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        // Stop only after all dests were checked for weight >= 1 (last pass).
        loop {
            let from = cursor.map_or(0, |c| c + 1);
            for i in from..n {
                let d = dests.load(i);
                if !d.overloaded && i64::from(d.weight) >= self.cw {
                    self.cl = Some(i);
                    return Some(i);
                }
                if stop == Some(i) {
                    self.cl = Some(i); // err_over
                    return None;
                }
            }
            // Back at the list head.
            cursor = None;
            self.cw -= self.di;
            if self.cw <= 0 {
                self.cw = self.mw;
                // Stop if we tried the last pass from the first dest: either a pass with
                // cw <= di already ran over every dest, or the walk started at the head.
                if last_pass || last.is_none() {
                    self.cl = None; // err_over
                    return None;
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                // The first traversal with w >= 1 covered only the dests after `last`; now
                // cover those up to and including it.
                stop = last;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestVec;
    use proptest::prelude::*;

    fn run(s: &mut Wrr, d: &DestVec, n: usize) -> Vec<Option<usize>> {
        (0..n).map(|_| s.schedule(d, &ctx())).collect()
    }

    fn fresh(d: &DestVec) -> Wrr {
        let mut s = Wrr::new(SchedFlags::default());
        s.update(d);
        s
    }

    #[test]
    fn hand_checked_sequence() {
        // weights 4,3,2: passes with cw = 4, 3, 2, 1 give A | A B | A B C | A B C.
        let d = weighted(&[4, 3, 2]);
        let mut s = fresh(&d);
        let expect = [0, 0, 1, 0, 1, 2, 0, 1, 2];
        assert_eq!(
            run(&mut s, &d, 18),
            [expect, expect]
                .concat()
                .into_iter()
                .map(Some)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn gcd_step_and_lowered_mw() {
        // weights 4,2: di = 2, mw = 4 - 1 = 3; passes cw = 3 then cw = 1: A | A B.
        let d = weighted(&[4, 2]);
        let mut s = fresh(&d);
        assert_eq!((s.di, s.mw, s.cw), (2, 3, 3));
        assert_eq!(run(&mut s, &d, 6), [0, 0, 1, 0, 0, 1].map(Some));
    }

    #[test]
    fn weight_change_rounds_cw_and_restarts_from_head() {
        let d = weighted(&[6, 4]);
        let mut s = fresh(&d);
        // di = 2, mw = 5: cw 5: A; cw 3: A, B; cw 1: A, B.
        assert_eq!(run(&mut s, &d, 2), [Some(0), Some(0)]);
        assert_eq!(s.cw, 3);
        // upd_dest: 6 -> 8. di = 4, mw = 8 - 3 = 5; cw = 3 <= mw, di > 1 -> (3/4)*4+1 = 1.
        let d2 = weighted(&[8, 4]);
        s.update(&d2);
        assert_eq!((s.di, s.mw, s.cw, s.cl), (4, 5, 1, None));
        // cw 1 from the head: A, B; then cw = 5: A; cw = 1: A, B.
        assert_eq!(run(&mut s, &d2, 5), [0, 1, 0, 0, 1].map(Some));
    }

    #[test]
    fn weight_below_di_still_caught_on_last_pass() {
        // A dest whose weight drops below di between update and schedule (no update yet):
        // the last pass runs at cw = 1 and still finds it.
        let d = weighted(&[4, 4]);
        let mut s = fresh(&d); // di = 4, mw = 1, cw = 1
        let mut d2 = d.clone();
        d2.0[0].1.weight = 0;
        d2.0[1].1.weight = 1;
        assert_eq!(run(&mut s, &d2, 3), [Some(1); 3]);
    }

    #[test]
    fn all_zero_weights_is_noavail() {
        let d = weighted(&[0, 0]);
        let mut s = fresh(&d);
        assert_eq!(s.mw, 0);
        assert_eq!(s.schedule(&d, &ctx()), None);
    }

    #[test]
    fn all_overloaded_terminates_with_none_from_any_cursor() {
        let d = weighted(&[5, 3, 1]);
        let mut s = fresh(&d);
        assert_eq!(run(&mut s, &d, 4), [0, 0, 0, 1].map(Some));
        let mut o = d.clone();
        for e in &mut o.0 {
            e.1.overloaded = true;
        }
        assert_eq!(s.schedule(&o, &ctx()), None);
        assert_eq!(s.schedule(&o, &ctx()), None);
        // Recovers afterwards.
        assert!(s.schedule(&d, &ctx()).is_some());
    }

    #[test]
    fn only_the_cursor_dest_left() {
        let d = weighted(&[3, 3, 3]);
        let mut s = fresh(&d);
        assert_eq!(run(&mut s, &d, 2), [Some(0), Some(1)]);
        let mut o = d.clone();
        o.0[0].1.overloaded = true;
        o.0[2].1.overloaded = true;
        assert_eq!(run(&mut s, &o, 3), [Some(1); 3]);
    }

    #[test]
    fn stale_list_is_rebuilt_not_indexed() {
        let d = weighted(&[2, 2, 2, 2]);
        let mut s = fresh(&d);
        run(&mut s, &d, 3);
        let short = weighted(&[1]);
        assert_eq!(run(&mut s, &short, 2), [Some(0), Some(0)]);
        assert_eq!(s.schedule(&DestVec::default(), &ctx()), None);
    }

    proptest! {
        /// Over sum(weights) picks from a fresh update (= gcd full cycles) each dest is picked
        /// exactly `weight` times, and weight-0 dests never.
        #[test]
        fn exact_proportions_over_a_full_cycle(
            weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..20, Just(60u32)], 1..12),
            cycles in 1usize..3,
        ) {
            let d = weighted(&weights);
            let mut s = fresh(&d);
            let total: u32 = weights.iter().sum();
            let mut count = vec![0u32; weights.len()];
            for _ in 0..(total as usize * cycles) {
                let i = s.schedule(&d, &ctx()).expect("a positive weight exists");
                count[i] += 1;
            }
            let expect: Vec<u32> = weights.iter().map(|w| w * cycles as u32).collect();
            prop_assert_eq!(count, expect);
            if total == 0 {
                prop_assert_eq!(s.schedule(&d, &ctx()), None);
            }
        }

        /// With some dests overloaded, picks come only from the rest, which still share by weight.
        #[test]
        fn overloaded_are_skipped(
            spec in prop::collection::vec((0u32..10, any::<bool>()), 1..10),
        ) {
            let mut d = weighted(&spec.iter().map(|s| s.0).collect::<Vec<_>>());
            for (e, s) in d.0.iter_mut().zip(&spec) {
                e.1.overloaded = s.1;
            }
            let mut s = fresh(&d);
            let any = d.0.iter().any(|e| !e.1.unavailable());
            for _ in 0..50 {
                match s.schedule(&d, &ctx()) {
                    Some(i) => prop_assert!(!d.0[i].1.unavailable()),
                    None => prop_assert!(!any),
                }
            }
        }
    }
}
