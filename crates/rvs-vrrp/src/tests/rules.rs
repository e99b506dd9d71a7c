//! One router fed by hand: one test per rule.

use super::*;

fn backup_router(i: InstanceConfig) -> Router {
    let mut r = Router::new(one(i), &[]);
    let acts = r.start(0);
    assert_eq!(transitions(&acts)[0].1, State::Backup);
    r
}

fn rx(r: &mut Router, payload: &[u8], src: &str, ttl: u8, now: u64) -> Vec<Action> {
    r.handle(
        Input::Packet {
            iface: "eth0",
            src: ip(src),
            dst: GROUP4,
            ttl,
            payload,
        },
        now,
    )
}

fn v2(priority: u8, src: &str) -> Vec<u8> {
    advert_bytes(
        Version::V2,
        51,
        priority,
        100,
        &["10.0.0.100"],
        src,
        "224.0.0.18",
    )
}

#[test]
fn start_owner_is_master_at_once_with_advert_vips_announcements_and_notify() {
    let mut i = inst("VI_1", 255, "10.0.0.1");
    i.notify.master = Some(NotifyScript {
        command: "/bin/m".into(),
        user: None,
    });
    i.notify.any = Some(NotifyScript {
        command: "/bin/n".into(),
        user: None,
    });
    let mut r = Router::new(one(i), &[]);
    let acts = r.start(0);
    assert!(matches!(
        acts[0],
        Action::Transition {
            to: State::Master,
            ..
        }
    ));
    assert!(matches!(acts[1], Action::Send { .. }));
    assert!(matches!(acts[2], Action::SetVips { owned: true, .. }));
    let announces = acts
        .iter()
        .filter(|a| matches!(a, Action::Announce { .. }))
        .count();
    assert_eq!(
        announces, 5,
        "garp_master_repeat announcements in the first burst"
    );
    let notifies: Vec<_> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Notify { command, args, .. } => Some((command.clone(), args.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        notifies,
        vec![
            ("/bin/m".to_string(), vec![]),
            (
                "/bin/n".to_string(),
                vec![
                    "INSTANCE".into(),
                    "VI_1".into(),
                    "MASTER".into(),
                    "255".into()
                ]
            )
        ]
    );
    // second burst after garp_master_delay
    assert_eq!(r.poll_timeout(), Some(1000));
    let mut announced_at = vec![];
    let mut now = 0;
    while now < 6000 {
        now = r.poll_timeout().unwrap();
        let acts = r.poll(now);
        if acts.iter().any(|a| matches!(a, Action::Announce { .. })) {
            announced_at.push(now);
        }
    }
    assert_eq!(announced_at, vec![5000]);
}

#[test]
fn start_non_owner_is_backup_with_vips_released() {
    let mut r = Router::new(one(inst("VI_1", 100, "10.0.0.1")), &[]);
    let acts = r.start(0);
    assert!(matches!(acts[0], Action::SetVips { owned: false, .. }));
    assert_eq!(
        transitions(&acts),
        vec![("VI_1".into(), State::Backup, "startup".into())]
    );
    assert!(sends(&acts).is_empty());
    let skew = (256 - 100) * 1000 / 256;
    assert_eq!(r.poll_timeout(), Some(3000 + skew));
}

#[test]
fn state_master_non_owner_waits_one_interval_plus_skew() {
    let mut i = inst("VI_1", 100, "10.0.0.1");
    i.initial = InitialState::Master;
    let mut r = Router::new(one(i), &[]);
    r.start(0);
    assert_eq!(r.poll_timeout(), Some(1000 + 156 * 1000 / 256));
}

#[test]
fn skew_and_master_down_v2_and_v3() {
    let r = Router::new(one(inst("VI_1", 100, "10.0.0.1")), &[]);
    let i = &r.instances[0];
    assert_eq!(i.skew_ms(), 609); // (256-100)*1000/256 = 609.375
    assert_eq!(i.master_down_ms(), 3609);
    let mut c = inst("VI_1", 200, "10.0.0.1");
    c.version = Version::V3;
    c.advert_int_cs = 35;
    let r = Router::new(one(c), &[]);
    let i = &r.instances[0];
    assert_eq!(i.skew_ms(), 56 * 350 / 256);
    assert_eq!(i.master_down_ms(), 1050 + 76);
}

/// RFC 3768 / keepalived's `VRRP_TIMER_SKEW`: a v2 skew is (256 - P) / 256 s whatever the
/// advert interval; only Master_Down_Interval's 3 × A grows with it.
#[test]
fn v2_skew_is_a_fraction_of_one_second_at_any_interval() {
    let mut c = inst("VI_1", 100, "10.0.0.1");
    c.advert_int_cs = 300;
    let mut r = Router::new(one(c), &[]);
    assert_eq!(r.instances[0].skew_ms(), 609);
    assert_eq!(r.instances[0].master_down_ms(), 9000 + 609);
    r.start(0);
    let adv = |p| {
        advert_bytes(
            Version::V2,
            51,
            p,
            300,
            &["10.0.0.100"],
            "10.0.0.2",
            "224.0.0.18",
        )
    };
    rx(&mut r, &adv(150), "10.0.0.2", 255, 1000);
    assert_eq!(r.instances[0].down_at(), Some(1000 + 9609));
    rx(&mut r, &adv(0), "10.0.0.2", 255, 1500);
    assert_eq!(
        r.instances[0].down_at(),
        Some(1500 + 609),
        "priority 0: skew time"
    );
}

#[test]
fn v2_advert_interval_is_whole_seconds() {
    let mut c = inst("VI_1", 255, "10.0.0.1");
    c.advert_int_cs = 250; // 2.5 s → 2 s on the wire
    let mut r = Router::new(one(c), &[]);
    let acts = r.start(0);
    let (_, _, payload) = &sends(&acts)[0];
    assert_eq!(payload[5], 2);
    assert_eq!(r.poll_timeout(), Some(2000), "adverts every whole 2 s");
}

#[test]
fn backup_accepts_higher_advert_and_resets_deadline() {
    let mut r = backup_router(inst("VI_1", 100, "10.0.0.1"));
    rx(&mut r, &v2(150, "10.0.0.2"), "10.0.0.2", 255, 2000);
    assert_eq!(r.instances[0].down_at(), Some(2000 + 3609));
    let s = &r.status()[0];
    assert_eq!(s.master, Some(ip("10.0.0.2")));
    assert_eq!(s.master_priority, Some(150));
    assert_eq!(s.counters.adverts_rx, 1);
}

#[test]
fn backup_ignores_lower_advert_and_preempts() {
    let mut r = backup_router(inst("VI_1", 100, "10.0.0.1"));
    rx(&mut r, &v2(50, "10.0.0.2"), "10.0.0.2", 255, 2000);
    assert_eq!(r.instances[0].down_at(), Some(3609), "deadline not reset");
    let acts = r.poll(3609);
    assert_eq!(
        transitions(&acts),
        vec![(
            "VI_1".into(),
            State::Master,
            "master down timer expired".into()
        )]
    );
}

#[test]
fn backup_priority_zero_sets_deadline_to_skew_time() {
    let mut r = backup_router(inst("VI_1", 100, "10.0.0.1"));
    rx(&mut r, &v2(150, "10.0.0.2"), "10.0.0.2", 255, 1000);
    rx(&mut r, &v2(0, "10.0.0.2"), "10.0.0.2", 255, 1500);
    assert_eq!(r.instances[0].down_at(), Some(1500 + 609));
    assert_eq!(r.status()[0].counters.priority_zero_rx, 1);
}

fn master_router(i: InstanceConfig) -> Router {
    let mut r = Router::new(one(i), &[]);
    r.start(0);
    let acts = r.poll(3609);
    assert_eq!(transitions(&acts)[0].1, State::Master);
    r
}

#[test]
fn master_higher_advert_goes_backup_releasing_vips_first() {
    let mut r = master_router(inst("VI_1", 100, "10.0.0.1"));
    let acts = rx(&mut r, &v2(150, "10.0.0.3"), "10.0.0.3", 255, 4000);
    assert!(matches!(acts[0], Action::SetVips { owned: false, .. }));
    assert_eq!(
        transitions(&acts),
        vec![(
            "VI_1".into(),
            State::Backup,
            "higher priority 150 from 10.0.0.3".into()
        )]
    );
    let s = &r.status()[0];
    assert_eq!(s.counters.split_brain, 1);
    assert_eq!(s.counters.released_master, 1);
    assert_eq!(s.master, Some(ip("10.0.0.3")));
    assert_eq!(r.instances[0].down_at(), Some(4000 + 3609));
}

#[test]
fn master_lower_advert_answers_at_once_and_stays() {
    let mut r = master_router(inst("VI_1", 100, "10.0.0.2"));
    let acts = rx(&mut r, &v2(50, "10.0.0.1"), "10.0.0.1", 255, 4000);
    assert_eq!(sends(&acts).len(), 1);
    assert!(transitions(&acts).is_empty());
    assert_eq!(r.status()[0].counters.split_brain, 1);
    // equal priority, lower address: also answered
    let acts = rx(&mut r, &v2(100, "10.0.0.1"), "10.0.0.1", 255, 4100);
    assert_eq!(sends(&acts).len(), 1);
    assert_eq!(state_of(&r, "VI_1"), State::Master);
}

#[test]
fn master_priority_zero_answers_with_an_advert_not_split_brain() {
    let mut r = master_router(inst("VI_1", 100, "10.0.0.2"));
    let acts = rx(&mut r, &v2(0, "10.0.0.1"), "10.0.0.1", 255, 4000);
    assert_eq!(sends(&acts).len(), 1);
    assert_eq!(r.status()[0].counters.split_brain, 0);
}

#[test]
fn shutdown_master_releases_sends_priority_zero_and_ends_in_init() {
    let mut i = inst("VI_1", 100, "10.0.0.1");
    i.notify.stop = Some(NotifyScript {
        command: "/bin/stop".into(),
        user: None,
    });
    let mut r = master_router(i);
    let acts = r.shutdown(5000);
    assert!(matches!(acts[0], Action::SetVips { owned: false, .. }));
    let s = sends(&acts);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].2[2], 0, "priority 0");
    assert_eq!(transitions(&acts)[0].1, State::Init);
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Notify { command, .. } if command == "/bin/stop")));
    assert_eq!(r.poll_timeout(), None);
    assert!(r.poll(10_000).is_empty());
}

