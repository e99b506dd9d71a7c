//! Weighted random "power of two choices" least-connection (`ip_vs_twos.c`).
//!
//! `total_weight` is the sum of the weights of the non-overloaded, positive-weight dests; the
//! kernel adds 1 "so that the random weights are inclusive", draws two numbers
//! `rweight = random % total_weight` in `[0, sum]`, and walks the list subtracting each
//! eligible weight: the first dest where `rweight <= 0` is a choice. Dest `i` is therefore
//! chosen with probability `w_i / (sum + 1)`, except the first eligible one, which also takes
//! `rweight == 0`: `(w_0 + 1) / (sum + 1)`. Of the two choices the kernel keeps the first unless
//! the second is strictly less loaded by `overhead / weight`, compared by cross-multiplication
//! (`weight2 * overhead1 > weight1 * overhead2`, in `u128` here).
//!
//! The two random numbers are the low and high 32 bits of [`SchedCtx::random`] (the kernel
//! calls `get_random_u32()` twice).

use crate::{DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug, Default)]
pub struct Twos {
    flags: SchedFlags,
}

impl Twos {
    pub fn new(flags: SchedFlags) -> Self {
        Self { flags }
    }
}

impl SchedOps for Twos {
    const NAME: &'static str = "twos";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, ctx: &SchedCtx) -> Option<usize> {
        let n = dests.len();
        let mut total: i64 = 0;
        let mut any = false;
        for i in 0..n {
            let d = dests.load(i);
            if !d.unavailable() {
                total += i64::from(d.weight);
                any = true;
            }
        }
        if !any {
            return None;
        }
        // Random weights inclusive from 0 to total_weight.
        total += 1;
        let mut rweight1 = i64::from(ctx.random as u32) % total;
        let mut rweight2 = i64::from((ctx.random >> 32) as u32) % total;

