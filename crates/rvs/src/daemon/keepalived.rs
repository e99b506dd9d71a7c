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

use super::model::Model;
use super::state::Daemon;
use rvs_check::machine::{Action, RsConfig, SvcId, VsConfig};
use rvs_check::runner::{Checker, Target, VsTarget};
use rvs_ctl::cmd::{
    self, Command, DestSpec, Forward, Netmask, Protocol, ServiceKey, ServiceSpec, TunnelCsum,
    TunnelType,
};
use rvs_ctl::proto::Response;
use rvs_engine::config::{FwdMethod, ServiceConfig, SvcKey, TunCsum, TunType};
use rvs_keepalived::{KeepalivedConfig, Options, Script, StdFs, VirtualServer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

/// What a configuration asks of the table and of the checker.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Each virtual server's id (stable across reloads) and the services it expands to.
    pub services: Vec<(SvcId, Vec<ServiceSpec>)>,
    /// How each real server (and sorry server) of a virtual server is forwarded to.
    pub dests: HashMap<(SvcId, SocketAddr), DestSpec>,
    pub targets: Vec<VsTarget>,
    pub timeouts: Option<cmd::Timeouts>,
    pub fwmark_rules: Vec<cmd::FwmarkRule>,
    pub flush: bool,
}

fn svc_id(vs: &VirtualServer) -> SvcId {
    let proto = match vs.protocol {
        rvs_proto::Proto::Tcp => "TCP",
        rvs_proto::Proto::Udp => "UDP",
        rvs_proto::Proto::Sctp => "SCTP",
    };
    SvcId(match &vs.key {
        rvs_keepalived::VsKey::Addr { addr, port } => {
            format!("{proto} {}", SocketAddr::new(*addr, *port))
        }
        rvs_keepalived::VsKey::Fwmark { mark } => format!("FWM {mark}"),
        rvs_keepalived::VsKey::Group(g) => format!("{proto} group {g}"),
    })
}

fn protocol(p: rvs_proto::Proto) -> Protocol {
    match p {
        rvs_proto::Proto::Tcp => Protocol::Tcp,
        rvs_proto::Proto::Udp => Protocol::Udp,
        rvs_proto::Proto::Sctp => Protocol::Sctp,
    }
}

/// The ipvsadm service spec of an engine service (the inverse of model.rs's mapping).
fn spec_of(s: &ServiceConfig) -> ServiceSpec {
    let (key, v6) = match s.key {
        SvcKey::Addr { proto, addr, port } => (
            ServiceKey::Inet {
                protocol: protocol(proto),
                addr,
                port,
            },
            addr.is_ipv6(),
        ),
        SvcKey::Fwmark { mark, v6 } => (ServiceKey::Fwmark { mark, ipv6: v6 }, v6),
    };
    let prefix = s.persistence.map(|p| p.prefix);
    let netmask = if v6 {
        Netmask::V6(prefix.unwrap_or(128))
    } else {
        let p = prefix.unwrap_or(32).min(32) as u32;
        let m = if p == 0 { 0 } else { u32::MAX << (32 - p) };
        Netmask::V4(m.into())
    };
    let f = s.sched_flags.0;
    let bit = |engine: u32, cli: u8| if f & engine != 0 { cli } else { 0 };
    let sched_flags = bit(rvs_sched::SchedFlags::SCHED1, cmd::SCHED_FLAG_1)
        | bit(rvs_sched::SchedFlags::SCHED2, cmd::SCHED_FLAG_2)
        | bit(rvs_sched::SchedFlags::SCHED3, cmd::SCHED_FLAG_3);
    ServiceSpec {
        key,
        scheduler: s.sched.clone(),
        persistence: s.persistence.map(|p| p.timeout_s),
        netmask,
        pe: s.pe.clone(),
        one_packet: s.ops,
        sched_flags,
        laddrs: s.laddrs.clone(),
    }
}