#[test]
fn rx_drops_are_counted_by_reason_without_state_change() {
    let mut c = inst("VI_1", 100, "10.0.0.1");
    c.auth = Auth::Pass(*b"secret\0\0");
    let mut r = backup_router(c);
    let good = |prio: u8| {
        let adv = codec::Advert {
            version: Version::V2,
            vrid: 51,
            priority: prio,
            adver_int_cs: 100,
            auth_type: 1,
            auth_data: *b"secret\0\0",
            addrs: vec![ip("10.0.0.100")],
        };
        codec::emit(&adv, ip("10.0.0.2"), GROUP4).unwrap()
    };
    let before = r.instances[0].down_at();
    let check = |r: &mut Router, bytes: &[u8], src: &str, ttl: u8, reason: DropReason| {
        let n = drops_of(r, "VI_1", reason);
        let acts = rx(r, bytes, src, ttl, 1000);
        assert!(acts.is_empty(), "{reason:?}: {acts:?}");
        assert_eq!(drops_of(r, "VI_1", reason), n + 1, "{reason:?}");
    };
    check(&mut r, &good(150), "10.0.0.2", 64, DropReason::Ttl);
    let mut b = good(150);
    b[0] = 0x31;
    check(&mut r, &b, "10.0.0.2", 255, DropReason::Version);
    let mut b = good(150);
    b[0] = 0x22;
    check(&mut r, &b, "10.0.0.2", 255, DropReason::Type);
    let mut b = good(150);
    b[7] ^= 1;
    check(&mut r, &b, "10.0.0.2", 255, DropReason::Checksum);
    check(
        &mut r,
        &good(150)[..10],
        "10.0.0.2",
        255,
        DropReason::Malformed,
    );
    check(
        &mut r,
        &v2(150, "10.0.0.2"),
        "10.0.0.2",
        255,
        DropReason::Auth,
    );
    check(&mut r, &good(150), "10.0.0.1", 255, DropReason::Own);
    let adv = |int_cs: u16, addrs: Vec<IpAddr>, prio: u8| {
        codec::emit(
            &codec::Advert {
                version: Version::V2,
                vrid: 51,
                priority: prio,
                adver_int_cs: int_cs,
                auth_type: 1,
                auth_data: *b"secret\0\0",
                addrs,
            },
            ip("10.0.0.2"),
            GROUP4,
        )
        .unwrap()
    };
    check(
        &mut r,
        &adv(200, vec![ip("10.0.0.100")], 150),
        "10.0.0.2",
        255,
        DropReason::Interval,
    );
    check(
        &mut r,
        &adv(100, vec![ip("10.0.0.101")], 150),
        "10.0.0.2",
        255,
        DropReason::Addresses,
    );
    check(
        &mut r,
        &adv(100, vec![], 150),
        "10.0.0.2",
        255,
        DropReason::Addresses,
    );
    // unknown VRID: counted by the instances on that interface
    let mut b = good(150);
    b[1] = 52;
    check(&mut r, &b, "10.0.0.2", 255, DropReason::UnknownVrid);
    assert_eq!(r.instances[0].down_at(), before);
    assert_eq!(r.status()[0].master, None);
    assert_eq!(r.status()[0].counters.adverts_rx, 0);
    // the owner's advert wins over the address list check
    rx(
        &mut r,
        &adv(100, vec![ip("10.0.0.101")], 255),
        "10.0.0.2",
        255,
        1000,
    );
    assert_eq!(r.status()[0].master, Some(ip("10.0.0.2")));
    // a packet on an interface without instances: router-level
    r.handle(
        Input::Packet {
            iface: "eth9",
            src: ip("10.0.0.2"),
            dst: GROUP4,
            ttl: 255,
            payload: &good(1),
        },
        1000,
    );
    let un = r.unclaimed_drops();
    assert_eq!(
        un.iter()
            .find(|(x, _)| *x == DropReason::UnknownVrid)
            .unwrap()
            .1,
        1
    );
}