        let mut choice1: Option<(usize, u128, u128)> = None; // (dest, weight, overhead)
        let mut choice2: Option<(usize, u128, u128)> = None;
        for i in 0..n {
            let d = dests.load(i);
            if d.unavailable() {
                continue;
            }
            let w = i64::from(d.weight);
            rweight1 -= w;
            rweight2 -= w;
            let pick = (i, u128::from(d.weight), u128::from(d.overhead()));
            if rweight1 <= 0 && choice1.is_none() {
                choice1 = Some(pick);
            }
            if rweight2 <= 0 && choice2.is_none() {
                choice2 = Some(pick);
            }
            if choice1.is_some() && choice2.is_some() {
                break;
            }
        }
        // rweight <= sum, so both walks end on an eligible dest.
        let (c1, w1, oh1) = choice1?;
        match choice2 {
            // oh1/w1 > oh2/w2  <=>  w2*oh1 > w1*oh2
            Some((c2, w2, oh2)) if w2 * oh1 > w1 * oh2 => Some(c2),
            _ => Some(c1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestVec;
    use proptest::prelude::*;

    fn at(random_lo: u32, random_hi: u32) -> SchedCtx {
        SchedCtx {
            random: u64::from(random_lo) | u64::from(random_hi) << 32,
            ..ctx()
        }
    }

    #[test]
    fn hand_checked_choices() {
        let mut s = Twos::new(SchedFlags::default());
        // weights 2, 3, 5: total = 10 + 1 = 11.
        // r1 = 4: 4-2 = 2, 2-3 = -1 -> dest 1. r2 = 9: 7, 4, -1 -> dest 2.
        let d = dests(&[load(2, 0, 0), load(3, 1, 0), load(5, 0, 0)]);
        // dest 1 has 256/3, dest 2 has 0/5: 5*256 > 3*0 -> the second choice.
        assert_eq!(s.schedule(&d, &at(4, 9)), Some(2));
        // Swap the draws: choice1 = dest 2 (idle), choice2 = dest 1; 3*0 > 5*256 is false.
        assert_eq!(s.schedule(&d, &at(9, 4)), Some(2));
        // r = 0 picks the first eligible dest, r = sum (10) the last.
        assert_eq!(
            s.schedule(
                &dests(&[load(2, 0, 0), load(3, 0, 0), load(5, 0, 0)]),
                &at(0, 0)
            ),
            Some(0)
        );
        assert_eq!(
            s.schedule(
                &dests(&[load(2, 0, 0), load(3, 0, 0), load(5, 0, 0)]),
                &at(10, 10)
            ),
            Some(2)
        );
        // Equal loads per weight: the first choice stays.
        let d = dests(&[load(1, 1, 0), load(2, 2, 0)]);
        assert_eq!(s.schedule(&d, &at(2, 0)), Some(1));
    }

    #[test]
    fn skips_unavailable_in_the_walk() {
        let mut s = Twos::new(SchedFlags::default());
        let mut d = dests(&[load(4, 0, 0), load(0, 0, 0), load(4, 0, 0)]);
        d.0[0].1.overloaded = true;
        // Only dest 2 is eligible (total 5): any draw lands on it.
        for r in [0, 1, 4, 7, u32::MAX] {
            assert_eq!(s.schedule(&d, &at(r, r.wrapping_mul(7))), Some(2));
        }
        d.0[2].1.overloaded = true;
        assert_eq!(s.schedule(&d, &at(1, 2)), None);
        assert_eq!(s.schedule(&DestVec::default(), &at(1, 2)), None);
    }

    #[test]
    fn idle_shares_follow_the_kernel_formula() {
        // With no load both choices compare equal, so the first draw decides:
        // P(first) = (w0+1)/(sum+1), P(i) = w_i/(sum+1) for the others.
        let d = weighted(&[1, 2, 3, 4]);
        let mut s = Twos::new(SchedFlags::default());
        let mut rng = Rng(7);
        let trials = 220_000;
        let mut count = [0u32; 4];
        for _ in 0..trials {
            let c = SchedCtx {
                random: rng.next_u64(),
                ..ctx()
            };
            count[s.schedule(&d, &c).unwrap()] += 1;
        }
        let expect = [2.0 / 11.0, 2.0 / 11.0, 3.0 / 11.0, 4.0 / 11.0];
        for (c, e) in count.iter().zip(expect) {
            let f = f64::from(*c) / f64::from(trials);
            assert!((f - e).abs() < 0.005, "share {f} vs {e} ({count:?})");
        }
    }

    #[test]
    fn loaded_dest_loses_the_second_choice() {
        // Two equal dests, dest 0 busy: it keeps only the draws where both choices are dest 0.
        let d = dests(&[load(1, 10, 0), load(1, 0, 0)]);
        let mut s = Twos::new(SchedFlags::default());
        let mut rng = Rng(11);
        let trials = 100_000;
        let busy = (0..trials)
            .filter(|_| {
                s.schedule(
                    &d,
                    &SchedCtx {
                        random: rng.next_u64(),
                        ..ctx()
                    },
                ) == Some(0)
            })
            .count();
        // P(choice = dest 0) = 2/3 for each draw, so both: 4/9.
        let f = busy as f64 / f64::from(trials);
        assert!((f - 4.0 / 9.0).abs() < 0.01, "{f}");
    }

    proptest! {
        #[test]
        fn only_available_dests(
            spec in prop::collection::vec((0u32..5, 0u32..4, prop::bool::weighted(0.3)), 0..10),
            random in any::<u64>(),
        ) {
            let loads: Vec<_> = spec.iter().map(|&(w, a, o)| crate::DestLoad { overloaded: o, ..load(w, a, 0) }).collect();
            let d = dests(&loads);
            let got = Twos::new(SchedFlags::default()).schedule(&d, &SchedCtx { random, ..ctx() });
            match got {
                Some(i) => prop_assert!(available(loads[i])),
                None => prop_assert!(!loads.iter().any(|l| available(*l))),
            }
        }
    }
}
