//! [`Checker`]: the probes on their own runtime, driving the machines with real time.
//!
//! - **Isolation from load**: one dedicated thread with a current-thread tokio runtime;
//!   at most `max_concurrency` probes run at once (a semaphore), so a flood of checks
//!   cannot take more than that from the machine, and the daemon's own work cannot starve
//!   the checks' timers.
//! - **Deduplication**: a probe unit per distinct (`CheckSpec::dedup_key`, `alpha`): a real
//!   server in ten services with the same check is probed once per cycle, and the result
//!   feeds the ten services' machines.
//! - **Reloads** ([`Checker::update`]) keep the units whose check is unchanged (state,
//!   schedule and all) and the pools the daemon holds, so a reload emits only the diff.
//! - **Stalls**: a unit whose cycle overruns [`CheckMachine::stall_deadline`] (twice its
//!   `delay_loop`, or its own delay + timeout + grace when longer) is flagged in
//!   [`Checker::status`] and logged, by a watchdog while it overruns and at its late result.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::machine::{
    Action, CheckMachine, RsConfig, RsState, SvcId, Transition, VsConfig, VsMachine,
};
use crate::probe::{ProbeResult, Prober};
use crate::spec::{CheckKind, CheckSpec, Endpoint, Timing};

/// A real server of a virtual server, with its checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub rs: RsConfig,
    /// `alpha`: start with the checks down (the server out of the pool) until they pass.
    pub alpha: bool,
    /// No checks: always alive.
    pub checks: Vec<CheckSpec>,
}

/// A virtual server: quorum, sorry server, notify settings and its real servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VsTarget {
    pub vs: VsConfig,
    pub real_servers: Vec<Target>,
}

/// Tuning of the [`Checker`].
#[derive(Clone, Debug)]
pub struct CheckerConfig {
    /// Probes running at once (default 64).
    pub max_concurrency: usize,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        CheckerConfig {
            max_concurrency: 64,
        }
    }
}

/// One probe unit as [`Checker::status`] shows it.
#[derive(Clone, Debug)]
pub struct CheckStatus {
    /// keepalived's name of the checker (`TCP_CHECK`, `HTTP_GET`...).
    pub kind: &'static str,
    /// Where the probe goes.
    pub target: SocketAddr,
    /// The (service, real server) pairs this probe serves.
    pub users: Vec<(SvcId, SocketAddr)>,
    pub up: bool,
    /// Failed attempts counted towards declaring it down.
    pub retry_it: u32,
    pub probes: u64,
    /// The last result (`None` before the first).
    pub last_ok: Option<bool>,
    pub last_detail: String,
    pub last_duration_ms: Option<u64>,
    /// The current (or last) cycle overran its stall deadline.
    pub stalled: bool,
    pub next_probe_in_ms: i64,
}

/// A virtual server as [`Checker::vs_status`] shows it.
#[derive(Clone, Debug)]
pub struct VsStatus {
    pub svc: SvcId,
    pub quorum_up: bool,
    pub weight_sum: u64,
    /// The pool as the checker has set it: dest → weight.
    pub pool: BTreeMap<SocketAddr, u32>,
}

type UnitKey = ((SocketAddr, CheckKind, Endpoint, Timing), bool);

struct Sub {
    svc: SvcId,
    rs: SocketAddr,
    rs_idx: usize,
    check_idx: usize,
}

struct Unit {
    spec: CheckSpec,
    target: SocketAddr,
    machine: CheckMachine,
    subs: Vec<Sub>,
    last: Option<ProbeResult>,
    last_duration: Option<Duration>,
    probes: u64,
    stalled: bool,
    task: tokio::task::AbortHandle,
}

type Sink = Box<dyn Fn(Action) + Send + 'static>;

struct Inner {
    units: HashMap<UnitKey, Unit>,
    vs: BTreeMap<SvcId, VsMachine>,
    sink: Sink,
    seed: u64,
    stopped: bool,
}

