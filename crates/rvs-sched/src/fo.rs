//! Weighted failover (`ip_vs_fo.c`).
//!
//! All new connections go to the non-overloaded dest of highest weight; `weight > hw` with `hw`
//! starting at 0 skips weight-0 dests and makes the first of equal-weight dests win. Connection
//! counts play no part.

use crate::{DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug, Default)]
pub struct Fo {
    flags: SchedFlags,
}

impl Fo {
    pub fn new(flags: SchedFlags) -> Self {
        Self { flags }
    }
}

impl SchedOps for Fo {
    const NAME: &'static str = "fo";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, _ctx: &SchedCtx) -> Option<usize> {
        let mut hweight = None;
        let mut hw = 0u32;
        for i in 0..dests.len() {
            let d = dests.load(i);
            if !d.overloaded && d.weight > hw {
                hweight = Some(i);
                hw = d.weight;
            }
        }
        hweight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestLoad;
    use proptest::prelude::*;

    #[test]
    fn highest_weight_then_fails_over() {
        let mut s = Fo::new(SchedFlags::default());
        let mut d = dests(&[
            load(10, 500, 0),
            load(30, 900, 0),
            load(30, 0, 0),
            load(20, 0, 0),
        ]);
        assert_eq!(s.schedule(&d, &ctx()), Some(1)); // first of the two 30s, load ignored
        d.0[1].1.overloaded = true;
        assert_eq!(s.schedule(&d, &ctx()), Some(2));
        d.0[2].1.weight = 0;
        assert_eq!(s.schedule(&d, &ctx()), Some(3));
        d.0[0].1.weight = 0;
        d.0[3].1.overloaded = true;
        assert_eq!(s.schedule(&d, &ctx()), None);
    }

    proptest! {
        #[test]
        fn picks_first_of_highest_available_weight(
            spec in prop::collection::vec((0u32..6, prop::bool::weighted(0.3)), 0..12)
        ) {
            let loads: Vec<DestLoad> = spec.iter().map(|&(w, o)| DestLoad { weight: w, overloaded: o, ..load(w, 0, 0) }).collect();
            let d = dests(&loads);
            let best = loads.iter().filter(|l| available(**l)).map(|l| l.weight).max();
            let want = best.and_then(|b| loads.iter().position(|l| available(*l) && l.weight == b));
            prop_assert_eq!(Fo::new(SchedFlags::default()).schedule(&d, &ctx()), want);
        }
    }
}
