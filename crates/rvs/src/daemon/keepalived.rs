//! `rvsd --config keepalived.conf`, the runtime side: reading the file, the health checker
//! on its own runtime, notify scripts, and `--check-status`.
//!
//! What the file means is rvs-keepalived's (`rvs_keepalived::plan`); what is done with it is
//! the daemon core's: the configuration owns the services and the checker's actions add,
//! re-weight and remove the real servers, all as transactions through the same path as
//! `rvsadm`, so `ipvsadm -Ln` shows exactly what keepalived's kernel table would.

use super::core::KaError;
use rvs_check::machine::Action;
use rvs_check::runner::{Checker, Target, VsTarget};
use rvs_io::vrrp::VrrpIoError;
use rvs_keepalived::diag::{Diag, Pos};
use rvs_keepalived::plan::CheckTarget;
use rvs_keepalived::{Options, Plan, StdFs};
use rvs_vrrp::VrrpConfig;
use std::path::Path;

fn options() -> Options {
    Options::default()
}

/// Read `path` (with its includes), plan it, and check its VRRP part against the system;
/// warnings go to the log.
pub fn load(path: &Path) -> Result<Plan, KaError> {
    let cfg = rvs_keepalived::parse_file(&StdFs, path, &options())?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let plan = rvs_keepalived::plan(&cfg)?;
    check_vrrp(path, &plan.vrrp)?;
    Ok(plan)
}

/// The VRRP part's interfaces and advert sources, checked here (I/O is allowed on this
/// side) rather than by the runner after the core committed the file: a bad one refuses
/// the whole file like a parse error, at start and on reload, and core and runner never
/// disagree.
fn check_vrrp(path: &Path, vrrp: &VrrpConfig) -> Result<(), KaError> {
    if vrrp.is_empty() {
        return Ok(());
    }
    match rvs_io::vrrp::check(vrrp) {
        Ok(()) => Ok(()),
        Err(VrrpIoError::Interface {
            instance,
            iface,
            message,
        }) => {
            // `pos` is the vrrp_instance's FILE:LINE.
            let pos = vrrp
                .instances
                .iter()
                .find(|i| i.name == instance)
                .map_or("", |i| i.pos.as_str());
            let (file, line) = pos
                .rsplit_once(':')
                .and_then(|(f, l)| Some((f, l.parse().ok()?)))
                .unwrap_or((pos, 0));
            Err(KaError::Plan(Diag::error(
                &Pos::new(file, line),
                "vrrp_instance",
                format!("{instance}: interface {iface:?}: {message}"),
            )))
        }
        Err(source) => Err(KaError::Vrrp {
            path: path.to_path_buf(),
            source,
        }),
    }
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

/// The runner's copy of the plan's targets (the plan is made without the runner).
fn targets(t: &[CheckTarget]) -> Vec<VsTarget> {
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

/// Start checking; every action goes to `sink` (the event loop's channel).
pub fn start_checker(t: &[CheckTarget], sink: impl Fn(Action) + Send + 'static) -> Checker {
    Checker::start(targets(t), sink)
}

/// A reload: unchanged checks keep their state.
pub fn update_checker(c: &Checker, t: &[CheckTarget]) {
    c.update(targets(t));
}

/// `sh -c "script args..."`, not waited for: notify scripts are fire-and-forget in
/// keepalived too.
pub fn run_notify(script: &str, args: &[String]) {
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
        // Reap it in the background.
        Ok(mut c) => {
            std::thread::spawn(move || {
                let _ = c.wait();
            });
        }
        Err(e) => tracing::warn!("notify {line}: {e}"),
    }
}

/// Health states for `rvsadm --check-status`: each virtual server's quorum and pool, then
/// each distinct probe, with stalls flagged.
pub fn status(c: &Checker) -> Vec<String> {
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