#[test]
fn unicast_only_peers_are_accepted() {
    let mut c = inst("VI_1", 100, "10.0.0.1");
    c.unicast_peers = vec![ip("10.0.0.2")];
    let mut r = backup_router(c);
    let b = advert_bytes(
        Version::V2,
        51,
        150,
        100,
        &["10.0.0.100"],
        "10.0.0.9",
        "10.0.0.1",
    );
    r.handle(
        Input::Packet {
            iface: "eth0",
            src: ip("10.0.0.9"),
            dst: ip("10.0.0.1"),
            ttl: 255,
            payload: &b,
        },
        100,
    );
    assert_eq!(drops_of(&r, "VI_1", DropReason::NotPeer), 1);
    // and adverts go to each peer
    let mut c = inst("VI_1", 255, "10.0.0.1");
    c.unicast_peers = vec![ip("10.0.0.2"), ip("10.0.0.3")];
    let mut r = Router::new(one(c), &[]);
    let dsts: Vec<_> = sends(&r.start(0)).into_iter().map(|(_, d, _)| d).collect();
    assert_eq!(dsts, vec![ip("10.0.0.2"), ip("10.0.0.3")]);
}

#[test]
fn v3_checksum_covers_the_pseudo_header() {
    let b = advert_bytes(
        Version::V3,
        51,
        100,
        100,
        &["10.0.0.100"],
        "10.0.0.2",
        "224.0.0.18",
    );
    assert!(codec::parse(&b, ip("10.0.0.2"), GROUP4).is_ok());
    assert_eq!(
        codec::parse(&b, ip("10.0.0.3"), GROUP4),
        Err(DropReason::Checksum),
        "another source changes the v3 checksum"
    );
    let b2 = advert_bytes(
        Version::V2,
        51,
        100,
        100,
        &["10.0.0.100"],
        "10.0.0.2",
        "224.0.0.18",
    );
    assert!(
        codec::parse(&b2, ip("10.0.0.3"), GROUP4).is_ok(),
        "v2: no pseudo header"
    );
}

