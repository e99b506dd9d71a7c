//! The sans-IO health-check state machines: no clock, no sockets. Time is `now_ms: u64`
//! (milliseconds on any monotonic scale the caller picks), results are booleans, and the
//! output is [`Action`]s the daemon applies as configuration transactions.
//!
//! Three layers, as keepalived's `check_api.c` / `ipwrapper.c` have them:
//! - [`CheckMachine`]: one checker's retry counting and up/down state (keepalived's
//!   `checker_t`: `is_up`, `has_run`, `retry_it`, and the `*_epilog` functions);
//! - [`RsState`]: a real server, alive only when every one of its checkers is up
//!   (`num_failed_checkers == 0`), with MISC_CHECK's dynamic weight;
//! - [`VsMachine`]: a virtual server's pool: quorum with hysteresis, the sorry server,
//!   `inhibit_on_failure`, the notify scripts, omega on shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::spec::Timing;

/// What a checker's result changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The checker went from down to up.
    Up,
    /// The checker went from up to down (after `retry` + 1 failed attempts).
    Down,
    /// The first result of an `alpha` checker declared it down: it already was, so nothing
    /// changes in the pool, but keepalived runs the real server's `notify_down` then.
    InitialDown,
}

/// One checker of one real server (keepalived's `checker_t` with `tcp_epilog()`'s rules,
/// shared by every checker type).
///
/// Invariants (`R` = `retry`, `D` = `delay_loop`, `B` = `delay_before_retry`):
/// - a success is always accepted at once: an up checker stays up, a down one goes up; the
///   retry counter resets and the next probe is `D` after the result;
/// - a failure of an up checker (or of one that has not run yet) with `retry_it < R` only
///   counts: `retry_it += 1`, next probe `B` later. With `retry_it == R` (i.e. this is the
///   `R + 1`-th consecutive failure) the checker is declared down, `retry_it` resets and the
///   next probe is `D` later;
/// - a failure of a down checker changes nothing: next probe `D` later, no retries (a down
///   checker is probed every `D` until a success brings it back);
/// - an `alpha` checker starts down and has nothing to retry: its first failure, with
///   `R > 0`, is silent; with `R == 0` it is "declared" ([`Transition::InitialDown`]);
/// - so from the last success, a failure is declared within
///   `D + (R + 1) * connect_timeout + R * B`, and a recovery within `D + connect_timeout`.
#[derive(Clone, Debug)]
pub struct CheckMachine {
    timing: Timing,
    alpha: bool,
    is_up: bool,
    has_run: bool,
    retry_it: u32,
    next_at: u64,
    /// When the last result arrived (or the machine was started) and the delay scheduled
    /// then: the stall deadline derives from them.
    last_at: u64,
    last_delay: u64,
}

/// Slack added to a probe's own timeout before a cycle counts as stalled.
pub const STALL_GRACE_MS: u64 = 1_000;

impl CheckMachine {
    /// A checker before its first probe: down with `alpha`, up otherwise (keepalived
    /// assumes a non-alpha server healthy until proven otherwise). The first probe is due
    /// at 0; use [`CheckMachine::start`] to place it.
    pub fn new(timing: &Timing, alpha: bool) -> Self {
        CheckMachine {
            timing: timing.clone(),
            alpha,
            is_up: !alpha,
            has_run: false,
            retry_it: 0,
            next_at: 0,
            last_at: 0,
            last_delay: 0,
        }
    }

    /// Schedules the first probe at `now + warmup_jitter` (keepalived draws the jitter at
    /// random in `0..=warmup`; the caller does, so this stays deterministic).
    pub fn start(&mut self, now: u64, warmup_jitter: u64) {
        self.last_at = now;
        self.last_delay = warmup_jitter;
        self.next_at = now + warmup_jitter;
    }

    /// When the next probe should start.
    pub fn next_probe_at(&self) -> u64 {
        self.next_at
    }

    pub fn is_up(&self) -> bool {
        self.is_up
    }

    pub fn has_run(&self) -> bool {
        self.has_run
    }

    pub fn alpha(&self) -> bool {
        self.alpha
    }