fn dest_spec(addr: IpAddr, port: u16, fwd: &FwdMethod, weight: u32, u: u32, l: u32) -> DestSpec {
    let (forward, tun_type, tun_port, tun_csum) = match fwd {
        FwdMethod::Masq => (Forward::Masq, TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        FwdMethod::Route => (Forward::Route, TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        FwdMethod::FullNat => (Forward::FullNat, TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        FwdMethod::Tunnel { tun, csum } => {
            let (t, p) = match tun {
                TunType::Ipip => (TunnelType::Ipip, 0),
                TunType::Gue { port } => (TunnelType::Gue, *port),
                TunType::Gre => (TunnelType::Gre, 0),
            };
            let c = match csum {
                TunCsum::NoCsum => TunnelCsum::NoCsum,
                TunCsum::Csum => TunnelCsum::Csum,
                TunCsum::RemCsum => TunnelCsum::RemCsum,
            };
            (Forward::Tunnel, t, p, c)
        }
    };
    DestSpec {
        addr,
        port,
        forward,
        weight,
        u_threshold: u,
        l_threshold: l,
        tun_type,
        tun_port,
        tun_csum,
    }
}

fn script(s: &Option<Script>) -> Option<String> {
    s.as_ref().map(|s| s.command.clone())
}

/// Turn a parsed configuration into a plan; errors name file and line.
pub fn plan(cfg: &KeepalivedConfig) -> Result<Plan, String> {
    // The whole file must expand and validate before anything is applied.
    let tables = rvs_keepalived::to_engine(cfg).map_err(|d| d.to_string())?;
    let mut p = Plan {
        flush: cfg.global.lvs_flush,
        ..Plan::default()
    };
    let t = cfg.global.lvs_timeouts;
    if t.tcp.is_some() || t.tcpfin.is_some() || t.udp.is_some() {
        let (tcp, fin, udp) = tables.settings.timeouts.get();
        p.timeouts = Some(cmd::Timeouts {
            tcp,
            tcp_fin: fin,
            udp,
        });
    }
    for r in &tables.fwmark_rules {
        p.fwmark_rules.push(cmd::FwmarkRule {
            protocol: protocol(r.proto.unwrap_or(rvs_proto::Proto::Tcp)),
            addr: r.daddr,
            prefix: r.prefix,
            port_lo: r.dport_lo,
            port_hi: r.dport_hi,
            mark: r.mark,
        });
    }
    for vs in &cfg.virtual_servers {
        // Each virtual server alone gives the services it expands to (a group, many).
        let one = KeepalivedConfig {
            virtual_servers: vec![vs.clone()],
            groups: cfg.groups.clone(),
            ..KeepalivedConfig::default()
        };
        let t = rvs_keepalived::to_engine(&one).map_err(|d| d.to_string())?;
        if t.services.is_empty() {
            continue;
        }
        let id = svc_id(vs);
        p.services
            .push((id.clone(), t.services.iter().map(spec_of).collect()));
        let mut reals = Vec::new();
        for rs in &vs.real_servers {
            let sa = SocketAddr::new(rs.addr, rs.port);
            p.dests.insert(
                (id.clone(), sa),
                dest_spec(
                    rs.addr,
                    rs.port,
                    &rs.fwd,
                    rs.weight,
                    rs.uthreshold,
                    rs.lthreshold,
                ),
            );
            reals.push(Target {
                rs: RsConfig {
                    rs: sa,
                    weight: rs.weight,
                    inhibit_on_failure: rs.inhibit_on_failure,
                    notify_up: script(&rs.notify_up),
                    notify_down: script(&rs.notify_down),
                },
                alpha: rs.alpha,
                checks: rs.checks.clone(),
            });
        }
        let sorry = vs.sorry_server.as_ref().map(|s| {
            let sa = SocketAddr::new(s.addr, s.port);
            p.dests
                .insert((id.clone(), sa), dest_spec(s.addr, s.port, &s.fwd, 1, 0, 0));
            (sa, 1)
        });
        p.targets.push(VsTarget {
            vs: VsConfig {
                svc: id,
                quorum: vs.quorum as u64,
                hysteresis: vs.hysteresis as u64,
                quorum_up: script(&vs.quorum_up),
                quorum_down: script(&vs.quorum_down),
                sorry_server: sorry,
                sorry_server_inhibit: vs.sorry_server.as_ref().is_some_and(|s| s.inhibit),
                omega: vs.omega,
            },
            real_servers: reals,
        });
    }
    Ok(p)
}

/// The commands that bring the table's services (not their real servers: the checker's
/// business) and global settings to `plan`.
pub fn service_commands(model: &Model, plan: &Plan, first: bool) -> Vec<Command> {
    let mut out = Vec::new();
    if first && plan.flush {
        out.push(Command::Flush);
    }
    let want: HashMap<ServiceKey, &ServiceSpec> = plan
        .services
        .iter()
        .flat_map(|(_, specs)| specs.iter().map(|s| (s.key, s)))
        .collect();
    for s in &model.services {
        if !want.contains_key(&s.spec.key) {
            out.push(Command::DelService(s.spec.key));
        }
    }
    // At start the checker's view of each pool is empty; a table restored from the state
    // directory may still hold real servers, which would then never be taken out. Clear
    // them (their conns drain and are adopted as usual); the checker adds the live ones
    // within milliseconds.
    if first {
        for s in &model.services {
            if want.contains_key(&s.spec.key) {
                for d in &s.dests {
                    out.push(Command::DelDest {
                        service: s.spec.key,
                        addr: d.spec.addr,
                        port: d.spec.port,
                    });
                }
            }
        }
    }
    let have: HashMap<ServiceKey, &ServiceSpec> = model
        .services
        .iter()
        .map(|s| (s.spec.key, &s.spec))
        .collect();
    for (_, specs) in &plan.services {
        for spec in specs {
            match have.get(&spec.key) {
                None => out.push(Command::AddService(spec.clone())),
                Some(cur) if *cur != spec => out.push(Command::EditService(spec.clone())),
                Some(_) => {}
            }
        }
    }
    for r in &model.fwmark_rules {
        if !plan.fwmark_rules.contains(r) {
            out.push(Command::DelFwmarkRule(*r));
        }
    }
    for r in &plan.fwmark_rules {
        if !model.fwmark_rules.contains(r) {
            out.push(Command::AddFwmarkRule(*r));
        }
    }
    if let Some(t) = plan.timeouts {
        out.push(Command::SetTimeout(t));
    }
    out
}

/// The commands of one checker action: the same change on every service the virtual
/// server expands to.
pub fn action_commands(plan: &Plan, a: &Action) -> Vec<Command> {
    let (svc, rs) = match a {
        Action::AddDest { svc, rs, .. }
        | Action::SetWeight { svc, rs, .. }
        | Action::RemoveDest { svc, rs } => (svc, *rs),
        _ => return Vec::new(),
    };
    let Some((_, specs)) = plan.services.iter().find(|(id, _)| id == svc) else {
        return Vec::new();
    };
    let tmpl = plan.dests.get(&(svc.clone(), rs));
    if tmpl.is_none() && !matches!(a, Action::RemoveDest { .. }) {
        return Vec::new();
    }
    let tmpl = tmpl
        .cloned()
        .unwrap_or_else(|| dest_spec(rs.ip(), rs.port(), &FwdMethod::Masq, 0, 0, 0));
    specs
        .iter()
        .map(|s| match a {
            Action::AddDest { weight, .. } => Command::AddDest {
                service: s.key,
                dest: DestSpec {
                    weight: *weight,
                    ..tmpl.clone()
                },
            },
            Action::SetWeight { weight, .. } => Command::EditDest {
                service: s.key,
                dest: DestSpec {
                    weight: *weight,
                    ..tmpl.clone()
                },
            },
            _ => Command::DelDest {
                service: s.key,
                addr: rs.ip(),
                port: rs.port(),
            },
        })
        .collect()
}

/// An add for a real server the table already has is an edit, and an edit or delete of one
/// it lacks is nothing: the table may have been changed behind the checker's back (an
/// operator's ipvsadm), and one stale command must not fail the whole transaction.
fn reconcile_with(model: &Model, cmds: Vec<Command>) -> Vec<Command> {
    let has = |k: &ServiceKey, addr: IpAddr, port: u16| {
        model
            .services
            .iter()
            .find(|s| s.spec.key == *k)
            .is_some_and(|s| {
                s.dests
                    .iter()
                    .any(|d| d.spec.addr == addr && d.spec.port == port)
            })
    };
    cmds.into_iter()
        .filter_map(|c| match c {
            Command::AddDest { service, dest } if has(&service, dest.addr, dest.port) => {
                Some(Command::EditDest { service, dest })
            }
            Command::EditDest { service, ref dest } if !has(&service, dest.addr, dest.port) => None,
            Command::DelDest {
                service,
                addr,
                port,
            } if !has(&service, addr, port) => None,
            c => Some(c),
        })
        .collect()
}

fn options() -> Options {
    Options::default()
}

/// Parse `path` (with includes) into a plan.
pub fn load(path: &Path) -> Result<(KeepalivedConfig, Plan), String> {
    let cfg = rvs_keepalived::parse_file(&StdFs, path, &options()).map_err(|e| e.to_string())?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let p = plan(&cfg)?;
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
        let targets = plan
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .targets
            .clone();
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
        let targets = new.targets.clone();
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

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_keepalived::MemFs;

    const CONF: &str = "virtual_server_group web {\n  10.0.0.1-2 80\n}\n\
        virtual_server group web {\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n  \
        persistence_timeout 60\n  sorry_server 172.16.0.9 80\n  \
        real_server 172.16.0.2 80 {\n    weight 3\n    TCP_CHECK {\n    }\n  }\n}\n";

    fn plan_of(text: &str) -> Plan {
        let cfg = rvs_keepalived::parse_text(
            &MemFs::new(),
            Path::new("/etc/keepalived/keepalived.conf"),
            text,
            &Options::default(),
        )
        .unwrap();
        plan(&cfg).unwrap()
    }

    #[test]
    fn a_group_becomes_services_and_actions_reach_each() {
        let p = plan_of(CONF);
        assert_eq!(p.services.len(), 1);
        let (id, specs) = &p.services[0];
        assert_eq!(id.0, "TCP group web");
        assert_eq!(specs.len(), 2, "10.0.0.1 and 10.0.0.2");
        assert!(specs
            .iter()
            .all(|s| s.scheduler == "wrr" && s.persistence == Some(60)));
        let cmds = service_commands(&Model::default(), &p, true);
        assert_eq!(
            cmds.iter()
                .filter(|c| matches!(c, Command::AddService(_)))
                .count(),
            2
        );
        let rs: SocketAddr = "172.16.0.2:80".parse().unwrap();
        let add = action_commands(
            &p,
            &Action::AddDest {
                svc: id.clone(),
                rs,
                weight: 3,
            },
        );
        assert_eq!(add.len(), 2);
        match &add[0] {
            Command::AddDest { dest, .. } => {
                assert_eq!((dest.forward, dest.weight), (Forward::Route, 3));
            }
            c => panic!("{c:?}"),
        }
        // The sorry server has a template too.
        let sorry = "172.16.0.9:80".parse().unwrap();
        assert!(p.dests.contains_key(&(id.clone(), sorry)));
        // Unknown services and non-table actions give nothing.
        let none = action_commands(
            &p,
            &Action::RemoveDest {
                svc: SvcId("nope".into()),
                rs,
            },
        );
        assert!(none.is_empty());
    }

    #[test]
    fn stale_checker_commands_are_reconciled_with_the_table() {
        let p = plan_of(CONF);
        let mut m = Model::default();
        for c in service_commands(&m.clone(), &p, true) {
            m.apply(&c).unwrap();
        }
        let id = p.services[0].0.clone();
        let rs: SocketAddr = "172.16.0.2:80".parse().unwrap();
        let add = action_commands(
            &p,
            &Action::AddDest {
                svc: id.clone(),
                rs,
                weight: 3,
            },
        );
        let first = reconcile_with(&m, add.clone());
        assert!(first.iter().all(|c| matches!(c, Command::AddDest { .. })));
        for c in &first {
            m.apply(c).unwrap();
        }
        // Adding again (the table already has it) edits instead; removing twice is once.
        let again = reconcile_with(&m, add);
        assert!(again.iter().all(|c| matches!(c, Command::EditDest { .. })));
        let del = action_commands(&p, &Action::RemoveDest { svc: id, rs });
        for c in reconcile_with(&m, del.clone()) {
            m.apply(&c).unwrap();
        }
        assert!(reconcile_with(&m, del).is_empty());
        // A restart's first pass clears dests a restored table still has.
        let mut restored = m.clone();
        for c in &first {
            restored.apply(c).unwrap();
        }
        let start = service_commands(&restored, &p, true);
        assert_eq!(
            start
                .iter()
                .filter(|c| matches!(c, Command::DelDest { .. }))
                .count(),
            2
        );
    }
}