#[test]
fn tracking_weight_changes_priority_and_clamps() {
    let mut c = inst("VI_1", 250, "10.0.0.1");
    c.track_scripts = vec![tracked("up", Some(20)), tracked("down", Some(-300))];
    let cfg = VrrpConfig {
        instances: vec![c],
        scripts: vec![script("up", 0), script("down", 0)],
        ..VrrpConfig::default()
    };
    let mut r = Router::new(cfg, &[]);
    r.start(0);
    assert_eq!(
        r.status()[0].effective_priority,
        254,
        "clamped below the owner's 255"
    );
    r.handle(
        Input::Script {
            name: "down",
            ok: false,
        },
        10,
    );
    r.handle(
        Input::Script {
            name: "up",
            ok: false,
        },
        10,
    );
    assert_eq!(r.status()[0].effective_priority, 1, "clamped at 1");
}

#[test]
fn owner_priority_is_never_changed_by_tracking() {
    let mut c = inst("VI_1", 255, "10.0.0.1");
    c.track_scripts = vec![tracked("s", Some(-50))];
    let cfg = VrrpConfig {
        instances: vec![c],
        scripts: vec![script("s", 0)],
        ..VrrpConfig::default()
    };
    let mut r = Router::new(cfg, &[]);
    r.start(0);
    r.handle(
        Input::Script {
            name: "s",
            ok: false,
        },
        10,
    );
    assert_eq!(r.status()[0].effective_priority, 255);
}

#[test]
fn weight_zero_script_failure_is_fault_with_reason_and_recovery_is_backup() {
    let mut c = inst("VI_1", 100, "10.0.0.1");
    c.track_scripts = vec![tracked("chk_nginx", None)];
    let cfg = VrrpConfig {
        instances: vec![c],
        scripts: vec![script("chk_nginx", 0)],
        ..VrrpConfig::default()
    };
    let mut r = Router::new(cfg, &[]);
    let acts = r.start(0);
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::RunTrackScript { name, .. } if name == "chk_nginx")));
    r.poll(3609); // MASTER
    let acts = r.handle(
        Input::Script {
            name: "chk_nginx",
            ok: false,
        },
        4000,
    );
    assert!(matches!(acts[0], Action::SetVips { owned: false, .. }));
    assert_eq!(sends(&acts)[0].2[2], 0, "hands over with priority 0");
    assert_eq!(
        transitions(&acts),
        vec![(
            "VI_1".into(),
            State::Fault,
            "track script chk_nginx failed".into()
        )]
    );
    assert_eq!(
        r.status()[0].fault.as_deref(),
        Some("track script chk_nginx failed")
    );
    // no adverts in FAULT, a valid advert changes nothing
    assert!(sends(&r.poll(6000)).is_empty());
    rx(&mut r, &v2(150, "10.0.0.2"), "10.0.0.2", 255, 6000);
    assert_eq!(state_of(&r, "VI_1"), State::Fault);
    let acts = r.handle(
        Input::Script {
            name: "chk_nginx",
            ok: true,
        },
        7000,
    );
    assert_eq!(transitions(&acts)[0].1, State::Backup);
    assert_eq!(r.status()[0].fault, None);
}

