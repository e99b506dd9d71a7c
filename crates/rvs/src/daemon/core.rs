//! The daemon's core: everything rvsd decides, as `handle(event, now) -> actions`
//! (quinn-proto's shape, like rvs-check's machines). No sockets, no clock, no threads:
//! `now` comes in, I/O goes out as [`Action`]s, and the state directory sits behind the
//! [`Store`] trait, so the core is driven by unit tests exactly as by rvsd's event loop.
//!
//! The core owns the operator's table ([`VsTable`]), the store, keepalived's plan and the
//! timers. The one lock it takes is the engine's, shared with the data path's workers, and
//! only briefly (listings, `-Z`, the engine's timers).
//!
//! A request's reply is routed by an opaque token `R` that the driver chooses (rvsd: the
//! client thread's reply channel; tests: a number), carried from [`Event::Control`] to
//! [`Action::Reply`].

use super::iostats::{self, IoStat};
use super::listing;
use super::model::Model;
use super::store::Store;
use super::txn::{OpenError, TxnError, VsTable};
use rvs_check::machine::Action as CheckAction;
use rvs_ctl::cmd::{Command, DaemonSpec, Timeouts};
use rvs_ctl::format::{ConnEntry, Table};
use rvs_ctl::proto::RequestBody;
use rvs_engine::{Adopted, Config, ConnMemory, Engine, EngineOptions, NetView};
use rvs_keepalived::plan::{action_commands, reconcile_with, service_commands, CheckTarget};
use rvs_keepalived::Plan;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// How often the data path's steering is brought in line with the kernel's addresses and
/// draining real servers, besides after every table change.
pub const RESTEER_MS: u64 = 1000;

/// The longest the loop goes without asking the engine for its deadline. The workers can
/// make an idle engine's first conn, which brings its deadline forward without the loop
/// hearing of it; expiry is exact at lookup either way, so this only bounds how late the
/// first sweep of a new conn may start.
const ENGINE_IDLE_MS: u64 = 1000;

/// When the engine next needs `poll` (absolute ms): its own deadline
/// ([`Engine::poll_timeout`]; at or before `now` while a sweep is owed), looked at again
/// after [`ENGINE_IDLE_MS`] at the latest.
fn engine_deadline(engine: &Engine, now: u64) -> u64 {
    let idle = now + ENGINE_IDLE_MS;
    engine.poll_timeout().map_or(idle, |t| t.min(idle))
}

/// What the core is told. The enum grows with the HA subsystems (VRRP, connection sync).
#[derive(Debug)]
pub enum Event<R> {
    /// A control request; the reply goes to `reply`.
    Control {
        req: RequestBody,
        reply: R,
    },
    Signal(Signal),
    /// The result of [`Action::ReadConfig`].
    ConfigRead(Result<Plan, KaError>),
    /// A health checker's decision.
    Check(CheckAction),
    /// A deadline given by [`Core::poll_timeout`] has passed.
    Timer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Reload `--config`.
    Hup,
    /// Stop cleanly.
    Term,
    Int,
}

impl Signal {
    pub fn number(self) -> i32 {
        match self {
            Signal::Hup => 1,
            Signal::Int => 2,
            Signal::Term => 15,
        }
    }
}

/// What the driver must do, in order.
#[derive(Debug)]
pub enum Action<R> {
    Reply {
        to: R,
        result: Result<Reply, TxnError>,
    },
    /// Answer `to` with the data path's I/O counters followed by these engine rows.
    ReplyIoStats {
        to: R,
        engine: Vec<IoStat>,
    },
    /// Answer `to` with the health checker's status.
    ReplyCheckStatus {
        to: R,
    },
    /// Bring the data path's steering in line with this snapshot.
    Resteer(Arc<Config>),
    /// Run a notify script (`sh -c "script args..."`), without waiting for it.
    RunScript {
        script: String,
        args: Vec<String>,
    },
    /// Read and plan the keepalived configuration; answer with [`Event::ConfigRead`].
    ReadConfig(PathBuf),
    StartChecker(Vec<CheckTarget>),
    /// A reload: unchanged checks keep their state; the checker emits only pool diffs.
    UpdateChecker(Vec<CheckTarget>),
    /// Stop the checker (omega's down notifiers still come, as [`Event::Check`]).
    StopChecker,
    /// Stop: the data path detaches, rvsd exits, with this error if there is one.
    Exit {
        error: Option<KaError>,
    },
}

/// A control request's answer, in ipvsadm's types; the control server turns it into the
/// wire's `Response`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Applied,
    Table(Table),
    Conns(Vec<ConnEntry>),
    Timeouts(Timeouts),
    Daemons(Vec<DaemonSpec>),
    IoStats(Vec<IoStat>),
    CheckStatus(Vec<String>),
}