    /// Failed attempts counted so far towards declaring the checker down.
    pub fn retry_it(&self) -> u32 {
        self.retry_it
    }

    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// A probe finished at `now` with `ok`: counts it, schedules the next probe, and says
    /// whether the checker's state changed.
    pub fn on_result(&mut self, ok: bool, now: u64) -> Option<Transition> {
        let t = &self.timing;
        let mut delay = t.delay_loop_ms;
        let mut transition = None;
        if ok || ((self.is_up || !self.has_run) && self.retry_it >= t.retry) {
            self.retry_it = 0;
            if ok {
                if !self.is_up {
                    transition = Some(Transition::Up);
                }
                self.is_up = true;
            } else if self.is_up {
                self.is_up = false;
                transition = Some(Transition::Down);
            } else if !self.has_run && self.alpha {
                transition = Some(Transition::InitialDown);
            }
        } else if self.is_up {
            delay = t.delay_before_retry_ms;
            self.retry_it += 1;
        }
        self.has_run = true;
        self.last_at = now;
        self.last_delay = delay;
        self.next_at = now + delay;
        transition
    }

    /// After this time without a result, the check cycle counts as stalled: twice
    /// `delay_loop` from the last result, or the scheduled delay plus the probe's own
    /// timeout plus [`STALL_GRACE_MS`] when that is longer (a slow failing probe is not a
    /// stall).
    pub fn stall_deadline(&self) -> u64 {
        let t = &self.timing;
        let normal = self.last_delay + t.connect_timeout_ms + STALL_GRACE_MS;
        self.last_at + normal.max(2 * t.delay_loop_ms)
    }

    /// Carries state over a reload whose check is unchanged except for its timing:
    /// keepalived's `migrate_checkers()`.
    pub fn migrate_from(&mut self, old: &CheckMachine) {
        if old.has_run && old.is_up != self.is_up {
            self.is_up = old.is_up;
        }
        self.has_run = old.has_run;
        self.retry_it = if !self.is_up {
            0
        } else {
            old.retry_it.min(self.timing.retry)
        };
        self.next_at = old.next_at;
        self.last_at = old.last_at;
        self.last_delay = old.last_delay;
    }
}

/// MISC_CHECK with `misc_dynamic`: what an exit status does to the weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynWeight {
    /// Exit 0: back to the configured weight.
    Reset,
    /// Exit 2..=255: weight = status - 2.
    Set(u32),
}

/// Which virtual service an action is for: the daemon's own name for it (for example
/// `"TCP 10.0.0.1:80"` or `"FWM 7"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SvcId(pub String);

impl std::fmt::Display for SvcId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the daemon must do. Destination changes are exact diffs of the pool the daemon
/// holds for `svc` (as far as the checker put it there): `AddDest` for a dest not in the
/// pool, `SetWeight` for one that is, `RemoveDest` for one that is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    AddDest {
        svc: SvcId,
        rs: SocketAddr,
        weight: u32,
    },
    SetWeight {
        svc: SvcId,
        rs: SocketAddr,
        weight: u32,
    },
    RemoveDest {
        svc: SvcId,
        rs: SocketAddr,
    },
    /// The sorry server replaced the real servers (quorum lost). Informational: the dest
    /// changes come as `AddDest`/`SetWeight`/`RemoveDest` too.
    SorryIn {
        svc: SvcId,
        sorry: SocketAddr,
    },
    /// The real servers are back and the sorry server left (quorum regained).
    SorryOut {
        svc: SvcId,
        sorry: SocketAddr,
    },
    /// Quorum changed (informational, for logs and status).
    Quorum {
        svc: SvcId,
        up: bool,
        weight_sum: u64,
        threshold: i64,
    },
    /// Run a notify script: `script` is the program, `args` the words that followed it in
    /// the configuration. keepalived adds nothing to a real server's or a quorum's notify
    /// command line (only VRRP notifies get extra arguments).
    Notify {
        script: String,
        args: Vec<String>,
    },
}

impl Action {
    /// A notify action from a configured command line (split on blanks, with '…' and "…"
    /// quoting, as keepalived's parser splits it).
    pub fn notify(cmdline: &str) -> Option<Action> {
        let mut words = split_cmdline(cmdline).into_iter();
        let script = words.next()?;
        Some(Action::Notify {
            script,
            args: words.collect(),
        })
    }
}