struct Shared {
    epoch: Instant,
    inner: Mutex<Inner>,
    sem: Arc<Semaphore>,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The health checker: see the module docs.
pub struct Checker {
    shared: Arc<Shared>,
    rt: tokio::runtime::Handle,
    stop_tx: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// keepalived's name for a checker type.
pub fn kind_name(k: &CheckKind) -> &'static str {
    match k {
        CheckKind::Tcp => "TCP_CHECK",
        CheckKind::Http { tls: false, .. } => "HTTP_GET",
        CheckKind::Http { tls: true, .. } => "SSL_GET",
        CheckKind::Misc { .. } => "MISC_CHECK",
        CheckKind::Udp { .. } => "UDP_CHECK",
        CheckKind::Dns { .. } => "DNS_CHECK",
        CheckKind::Smtp { .. } => "SMTP_CHECK",
        CheckKind::Ping => "PING_CHECK",
    }
}

impl Checker {
    /// Starts checking `plan` with the default configuration; `sink` receives every action,
    /// in order, from the checker's thread, under the checker's lock: keep it quick (push to
    /// a channel) and do not call back into the `Checker` from it.
    pub fn start(plan: Vec<VsTarget>, sink: impl Fn(Action) + Send + 'static) -> Checker {
        Checker::with_config(plan, sink, CheckerConfig::default())
    }

