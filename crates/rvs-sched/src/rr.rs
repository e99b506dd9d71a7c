//! Round-robin (`ip_vs_rr.c`).
//!
//! The kernel keeps one cursor, `svc->sched_data`, pointing at the list node of the last dest
//! chosen (or at the list head before the first pick). `ip_vs_rr_schedule` walks forward from
//! the node after the cursor, wraps through the head, and stops after re-checking the cursor's
//! own dest; the first dest that is neither `IP_VS_DEST_F_OVERLOAD` nor of weight 0 wins and
//! becomes the cursor. Weights are otherwise ignored.
//!
//! `ip_vs_rr_del_dest` moves a cursor that sat on the removed dest back to the previous node,
//! so the rotation resumes with the dest that followed the removed one. rvs tracks the cursor by
//! [`DestKey`] across [`update`](SchedOps::update) and does the same.

use crate::{DestKey, DestSet, SchedCtx, SchedFlags, SchedOps};

#[derive(Clone, Debug, Default)]
pub struct Rr {
    flags: SchedFlags,
    /// Index of the last dest chosen; `None` is the list head (IPVS `sched_data`).
    cursor: Option<usize>,
    /// The dest keys at the last `update`, to follow the cursor through list changes.
    keys: Vec<DestKey>,
}

impl Rr {
    pub fn new(flags: SchedFlags) -> Self {
        Self {
            flags,
            ..Self::default()
        }
    }
}

impl SchedOps for Rr {
    const NAME: &'static str = "rr";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    fn update<D: DestSet>(&mut self, dests: &D) {
        let keys: Vec<DestKey> = (0..dests.len()).map(|i| dests.key(i)).collect();
        if let Some(c) = self.cursor {
            // ip_vs_rr_del_dest: a cursor on a removed dest steps back to the previous entry,
            // repeatedly if that one went too; past the first entry it is the head again.
            let old = &self.keys[..(c + 1).min(self.keys.len())];
            self.cursor = old
                .iter()
                .rev()
                .find_map(|k| keys.iter().position(|n| n == k));
        }
        self.keys = keys;
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, _ctx: &SchedCtx) -> Option<usize> {
        let n = dests.len();
        // A cursor beyond the list (dests shrank without update) reads as the head.
        let start = match self.cursor {
            Some(c) if c < n => c + 1,
            _ => 0,
        };
        // After the cursor to the end, then from the head up to and including the cursor.
        let hit = (start..n)
            .chain(0..start)
            .find(|&i| !dests.load(i).unavailable())?;
        self.cursor = Some(hit);
        Some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::DestVec;

    fn picks(s: &mut Rr, d: &DestVec, n: usize) -> Vec<Option<usize>> {
        (0..n).map(|_| s.schedule(d, &ctx())).collect()
    }

    #[test]
    fn rotates_and_ignores_weight_magnitude() {
        let d = weighted(&[1, 5, 100]);
        let mut s = Rr::new(SchedFlags::default());
        s.update(&d);
        let got = picks(&mut s, &d, 7);
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0].map(Some));
    }

    #[test]
    fn skips_quiesced_and_overloaded() {
        let mut d = weighted(&[1, 0, 1, 1]);
        d.0[2].1.overloaded = true;
        let mut s = Rr::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(picks(&mut s, &d, 4), [0, 3, 0, 3].map(Some));
    }

    #[test]
    fn none_when_all_unavailable_and_cursor_kept() {
        let mut d = weighted(&[1, 1, 1]);
        let mut s = Rr::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
        for e in &mut d.0 {
            e.1.overloaded = true;
        }
        assert_eq!(s.schedule(&d, &ctx()), None);
        for e in &mut d.0 {
            e.1.overloaded = false;
        }
        // The cursor did not move on failure: the dest after 0 comes next.
        assert_eq!(s.schedule(&d, &ctx()), Some(1));
    }

    #[test]
    fn cursor_rechecks_itself_last() {
        // Only the cursor's own dest is available: the kernel's last check is `dest == last`.
        let mut d = weighted(&[1, 1, 1]);
        let mut s = Rr::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
        d.0[1].1.weight = 0;
        d.0[2].1.weight = 0;
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
    }

    #[test]
    fn removing_the_cursor_dest_resumes_with_its_successor() {
        let d = weighted(&[1, 1, 1, 1]);
        let mut s = Rr::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(picks(&mut s, &d, 2), [Some(0), Some(1)]);
        // Remove dest 1 (the cursor): ip_vs_rr_del_dest steps back to dest 0.
        let d2 = DestVec(vec![d.0[0], d.0[2], d.0[3]]);
        s.update(&d2);
        assert_eq!(s.schedule(&d2, &ctx()), Some(1)); // key(2)
        assert_eq!(d2.0[1].0, key(2));
    }

    #[test]
    fn removing_first_dest_under_cursor_goes_back_to_head() {
        let d = weighted(&[1, 1, 1]);
        let mut s = Rr::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(s.schedule(&d, &ctx()), Some(0));
        let d2 = DestVec(vec![d.0[1], d.0[2]]);
        s.update(&d2);
        assert_eq!(s.schedule(&d2, &ctx()), Some(0)); // key(1), first after the head
    }

    #[test]
    fn adding_a_dest_keeps_the_cursor_on_the_same_dest() {
        let d = weighted(&[1, 1, 1]);
        let mut s = Rr::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(picks(&mut s, &d, 2), [Some(0), Some(1)]);
        // IPVS list_add_rcu puts a new dest at the head of the list.
        let mut v = vec![(key(9), load(1, 0, 0))];
        v.extend_from_slice(&d.0);
        let d2 = DestVec(v);
        s.update(&d2);
        assert_eq!(picks(&mut s, &d2, 3), [Some(3), Some(0), Some(1)]);
    }

    #[test]
    fn stale_cursor_never_indexes_out_of_range() {
        let d = weighted(&[1, 1, 1, 1]);
        let mut s = Rr::new(SchedFlags::default());
        s.update(&d);
        assert_eq!(picks(&mut s, &d, 4).last(), Some(&Some(3)));
        let short = weighted(&[1, 1]);
        assert_eq!(s.schedule(&short, &ctx()), Some(0));
        assert_eq!(s.schedule(&DestVec::default(), &ctx()), None);
    }
}
