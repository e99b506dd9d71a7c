//! The core driven as rvsd's loop drives it, with a store in memory, a static network view
//! and numbers for reply routes.

use super::*;
use crate::daemon::model::tests::cmd;
use crate::daemon::store::MemStore;
use rvs_check::machine::SvcId;
use rvs_ctl::cmd::ServiceKey;
use rvs_ctl::reply::Errno;
use rvs_engine::StaticNet;
use rvs_keepalived::{MemFs, Options};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

const KA_PATH: &str = "/etc/keepalived/keepalived.conf";

const KA: &str = "virtual_server 10.0.0.1 80 {\n  protocol TCP\n  lb_algo rr\n  \
    lb_kind NAT\n  real_server 172.16.0.2 80 {\n    weight 2\n    \
    notify_down \"/bin/echo down\"\n    TCP_CHECK {\n    }\n  }\n}\n";

fn core_with(store: &MemStore, keepalived: bool, steering: bool) -> Core {
    let opts = CoreOptions {
        conn_capacity: 1024,
        seed: 7,
        keepalived: keepalived.then(|| PathBuf::from(KA_PATH)),
        steering,
    };
    let net = Arc::new(StaticNet::default());
    Core::new(Box::new(store.clone()), net, None, opts)
        .expect("an empty store opens")
        .0
}

/// A plan read from `text` as if it were the configuration file.
fn read(text: &str) -> Result<Plan, KaError> {
    let cfg =
        rvs_keepalived::parse_text(&MemFs::new(), Path::new(KA_PATH), text, &Options::default())?;
    Ok(rvs_keepalived::plan(&cfg)?)
}

/// What the core does for one control request (its reply route is 7).
fn request(core: &mut Core, req: RequestBody, now: u64) -> Vec<Action<u32>> {
    core.handle(Event::Control { req, reply: 7 }, now)
}

/// The actions of a transaction of ipvsadm command lines.
fn transaction(core: &mut Core, lines: &[&str], now: u64) -> Vec<Action<u32>> {
    let cmds = lines.iter().map(|l| cmd(l)).collect();
    request(core, RequestBody::Apply(cmds), now)
}

/// Send one control request; the core must answer it with exactly one reply.
fn ask(core: &mut Core, req: RequestBody, now: u64) -> Result<Reply, TxnError> {
    let acts = request(core, req, now);
    let mut replies = acts.into_iter().filter_map(|a| match a {
        Action::Reply { to, result } => {
            assert_eq!(to, 7, "the reply goes where the request came from");
            Some(result)
        }
        _ => None,
    });
    let r = replies.next().expect("a reply");
    assert!(replies.next().is_none(), "one reply");
    r
}

fn apply(core: &mut Core, lines: &[&str], now: u64) -> Result<Reply, TxnError> {
    let cmds = lines.iter().map(|l| cmd(l)).collect();
    ask(core, RequestBody::Apply(cmds), now)
}

fn table(core: &mut Core) -> Table {
    match ask(core, RequestBody::GetTable, 1) {
        Ok(Reply::Table(t)) => t,
        r => panic!("{r:?}"),
    }
}