/// Splits a command line into words: blanks separate, quotes group.
pub fn split_cmdline(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// A real server as its virtual server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsConfig {
    pub rs: SocketAddr,
    /// Configured weight (`weight`, default 1).
    pub weight: u32,
    /// `inhibit_on_failure`: a failed server stays in the pool with weight 0.
    pub inhibit_on_failure: bool,
    pub notify_up: Option<String>,
    pub notify_down: Option<String>,
}

/// A real server's aggregate state: alive only when all of its checkers are up.
#[derive(Clone, Debug)]
pub struct RsState {
    pub cfg: RsConfig,
    checks_up: Vec<bool>,
    effective_weight: u32,
}

impl RsState {
    /// `checks_up`: the initial state of each checker ([`CheckMachine::is_up`]). A server
    /// without checkers is always alive.
    pub fn new(cfg: RsConfig, checks_up: Vec<bool>) -> Self {
        let effective_weight = cfg.weight;
        RsState {
            cfg,
            checks_up,
            effective_weight,
        }
    }

    pub fn alive(&self) -> bool {
        self.checks_up.iter().all(|&u| u)
    }

    pub fn failed_checkers(&self) -> usize {
        self.checks_up.iter().filter(|&&u| !u).count()
    }

    pub fn effective_weight(&self) -> u32 {
        self.effective_weight
    }

    pub fn set_check(&mut self, idx: usize, up: bool) {
        if let Some(c) = self.checks_up.get_mut(idx) {
            *c = up;
        }
    }

    pub fn set_dyn_weight(&mut self, w: DynWeight) {
        self.effective_weight = match w {
            DynWeight::Reset => self.cfg.weight,
            DynWeight::Set(w) => w,
        };
    }
}

/// keepalived's quorum with hysteresis: gained when the live weight reaches
/// `quorum + hysteresis`, lost when it falls below `quorum - hysteresis` (or to 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quorum {
    pub quorum: u64,
    pub hysteresis: u64,
    up: bool,
}

impl Quorum {
    /// The state at startup: up when `sum >= quorum + hysteresis` (`set_quorum_states()`).
    pub fn new(quorum: u64, hysteresis: u64, weight_sum: u64) -> Self {
        Quorum {
            quorum,
            hysteresis,
            up: weight_sum >= quorum + hysteresis,
        }
    }

    pub fn up(&self) -> bool {
        self.up
    }

    /// The weight the sum is compared with in the current state.
    pub fn threshold(&self) -> i64 {
        let (q, h) = (self.quorum as i64, self.hysteresis as i64);
        if self.up {
            q - h
        } else {
            q + h
        }
    }

    /// Feeds the current live weight; `Some(up)` when the quorum state flips.
    pub fn update(&mut self, weight_sum: u64) -> Option<bool> {
        let th = self.threshold();
        if !self.up && weight_sum as i64 >= th {
            self.up = true;
            Some(true)
        } else if self.up && (weight_sum == 0 || (weight_sum as i64) < th) {
            self.up = false;
            Some(false)
        } else {
            None
        }
    }
}

/// A virtual server's health-check settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VsConfig {
    pub svc: SvcId,
    /// `quorum` (default 1).
    pub quorum: u64,
    /// `hysteresis` (default 0).
    pub hysteresis: u64,
    pub quorum_up: Option<String>,
    pub quorum_down: Option<String>,
    /// `sorry_server`, with its weight (keepalived's default 1).
    pub sorry_server: Option<(SocketAddr, u32)>,
    /// `sorry_server_inhibit`: the sorry server stays in the pool with weight 0 while
    /// unused.
    pub sorry_server_inhibit: bool,
    /// `omega`: run the down notifiers (real servers, quorum) on shutdown too.
    pub omega: bool,
}