#[test]
fn script_rise_and_fall_and_init_fail() {
    let mut s = script("s", 0);
    s.rise = 2;
    s.fall = 3;
    let mut st = track::ScriptState::new(s.clone(), true);
    assert!(st.ok());
    assert!(st.on_result(false), "the first result is decisive");
    assert!(!st.on_result(true));
    assert!(st.on_result(true), "rise 2");
    assert!(!st.on_result(false));
    assert!(!st.on_result(false));
    assert!(st.on_result(false), "fall 3");
    s.init_fail = true;
    let mut st = track::ScriptState::new(s, true);
    assert!(!st.ok());
    assert!(!st.on_result(true));
    assert!(st.on_result(true));
}

#[test]
fn interface_down_is_fault_and_track_interface_weight() {
    let mut c = inst("VI_1", 100, "10.0.0.1");
    c.track_interfaces = vec![tracked("eth1", None), tracked("eth2", Some(-30))];
    let mut r = Router::new(one(c), &[]);
    r.start(0);
    r.handle(
        Input::Link {
            iface: "eth2",
            up: false,
        },
        10,
    );
    assert_eq!(r.status()[0].effective_priority, 70);
    let acts = r.handle(
        Input::Link {
            iface: "eth1",
            up: false,
        },
        20,
    );
    assert_eq!(
        transitions(&acts),
        vec![("VI_1".into(), State::Fault, "interface eth1 down".into())]
    );
    r.handle(
        Input::Link {
            iface: "eth1",
            up: true,
        },
        30,
    );
    let acts = r.handle(
        Input::Link {
            iface: "eth0",
            up: false,
        },
        40,
    );
    assert_eq!(transitions(&acts)[0].2, "interface eth0 down");
    // an interface nobody tracks is not recorded
    r.handle(
        Input::Link {
            iface: "other",
            up: false,
        },
        50,
    );
    assert!(!r.links.contains_key("other"));
}

/// VI_1 tracking `entry`, and track file `f` (/run/f, weight 10).
fn file_cfg(entry: Tracked) -> VrrpConfig {
    let mut c = inst("VI_1", 100, "10.0.0.1");
    c.track_files = vec![entry];
    VrrpConfig {
        instances: vec![c],
        track_files: vec![TrackFileConfig {
            name: "f".into(),
            path: "/run/f".into(),
            weight: 10,
            reverse: false,
        }],
        ..VrrpConfig::default()
    }
}

#[test]
fn track_file_value_times_weight_and_fault_below_minus_253() {
    let mut r = Router::new(file_cfg(tracked("f", None)), &[]);
    let acts = r.start(0);
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::ReadTrackFile { path, .. } if path == "/run/f")));
    r.handle(
        Input::File {
            name: "f",
            value: -3,
        },
        10,
    );
    assert_eq!(r.status()[0].effective_priority, 70);
    r.handle(
        Input::File {
            name: "f",
            value: -26,
        },
        20,
    );
    assert_eq!(state_of(&r, "VI_1"), State::Fault);
    assert_eq!(
        r.status()[0].fault.as_deref(),
        Some("track file f value -26")
    );
    assert_eq!(r.poll_timeout(), Some(TRACK_FILE_POLL_MS));
}

/// keepalived's track_file.c: weight 0 means FAULT on a non-zero value, and with
/// `reverse` on a zero one (the entry's `weight 0 reverse` overrides the file's own).
#[test]
fn track_file_weight_zero_reverse_faults_on_zero() {
    let mut r = Router::new(
        file_cfg(Tracked {
            name: "f".into(),
            weight: Some(0),
            reverse: true,
        }),
        &[],
    );
    r.start(0);
    r.handle(
        Input::File {
            name: "f",
            value: 5,
        },
        10,
    );
    assert_eq!(state_of(&r, "VI_1"), State::Backup);
    assert_eq!(
        r.status()[0].effective_priority,
        100,
        "weight 0 never moves it"
    );
    r.handle(
        Input::File {
            name: "f",
            value: 0,
        },
        20,
    );
    assert_eq!(state_of(&r, "VI_1"), State::Fault);
    assert_eq!(r.status()[0].fault.as_deref(), Some("track file f value 0"));
    r.handle(
        Input::File {
            name: "f",
            value: -1,
        },
        30,
    );
    assert_eq!(state_of(&r, "VI_1"), State::Backup);
}