fn dests(core: &Core, svc: &str) -> Vec<(SocketAddr, u32)> {
    let key = match cmd(&format!("-D -t {svc}")) {
        Command::DelService(k) => k,
        c => panic!("{c:?}"),
    };
    core.model()
        .services
        .iter()
        .find(|s| s.spec.key == key)
        .map(|s| {
            s.dests
                .iter()
                .map(|d| (SocketAddr::new(d.spec.addr, d.spec.port), d.spec.weight))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_applied_transaction_changes_the_table_saves_it_and_resteers_first() {
    let store = MemStore::default();
    let mut core = core_with(&store, false, true);
    let acts = transaction(
        &mut core,
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 172.16.0.2:80 -m -w 3",
        ],
        5,
    );
    assert!(
        matches!(
            &acts[..],
            [Action::Resteer(cfg), Action::Reply { to: 7, result: Ok(Reply::Applied) }]
                if cfg.services().len() == 1
        ),
        "the data path follows before ipvsadm returns: {acts:?}"
    );
    let t = table(&mut core);
    assert_eq!(t.services.len(), 1);
    assert_eq!(t.services[0].dests[0].spec.weight, 3);
    assert_eq!(store.saved().as_ref(), Some(core.model()));
    assert_eq!(core.config().services()[0].dests.len(), 1);
    // A restart opens what was saved.
    let again = core_with(&store, false, false);
    assert_eq!(again.model(), core.model());
}

#[test]
fn a_refused_command_is_a_typed_error_and_changes_nothing() {
    let store = MemStore::default();
    let mut core = core_with(&store, false, false);
    apply(&mut core, &["-A -t 10.0.0.1:80 -s rr"], 1).unwrap();
    let before = core.model().clone();
    let generation = core.config().generation();
    // The first command alone would do; the second is refused, so neither is applied.
    let e = apply(
        &mut core,
        &["-A -t 10.0.0.2:80 -s rr", "-A -t 10.0.0.1:80 -s rr"],
        2,
    )
    .unwrap_err();
    assert!(
        matches!(
            &e,
            TxnError::Refused { index: 1, refusal } if refusal.errno == Some(Errno::Exists)
        ),
        "{e:?}"
    );
    assert_eq!((e.index(), e.errno()), (1, Some(Errno::Exists)));
    let e = apply(&mut core, &["-a -t 10.0.0.9:80 -r 172.16.0.2:80"], 3).unwrap_err();
    assert_eq!((e.index(), e.errno()), (0, Some(Errno::NoSuchService)));
    // Refused by the engine's validation of the whole table (one-packet scheduling with
    // NAT: its replies would need conntrack), which names the last command.
    let e = apply(
        &mut core,
        &[
            "-A -u 10.0.0.5:53 -s rr -o",
            "-a -u 10.0.0.5:53 -r 172.16.0.2:53 -m",
        ],
        4,
    )
    .unwrap_err();
    assert_eq!(e.index(), 1, "{e}");
    assert_eq!(core.model(), &before);
    assert_eq!(core.config().generation(), generation);
    assert_eq!(store.saved().as_ref(), Some(&before));
}

#[test]
fn a_failed_save_leaves_the_running_table_unchanged() {
    let store = MemStore::default();
    let mut core = core_with(&store, false, true);
    apply(&mut core, &["-A -t 10.0.0.1:80 -s rr"], 1).unwrap();
    let before = core.model().clone();
    let cfg = core.config();
    store.set_failing(true);
    let acts = transaction(
        &mut core,
        &[
            "-A -t 10.0.0.2:80 -s rr",
            "-a -t 10.0.0.2:80 -r 172.16.0.3:80 -m",
        ],
        2,
    );
    let [Action::Reply {
        result: Err(e @ TxnError::Save { .. }),
        ..
    }] = &acts[..]
    else {
        panic!("no re-steer, one error: {acts:?}");
    };
    assert_eq!((e.index(), e.errno()), (1, None));
    assert!(
        e.to_string()
            .starts_with("cannot save the table in (memory): "),
        "{e}"
    );
    assert_eq!(core.model(), &before);
    assert!(
        Arc::ptr_eq(&core.config(), &cfg),
        "the engine's snapshot stays"
    );
    assert_eq!(table(&mut core).services.len(), 1);
    store.set_failing(false);
    apply(&mut core, &["-A -t 10.0.0.2:80 -s rr"], 3).unwrap();
    assert_eq!(store.saved().unwrap().services.len(), 2);
}

#[test]
fn listings_and_settings_answer_in_ipvsadm_types() {
    let store = MemStore::default();
    let mut core = core_with(&store, false, false);
    apply(&mut core, &["--set 30 0 7", "-A -u 10.0.0.1:53 -s wrr"], 1).unwrap();
    assert_eq!(
        ask(&mut core, RequestBody::GetTimeouts, 2).unwrap(),
        Reply::Timeouts(rvs_ctl::cmd::Timeouts {
            tcp: 30,
            tcp_fin: 120,
            udp: 7
        })
    );
    assert_eq!(
        ask(&mut core, RequestBody::GetConns, 2).unwrap(),
        Reply::Conns(vec![])
    );
    assert_eq!(
        ask(&mut core, RequestBody::GetCheckStatus, 2).unwrap(),
        Reply::CheckStatus(vec![]),
        "no --config: no checker to ask"
    );
    // I/O stats are the data path's and the engine's: the driver adds its own rows.
    match &request(&mut core, RequestBody::GetIoStats, 2)[..] {
        [Action::ReplyIoStats { to: 7, engine }] => {
            assert!(engine.iter().any(|(s, n, _)| s == "engine" && n == "rx"));
        }
        a => panic!("{a:?}"),
    }
    // -Z checks the service exists, and zeroes in the engine.
    apply(&mut core, &["-Z -u 10.0.0.1:53"], 3).unwrap();
    let e = apply(&mut core, &["-Z -t 10.0.0.1:53"], 3).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::NoSuchService));
}