/// Why a keepalived configuration was not taken: at startup rvsd exits with it, on a
/// reload the running configuration stays.
#[derive(Debug, thiserror::Error)]
pub enum KaError {
    /// The file does not parse (the message names file and line).
    #[error(transparent)]
    Parse(#[from] rvs_keepalived::ConfigError),
    /// It parses but does not expand into a valid table (idem).
    #[error(transparent)]
    Plan(#[from] rvs_keepalived::Diag),
    /// The table refused its services.
    #[error("{}: {source} (in {cmd:?})", path.display())]
    Apply {
        path: PathBuf,
        cmd: Option<Box<Command>>,
        source: TxnError,
    },
}

/// How rvsd runs the core.
#[derive(Clone, Debug, Default)]
pub struct CoreOptions {
    /// IPv4 conn table capacity (IPv6 gets a quarter, at least 1024).
    pub conn_capacity: u32,
    /// The engine's hash seed.
    pub seed: u64,
    /// `--config`: a keepalived.conf owns the services and its checker the real servers.
    pub keepalived: Option<PathBuf>,
    /// A data path serves interfaces: re-steer it after changes and every [`RESTEER_MS`].
    pub steering: bool,
}

/// keepalived's part of the state.
struct Keepalived {
    path: PathBuf,
    /// None until the first load.
    plan: Option<Plan>,
    /// Set by a clean stop: from then on the checker's table changes are not applied.
    stopping: bool,
}

pub struct Core {
    table: VsTable,
    store: Box<dyn Store>,
    engine: Arc<Mutex<Engine>>,
    ka: Option<Keepalived>,
    steering: bool,
    engine_due: u64,
    resteer_due: u64,
}

impl Core {
    /// Start from the table in `store`, with the data path's view of routes and neighbours
    /// and the conn tables in `mem` (shared memory a predecessor may have left: its conns
    /// are adopted).
    pub fn new(
        store: Box<dyn Store>,
        net: Arc<dyn NetView>,
        mem: Option<ConnMemory>,
        opts: CoreOptions,
    ) -> Result<(Core, Adopted), OpenError> {
        let table = VsTable::open(&*store)?;
        let eopts = EngineOptions {
            conn_capacity_v4: opts.conn_capacity,
            conn_capacity_v6: (opts.conn_capacity / 4).max(1024),
            seed: opts.seed,
        };
        let (engine, adopted) = match mem {
            Some(mem) => Engine::with_conn_memory(table.shared(), net, eopts, mem),
            None => (Engine::new(table.shared(), net, eopts), Adopted::default()),
        };
        let core = Core {
            table,
            store,
            engine: Arc::new(Mutex::new(engine)),
            ka: opts.keepalived.map(|path| Keepalived {
                path,
                plan: None,
                stopping: false,
            }),
            steering: opts.steering,
            engine_due: 0,
            resteer_due: 0,
        };
        Ok((core, adopted))
    }

    /// The engine, for the data path's workers.
    pub fn engine(&self) -> Arc<Mutex<Engine>> {
        self.engine.clone()
    }

    /// The current config snapshot.
    pub fn config(&self) -> Arc<Config> {
        self.table.config()
    }

    /// The operator's table as it stands.
    pub fn model(&self) -> &Model {
        self.table.model()
    }

    /// The first actions, before any event: load `--config`.
    pub fn start<R>(&self) -> Vec<Action<R>> {
        match &self.ka {
            Some(k) => vec![Action::ReadConfig(k.path.clone())],
            None => Vec::new(),
        }
    }

    /// When [`Event::Timer`] is next due (absolute ms on the clock `now` is on).
    pub fn poll_timeout(&mut self, now: u64) -> u64 {
        // The engine's deadline only moves earlier between polls (workers add conns).
        self.engine_due = self
            .engine_due
            .min(engine_deadline(&lock(&self.engine), now));
        if self.steering {
            self.engine_due.min(self.resteer_due)
        } else {
            self.engine_due
        }
    }

    /// Handle one event at `now` (ms on the daemon's monotonic clock, never going back);
    /// the driver does the actions in order.
    pub fn handle<R>(&mut self, event: Event<R>, now: u64) -> Vec<Action<R>> {
        let mut out = Vec::new();
        match event {
            Event::Control { req, reply } => self.control(req, reply, now, &mut out),
            Event::Signal(Signal::Hup) => match &self.ka {
                Some(k) => out.push(Action::ReadConfig(k.path.clone())),
                None => tracing::info!("SIGHUP: no --config to reload"),
            },
            Event::Signal(sig) => {
                tracing::info!(signal = sig.number(), "stopping");
                if let Some(k) = &mut self.ka {
                    // A clean stop keeps the table as it is (saved in the state directory)
                    // so that a restart adopts every connection; keepalived would clear it,
                    // but its kernel table does not outlive a reboot of the director
                    // either way, and ours is detached from the wire.
                    k.stopping = true;
                    out.push(Action::StopChecker);
                }
                out.push(Action::Exit { error: None });
            }
            Event::ConfigRead(r) => self.config_read(r, now, &mut out),
            Event::Check(a) => self.check(a, now, &mut out),
            Event::Timer => {
                if now >= self.engine_due {
                    let mut e = lock(&self.engine);
                    e.poll(now);
                    self.engine_due = engine_deadline(&e, now);
                }
                if self.steering && now >= self.resteer_due {
                    self.resteer_due = now + RESTEER_MS;
                    out.push(Action::Resteer(self.table.config()));
                }
            }
        }
        out
    }

    fn control<R>(&mut self, req: RequestBody, to: R, now: u64, out: &mut Vec<Action<R>>) {
        let reply = match req {
            // The re-steer comes before the reply: once ipvsadm returns, traffic follows.
            RequestBody::Apply(cmds) => self.transact(&cmds, now, out).map(|()| Reply::Applied),
            RequestBody::GetTable => Ok(Reply::Table(listing::table(
                self.table.model(),
                &mut lock(&self.engine),
                now,
            ))),
            RequestBody::GetConns => Ok(Reply::Conns(listing::conns(&mut lock(&self.engine), now))),
            RequestBody::GetTimeouts => Ok(Reply::Timeouts(self.table.model().timeouts())),
            RequestBody::GetDaemons => Ok(Reply::Daemons(self.table.model().daemons.clone())),
            RequestBody::GetIoStats => {
                let engine = iostats::engine_rows(&lock(&self.engine));
                out.push(Action::ReplyIoStats { to, engine });
                return;
            }
            RequestBody::GetCheckStatus if self.ka.is_some() => {
                out.push(Action::ReplyCheckStatus { to });
                return;
            }
            RequestBody::GetCheckStatus => Ok(Reply::CheckStatus(Vec::new())),
        };
        out.push(Action::Reply { to, result: reply });
    }

    /// One transaction, then what it asks of the engine and the data path.
    fn transact<R>(
        &mut self,
        cmds: &[Command],
        now: u64,
        out: &mut Vec<Action<R>>,
    ) -> Result<(), TxnError> {
        let applied = self.table.apply(cmds, &mut *self.store)?;
        if let Some(cfg) = applied.changed {
            tracing::info!(
                generation = self.table.generation(),
                commands = cmds.len(),
                "table changed"
            );
            // The engine takes a new snapshot on its next call, and the snapshot may give it
            // timers (a first service's estimators): poll it at once rather than at its
            // old deadline.
            self.engine_due = self.engine_due.min(now);
            if self.steering {
                out.push(Action::Resteer(cfg));
            }
        }
        if !applied.zero.is_empty() {
            let mut e = lock(&self.engine);
            // The engine takes the latest snapshot first, so a new service is zeroed too.
            e.poll(now);
            for k in applied.zero {
                e.zero(k.as_ref());
            }
        }
        Ok(())
    }

    /// A keepalived configuration was read: at startup, its services make the table and
    /// the checker starts; on a reload, services are diffed into -A/-E/-D and the checker
    /// updated. A configuration with an error changes nothing.
    fn config_read<R>(&mut self, r: Result<Plan, KaError>, now: u64, out: &mut Vec<Action<R>>) {
        let Some(ka) = &self.ka else {
            return;
        };
        let path = ka.path.clone();
        let first = ka.plan.is_none();
        let applied = r.and_then(|plan| {
            let cmds = service_commands(self.table.model(), &plan, first);
            match self.transact(&cmds, now, out) {
                Ok(()) => Ok(plan),
                Err(source) => Err(KaError::Apply {
                    path: path.clone(),
                    cmd: cmds.get(source.index()).cloned().map(Box::new),
                    source,
                }),
            }
        });
        let Some(ka) = &mut self.ka else {
            return;
        };
        match (applied, &mut ka.plan) {
            (Err(e), None) => out.push(Action::Exit { error: Some(e) }),
            (Err(e), Some(_)) => {
                tracing::error!("reload refused, the running configuration stays: {e}")
            }
            (Ok(plan), None) => {
                tracing::info!(config = %path.display(), "keepalived configuration loaded");
                out.push(Action::StartChecker(plan.targets.clone()));
                ka.plan = Some(plan);
            }
            (Ok(mut plan), Some(old)) => {
                // The new plan before the checker's update, so that its actions find the
                // new services and templates (old templates stay: harmless, and a late
                // action may still name them).
                for (k, v) in old.dests.drain() {
                    plan.dests.entry(k).or_insert(v);
                }
                out.push(Action::UpdateChecker(plan.targets.clone()));
                *old = plan;
                tracing::info!(path = %path.display(), "configuration reloaded");
            }
        }
    }

    /// A checker action: dest changes become a transaction on every service of the
    /// virtual server; notify scripts run even during a clean stop.
    fn check<R>(&mut self, a: CheckAction, now: u64, out: &mut Vec<Action<R>>) {
        if let CheckAction::Notify { script, args } = a {
            out.push(Action::RunScript { script, args });
            return;
        }
        let Some(Keepalived {
            plan: Some(plan),
            stopping: false,
            ..
        }) = &self.ka
        else {
            return;
        };
        tracing::info!(action = ?a, "health check");
        let cmds = reconcile_with(self.table.model(), action_commands(plan, &a));
        if cmds.is_empty() {
            return;
        }
        if let Err(e) = self.transact(&cmds, now, out) {
            tracing::warn!("applying {a:?}: {e}");
        }
    }
}

/// The engine, from the data path's lock, held briefly. A poisoned lock is taken anyway, as
/// everywhere in rvsd: a worker's panic must not also take the control plane down.
fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