fn group_cfg() -> VrrpConfig {
    let a = inst("VI_1", 100, "10.0.0.1");
    let mut b = inst("VI_2", 100, "10.0.0.1");
    b.vrid = 52;
    b.interface = "eth1".into();
    b.vips = vec![vip("10.0.1.100")];
    VrrpConfig {
        instances: vec![a, b],
        sync_groups: vec![SyncGroupConfig {
            name: "G".into(),
            members: vec!["VI_1".into(), "VI_2".into()],
            notify: Notify {
                any: Some(NotifyScript {
                    command: "/bin/g".into(),
                    user: None,
                }),
                ..Notify::default()
            },
        }],
        ..VrrpConfig::default()
    }
}

#[test]
fn sync_group_fault_takes_all_members_and_recovery_brings_them_back() {
    let mut r = Router::new(group_cfg(), &[]);
    r.start(0);
    r.poll(3609);
    assert_eq!(state_of(&r, "VI_1"), State::Master);
    assert_eq!(state_of(&r, "VI_2"), State::Master);
    let acts = r.handle(
        Input::Link {
            iface: "eth1",
            up: false,
        },
        4000,
    );
    assert_eq!(state_of(&r, "VI_1"), State::Fault);
    assert_eq!(state_of(&r, "VI_2"), State::Fault);
    let t = transitions(&acts);
    assert!(t.contains(&(
        "VI_1".into(),
        State::Fault,
        "sync group G: VI_2 interface eth1 down".into()
    )));
    assert!(acts.iter().any(|a| matches!(a, Action::Notify { args, .. }
        if *args == vec!["GROUP".to_string(), "G".into(), "FAULT".into(), "0".into()])));
    r.handle(
        Input::Link {
            iface: "eth1",
            up: true,
        },
        5000,
    );
    assert_eq!(state_of(&r, "VI_1"), State::Backup);
    assert_eq!(state_of(&r, "VI_2"), State::Backup);
}

#[test]
fn sync_group_master_only_when_all_members_want_it_and_backup_together() {
    let mut r = Router::new(group_cfg(), &[]);
    r.start(0);
    // VI_2 hears a master; VI_1 does not: VI_1 is held back.
    let b = advert_bytes(
        Version::V2,
        52,
        150,
        100,
        &["10.0.1.100"],
        "10.0.0.2",
        "224.0.0.18",
    );
    let feed = |r: &mut Router, now| {
        r.handle(
            Input::Packet {
                iface: "eth1",
                src: ip("10.0.0.2"),
                dst: GROUP4,
                ttl: 255,
                payload: &b,
            },
            now,
        )
    };
    for t in (1000..10_000).step_by(1000) {
        feed(&mut r, t);
        while r.poll_timeout().is_some_and(|d| d <= t) {
            let d = r.poll_timeout().unwrap();
            r.poll(d);
        }
    }
    assert_eq!(state_of(&r, "VI_1"), State::Backup);
    assert_eq!(state_of(&r, "VI_2"), State::Backup);
    // The other side stops: both go MASTER together.
    r.poll(20_000);
    r.poll(30_000);
    assert_eq!(state_of(&r, "VI_1"), State::Master);
    assert_eq!(state_of(&r, "VI_2"), State::Master);
    // A higher advert on VI_2 takes both to BACKUP.
    let acts = feed(&mut r, 31_000);
    assert_eq!(state_of(&r, "VI_1"), State::Backup);
    assert_eq!(state_of(&r, "VI_2"), State::Backup);
    assert!(transitions(&acts)
        .iter()
        .any(|(n, _, why)| n == "VI_1" && why.starts_with("sync group G: VI_2")));
}

#[test]
fn reconfigure_keeps_unchanged_instances_state_and_starts_new_ones() {
    let mut r = master_router(inst("VI_1", 100, "10.0.0.1"));
    let mut c = inst("VI_1", 120, "10.0.0.1");
    c.vips.push(vip("10.0.0.101"));
    let mut other = inst("VI_9", 100, "10.0.0.1");
    other.vrid = 9;
    let cfg = VrrpConfig {
        instances: vec![c, other],
        ..VrrpConfig::default()
    };
    let acts = r.reconfigure(cfg, &[], 5000);
    assert_eq!(state_of(&r, "VI_1"), State::Master);
    assert_eq!(state_of(&r, "VI_9"), State::Backup);
    assert!(acts.iter().any(
        |a| matches!(a, Action::SetVips { instance, owned: true, vips, .. }
        if instance == "VI_1" && vips.len() == 1 && vips[0].addr == ip("10.0.0.101"))
    ));
    assert!(!transitions(&acts).iter().any(|(n, _, _)| n == "VI_1"));
    assert_eq!(r.status()[0].effective_priority, 120);
    assert_eq!(r.status()[0].counters.became_master, 1);
    // an instance gone from the config stops
    let acts = r.reconfigure(one(inst("VI_9", 100, "10.0.0.1")), &[], 6000);
    assert!(transitions(&acts).contains(&("VI_1".into(), State::Init, "removed by reload".into())));
    assert_eq!(sends(&acts)[0].2[2], 0);
}