#[test]
fn the_timer_polls_the_engine_and_resteers_each_second() {
    let store = MemStore::default();
    let mut core = core_with(&store, false, true);
    // Due at once, then after the engine's tick.
    assert_eq!(core.poll_timeout(1), 0);
    let acts = core.handle::<u32>(Event::Timer, 1);
    assert!(matches!(&acts[..], [Action::Resteer(_)]), "{acts:?}");
    let due = core.poll_timeout(1);
    assert!(due > 1 && due <= 1 + RESTEER_MS, "{due}");
    apply(&mut core, &["-A -t 10.0.0.1:80 -s rr"], 2).unwrap();
    // The snapshot is swapped; the engine picks it up on its next poll, which the change
    // brings forward to now.
    assert!(lock(&core.engine).services().is_empty());
    let due = core.poll_timeout(2);
    assert_eq!(due, 2);
    let acts = core.handle::<u32>(Event::Timer, due);
    assert!(acts.is_empty(), "no re-steer before the second: {acts:?}");
    assert_eq!(
        lock(&core.engine).services().len(),
        1,
        "the engine was polled"
    );
    // Early timers do nothing; the re-steer comes a second after the last one.
    let next = core.poll_timeout(due);
    assert!(next > due);
    assert!(core.handle::<u32>(Event::Timer, due).is_empty());
    let acts = core.handle::<u32>(Event::Timer, 1 + RESTEER_MS);
    assert!(
        matches!(&acts[..], [Action::Resteer(c)] if c.services().len() == 1),
        "{acts:?}"
    );
    // Without a data path there is nothing to steer.
    let mut quiet = core_with(&MemStore::default(), false, false);
    assert!(quiet.handle::<u32>(Event::Timer, 1).is_empty());
    assert!(quiet.handle::<u32>(Event::Timer, 1 + RESTEER_MS).is_empty());
}

/// A core with `--config` KA loaded, as at startup.
fn started(store: &MemStore) -> Core {
    let mut core = core_with(store, true, false);
    let first = core.start::<u32>();
    assert!(matches!(&first[..], [Action::ReadConfig(p)] if p == Path::new(KA_PATH)));
    let acts = core.handle::<u32>(Event::ConfigRead(read(KA)), 1);
    match &acts[..] {
        [Action::StartChecker(t)] => {
            assert_eq!(t.len(), 1);
            assert_eq!(t[0].real_servers[0].rs.weight, 2);
        }
        a => panic!("{a:?}"),
    }
    core
}

