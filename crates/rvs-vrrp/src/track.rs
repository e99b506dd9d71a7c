//! keepalived's vrrp_track.c: how `track_interface`, `track_script` (with `vrrp_script`)
//! and `track_file` move an instance's effective priority or put it in FAULT.
//!
//! Invariants:
//! - the effective priority of an address owner (255) never changes; any other is
//!   `base + Σ weights` clamped to `1..=254` (a tracked thing can neither make a router
//!   the owner nor take it out of the election: priority 0 means "stopping");
//! - a tracked thing with weight 0 that is not good puts the instance in FAULT, with the
//!   first such thing as the reason; an instance's own `interface` down always does;
//! - `reverse` swaps good and bad: a positive weight is then added while the thing is
//!   down/failing, a weight 0 means FAULT while it is up/succeeding.

use std::collections::HashMap;

use crate::{Action, InstanceConfig, ScriptConfig, TrackFileConfig, Tracked};

/// `vrrp_track_file`s are re-read this often (keepalived watches them with inotify; the
/// sans-IO core cannot, and a second is well under any advert-driven failover).
pub const TRACK_FILE_POLL_MS: u64 = 1_000;

/// One `vrrp_script` and its rise/fall counting (keepalived's `script->result`:
/// `0..rise + fall`, good while `>= rise`).
///
/// - without `init_fail` it starts at `rise`: good, and its first failure is decisive;
///   with `init_fail` at 0: bad until `rise` consecutive successes;
/// - once good (after a success: `rise + fall - 1`) it takes `fall` consecutive failures
///   to go bad, and then `rise` consecutive successes to come back.
#[derive(Clone, Debug)]
pub struct ScriptState {
    pub cfg: ScriptConfig,
    result: u32,
    /// Some instance tracks it (keepalived does not run unused scripts).
    pub used: bool,
    next_run: u64,
    running_since: Option<u64>,
}

impl ScriptState {
    pub fn new(cfg: ScriptConfig, used: bool) -> Self {
        let rise = cfg.rise.max(1);
        ScriptState {
            result: if cfg.init_fail { 0 } else { rise },
            cfg,
            used,
            next_run: 0,
            running_since: None,
        }
    }

    fn rise(&self) -> u32 {
        self.cfg.rise.max(1)
    }

    fn fall(&self) -> u32 {
        self.cfg.fall.max(1)
    }

    pub fn ok(&self) -> bool {
        self.result >= self.rise()
    }

    pub fn start(&mut self, now: u64) {
        self.next_run = now;
        self.running_since = None;
    }

    /// Carries the counting over a reload of the same script.
    pub fn migrate_from(&mut self, old: &ScriptState) {
        self.result = old.result.min(self.rise() + self.fall() - 1);
        if old.ok() != self.ok() {
            self.result = if old.ok() { self.rise() } else { 0 };
        }
        self.next_run = old.next_run;
        self.running_since = old.running_since;
    }

    /// When it must be launched next. A run that never reports back (a driver that lost
    /// it) is launched again after its timeout plus an interval, so tracking cannot stall.
    pub fn deadline(&self) -> Option<u64> {
        if !self.used {
            return None;
        }
        Some(match self.running_since {
            Some(t) => t + self.cfg.timeout_ms + self.cfg.interval_ms.max(1),
            None => self.next_run,
        })
    }

    pub fn poll(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.deadline().is_some_and(|d| d <= now) {
            out.push(Action::RunTrackScript {
                name: self.cfg.name.clone(),
                command: self.cfg.command.clone(),
                user: self.cfg.user.clone(),
                timeout_ms: self.cfg.timeout_ms,
            });
            self.running_since = Some(now);
            self.next_run = now + self.cfg.interval_ms.max(1);
        }
    }

    /// A run finished; says whether good/bad changed.
    pub fn on_result(&mut self, ok: bool) -> bool {
        let was = self.ok();
        self.running_since = None;
        let (rise, fall) = (self.rise(), self.fall());
        if ok {
            if self.result + 1 < rise {
                self.result += 1;
            } else {
                self.result = rise + fall - 1;
            }
        } else if self.result > rise {
            self.result -= 1;
        } else {
            self.result = 0;
        }
        was != self.ok()
    }
}