/// A virtual server's pool: what the daemon holds, what it should hold, and the events in
/// between.
///
/// The desired pool is a pure function of the state:
/// - sorry mode = a sorry server is configured and the quorum is down;
/// - a real server is in with its effective weight when alive and not in sorry mode; else
///   in with weight 0 when `inhibit_on_failure`; else out;
/// - the sorry server is in (its weight) in sorry mode; else in with weight 0 when
///   `sorry_server_inhibit`; else out.
///
/// Every event recomputes it and emits the diff against the pool the daemon holds, so a
/// recovered server always comes back (there is no "already added" flag to get stuck).
#[derive(Clone, Debug)]
pub struct VsMachine {
    cfg: VsConfig,
    rs: Vec<RsState>,
    quorum: Quorum,
    /// The pool as the daemon holds it after our actions: dest → weight.
    pool: BTreeMap<SocketAddr, u32>,
}

impl VsMachine {
    /// Starts a virtual server (`init_service_vs()`): returns the machine and the actions
    /// that build its pool. `prev`: on a reload, the machine this one replaces, whose pool
    /// the daemon still holds and whose quorum state carries over.
    pub fn new(cfg: VsConfig, rs: Vec<RsState>, prev: Option<&VsMachine>) -> (Self, Vec<Action>) {
        let sum = live_weight(&rs);
        let mut quorum = Quorum::new(cfg.quorum, cfg.hysteresis, sum);
        let mut pool = BTreeMap::new();
        if let Some(p) = prev {
            pool = p.pool.clone();
            quorum = Quorum {
                quorum: cfg.quorum,
                hysteresis: cfg.hysteresis,
                up: p.quorum.up,
            };
        }
        let mut m = VsMachine {
            cfg,
            rs,
            quorum,
            pool,
        };
        let mut acts = Vec::new();
        // A reload may change the quorum settings: settle the state first.
        if prev.is_some() {
            m.update_quorum(&mut acts);
        } else if !m.quorum.up && m.cfg.sorry_server.is_some() {
            // keepalived: "Starting with quorum down" runs quorum_down and brings the
            // sorry server in, only when there is a sorry server.
            let (sorry, _) = m.cfg.sorry_server.unwrap();
            acts.push(m.quorum_event(false));
            acts.push(Action::SorryIn {
                svc: m.cfg.svc.clone(),
                sorry,
            });
            if let Some(n) = m.cfg.quorum_down.as_deref().and_then(Action::notify) {
                acts.push(n);
            }
        }
        m.sync_pool(&mut acts);
        (m, acts)
    }

    pub fn svc(&self) -> &SvcId {
        &self.cfg.svc
    }

    pub fn config(&self) -> &VsConfig {
        &self.cfg
    }

    pub fn quorum_up(&self) -> bool {
        self.quorum.up()
    }

    pub fn real_servers(&self) -> &[RsState] {
        &self.rs
    }

    /// The pool the daemon holds for this service, as far as the checker set it.
    pub fn pool(&self) -> &BTreeMap<SocketAddr, u32> {
        &self.pool
    }

    pub fn weight_sum(&self) -> u64 {
        live_weight(&self.rs)
    }

    fn sorry_mode(&self) -> bool {
        self.cfg.sorry_server.is_some() && !self.quorum.up
    }

    fn desired(&self) -> BTreeMap<SocketAddr, u32> {
        let sorry_mode = self.sorry_mode();
        let mut d = BTreeMap::new();
        for r in &self.rs {
            if r.alive() && !sorry_mode {
                d.insert(r.cfg.rs, r.effective_weight);
            } else if r.cfg.inhibit_on_failure {
                d.insert(r.cfg.rs, 0);
            }
        }
        if let Some((s, w)) = self.cfg.sorry_server {
            if sorry_mode {
                d.insert(s, w);
            } else if self.cfg.sorry_server_inhibit {
                d.entry(s).or_insert(0);
            }
        }
        d
    }

    fn sync_pool(&mut self, acts: &mut Vec<Action>) {
        let want = self.desired();
        let svc = &self.cfg.svc;
        for (rs, _) in self.pool.iter().filter(|(k, _)| !want.contains_key(k)) {
            acts.push(Action::RemoveDest {
                svc: svc.clone(),
                rs: *rs,
            });
        }
        for (&rs, &weight) in &want {
            match self.pool.get(&rs) {
                None => acts.push(Action::AddDest {
                    svc: svc.clone(),
                    rs,
                    weight,
                }),
                Some(&w) if w != weight => acts.push(Action::SetWeight {
                    svc: svc.clone(),
                    rs,
                    weight,
                }),
                Some(_) => {}
            }
        }
        self.pool = want;
    }