#[test]
fn checker_actions_become_transactions_and_scripts() {
    let store = MemStore::default();
    let mut core = started(&store);
    assert_eq!(core.model().services.len(), 1, "the file's service");
    assert!(
        dests(&core, "10.0.0.1:80").is_empty(),
        "real servers: the checker's"
    );
    let svc = SvcId("TCP 10.0.0.1:80".into());
    let rs: SocketAddr = "172.16.0.2:80".parse().unwrap();
    let add = CheckAction::AddDest {
        svc: svc.clone(),
        rs,
        weight: 2,
    };
    assert!(core.handle::<u32>(Event::Check(add.clone()), 2).is_empty());
    assert_eq!(dests(&core, "10.0.0.1:80"), [(rs, 2)]);
    assert_eq!(
        store.saved().as_ref(),
        Some(core.model()),
        "saved like any change"
    );
    // A stale add (the table has it) is an edit, not a refused transaction.
    let add = CheckAction::AddDest {
        svc: svc.clone(),
        rs,
        weight: 5,
    };
    core.handle::<u32>(Event::Check(add), 3);
    assert_eq!(dests(&core, "10.0.0.1:80"), [(rs, 5)]);
    let notify = CheckAction::notify("/bin/echo down").unwrap();
    match &core.handle::<u32>(Event::Check(notify.clone()), 4)[..] {
        [Action::RunScript { script, args }] => {
            assert_eq!(
                (script.as_str(), &args[..]),
                ("/bin/echo", &["down".to_string()][..])
            )
        }
        a => panic!("{a:?}"),
    }
    // A clean stop: the checker stops, the table stays, late notifies still run.
    let acts = core.handle::<u32>(Event::Signal(Signal::Term), 5);
    assert!(
        matches!(
            &acts[..],
            [Action::StopChecker, Action::Exit { error: None }]
        ),
        "{acts:?}"
    );
    let remove = CheckAction::RemoveDest { svc, rs };
    assert!(core.handle::<u32>(Event::Check(remove), 6).is_empty());
    assert_eq!(dests(&core, "10.0.0.1:80"), [(rs, 5)]);
    let acts = core.handle::<u32>(Event::Check(notify), 6);
    assert!(matches!(&acts[..], [Action::RunScript { .. }]), "{acts:?}");
}

#[test]
fn a_reload_with_a_broken_file_changes_nothing() {
    let store = MemStore::default();
    let mut core = started(&store);
    let before = core.model().clone();
    let acts = core.handle::<u32>(Event::Signal(Signal::Hup), 2);
    assert!(matches!(&acts[..], [Action::ReadConfig(_)]), "{acts:?}");
    for broken in [
        KA.replace("172.16.0.2 80", "172.16.0.300 80"),
        KA.replace("lb_algo rr", "lb_algo nosuch"),
        format!("}}\n{KA}"),
        // Parses, but its real server's family is not the service's.
        KA.replace("172.16.0.2 80", "2001:db8::2 80"),
    ] {
        let r = read(&broken);
        assert!(r.is_err(), "{broken}");
        let acts = core.handle::<u32>(Event::ConfigRead(r), 3);
        assert!(acts.is_empty(), "no checker update: {acts:?}");
        assert_eq!(core.model(), &before);
    }
    // A good reload diffs the services and updates the checker.
    let edited = KA.replace("lb_algo rr", "lb_algo wlc");
    let acts = core.handle::<u32>(Event::ConfigRead(read(&edited)), 4);
    assert!(
        matches!(&acts[..], [Action::UpdateChecker(t)] if t.len() == 1),
        "{acts:?}"
    );
    assert_eq!(core.model().services[0].spec.scheduler, "wlc");
}

#[test]
fn a_broken_file_at_startup_stops_rvsd_with_its_error() {
    let store = MemStore::default();
    let mut core = core_with(&store, true, false);
    assert_eq!(core.start::<u32>().len(), 1, "read the file");
    let acts = core.handle::<u32>(
        Event::ConfigRead(read(&KA.replace("lb_algo rr", "lb_algo nosuch"))),
        1,
    );
    match &acts[..] {
        [Action::Exit { error: Some(e) }] => {
            assert!(e.to_string().contains(&format!("{KA_PATH}:3:")), "{e}")
        }
        a => panic!("{a:?}"),
    }
    assert!(core.model().services.is_empty());
}

