//! Overflow-connection (`ip_vs_ovf.c`).
//!
//! Keeps all new connections on the dest of highest weight until its active connections
//! exceed its weight, then overflows to the next highest. A dest is skipped when overloaded,
//! when `activeconns > weight` (so `activeconns == weight` still takes one more: it fills up to
//! `weight + 1` active connections), or when its weight is 0. Among the rest the strictly
//! highest weight wins, the first of equal weights.

use crate::{DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug, Default)]
pub struct Ovf {
    flags: SchedFlags,
}

impl Ovf {
    pub fn new(flags: SchedFlags) -> Self {
        Self { flags }
    }
}

impl SchedOps for Ovf {
    const NAME: &'static str = "ovf";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, _ctx: &SchedCtx) -> Option<usize> {
        let mut h = None;
        let mut hw = 0u32;
        for i in 0..dests.len() {
            let d = dests.load(i);
            let w = d.weight;
            if d.overloaded || d.activeconns > w || w == 0 {
                continue;
            }
            if h.is_none() || w > hw {
                h = Some(i);
                hw = w;
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestLoad;
    use proptest::prelude::*;

    #[test]
    fn fills_highest_weight_then_overflows() {
        let mut s = Ovf::new(SchedFlags::default());
        let mut d = dests(&[load(2, 0, 0), load(3, 0, 0), load(0, 0, 0)]);
        // Simulate connections that stay established: each pick adds one active conn.
        let mut got = Vec::new();
        while let Some(i) = s.schedule(&d, &ctx()) {
            got.push(i);
            d.0[i].1.activeconns += 1;
        }
        // dest 1 takes 4 (0..=3 active accepted), then dest 0 takes 3, weight 0 never.
        assert_eq!(got, [1, 1, 1, 1, 0, 0, 0]);
        // One connection closes on dest 1: it gets the next one back.
        d.0[1].1.activeconns -= 1;
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
    }

    #[test]
    fn inactive_connections_do_not_count_and_ties_first() {
        let mut s = Ovf::new(SchedFlags::default());
        let mut d = dests(&[load(5, 5, 1000), load(5, 0, 0)]);
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
        d.0[0].1.overloaded = true;
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
    }

    proptest! {
        #[test]
        fn definition(spec in prop::collection::vec((0u32..6, 0u32..8, prop::bool::weighted(0.2)), 0..12)) {
            let loads: Vec<DestLoad> = spec.iter().map(|&(w, a, o)| DestLoad { overloaded: o, ..load(w, a, 0) }).collect();
            let d = dests(&loads);
            let ok = |l: &DestLoad| available(*l) && l.activeconns <= l.weight;
            let best = loads.iter().filter(|l| ok(l)).map(|l| l.weight).max();
            let want = best.and_then(|b| loads.iter().position(|l| ok(l) && l.weight == b));
            prop_assert_eq!(Ovf::new(SchedFlags::default()).schedule(&d, &ctx()), want);
        }
    }
}