/// One `vrrp_track_file` and the last value read.
#[derive(Clone, Debug)]
pub struct FileState {
    pub cfg: TrackFileConfig,
    pub value: i64,
    pub used: bool,
    next_read: u64,
}

impl FileState {
    pub fn new(cfg: TrackFileConfig, used: bool) -> Self {
        FileState {
            cfg,
            value: 0,
            used,
            next_read: 0,
        }
    }

    pub fn start(&mut self, now: u64) {
        self.next_read = now;
    }

    pub fn migrate_from(&mut self, old: &FileState) {
        self.value = old.value;
        self.next_read = old.next_read;
    }

    pub fn deadline(&self) -> Option<u64> {
        self.used.then_some(self.next_read)
    }

    pub fn poll(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.deadline().is_some_and(|d| d <= now) {
            out.push(Action::ReadTrackFile {
                name: self.cfg.name.clone(),
                path: self.cfg.path.clone(),
            });
            self.next_read = now + TRACK_FILE_POLL_MS;
        }
    }
}

/// What the tracked things currently say.
pub struct Tracking<'a> {
    /// Interfaces reported by `Input::Link`; one never reported counts as up.
    pub links: &'a HashMap<String, bool>,
    pub scripts: &'a [ScriptState],
    pub files: &'a [FileState],
}

/// An instance's effective priority and, if it must be in FAULT, why.
pub fn evaluate(cfg: &InstanceConfig, t: &Tracking<'_>) -> (u8, Option<String>) {
    let up = |name: &str| t.links.get(name).copied().unwrap_or(true);
    let mut fault = None;
    let mut set_fault = |why: String| {
        if fault.is_none() {
            fault = Some(why);
        }
    };
    if !up(&cfg.interface) {
        set_fault(format!("interface {} down", cfg.interface));
    }
    let mut sum: i64 = 0;
    let mut apply = |weight: i32, good: bool, why: &dyn Fn() -> String| {
        if weight == 0 {
            if !good {
                set_fault(why());
            }
        } else if (weight > 0) == good {
            sum += i64::from(weight);
        }
    };
    for tr in &cfg.track_interfaces {
        let is_up = up(&tr.name);
        let good = is_up != tr.reverse;
        let state = if is_up { "up" } else { "down" };
        apply(tr.weight.unwrap_or(0), good, &|| {
            format!("interface {} {state}", tr.name)
        });
    }
    for tr in &cfg.track_scripts {
        let Some(s) = t.scripts.iter().find(|s| s.cfg.name == tr.name) else {
            continue;
        };
        let (weight, reverse) = weight_of(tr, s.cfg.weight, s.cfg.reverse);
        let ok = s.ok();
        let what = if ok { "succeeded" } else { "failed" };
        apply(weight, ok != reverse, &|| {
            format!("track script {} {what}", tr.name)
        });
    }
    for tr in &cfg.track_files {
        let Some(f) = t.files.iter().find(|f| f.cfg.name == tr.name) else {
            continue;
        };
        let (weight, reverse) = weight_of(tr, f.cfg.weight, f.cfg.reverse);
        let why = || format!("track file {} value {}", tr.name, f.value);
        if weight == 0 {
            // keepalived (track_file.c): with weight 0 any non-zero value is a failure,
            // and with `reverse` a zero value is.
            if (f.value != 0) != reverse {
                set_fault(why());
            }
            continue;
        }
        let delta = f
            .value
            .saturating_mul(i64::from(weight))
            .saturating_mul(if reverse { -1 } else { 1 });
        // keepalived: a resulting change below -253 means FAULT.
        if delta < -253 {
            set_fault(why());
        } else {
            sum = sum.saturating_add(delta);
        }
    }
    let eff = if cfg.priority == 255 {
        255
    } else {
        (i64::from(cfg.priority).saturating_add(sum)).clamp(1, 254) as u8
    };
    (eff, fault)
}

/// The entry's own weight overrides the script's/file's (with the entry's `reverse`).
fn weight_of(tr: &Tracked, own_weight: i32, own_reverse: bool) -> (i32, bool) {
    match tr.weight {
        Some(w) => (w, tr.reverse),
        None => (own_weight, own_reverse),
    }
}