    fn quorum_event(&self, up: bool) -> Action {
        Action::Quorum {
            svc: self.cfg.svc.clone(),
            up,
            weight_sum: self.weight_sum(),
            threshold: self.quorum.threshold(),
        }
    }

    fn update_quorum(&mut self, acts: &mut Vec<Action>) {
        let th_before = self.quorum.threshold();
        if let Some(up) = self.quorum.update(self.weight_sum()) {
            acts.push(Action::Quorum {
                svc: self.cfg.svc.clone(),
                up,
                weight_sum: self.weight_sum(),
                threshold: th_before,
            });
            if let Some((sorry, _)) = self.cfg.sorry_server {
                let svc = self.cfg.svc.clone();
                acts.push(if up {
                    Action::SorryOut { svc, sorry }
                } else {
                    Action::SorryIn { svc, sorry }
                });
            }
            let script = if up {
                &self.cfg.quorum_up
            } else {
                &self.cfg.quorum_down
            };
            if let Some(n) = script.as_deref().and_then(Action::notify) {
                acts.push(n);
            }
        }
    }

    fn rs_notify(&self, idx: usize, acts: &mut Vec<Action>) {
        let r = &self.rs[idx];
        let script = if r.alive() {
            &r.cfg.notify_up
        } else {
            &r.cfg.notify_down
        };
        if let Some(n) = script.as_deref().and_then(Action::notify) {
            acts.push(n);
        }
    }

    /// Checker `check` of real server `rs` changed state (`perform_svr_state()`): the
    /// server's notify script when its aliveness flips, the pool diff, then the quorum.
    pub fn on_transition(&mut self, rs: usize, check: usize, t: Transition) -> Vec<Action> {
        let mut acts = Vec::new();
        if rs >= self.rs.len() {
            return acts;
        }
        match t {
            Transition::InitialDown => {
                if !self.rs[rs].alive() {
                    self.rs_notify(rs, &mut acts);
                }
                return acts;
            }
            Transition::Up | Transition::Down => {}
        }
        let was = self.rs[rs].alive();
        self.rs[rs].set_check(check, t == Transition::Up);
        if self.rs[rs].alive() != was {
            // keepalived: the dest change first, then the notify, then the quorum.
            self.sync_pool(&mut acts);
            self.rs_notify(rs, &mut acts);
            self.update_quorum(&mut acts);
            self.sync_pool(&mut acts);
        }
        acts
    }

    /// A MISC_CHECK with `misc_dynamic` reported a weight (`update_svr_wgt()`).
    pub fn on_weight(&mut self, rs: usize, w: DynWeight) -> Vec<Action> {
        let mut acts = Vec::new();
        let Some(r) = self.rs.get_mut(rs) else {
            return acts;
        };
        let before = r.effective_weight;
        r.set_dyn_weight(w);
        if r.effective_weight != before {
            self.sync_pool(&mut acts);
            self.update_quorum(&mut acts);
            self.sync_pool(&mut acts);
        }
        acts
    }

    /// The daemon stops (`clear_service_vs()` with `stopping`): every dest the checker put
    /// in the pool is removed, inhibited ones included; with `omega`, the `notify_down` of
    /// each alive real server and the quorum's `quorum_down` run as keepalived runs them.
    pub fn shutdown(&mut self) -> Vec<Action> {
        let mut acts = Vec::new();
        let svc = self.cfg.svc.clone();
        for rs in std::mem::take(&mut self.pool).into_keys() {
            acts.push(Action::RemoveDest {
                svc: svc.clone(),
                rs,
            });
        }
        if self.cfg.omega {
            for r in &self.rs {
                if r.alive() {
                    if let Some(n) = r.cfg.notify_down.as_deref().and_then(Action::notify) {
                        acts.push(n);
                    }
                }
            }
            if let Some(n) = self.cfg.quorum_down.as_deref().and_then(Action::notify) {
                acts.push(n);
            }
        }
        acts
    }
}

fn live_weight(rs: &[RsState]) -> u64 {
    rs.iter()
        .filter(|r| r.alive())
        .map(|r| u64::from(r.effective_weight))
        .sum()
}

#[cfg(test)]
mod tests;