    pub fn with_config(
        plan: Vec<VsTarget>,
        sink: impl Fn(Action) + Send + 'static,
        cfg: CheckerConfig,
    ) -> Checker {
        let (h_tx, h_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rvs-check".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("rvs-check: tokio runtime");
                let _ = h_tx.send(rt.handle().clone());
                rt.block_on(async {
                    let _ = stop_rx.await;
                });
            })
            .expect("rvs-check: thread");
        let rt = h_rx.recv().expect("rvs-check: runtime handle");
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            inner: Mutex::new(Inner {
                units: HashMap::new(),
                vs: BTreeMap::new(),
                sink: Box::new(sink),
                seed,
                stopped: false,
            }),
            sem: Arc::new(Semaphore::new(cfg.max_concurrency.max(1))),
        });
        let c = Checker {
            shared,
            rt,
            stop_tx: Some(stop_tx),
            thread: Some(thread),
        };
        c.rt.spawn(watchdog(c.shared.clone()));
        c.update(plan);
        c
    }

    /// Replaces the plan (a configuration reload): unchanged checks keep their state and
    /// schedule, pools change only by the diff, new checks start, removed ones stop. A
    /// service dropped from the plan gets no actions (the daemon deletes it).
    pub fn update(&self, plan: Vec<VsTarget>) {
        let _enter = self.rt.enter();
        let shared = &self.shared;
        let now = shared.now_ms();
        let mut g = shared.lock();
        if g.stopped {
            return;
        }
        let inner = &mut *g;
        let mut old_units = std::mem::take(&mut inner.units);
        let mut units: HashMap<UnitKey, Unit> = HashMap::new();
        for vst in &plan {
            for (rs_idx, t) in vst.real_servers.iter().enumerate() {
                for (check_idx, spec) in t.checks.iter().enumerate() {
                    let key: UnitKey = (spec.dedup_key(t.rs.rs), t.alpha);
                    let sub = Sub {
                        svc: vst.vs.svc.clone(),
                        rs: t.rs.rs,
                        rs_idx,
                        check_idx,
                    };
                    if let Some(u) = units.get_mut(&key) {
                        u.subs.push(sub);
                        continue;
                    }
                    let mut u = match old_units.remove(&key) {
                        Some(mut u) => {
                            u.subs.clear();
                            u
                        }
                        None => {
                            let mut machine = CheckMachine::new(&spec.timing, t.alpha);
                            let jitter = if spec.timing.warmup_ms == 0 {
                                0
                            } else {
                                inner.seed ^= inner.seed << 13;
                                inner.seed ^= inner.seed >> 7;
                                inner.seed ^= inner.seed << 17;
                                inner.seed % (spec.timing.warmup_ms + 1)
                            };
                            machine.start(now, jitter);
                            let prober = Prober::new(spec, t.rs.rs).map(Arc::new).map_err(|e| {
                                tracing::error!(rs = %t.rs.rs, check = kind_name(&spec.kind), "check setup: {e}");
                                e.to_string()
                            });
                            let task = tokio::spawn(unit_task(shared.clone(), key.clone(), prober))
                                .abort_handle();
                            Unit {
                                spec: spec.clone(),
                                target: spec.target(t.rs.rs),
                                machine,
                                subs: Vec::new(),
                                last: None,
                                last_duration: None,
                                probes: 0,
                                stalled: false,
                                task,
                            }
                        }
                    };
                    u.subs.push(sub);
                    units.insert(key, u);
                }
            }
        }
        for (_, u) in old_units.drain() {
            u.task.abort();
        }
        let mut actions = Vec::new();
        let mut seen = HashSet::new();
        let mut old_vs = std::mem::take(&mut inner.vs);
        for vst in plan {
            if !seen.insert(vst.vs.svc.clone()) {
                tracing::warn!(svc = %vst.vs.svc, "duplicate virtual server in the plan, ignored");
                continue;
            }
            let rs: Vec<RsState> = vst
                .real_servers
                .iter()
                .map(|t| {
                    let ups = t
                        .checks
                        .iter()
                        .map(|s| {
                            units
                                .get(&(s.dedup_key(t.rs.rs), t.alpha))
                                .is_none_or(|u| u.machine.is_up())
                        })
                        .collect();
                    RsState::new(t.rs.clone(), ups)
                })
                .collect();
            let prev = old_vs.remove(&vst.vs.svc);
            let (m, acts) = VsMachine::new(vst.vs, rs, prev.as_ref());
            actions.extend(acts);
            inner.vs.insert(m.svc().clone(), m);
        }
        inner.units = units;
        for a in actions {
            (inner.sink)(a);
        }
    }

    /// Every probe unit's state.
    pub fn status(&self) -> Vec<CheckStatus> {
        let now = self.shared.now_ms() as i64;
        let g = self.shared.lock();
        let mut v: Vec<CheckStatus> = g
            .units
            .values()
            .map(|u| CheckStatus {
                kind: kind_name(&u.spec.kind),
                target: u.target,
                users: u.subs.iter().map(|s| (s.svc.clone(), s.rs)).collect(),
                up: u.machine.is_up(),
                retry_it: u.machine.retry_it(),
                probes: u.probes,
                last_ok: u.last.as_ref().map(|r| r.ok),
                last_detail: u
                    .last
                    .as_ref()
                    .map(|r| r.detail.clone())
                    .unwrap_or_default(),
                last_duration_ms: u.last_duration.map(|d| d.as_millis() as u64),
                stalled: u.stalled,
                next_probe_in_ms: u.machine.next_probe_at() as i64 - now,
            })
            .collect();
        v.sort_by(|a, b| (a.target, a.kind).cmp(&(b.target, b.kind)));
        v
    }

    /// Every virtual server's quorum and pool.
    pub fn vs_status(&self) -> Vec<VsStatus> {
        let g = self.shared.lock();
        g.vs.values()
            .map(|m| VsStatus {
                svc: m.svc().clone(),
                quorum_up: m.quorum_up(),
                weight_sum: m.weight_sum(),
                pool: m.pool().clone(),
            })
            .collect()
    }

    /// Whether any check is stalled now.
    pub fn stalled(&self) -> bool {
        self.shared.lock().units.values().any(|u| u.stalled)
    }

    /// Stops checking: the probes end, and each service's shutdown actions (its dests
    /// removed; with `omega`, the down notifiers) go to the sink.
    pub fn stop(mut self) {
        self.halt(true);
    }

    fn halt(&mut self, shutdown_actions: bool) {
        {
            let mut g = self.shared.lock();
            if !g.stopped {
                g.stopped = true;
                for u in g.units.values() {
                    u.task.abort();
                }
                if shutdown_actions {
                    let inner = &mut *g;
                    for m in inner.vs.values_mut() {
                        for a in m.shutdown() {
                            (inner.sink)(a);
                        }
                    }
                }
            }
        }
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checker {
    /// Dropping stops the probes without shutdown actions (use [`Checker::stop`] for
    /// those).
    fn drop(&mut self) {
        self.halt(false);
    }
}

async fn unit_task(shared: Arc<Shared>, key: UnitKey, prober: Result<Arc<Prober>, String>) {
    loop {
        let due = match shared.lock().units.get(&key) {
            Some(u) => u.machine.next_probe_at(),
            // Not inserted yet (we were spawned under the lock) or removed.
            None => shared.now_ms(),
        };
        tokio::time::sleep_until((shared.epoch + Duration::from_millis(due)).into()).await;
        if !shared.lock().units.contains_key(&key) {
            // update() inserts the unit right after spawning us; removal aborts us.
            tokio::task::yield_now().await;
            continue;
        }
        let permit = shared.sem.clone().acquire_owned().await;
        let t0 = Instant::now();
        let res = match &prober {
            Ok(p) => p.run().await,
            Err(e) => ProbeResult::down(e.clone()),
        };
        drop(permit);
        let dur = t0.elapsed();
        let now = shared.now_ms();
        let mut g = shared.lock();
        on_result(&mut g, &key, res, dur, now);
    }
}

fn on_result(inner: &mut Inner, key: &UnitKey, res: ProbeResult, dur: Duration, now: u64) {
    let Some(u) = inner.units.get_mut(key) else {
        return;
    };
    let late = now > u.machine.stall_deadline();
    if late && !u.stalled {
        tracing::warn!(target_addr = %u.target, check = kind_name(&u.spec.kind), late_ms = now - u.machine.stall_deadline(), "health check stalled: cycle longer than twice delay_loop");
    } else if !late && u.stalled {
        tracing::info!(target_addr = %u.target, check = kind_name(&u.spec.kind), "health check no longer stalled");
    }
    u.stalled = late;
    let tr = u.machine.on_result(res.ok, now);
    u.probes += 1;
    u.last_duration = Some(dur);
    if let Some(t) = tr {
        match t {
            Transition::Up => {
                tracing::info!(target_addr = %u.target, check = kind_name(&u.spec.kind), "check succeeded: {}", res.detail)
            }
            Transition::Down | Transition::InitialDown => {
                tracing::info!(target_addr = %u.target, check = kind_name(&u.spec.kind), "check failed: {}", res.detail)
            }
        }
    } else if !res.ok && u.machine.is_up() {
        tracing::debug!(target_addr = %u.target, retry = u.machine.retry_it(), "check attempt failed: {}", res.detail);
    }
    let weight = res.weight;
    u.last = Some(res);
    let subs: Vec<(SvcId, usize, usize)> = u
        .subs
        .iter()
        .map(|s| (s.svc.clone(), s.rs_idx, s.check_idx))
        .collect();
    let mut actions = Vec::new();
    for (svc, rs_idx, check_idx) in subs {
        let Some(m) = inner.vs.get_mut(&svc) else {
            continue;
        };
        if let Some(t) = tr {
            actions.extend(m.on_transition(rs_idx, check_idx, t));
        }
        if let Some(w) = weight {
            actions.extend(m.on_weight(rs_idx, w));
        }
    }
    for a in actions {
        (inner.sink)(a);
    }
}

/// Flags units whose current cycle overruns while it overruns (a hung probe, a starved
/// semaphore), not only when the late result finally comes.
async fn watchdog(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let now = shared.now_ms();
        let mut g = shared.lock();
        for u in g.units.values_mut() {
            if !u.stalled && now > u.machine.stall_deadline() {
                u.stalled = true;
                tracing::warn!(target_addr = %u.target, check = kind_name(&u.spec.kind), overdue_ms = now - u.machine.stall_deadline(), delay_loop_ms = u.spec.timing.delay_loop_ms, "health check stalled: cycle longer than twice delay_loop");
            }
        }
    }
}

#[cfg(test)]
mod tests;
