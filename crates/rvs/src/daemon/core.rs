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
use rvs_engine::{Adopted, Config, ConnMemory, Engine, EngineOptions, NetView, VipOwnership};
use rvs_io::vrrp::VrrpEvent;
use rvs_keepalived::plan::{action_commands, reconcile_with, service_commands, CheckTarget};
use rvs_keepalived::Plan;
use rvs_vrrp::VrrpConfig;
use std::collections::BTreeSet;
use std::net::IpAddr;
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
    /// The VRRP runner's news: an instance changed state (its VIPs' ownership already
    /// follows).
    Vrrp(VrrpEvent),
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
    /// Answer `to` with the VRRP runner's status lines.
    ReplyVrrpStatus {
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
    /// Start the VRRP runner (its news comes back as [`Event::Vrrp`]). The instances' VIPs
    /// are already marked not owned: the runner marks them owned on MASTER.
    StartVrrp(VrrpConfig),
    /// A reload: unchanged instances keep their state.
    ReconfigureVrrp(VrrpConfig),
    /// Stop the VRRP runner cleanly: MASTERs send priority 0 and release their VIPs.
    StopVrrp,
    /// Mark these addresses owned again: VIPs that a reload took out of every VRRP
    /// instance are plain service addresses from now on, as without VRRP (after the
    /// runner's release, hence an action rather than done in the core).
    OwnVips(Vec<IpAddr>),
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
    VrrpStatus(Vec<String>),
    /// The request is understood but what it asks about cannot answer (the message says
    /// why).
    Unavailable(String),
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
    /// The VRRP runner could not start (at startup rvsd exits with it).
    #[error("{}: VRRP: {source}", path.display())]
    Vrrp {
        path: PathBuf,
        source: rvs_io::vrrp::VrrpIoError,
    },
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

    /// `--config`, if any.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.ka.as_ref().map(|k| k.path.clone())
    }

    /// The engine's VIP-ownership overlay, for the VRRP runner.
    pub fn vip_ownership(&self) -> VipOwnership {
        lock(&self.engine).vip_ownership()
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
                    // VRRP first, while the data path and the real servers still serve:
                    // a MASTER's priority 0 hands the VIPs over to the backup at once.
                    if k.plan.as_ref().is_some_and(|p| !p.vrrp.is_empty()) {
                        out.push(Action::StopVrrp);
                    }
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
            Event::Vrrp(VrrpEvent::Transition {
                instance,
                from,
                to,
                reason,
            }) => {
                tracing::info!(%instance, ?from, ?to, %reason, "VRRP transition");
                // The runner changed the VIPs' ownership: ARP/NS steering and the
                // announcements of a new MASTER's VIPs follow at once, not at the next tick.
                if self.steering {
                    out.push(Action::Resteer(self.table.config()));
                }
            }
            Event::Vrrp(VrrpEvent::Failed { reason }) => {
                // The runner released every VIP on its way out: steering follows (the
                // event loop drops the runner and --vrrp-status says why).
                tracing::error!(%reason, "VRRP failed; a reload (SIGHUP) starts it again");
                if self.steering {
                    out.push(Action::Resteer(self.table.config()));
                }
            }
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
            RequestBody::GetVrrpStatus if self.running_vrrp().is_some() => {
                out.push(Action::ReplyVrrpStatus { to });
                return;
            }
            RequestBody::GetVrrpStatus => Ok(Reply::VrrpStatus(Vec::new())),
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
            // Silent from the first moment: the new instances' VIPs are marked not owned
            // before the transaction hands them to the workers and before its re-steer
            // (or the data path's start) could answer or announce them. The runner marks
            // them owned only on MASTER.
            let silenced = self.silence_new_vips(&plan.vrrp);
            let cmds = service_commands(self.table.model(), &plan, first);
            match self.transact(&cmds, now, out) {
                Ok(()) => Ok(plan),
                Err(source) => {
                    // A refused file changes nothing, ownership included.
                    let vips = self.vip_ownership();
                    for a in silenced {
                        vips.set_owned(a, true);
                    }
                    Err(KaError::Apply {
                        path: path.clone(),
                        cmd: cmds.get(source.index()).cloned().map(Box::new),
                        source,
                    })
                }
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
                if !plan.vrrp.is_empty() {
                    out.push(Action::StartVrrp(plan.vrrp.clone()));
                }
                out.push(Action::StartChecker(plan.targets.clone()));
                ka.plan = Some(plan);
            }
            (Ok(mut plan), Some(old)) => {
                match (old.vrrp.is_empty(), plan.vrrp.is_empty()) {
                    (true, true) => {}
                    (true, false) => out.push(Action::StartVrrp(plan.vrrp.clone())),
                    (false, true) => out.push(Action::StopVrrp),
                    (false, false) => out.push(Action::ReconfigureVrrp(plan.vrrp.clone())),
                }
                let freed: Vec<IpAddr> = instance_vips(&old.vrrp)
                    .difference(&instance_vips(&plan.vrrp))
                    .copied()
                    .collect();
                if !freed.is_empty() {
                    out.push(Action::OwnVips(freed));
                    if self.steering {
                        out.push(Action::Resteer(self.table.config()));
                    }
                }
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

    /// The VRRP configuration running now; `None` without any instance.
    fn running_vrrp(&self) -> Option<&VrrpConfig> {
        let plan = self.ka.as_ref()?.plan.as_ref()?;
        Some(&plan.vrrp).filter(|v| !v.is_empty())
    }

    /// Mark not owned the VIPs of `next` that no running instance manages yet (a running
    /// instance's VIPs are the runner's: a MASTER keeps them through a reload). Returns
    /// those whose mark changed.
    fn silence_new_vips(&self, next: &VrrpConfig) -> Vec<IpAddr> {
        let running = self.running_vrrp().map(instance_vips).unwrap_or_default();
        let vips = self.vip_ownership();
        instance_vips(next)
            .difference(&running)
            .copied()
            .filter(|a| vips.set_owned(*a, false))
            .collect()
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

/// Every address VRRP decides the ownership of: each instance's `virtual_ipaddress` and
/// `virtual_ipaddress_excluded`.
fn instance_vips(cfg: &VrrpConfig) -> BTreeSet<IpAddr> {
    cfg.instances
        .iter()
        .flat_map(|i| i.vips.iter().chain(&i.vips_excluded))
        .map(|v| v.addr)
        .collect()
}

/// The engine, from the data path's lock, held briefly. A poisoned lock is taken anyway, as
/// everywhere in rvsd: a worker's panic must not also take the control plane down.
fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