#[test]
fn transitions_history_is_bounded() {
    let mut r = master_router(inst("VI_1", 100, "10.0.0.2"));
    for k in 0..100u64 {
        let t = 10_000 + k * 10_000;
        rx(&mut r, &v2(150, "10.0.0.3"), "10.0.0.3", 255, t);
        r.poll(t + 5000);
    }
    let s = &r.status()[0];
    assert_eq!(s.transitions.len(), HISTORY);
    assert!(s.counters.became_master > 50);
}

#[test]
fn status_lines_show_every_field_and_every_drop_reason() {
    let mut r = master_router(inst("VI_1", 100, "10.0.0.1"));
    rx(&mut r, &v2(150, "10.0.0.2"), "10.0.0.2", 1, 4000);
    let lines = status_lines(&r.status(), 5000);
    let has = |l: &str| lines.iter().any(|x| x == l);
    assert_eq!(lines[0], " VRRP Instance = VI_1");
    assert!(has("   State = MASTER"));
    assert!(has("   Effective priority = 100"));
    assert!(has("   Master router = 10.0.0.1"));
    assert!(has("   Split brain = 0"));
    assert!(has("   Dropped (ttl) = 1"));
    assert!(has("   Virtual IP = 10.0.0.100"));
    for name in [
        "malformed",
        "ttl",
        "version",
        "type",
        "checksum",
        "unknown_vrid",
        "auth",
        "interval",
        "addresses",
        "not_peer",
        "own",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("   Dropped ({name}) = "))),
            "{name}"
        );
    }
    assert!(has(
        "   Transition = 1.391 s ago BACKUP -> MASTER (master down timer expired)"
    ));
}

#[test]
fn an_instance_without_a_source_address_is_fault_and_says_why() {
    let mut c = inst("VI_1", 255, "10.0.0.1");
    c.src = None;
    let mut r = Router::new(one(c.clone()), &[]);
    let acts = r.start(0);
    assert!(sends(&acts).is_empty());
    assert_eq!(
        transitions(&acts),
        vec![(
            "VI_1".into(),
            State::Fault,
            "no source address on eth0".into()
        )]
    );
    // resolved by the driver: fine
    let mut r = Router::new(one(c), &[("VI_1".into(), ip("10.0.0.7"))]);
    let acts = r.start(0);
    assert_eq!(sends(&acts)[0].0, ip("10.0.0.7"));
}

// keepalived 2.2.7's adverts as captured by rvs-wire's tests (the VRRP message only):
// VRID 51, priority 150 then 0, advert_int 1, PASS "1111", VIPs 10.213.0.100 and .101,
// from 10.213.0.1 to 224.0.0.18.
const KA_V2_PASS: [u8; 24] = [
    0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0xce, 0xf3, 0x0a, 0xd5, 0x00, 0x64, 0x0a, 0xd5, 0x00, 0x65,
    0x31, 0x31, 0x31, 0x31, 0x00, 0x00, 0x00, 0x00,
];
const KA_V2_PASS_STOP: [u8; 24] = [
    0x21, 0x33, 0x00, 0x02, 0x01, 0x01, 0x64, 0xf4, 0x0a, 0xd5, 0x00, 0x64, 0x0a, 0xd5, 0x00, 0x65,
    0x31, 0x31, 0x31, 0x31, 0x00, 0x00, 0x00, 0x00,
];

fn ka_instance(priority: u8, src: &str) -> InstanceConfig {
    let mut c = inst("VI_1", priority, src);
    c.auth = Auth::Pass(*b"1111\0\0\0\0");
    c.vips = vec![vip("10.213.0.100"), vip("10.213.0.101")];
    c
}

#[test]
fn keepalived_adverts_are_accepted_and_ours_are_byte_identical() {
    let mut r = backup_router(ka_instance(100, "10.213.0.2"));
    rx(&mut r, &KA_V2_PASS, "10.213.0.1", 255, 1000);
    let s = &r.status()[0];
    assert_eq!(s.counters.adverts_rx, 1, "{:?}", s.counters.drops);
    assert_eq!(s.master, Some(ip("10.213.0.1")));
    assert_eq!(s.master_priority, Some(150));
    rx(&mut r, &KA_V2_PASS_STOP, "10.213.0.1", 255, 1500);
    assert_eq!(r.instances[0].down_at(), Some(1500 + 609));
    // The same instance on our side, as MASTER, sends what keepalived sent.
    let mut m = Router::new(one(ka_instance(150, "10.213.0.1")), &[]);
    m.start(0);
    let acts = m.poll(4000);
    assert_eq!(transitions(&acts)[0].1, State::Master);
    assert_eq!(sends(&acts)[0].2, KA_V2_PASS);
    assert_eq!(sends(&m.shutdown(5000))[0].2, KA_V2_PASS_STOP);
}

