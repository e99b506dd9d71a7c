//! Timers (IPVS `ip_vs_conn.c`'s conn expiry and `ip_vs_random_dropentry`, `ip_vs_ctl.c`'s
//! defence and estimator work): everything [`Engine::poll`] does between packets. Apart from
//! the packet path because it runs on the clock, not on a frame.

use crate::conn::tick_of;
use crate::engine::{Engine, Family};
use crate::rt::{defence_on, Released};
use crate::stats::EST_PERIOD_MS;

/// The whole table is swept about once a second.
const SWEEP_PERIOD_MS: u64 = 1000;
/// IPVS re-arms an expired template that still controls conns for 60 s.
const TEMPLATE_LINGER_MS: u32 = 60_000;

impl Engine {
    /// Timers: reclaim expired conns, age lblc/lblcr tables, step the rate estimators and
    /// re-evaluate the defences. Call it every few tens of milliseconds.
    pub fn poll(&mut self, now_ms: u64) {
        self.refresh(now_ms);
        let elapsed = match self.core.last_sweep_ms {
            Some(t) => now_ms.saturating_sub(t),
            None => SWEEP_PERIOD_MS,
        };
        self.core.last_sweep_ms = Some(now_ms);
        self.sweep::<[u8; 4]>(now_ms, elapsed);
        self.sweep::<[u8; 16]>(now_ms, elapsed);
        for s in &mut self.core.svcs {
            s.sched.expire(now_ms);
        }
        if now_ms.saturating_sub(self.core.last_est_ms) >= EST_PERIOD_MS {
            self.core.last_est_ms = now_ms;
            for s in &mut self.core.svcs {
                s.est.tick(&s.stats);
            }
            for d in self.core.dests.iter_mut().filter(|d| d.in_use) {
                d.est.tick(&d.stats);
            }
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

    /// IPVS `ip_vs_random_dropentry`: shed half-open conns (their templates settle too).
    fn drop_embryonic<A: Family>(&mut self) {
        let (core, table) = A::split(self);
        core.released.clear();
        let rel = &mut core.released;
        table.drop_embryonic(64, |c| rel.push(Released::of(c)));
        core.settle_released(table);
    }

    fn sweep<A: Family>(&mut self, now_ms: u64, elapsed: u64) {
        let (core, table) = A::split(self);
        let cap = table.capacity() as u64;
        let budget = (cap * elapsed / SWEEP_PERIOD_MS).clamp(64, cap) as u32;
        core.released.clear();
        let rel = &mut core.released;
        let tnow = tick_of(now_ms);
        table.sweep(
            tnow,
            budget,
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
            |c| rel.push(Released::of(c)),
        );
        core.settle_released(table);
    }
}