#[test]
fn a_restart_clears_restored_real_servers_for_the_checker_to_re_add() {
    let store = MemStore::default();
    let mut core = started(&store);
    let add = CheckAction::AddDest {
        svc: SvcId("TCP 10.0.0.1:80".into()),
        rs: "172.16.0.2:80".parse().unwrap(),
        weight: 2,
    };
    core.handle::<u32>(Event::Check(add), 2);
    assert_eq!(dests(&core, "10.0.0.1:80").len(), 1);
    let restarted = started(&store);
    assert!(dests(&restarted, "10.0.0.1:80").is_empty());
    let key = restarted.model().services[0].spec.key;
    assert!(matches!(key, ServiceKey::Inet { port: 80, .. }));
}

#[test]
fn sighup_without_a_config_does_nothing() {
    let mut core = core_with(&MemStore::default(), false, false);
    assert!(core.start::<u32>().is_empty());
    assert!(core.handle::<u32>(Event::Signal(Signal::Hup), 1).is_empty());
    let acts = core.handle::<u32>(Event::Signal(Signal::Int), 1);
    assert!(
        matches!(&acts[..], [Action::Exit { error: None }]),
        "{acts:?}"
    );
}

// VRRP. The plans are built by hand (rvs-keepalived's vrrp keywords are another part's);
// the runner is the event loop's, so these drive the core alone.

/// A BACKUP instance on eth0 for `vips`, plus `excluded`.
fn instance(name: &str, vrid: u8, vips: &[&str], excluded: &[&str]) -> rvs_vrrp::InstanceConfig {
    let vip = |a: &&str| rvs_vrrp::Vip {
        addr: a.parse().unwrap(),
        prefix: 32,
        brd: None,
        dev: None,
        scope: None,
        label: None,
    };
    rvs_vrrp::InstanceConfig {
        name: name.into(),
        interface: "eth0".into(),
        vrid,
        version: rvs_vrrp::Version::V2,
        ipv6: false,
        initial: rvs_vrrp::InitialState::Backup,
        priority: 100,
        advert_int_cs: 100,
        auth: rvs_vrrp::Auth::None,
        nopreempt: false,
        preempt_delay_ms: 0,
        vips: vips.iter().map(vip).collect(),
        vips_excluded: excluded.iter().map(vip).collect(),
        vip_owner: rvs_vrrp::VipOwner::Kernel,
        src: None,
        unicast_peers: Vec::new(),
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_files: Vec::new(),
        notify: rvs_vrrp::Notify::default(),
        garp: rvs_vrrp::GarpTiming::default(),
        accept: false,
        pos: format!("{KA_PATH}:1"),
    }
}

/// KA's plan with these VRRP instances.
fn read_vrrp(text: &str, instances: Vec<rvs_vrrp::InstanceConfig>) -> Result<Plan, KaError> {
    let mut plan = read(text)?;
    plan.vrrp = VrrpConfig {
        instances,
        ..VrrpConfig::default()
    };
    Ok(plan)
}

/// VI_1 carries KA's VIP; 10.0.0.9 is an excluded address of it.
fn vi_1() -> rvs_vrrp::InstanceConfig {
    instance("VI_1", 51, &["10.0.0.1"], &["10.0.0.9"])
}

fn vip(a: &str) -> IpAddr {
    a.parse().unwrap()
}

/// What the data path would announce and steer ARP/NS for when it executes a re-steer to
/// `cfg` now (`rvs_io::DataPath::sync`'s computation; the kernel owns no address here).
fn announced(core: &Core, cfg: &Config) -> BTreeSet<IpAddr> {
    rvs_io::steer::SteerSet::compute(cfg, &Default::default(), [])
        .only_owned(&core.vip_ownership())
        .owned
        .into_iter()
        .collect()
}

/// A steering core started with `plan` (its actions returned).
fn started_with(store: &MemStore, plan: Result<Plan, KaError>) -> (Core, Vec<Action<u32>>) {
    let mut core = core_with(store, true, true);
    assert_eq!(core.start::<u32>().len(), 1, "read the file");
    let acts = core.handle::<u32>(Event::ConfigRead(plan), 1);
    (core, acts)
}