/// keepalived arms `preempt_delay` when the instance starts: lower adverts are accepted
/// until start + delay (not until the first lower advert + delay), then ignored.
#[test]
fn preempt_delay_counts_from_start() {
    let mut c = inst("VI_1", 150, "10.0.0.1");
    c.preempt_delay_ms = 10_000;
    let mut r = backup_router(c);
    for t in (1000..=12_000).step_by(1000) {
        rx(&mut r, &v2(100, "10.0.0.2"), "10.0.0.2", 255, t);
    }
    // accepted up to 9000 (the delay runs out at 10 000), ignored from then on
    let down = r.instances[0].master_down_ms();
    assert_eq!(r.instances[0].down_at(), Some(9000 + down));
    let acts = r.poll(9000 + down);
    assert_eq!(transitions(&acts)[0].1, State::Master);
}

/// ... and again when it leaves FAULT.
#[test]
fn preempt_delay_is_armed_again_on_leaving_fault() {
    let mut c = inst("VI_1", 150, "10.0.0.1");
    c.preempt_delay_ms = 10_000;
    let mut r = backup_router(c);
    let link = |r: &mut Router, up, t| r.handle(Input::Link { iface: "eth0", up }, t);
    link(&mut r, false, 20_000);
    assert_eq!(state_of(&r, "VI_1"), State::Fault);
    link(&mut r, true, 30_000);
    assert_eq!(state_of(&r, "VI_1"), State::Backup);
    let down = r.instances[0].master_down_ms();
    rx(&mut r, &v2(100, "10.0.0.2"), "10.0.0.2", 255, 39_000);
    assert_eq!(
        r.instances[0].down_at(),
        Some(39_000 + down),
        "within the delay"
    );
    rx(&mut r, &v2(100, "10.0.0.2"), "10.0.0.2", 255, 40_000);
    assert_eq!(
        r.instances[0].down_at(),
        Some(39_000 + down),
        "delay over: ignored"
    );
}

/// Review 24: accept, sync-group membership and state, excluded VIPs marked; the older
/// lines stay as they were.
#[test]
fn status_lines_show_accept_sync_group_and_excluded_vips() {
    let mut cfg = group_cfg();
    cfg.instances[1].accept = false;
    cfg.instances[1].vips_excluded = vec![vip("10.0.9.9")];
    let solo = inst("VI_3", 100, "10.0.0.1");
    cfg.instances.push(InstanceConfig {
        vrid: 53,
        accept: true,
        ..solo
    });
    let mut r = Router::new(cfg, &[]);
    r.start(0);
    let st = r.status();
    assert_eq!(st[1].vips_excluded, vec![ip("10.0.9.9")]);
    assert_eq!(st[0].sync_group, Some(("G".into(), State::Backup)));
    assert_eq!(st[2].sync_group, None);
    let lines = status_lines(&st, 100);
    let of = |name: &str| -> Vec<String> {
        let start = lines
            .iter()
            .position(|l| *l == format!(" VRRP Instance = {name}"))
            .unwrap();
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.starts_with(" VRRP Instance = "))
            .cloned()
            .collect()
    };
    let (vi1, vi2, vi3) = (of("VI_1"), of("VI_2"), of("VI_3"));
    assert!(
        vi1.contains(&"   Sync group = G BACKUP".to_string()),
        "{vi1:#?}"
    );
    assert!(
        vi3.contains(&"   Sync group = none".to_string()),
        "{vi3:#?}"
    );
    assert!(vi3.contains(&"   Accept = yes".to_string()), "{vi3:#?}");
    assert!(
        vi2.contains(&"   Accept = yes (no_accept is not enforced by rvs)".to_string()),
        "{vi2:#?}"
    );
    // the excluded VIP keeps its `Virtual IP` line and gets a marking one
    assert!(vi2.contains(&"   Virtual IP = 10.0.1.100".to_string()));
    assert!(vi2.contains(&"   Virtual IP = 10.0.9.9".to_string()));
    assert!(vi2.contains(&"   Excluded virtual IP = 10.0.9.9".to_string()));
    assert!(!vi2.contains(&"   Excluded virtual IP = 10.0.1.100".to_string()));
    assert!(vi2.contains(&"   State = BACKUP".to_string()));
}
