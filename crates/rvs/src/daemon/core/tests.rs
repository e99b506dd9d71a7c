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
