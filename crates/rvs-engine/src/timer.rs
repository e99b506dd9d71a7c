//! Timers (IPVS `ip_vs_conn.c`'s conn expiry and `ip_vs_random_dropentry`, `ip_vs_ctl.c`'s
//! defence and estimator work): everything [`Engine::poll`] does between packets. Apart from
//! the packet path because it runs on the clock, not on a frame.
//!
//! The work is bounded per call: the data-path workers take the same engine lock per batch,
//! so one `poll` must never hold it longer than a batch of frames does. Sweeping is paid as
//! a debt (slots owed to the hand, accrued with time so the whole table is visited about
//! once a second) and settled [`SWEEP_BATCH`] slots at a time; while a debt remains,
//! [`Engine::poll_timeout`] says "now", and the caller polls again after releasing the lock.

use crate::conn::tick_of;
use crate::engine::{Engine, Family};
use crate::rt::{defence_on, gone, Released};
use crate::stats::EST_PERIOD_MS;
use rvs_sched::Scheduler;

/// The whole table is swept about once a second.
const SWEEP_PERIOD_MS: u64 = 1000;
/// How often the sweep debt accrues, schedulers age and the defences are re-evaluated while
/// there is something to age (IPVS runs its defence work every second; the old rvsd tick
/// was 100 ms, kept so that reclamation stays as prompt as before).
pub(crate) const TICK_MS: u64 = 100;
/// Slots one `poll` visits at most.
const SWEEP_BATCH: u32 = 1024;
/// Entries one `poll` releases at most. A release walks two hash chains (random DRAM
/// accesses), a visit reads the next slot (sequential), so releases are what bound a call
/// when the whole table expires at once (see the `sweep` part of the engine bench).
const SWEEP_RELEASE_BATCH: u32 = 64;
/// IPVS re-arms an expired template that still controls conns for 60 s.
const TEMPLATE_LINGER_MS: u32 = 60_000;

impl Engine {
    /// Timers: reclaim expired conns, age lblc/lblcr tables, step the rate estimators and
    /// re-evaluate the defences — a bounded share of it per call (at most a batch's worth
    /// of sweeping). Call it when [`Engine::poll_timeout`] is due, and again while it stays
    /// due, releasing the engine lock in between so that workers get their turn.
    pub fn poll(&mut self, now_ms: u64) {
        self.refresh(now_ms);
        let t = &mut self.core.timers;
        t.last_poll_ms = now_ms;
        let tick = match t.last_tick_ms {
            None => Some(SWEEP_PERIOD_MS),
            Some(last) if now_ms.saturating_sub(last) >= TICK_MS => Some(now_ms - last),
            Some(_) => None,
        };
        if let Some(elapsed) = tick {
            t.last_tick_ms = Some(now_ms);
            let owe = |owed: u64, cap: u32, len: u32| {
                if len == 0 {
                    return 0;
                }
                let cap = cap as u64;
                (owed + (cap * elapsed / SWEEP_PERIOD_MS).max(64)).min(cap)
            };
            t.sweep_owed[0] = owe(t.sweep_owed[0], self.conns4.capacity(), self.conns4.len());
            t.sweep_owed[1] = owe(t.sweep_owed[1], self.conns6.capacity(), self.conns6.len());
            for s in &mut self.core.svcs {
                s.sched.expire(now_ms);
            }
            let s = &self.core.cfg.settings();
            let pct = s.pressure_pct.min(100) as u64;
            let full = |len: u32, cap: u32| len as u64 * 100 >= cap as u64 * pct;
            self.core.pressure = full(self.conns4.len(), self.conns4.capacity())
                || full(self.conns6.len(), self.conns6.capacity());
            if defence_on(s.drop_entry, self.core.pressure) {
                self.drop_embryonic::<[u8; 4]>();
                self.drop_embryonic::<[u8; 16]>();
            }
        }
        if now_ms.saturating_sub(self.core.timers.last_est_ms) >= EST_PERIOD_MS {
            self.core.timers.last_est_ms = now_ms;
            for s in &mut self.core.svcs {
                s.est.tick(&s.stats);
            }
            for d in self.core.dests.iter_mut().filter(|d| d.in_use) {
                d.est.tick(&d.stats);
            }
        }
        let (visits, releases) = self.sweep::<[u8; 4]>(now_ms, SWEEP_BATCH, SWEEP_RELEASE_BATCH);
        if visits < SWEEP_BATCH && releases < SWEEP_RELEASE_BATCH {
            self.sweep::<[u8; 16]>(now_ms, SWEEP_BATCH - visits, SWEEP_RELEASE_BATCH - releases);
        }
    }