#[test]
fn a_standby_announces_no_vip_at_startup() {
    // Without VRRP the service's VIP is announced by the first re-steer: the check below
    // can fail.
    let (plain, acts) = started_with(&MemStore::default(), read(KA));
    let Some(Action::Resteer(cfg)) = acts.first() else {
        panic!("{acts:?}");
    };
    assert!(announced(&plain, cfg).contains(&vip("10.0.0.1")));
    assert!(!acts.iter().any(|a| matches!(a, Action::StartVrrp(_))));

    let (core, acts) = started_with(&MemStore::default(), read_vrrp(KA, vec![vi_1()]));
    match &acts[..] {
        [Action::Resteer(cfg), Action::StartVrrp(v), Action::StartChecker(_)] => {
            // Marked during the load itself, so before the driver executes any action.
            assert!(
                announced(&core, cfg).is_empty(),
                "{:?}",
                announced(&core, cfg)
            );
            assert_eq!(v.instances, [vi_1()]);
        }
        a => panic!("{a:?}"),
    }
    // rvsd starts its data path after the load, on this snapshot: silent too.
    assert!(announced(&core, &core.config()).is_empty());
    let vips = core.vip_ownership();
    assert!(!vips.owns(vip("10.0.0.1")) && !vips.owns(vip("10.0.0.9")));
    // Addresses no instance names stay as they were.
    assert!(vips.owns(vip("10.0.0.2")));
}

#[test]
fn a_transition_resteers_the_current_table() {
    let (mut core, _) = started_with(&MemStore::default(), read_vrrp(KA, vec![vi_1()]));
    // The runner makes VI_1 MASTER: it marks the VIPs owned, then tells the loop.
    let vips = core.vip_ownership();
    vips.set_owned(vip("10.0.0.1"), true);
    let ev = VrrpEvent::Transition {
        instance: "VI_1".into(),
        from: rvs_vrrp::State::Backup,
        to: rvs_vrrp::State::Master,
        reason: "master down timer expired".into(),
    };
    let acts = core.handle::<u32>(Event::Vrrp(ev.clone()), 2);
    match &acts[..] {
        [Action::Resteer(cfg)] => {
            assert!(Arc::ptr_eq(cfg, &core.config()), "the current table");
            assert_eq!(announced(&core, cfg), BTreeSet::from([vip("10.0.0.1")]));
        }
        a => panic!("{a:?}"),
    }
    // Without a data path there is nothing to re-steer.
    let mut bare = core_with(&MemStore::default(), true, false);
    bare.start::<u32>();
    bare.handle::<u32>(Event::ConfigRead(read_vrrp(KA, vec![vi_1()])), 1);
    assert!(bare.handle::<u32>(Event::Vrrp(ev), 2).is_empty());
}

#[test]
fn a_clean_stop_stops_vrrp_before_the_checker_and_the_exit() {
    let (mut core, _) = started_with(&MemStore::default(), read_vrrp(KA, vec![vi_1()]));
    for sig in [Signal::Term, Signal::Int] {
        let acts = core.handle::<u32>(Event::Signal(sig), 2);
        assert!(
            matches!(
                &acts[..],
                [
                    Action::StopVrrp,
                    Action::StopChecker,
                    Action::Exit { error: None }
                ]
            ),
            "{acts:?}"
        );
    }
    // Without VRRP, as before.
    let (mut plain, _) = started_with(&MemStore::default(), read(KA));
    let acts = plain.handle::<u32>(Event::Signal(Signal::Term), 2);
    assert!(
        matches!(
            &acts[..],
            [Action::StopChecker, Action::Exit { error: None }]
        ),
        "{acts:?}"
    );
}

#[test]
fn vrrp_status_is_the_runners_only_when_vrrp_runs() {
    let (mut core, _) = started_with(&MemStore::default(), read_vrrp(KA, vec![vi_1()]));
    let acts = request(&mut core, RequestBody::GetVrrpStatus, 2);
    assert!(
        matches!(&acts[..], [Action::ReplyVrrpStatus { to: 7 }]),
        "{acts:?}"
    );
    for mut plain in [
        started_with(&MemStore::default(), read(KA)).0,
        core_with(&MemStore::default(), false, false),
    ] {
        let r = ask(&mut plain, RequestBody::GetVrrpStatus, 2);
        assert!(
            matches!(&r, Ok(Reply::VrrpStatus(l)) if l.is_empty()),
            "{r:?}"
        );
    }
}

