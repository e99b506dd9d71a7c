//! `rvsd --config keepalived.conf`: the configuration owns the virtual server table, the
//! health checker owns which real servers are in it.
//!
//! Both speak to the daemon in ipvsadm commands, applied as transactions through the same
//! path as `rvsadm` (validation, the saved table, one snapshot swap), so `ipvsadm -Ln`
//! shows exactly what keepalived's kernel table would. The services come from the file;
//! the real servers are added, re-weighted and removed by the checker's actions
//! (`rvs_check::Action`), which is also how a reload changes them: unchanged services and
//! their conns are untouched, a changed weight is edited in place, a removed real server is
//! drained (`-d`: its conns finish), and health is re-evaluated by the checker's update.

use super::state::Daemon;
use rvs_check::machine::Action;
use rvs_check::runner::{Checker, Target, VsTarget};
use rvs_ctl::cmd::Command;
use rvs_ctl::proto::Response;
use rvs_keepalived::plan::{action_commands, reconcile_with, service_commands, CheckTarget};
use rvs_keepalived::{KeepalivedConfig, Options, Plan, StdFs};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

fn options() -> Options {
    Options::default()
}

/// Parse `path` (with includes) into a plan.
pub fn load(path: &Path) -> Result<(KeepalivedConfig, Plan), String> {
    let cfg = rvs_keepalived::parse_file(&StdFs, path, &options()).map_err(|e| e.to_string())?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let p = rvs_keepalived::plan(&cfg).map_err(|e| e.to_string())?;
    Ok((cfg, p))
}

/// `rvsd --config-test`: like `keepalived -t`. Prints every message; the exit status says
/// whether the file would load.
pub fn config_test(path: &Path) -> i32 {
    match rvs_keepalived::config_test(&StdFs, path, &options()) {
        Ok(warnings) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            println!(
                "{}: configuration is valid ({} warning(s))",
                path.display(),
                warnings.len()
            );
            0
        }
        Err(e) => {
            for d in &e.diags {
                eprintln!("{d}");
            }
            eprintln!("{}: configuration is invalid", path.display());
            1
        }
    }
}