    /// The `now_ms` at which [`Engine::poll`] next has work: a due sweep, scheduler ageing,
    /// a rate-estimator step or a defence re-evaluation. A value at or before the caller's
    /// clock means "poll now" (more sweeping is owed than one call does: poll again after
    /// releasing the lock). `None`: nothing is scheduled until a packet or a config change.
    ///
    /// Call it after every `poll`, and after a config swap or the first conn made by
    /// `process`/`process_batch` (both can bring the deadline forward: an empty engine
    /// has no sweep to schedule), then sleep until the deadline.
    pub fn poll_timeout(&self) -> Option<u64> {
        let t = &self.core.timers;
        let Some(last_tick) = t.last_tick_ms else {
            return Some(0);
        };
        if t.sweep_owed.iter().any(|&o| o > 0) {
            return Some(t.last_poll_ms);
        }
        let ages = !self.conns4.is_empty()
            || !self.conns6.is_empty()
            || self
                .core
                .svcs
                .iter()
                .any(|s| matches!(s.sched, Scheduler::Lblc(_) | Scheduler::Lblcr(_)));
        let tick = ages.then_some(last_tick + TICK_MS);
        let est = (!self.core.svcs.is_empty()).then_some(t.last_est_ms + EST_PERIOD_MS);
        match (tick, est) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// IPVS `ip_vs_random_dropentry`: shed half-open conns (their templates settle too).
    fn drop_embryonic<A: Family>(&mut self) {
        let (core, table) = A::split(self);
        core.released.clear();
        let (rel, feed, dests) = (&mut core.released, &mut core.feed, &core.dests);
        table.drop_embryonic(64, |c| {
            rel.push(Released::of(c));
            gone(feed, dests, c);
        });
        core.settle_released(table);
    }

    /// Pay up to `budget` slots of the family's sweep debt, releasing at most `max_released`
    /// entries. Returns (slots visited, entries released).
    fn sweep<A: Family>(&mut self, now_ms: u64, budget: u32, max_released: u32) -> (u32, u32) {
        let fam = A::INDEX;
        let owed = self.core.timers.sweep_owed[fam];
        if owed == 0 {
            return (0, 0);
        }
        let (core, table) = A::split(self);
        core.released.clear();
        let (rel, feed, dests) = (&mut core.released, &mut core.feed, &core.dests);
        let tnow = tick_of(now_ms);
        let (visited, removed) = table.sweep_bounded(
            tnow,
            budget.min(owed as u32),
            max_released,
            |c| {
                if c.is_template() && c.control != 0 {
                    // IPVS ip_vs_conn_expire: a template that still controls conns lives on.
                    c.timeout_ms = TEMPLATE_LINGER_MS;
                    c.expires = tnow.wrapping_add(TEMPLATE_LINGER_MS);
                    false
                } else {
                    true
                }
            },
            |c| {
                rel.push(Released::of(c));
                gone(feed, dests, c);
            },
        );
        core.settle_released(table);
        let t = &mut core.timers;
        t.sweep_owed[fam] = if table.is_empty() {
            0
        } else {
            owed - visited as u64
        };
        (visited, removed)
    }
}