/// The actions of a reload with `plan`, minus the checker's update (asserted present).
fn reload(core: &mut Core, plan: Result<Plan, KaError>, now: u64) -> Vec<Action<u32>> {
    let mut acts = core.handle::<u32>(Event::ConfigRead(plan), now);
    let Some(Action::UpdateChecker(_)) = acts.pop() else {
        panic!("the checker's update last: {acts:?}");
    };
    acts
}

#[test]
fn a_reload_reconfigures_starts_or_stops_vrrp() {
    let store = MemStore::default();
    let (mut core, _) = started_with(&store, read(KA));
    let vips = core.vip_ownership();
    // None -> some: the runner starts, the new VIPs silenced first.
    let acts = reload(&mut core, read_vrrp(KA, vec![vi_1()]), 2);
    assert!(
        matches!(&acts[..], [Action::StartVrrp(v)] if v.instances == [vi_1()]),
        "{acts:?}"
    );
    assert!(!vips.owns(vip("10.0.0.1")));
    // VI_1 is MASTER now; a reload that adds VI_2 leaves VI_1's VIPs to the runner and
    // silences VI_2's.
    vips.set_owned(vip("10.0.0.1"), true);
    let vi_2 = instance("VI_2", 52, &["10.0.0.2"], &[]);
    let acts = reload(&mut core, read_vrrp(KA, vec![vi_1(), vi_2.clone()]), 3);
    assert!(
        matches!(&acts[..], [Action::ReconfigureVrrp(v)] if v.instances.len() == 2),
        "{acts:?}"
    );
    assert!(vips.owns(vip("10.0.0.1")), "a MASTER keeps its VIPs");
    assert!(!vips.owns(vip("10.0.0.2")));
    // Dropping VI_2: its VIP is a plain address again once the runner released it.
    let acts = reload(&mut core, read_vrrp(KA, vec![vi_1()]), 4);
    match &acts[..] {
        [Action::ReconfigureVrrp(v), Action::OwnVips(freed), Action::Resteer(_)] => {
            assert_eq!(v.instances, [vi_1()]);
            assert_eq!(freed, &[vip("10.0.0.2")]);
        }
        a => panic!("{a:?}"),
    }
    // Some -> none: the runner stops, every VIP it had is freed.
    let acts = reload(&mut core, read(KA), 5);
    match &acts[..] {
        [Action::StopVrrp, Action::OwnVips(freed), Action::Resteer(_)] => {
            assert_eq!(freed, &[vip("10.0.0.1"), vip("10.0.0.9")])
        }
        a => panic!("{a:?}"),
    }
    // After a stop, GetVrrpStatus no longer asks the (gone) runner.
    let r = ask(&mut core, RequestBody::GetVrrpStatus, 6);
    assert!(
        matches!(&r, Ok(Reply::VrrpStatus(l)) if l.is_empty()),
        "{r:?}"
    );
}

#[test]
fn a_refused_reload_changes_no_vip_ownership() {
    let store = MemStore::default();
    let (mut core, _) = started_with(&store, read(KA));
    let vips = core.vip_ownership();
    // The new file changes the table, and its save fails: refused whole.
    store.set_failing(true);
    let edited = KA.replace("lb_algo rr", "lb_algo wlc");
    let acts = core.handle::<u32>(Event::ConfigRead(read_vrrp(&edited, vec![vi_1()])), 2);
    assert!(acts.is_empty(), "{acts:?}");
    assert!(vips.owns(vip("10.0.0.1")) && vips.owns(vip("10.0.0.9")));
    assert_eq!(vips.not_owned().len(), 0);
    // At startup, a refused file stops rvsd before VRRP starts.
    let failing = MemStore::default();
    failing.set_failing(true);
    let (_, acts) = started_with(&failing, read_vrrp(KA, vec![vi_1()]));
    assert!(
        matches!(&acts[..], [Action::Exit { error: Some(_) }]),
        "{acts:?}"
    );
}