/// The running configuration: its plan, the checker, and the thread that applies the
/// checker's actions.
pub struct Keepalived {
    path: PathBuf,
    daemon: Arc<Mutex<Daemon>>,
    plan: Arc<Mutex<Plan>>,
    // Its own lock, never held together with the daemon's: `--check-status` reads it from
    // under the daemon lock, and a reload takes the daemon lock before it.
    checker: Mutex<Option<Checker>>,
    /// Set by a clean stop: from then on the checker's table changes are not applied.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

fn apply(daemon: &Arc<Mutex<Daemon>>, cmds: &[Command]) -> Result<(), String> {
    if cmds.is_empty() {
        return Ok(());
    }
    let mut d = daemon.lock().unwrap_or_else(|p| p.into_inner());
    match d.apply_commands(cmds) {
        Response::Ok => Ok(()),
        Response::Error { index, message, .. } => {
            Err(format!("{message} (in {:?})", cmds.get(index)))
        }
        other => Err(format!("unexpected {other:?}")),
    }
}

/// The runner's copy of the plan's targets (the plan is built without the runner).
fn checker_targets(t: &[CheckTarget]) -> Vec<VsTarget> {
    t.iter()
        .map(|t| VsTarget {
            vs: t.vs.clone(),
            real_servers: t
                .real_servers
                .iter()
                .map(|r| Target {
                    rs: r.rs.clone(),
                    alpha: r.alpha,
                    checks: r.checks.clone(),
                })
                .collect(),
        })
        .collect()
}

fn run_notify(script: &str, args: &[String]) {
    let mut line = script.to_string();
    for a in args {
        line.push(' ');
        line.push_str(a);
    }
    match std::process::Command::new("sh")
        .arg("-c")
        .arg(&line)
        .spawn()
    {
        // Reap it in the background: notify scripts are fire-and-forget in keepalived too.
        Ok(mut c) => {
            std::thread::spawn(move || {
                let _ = c.wait();
            });
        }
        Err(e) => tracing::warn!("notify {line}: {e}"),
    }
}

impl Keepalived {
    /// Load `path`, apply its services, start checking. Nothing is applied if the file has
    /// an error.
    pub fn start(path: &Path, daemon: Arc<Mutex<Daemon>>) -> anyhow::Result<Keepalived> {
        let (_, plan) = load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let cmds = {
            let d = daemon.lock().unwrap_or_else(|p| p.into_inner());
            service_commands(d.model(), &plan, true)
        };
        apply(&daemon, &cmds).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let plan = Arc::new(Mutex::new(plan));
        let (tx, rx) = mpsc::channel::<Action>();
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let daemon = daemon.clone();
            let plan = plan.clone();
            let stopping = stopping.clone();
            std::thread::Builder::new()
                .name("rvs-ka-apply".into())
                .spawn(move || {
                    for a in rx {
                        if let Action::Notify { script, args } = &a {
                            run_notify(script, args);
                            continue;
                        }
                        // A clean stop keeps the table as it is (saved in the state
                        // directory) so that a restart adopts every connection; keepalived
                        // would clear it, but its kernel table does not outlive a reboot of
                        // the director either way, and ours is detached from the wire.
                        if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                            continue;
                        }
                        tracing::info!(action = ?a, "health check");
                        let cmds =
                            action_commands(&plan.lock().unwrap_or_else(|p| p.into_inner()), &a);
                        let mut d = daemon.lock().unwrap_or_else(|p| p.into_inner());
                        let cmds = reconcile_with(d.model(), cmds);
                        if cmds.is_empty() {
                            continue;
                        }
                        if let Response::Error { message, .. } = d.apply_commands(&cmds) {
                            tracing::warn!("applying {a:?}: {message}");
                        }
                    }
                })?;
        }
        let targets = checker_targets(&plan.lock().unwrap_or_else(|p| p.into_inner()).targets);
        let checker = Checker::start(targets, move |a| {
            let _ = tx.send(a);
        });
        Ok(Keepalived {
            path: path.to_path_buf(),
            daemon,
            plan,
            checker: Mutex::new(Some(checker)),
            stopping,
        })
    }

    /// SIGHUP: re-read the file; a file with an error changes nothing.
    pub fn reload(&self) {
        let (_, new) = match load(&self.path) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("reload refused, the running configuration stays: {e}");
                return;
            }
        };
        let cmds = {
            let d = self.daemon.lock().unwrap_or_else(|p| p.into_inner());
            service_commands(d.model(), &new, false)
        };
        if let Err(e) = apply(&self.daemon, &cmds) {
            tracing::error!("reload refused, the running configuration stays: {e}");
            return;
        }
        let targets = checker_targets(&new.targets);
        // The new plan before the checker's update, so that its actions find the new
        // services and templates (old templates stay: harmless, and a late action may
        // still name them).
        {
            let mut p = self.plan.lock().unwrap_or_else(|p| p.into_inner());
            let mut merged = new;
            for (k, v) in p.dests.drain() {
                merged.dests.entry(k).or_insert(v);
            }
            *p = merged;
        }
        if let Some(c) = &*self.checker.lock().unwrap_or_else(|p| p.into_inner()) {
            c.update(targets);
        }
        tracing::info!(path = %self.path.display(), "configuration reloaded");
    }

    /// Health states for `rvsadm --check-status`: each virtual server's quorum and pool,
    /// then each distinct probe, with stalls flagged.
    pub fn status(&self) -> Vec<String> {
        let g = self.checker.lock().unwrap_or_else(|p| p.into_inner());
        let Some(c) = &*g else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in c.vs_status() {
            let pool: Vec<String> = v.pool.iter().map(|(a, w)| format!("{a} w{w}")).collect();
            out.push(format!(
                "{}: quorum {} (live weight {}), pool [{}]",
                v.svc,
                if v.quorum_up { "up" } else { "DOWN" },
                v.weight_sum,
                pool.join(", ")
            ));
        }
        for s in c.status() {
            out.push(format!(
                "  {} {} {}{} probes={} last={} {}ms {}",
                s.kind,
                s.target,
                if s.up { "UP" } else { "DOWN" },
                if s.stalled { " STALLED" } else { "" },
                s.probes,
                match s.last_ok {
                    Some(true) => "ok",
                    Some(false) => "failed",
                    None => "-",
                },
                s.last_duration_ms
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                s.last_detail
            ));
        }
        out
    }

    /// A clean stop: the checker ends (omega's down notifiers still run), the table stays.
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let c = self
            .checker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(c) = c {
            c.stop();
        }
    }
}
