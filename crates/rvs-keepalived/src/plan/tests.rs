use super::*;
use crate::{MemFs, Options};
use std::path::Path;

const CONF: &str = "virtual_server_group web {\n  10.0.0.1-2 80\n}\n\
    virtual_server group web {\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n  \
    persistence_timeout 60\n  sorry_server 172.16.0.9 80\n  \
    real_server 172.16.0.2 80 {\n    weight 3\n    TCP_CHECK {\n    }\n  }\n}\n";

/// CONF's real server.
const RS: &str = "172.16.0.2:80";

/// The commands of the checker's "add CONF's real server with weight 3".
fn add_rs(p: &Plan, svc: &SvcId) -> Vec<Command> {
    let a = Action::AddDest {
        svc: svc.clone(),
        rs: RS.parse().unwrap(),
        weight: 3,
    };
    action_commands(p, &a)
}

fn plan_of(text: &str) -> Plan {
    let cfg = crate::parse_text(
        &MemFs::new(),
        Path::new("/etc/keepalived/keepalived.conf"),
        text,
        &Options::default(),
    )
    .unwrap();
    plan(&cfg).unwrap()
}

/// A table that answers as IPVS would for the commands a plan gives (the daemon's model
/// does the same, with more).
#[derive(Clone, Default)]
struct Tbl {
    services: Vec<(ServiceSpec, Vec<SocketAddr>)>,
    rules: Vec<FwmarkRule>,
}

impl Table for Tbl {
    fn services(&self) -> impl Iterator<Item = &ServiceSpec> {
        self.services.iter().map(|(s, _)| s)
    }
    fn dests(&self, key: &ServiceKey) -> Vec<SocketAddr> {
        self.services
            .iter()
            .find(|(s, _)| s.key == *key)
            .map(|(_, d)| d.clone())
            .unwrap_or_default()
    }
    fn fwmark_rules(&self) -> &[FwmarkRule] {
        &self.rules
    }
}

impl Tbl {
    fn apply(&mut self, c: &Command) -> Result<(), String> {
        let svc = |t: &mut Tbl, k: &ServiceKey| t.services.iter().position(|(s, _)| s.key == *k);
        match c {
            Command::AddService(s) if svc(self, &s.key).is_none() => {
                self.services.push((s.clone(), vec![]))
            }
            Command::EditService(s) => {
                let i = svc(self, &s.key).ok_or("no such service")?;
                self.services[i].0 = s.clone();
            }
            Command::DelService(k) => {
                let i = svc(self, k).ok_or("no such service")?;
                self.services.remove(i);
            }
            Command::AddDest { service, dest } => {
                let i = svc(self, service).ok_or("service not defined")?;
                let sa = SocketAddr::new(dest.addr, dest.port);
                if self.services[i].1.contains(&sa) {
                    return Err("destination already exists".into());
                }
                self.services[i].1.push(sa);
            }
            Command::EditDest { service, dest } => {
                let i = svc(self, service).ok_or("service not defined")?;
                let sa = SocketAddr::new(dest.addr, dest.port);
                if !self.services[i].1.contains(&sa) {
                    return Err("no such destination".into());
                }
            }
            Command::DelDest {
                service,
                addr,
                port,
            } => {
                let i = svc(self, service).ok_or("service not defined")?;
                let n = self.services[i].1.len();
                self.services[i]
                    .1
                    .retain(|d| *d != SocketAddr::new(*addr, *port));
                if self.services[i].1.len() == n {
                    return Err("no such destination".into());
                }
            }
            Command::Flush => self.services.clear(),
            Command::AddFwmarkRule(r) => self.rules.push(*r),
            Command::DelFwmarkRule(r) => self.rules.retain(|x| x != r),
            Command::SetTimeout(_) => {}
            c => return Err(format!("unexpected {c:?}")),
        }
        Ok(())
    }
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
    let cmds = service_commands(&Tbl::default(), &p, true);
    assert_eq!(
        cmds.iter()
            .filter(|c| matches!(c, Command::AddService(_)))
            .count(),
        2
    );
    let rs: SocketAddr = RS.parse().unwrap();
    let add = add_rs(&p, id);
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
    let quorum = Action::Quorum {
        svc: id.clone(),
        up: true,
        weight_sum: 3,
        threshold: 1,
    };
    assert!(action_commands(&p, &quorum).is_empty());
}

#[test]
fn stale_checker_commands_are_reconciled_with_the_table() {
    let p = plan_of(CONF);
    let mut m = Tbl::default();
    for c in service_commands(&m.clone(), &p, true) {
        m.apply(&c).unwrap();
    }
    let id = p.services[0].0.clone();
    let rs: SocketAddr = RS.parse().unwrap();
    let add = add_rs(&p, &id);
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

#[test]
fn a_reload_diffs_services_rules_and_timeouts() {
    let base = "global_defs {\n  lvs_timeouts tcp 7200\n}\n\
        rvs_fwmark_rules {\n  rule tcp 10.0.1.0/24 80 mark 7\n}\n\
        virtual_server 10.0.0.1 80 {\n  protocol TCP\n  lb_algo rr\n  \
        real_server 172.16.0.2 80 {\n  }\n}\n\
        virtual_server fwmark 7 {\n  lb_algo rr\n  real_server 172.16.0.3 80 {\n  }\n}\n";
    let p = plan_of(base);
    assert_eq!(
        p.timeouts,
        Some(cmd::Timeouts {
            tcp: 7200,
            tcp_fin: 120,
            udp: 300
        }),
        "the timeouts left out are the defaults"
    );
    let mut m = Tbl::default();
    for c in service_commands(&m.clone(), &p, true) {
        m.apply(&c).unwrap();
    }
    assert_eq!(m.rules.len(), 1);
    // Nothing changed: only the timeouts are set again.
    let same = service_commands(&m, &p, false);
    assert!(
        same.iter().all(|c| matches!(c, Command::SetTimeout(_))),
        "{same:?}"
    );
    // Another scheduler is an edit, a removed virtual server a delete, a new rule an add.
    let edited = base
        .replace(
            "lb_algo rr\n  real_server 172.16.0.2",
            "lb_algo wlc\n  real_server 172.16.0.2",
        )
        .replace("mark 7\n}", "mark 7\n  rule udp 10.0.2.0/24 53 mark 8\n}")
        .replace(
            "virtual_server fwmark 7 {\n  lb_algo rr\n  real_server 172.16.0.3 80 {\n  }\n}\n",
            "",
        );
    let cmds = service_commands(&m, &plan_of(&edited), false);
    let edit = cmds.iter().find_map(|c| match c {
        Command::EditService(s) => Some(s.scheduler.as_str()),
        _ => None,
    });
    assert_eq!(edit, Some("wlc"));
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::DelService(ServiceKey::Fwmark { mark: 7, .. }))));
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::AddFwmarkRule(r) if r.mark == 8)));
    assert!(!cmds.iter().any(|c| matches!(c, Command::DelFwmarkRule(_))));
}

#[test]
fn errors_name_the_file_and_line_once() {
    let e = plan(
        &crate::parse_text(
            &MemFs::new(),
            Path::new("/k.conf"),
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server ::1 80 { }\n}\n",
            &Options::default(),
        )
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!((&*e.file, e.line), ("/k.conf", 1));
    assert!(e.message.contains("family"), "{e}");
}

#[test]
fn specs_carry_persistence_granularity_and_tunnels() {
    let p = plan_of(
        "virtual_server 10.0.0.1 0 {\n protocol TCP\n lb_algo sh\n sh-port\n flag-1\n \
         persistence_timeout 30\n persistence_granularity 255.255.255.0\n \
         lvs_method TUN type gue port 6080 csum\n real_server 172.16.0.2 0 { weight 2 }\n}\n",
    );
    let s = &p.services[0].1[0];
    assert_eq!(s.persistence, Some(30));
    assert_eq!(s.netmask, Netmask::V4("255.255.255.0".parse().unwrap()));
    assert_eq!(s.sched_flags, cmd::SCHED_FLAG_1 | cmd::SCHED_FLAG_2);
    let d = &p.dests[&(p.services[0].0.clone(), "172.16.0.2:0".parse().unwrap())];
    assert_eq!(
        (d.forward, d.tun_type, d.tun_port, d.tun_csum, d.weight),
        (Forward::Tunnel, TunnelType::Gue, 6080, TunnelCsum::Csum, 2)
    );
}
