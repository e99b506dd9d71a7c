//! Simulated-time tests of the sans-IO machines.

use super::*;
use proptest::prelude::*;

fn timing(delay_loop: u64, ct: u64, retry: u32, dbr: u64) -> Timing {
    Timing {
        delay_loop_ms: delay_loop,
        connect_timeout_ms: ct,
        retry,
        delay_before_retry_ms: dbr,
        warmup_ms: 0,
    }
}

/// Drives a machine against a server whose health is `healthy(t)`, each probe taking
/// `probe_ms` (a failed one the full connect timeout), until `until`. Returns the
/// transitions with the time they happened.
fn simulate(
    m: &mut CheckMachine,
    until: u64,
    probe_ms: u64,
    healthy: impl Fn(u64) -> bool,
) -> Vec<(u64, Transition)> {
    let mut out = Vec::new();
    loop {
        let start = m.next_probe_at();
        if start > until {
            return out;
        }
        let ok = healthy(start);
        let end = start
            + if ok {
                probe_ms
            } else {
                m.timing().connect_timeout_ms
            };
        if let Some(t) = m.on_result(ok, end) {
            out.push((end, t));
        }
    }
}

#[test]
fn non_alpha_starts_up_alpha_starts_down() {
    let t = timing(1000, 100, 1, 500);
    assert!(CheckMachine::new(&t, false).is_up());
    assert!(!CheckMachine::new(&t, true).is_up());
}

#[test]
fn failure_declared_after_retry_plus_one_attempts_spaced_by_delay_before_retry() {
    let t = timing(10_000, 100, 2, 3_000);
    let mut m = CheckMachine::new(&t, false);
    m.start(0, 0);
    assert_eq!(m.on_result(true, 50), None);
    assert_eq!(m.next_probe_at(), 10_050);
    // first failure: counted, retry after delay_before_retry
    assert_eq!(m.on_result(false, 10_150), None);
    assert_eq!(m.retry_it(), 1);
    assert_eq!(m.next_probe_at(), 13_150);
    assert_eq!(m.on_result(false, 13_250), None);
    assert_eq!(m.retry_it(), 2);
    assert_eq!(m.next_probe_at(), 16_250);
    // third consecutive failure = retry + 1: declared
    assert_eq!(m.on_result(false, 16_350), Some(Transition::Down));
    assert_eq!(m.retry_it(), 0);
    assert_eq!(
        m.next_probe_at(),
        26_350,
        "a down checker is probed every delay_loop"
    );
    // down stays down without retries
    assert_eq!(m.on_result(false, 26_450), None);
    assert_eq!(m.retry_it(), 0);
    assert_eq!(m.next_probe_at(), 36_450);
    // one success brings it back
    assert_eq!(m.on_result(true, 36_500), Some(Transition::Up));
    assert_eq!(m.next_probe_at(), 46_500);
}

#[test]
fn a_success_between_failures_resets_the_count() {
    let t = timing(1000, 100, 1, 200);
    let mut m = CheckMachine::new(&t, false);
    assert_eq!(m.on_result(false, 0), None);
    assert_eq!(m.on_result(true, 300), None);
    assert_eq!(m.retry_it(), 0);
    assert_eq!(m.on_result(false, 1400), None);
    assert_eq!(m.on_result(false, 1700), Some(Transition::Down));
}

#[test]
fn retry_zero_fails_on_first_failure() {
    let t = timing(1000, 100, 0, 200);
    let mut m = CheckMachine::new(&t, false);
    assert_eq!(m.on_result(false, 100), Some(Transition::Down));
}

#[test]
fn alpha_first_success_brings_up_first_failure_stays_down() {
    let t = timing(1000, 100, 3, 200);
    let mut m = CheckMachine::new(&t, true);
    assert_eq!(m.on_result(false, 100), None, "alpha with retries: silent");
    assert_eq!(m.next_probe_at(), 1100, "no retries while down");
    assert_eq!(m.on_result(true, 1200), Some(Transition::Up));

    let t0 = timing(1000, 100, 0, 200);
    let mut m = CheckMachine::new(&t0, true);
    assert_eq!(m.on_result(false, 100), Some(Transition::InitialDown));
    assert_eq!(m.on_result(false, 1200), None);
}

#[test]
fn stall_deadline() {
    let t = timing(1000, 300, 1, 200);
    let mut m = CheckMachine::new(&t, false);
    m.start(0, 0);
    assert_eq!(m.stall_deadline(), 2000);
    m.on_result(true, 100);
    assert_eq!(m.stall_deadline(), 100 + 1000 + 300 + STALL_GRACE_MS);
    let slow = timing(1000, 5000, 1, 200);
    let mut m = CheckMachine::new(&slow, false);
    m.start(0, 0);
    m.on_result(true, 100);
    assert_eq!(m.stall_deadline(), 100 + 1000 + 5000 + STALL_GRACE_MS);
}

proptest! {
    /// From the moment the server dies, the failure is declared within
    /// delay_loop + (retry+1)*connect_timeout + retry*delay_before_retry (+ the probe
    /// that was running when it died), and after it heals it is back within
    /// delay_loop + connect_timeout.
    #[test]
    fn detection_and_recovery_bounds(
        delay_loop in 100u64..20_000,
        ct in 1u64..5_000,
        retry in 0u32..5,
        dbr in 1u64..5_000,
        probe_ms in 0u64..100,
        die_at in 0u64..100_000,
        dead_for in 1u64..200_000,
    ) {
        let probe_ms = probe_ms.min(ct);
        let t = timing(delay_loop, ct, retry, dbr);
        let mut m = CheckMachine::new(&t, false);
        m.start(0, 0);
        let heal_at = die_at + dead_for;
        let healthy = |s: u64| s < die_at || s >= heal_at;
        let tr = simulate(&mut m, heal_at + 10 * (delay_loop + ct + dbr) * (u64::from(retry) + 2), probe_ms, healthy);
        let bound = delay_loop + (u64::from(retry) + 1) * ct + u64::from(retry) * dbr;
        // transitions alternate and start with Down
        for w in tr.windows(2) {
            prop_assert_ne!(w[0].1, w[1].1);
        }
        match tr.first() {
            Some(&(at, Transition::Down)) => {
                // a probe started just before death may still report success (probe_ms)
                prop_assert!(at <= die_at + probe_ms + bound, "down at {} bound {}", at, die_at + probe_ms + bound);
                prop_assert!(at >= die_at);
            }
            Some(&(_, other)) => prop_assert!(false, "first transition {:?}", other),
            None => {
                // the outage was shorter than the detection time: nothing happened
                prop_assert!(dead_for < bound + ct, "outage {} missed, bound {}", dead_for, bound);
            }
        }
        if !tr.is_empty() {
            // it came back: the last transition is Up, within delay_loop + ct of healing
            prop_assert_eq!(tr.last().unwrap().1, Transition::Up);
            let up_at = tr.last().unwrap().0;
            prop_assert!(up_at <= heal_at + delay_loop + ct + probe_ms, "up at {} healed {}", up_at, heal_at);
        }
        prop_assert!(m.is_up());
    }
}

fn rs(port: u16, weight: u32, checks: usize, inhibit: bool) -> RsState {
    RsState::new(
        RsConfig {
            rs: SocketAddr::from(([10, 0, 0, 1], port)),
            weight,
            inhibit_on_failure: inhibit,
            notify_up: Some(format!("/bin/up rs{port}")),
            notify_down: Some(format!("/bin/down 'rs {port}'")),
        },
        vec![true; checks],
    )
}

fn vs(quorum: u64, hysteresis: u64, sorry: bool) -> VsConfig {
    VsConfig {
        svc: SvcId("TCP 1.2.3.4:80".into()),
        quorum,
        hysteresis,
        quorum_up: Some("/bin/qup".into()),
        quorum_down: Some("/bin/qdown x".into()),
        sorry_server: sorry.then(|| (SocketAddr::from(([10, 9, 9, 9], 80)), 1)),
        sorry_server_inhibit: false,
        omega: false,
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

fn svc() -> SvcId {
    SvcId("TCP 1.2.3.4:80".into())
}

#[test]
fn notify_splits_like_keepalived() {
    assert_eq!(
        Action::notify("/bin/down 'rs 1' x"),
        Some(Action::Notify {
            script: "/bin/down".into(),
            args: vec!["rs 1".into(), "x".into()]
        })
    );
    assert_eq!(Action::notify("   "), None);
}

#[test]
fn startup_adds_alive_servers() {
    let (m, acts) = VsMachine::new(
        vs(1, 0, false),
        vec![rs(1, 3, 1, false), rs(2, 2, 1, false)],
        None,
    );
    assert!(m.quorum_up());
    assert_eq!(
        acts,
        vec![
            Action::AddDest {
                svc: svc(),
                rs: addr(1),
                weight: 3
            },
            Action::AddDest {
                svc: svc(),
                rs: addr(2),
                weight: 2
            },
        ]
    );
}

#[test]
fn failed_server_is_removed_and_comes_back() {
    let (mut m, _) = VsMachine::new(
        vs(1, 0, false),
        vec![rs(1, 3, 2, false), rs(2, 2, 1, false)],
        None,
    );
    let a = m.on_transition(0, 1, Transition::Down);
    assert_eq!(
        a,
        vec![
            Action::RemoveDest {
                svc: svc(),
                rs: addr(1)
            },
            Action::Notify {
                script: "/bin/down".into(),
                args: vec!["rs 1".into()]
            },
        ]
    );
    // the other checker failing too changes nothing more
    assert_eq!(m.on_transition(0, 0, Transition::Down), vec![]);
    // only when ALL checkers are up is it back
    assert_eq!(m.on_transition(0, 1, Transition::Up), vec![]);
    let a = m.on_transition(0, 0, Transition::Up);
    assert_eq!(
        a,
        vec![
            Action::AddDest {
                svc: svc(),
                rs: addr(1),
                weight: 3
            },
            Action::Notify {
                script: "/bin/up".into(),
                args: vec!["rs1".into()]
            },
        ]
    );
    // and again: a second failure/recovery cycle behaves the same (no stuck flag)
    assert_eq!(m.on_transition(0, 0, Transition::Down).len(), 2);
    assert_eq!(
        m.on_transition(0, 0, Transition::Up)[0],
        Action::AddDest {
            svc: svc(),
            rs: addr(1),
            weight: 3
        }
    );
}

#[test]
fn inhibit_on_failure_sets_weight_zero() {
    let (mut m, _) = VsMachine::new(
        vs(1, 0, false),
        vec![rs(1, 3, 1, true), rs(2, 2, 1, false)],
        None,
    );
    let a = m.on_transition(0, 0, Transition::Down);
    assert_eq!(
        a[0],
        Action::SetWeight {
            svc: svc(),
            rs: addr(1),
            weight: 0
        }
    );
    let a = m.on_transition(0, 0, Transition::Up);
    assert_eq!(
        a[0],
        Action::SetWeight {
            svc: svc(),
            rs: addr(1),
            weight: 3
        }
    );
}

#[test]
fn alpha_server_with_inhibit_starts_at_weight_zero() {
    let mut r = rs(1, 3, 1, true);
    r.set_check(0, false);
    let (_, acts) = VsMachine::new(vs(1, 0, false), vec![r], None);
    assert_eq!(
        acts,
        vec![Action::AddDest {
            svc: svc(),
            rs: addr(1),
            weight: 0
        }]
    );
}

#[test]
fn dynamic_weight() {
    let (mut m, _) = VsMachine::new(vs(1, 0, false), vec![rs(1, 3, 1, false)], None);
    assert_eq!(
        m.on_weight(0, DynWeight::Set(10)),
        vec![Action::SetWeight {
            svc: svc(),
            rs: addr(1),
            weight: 10
        }]
    );
    assert_eq!(m.on_weight(0, DynWeight::Set(10)), vec![]);
    assert_eq!(
        m.on_weight(0, DynWeight::Reset),
        vec![Action::SetWeight {
            svc: svc(),
            rs: addr(1),
            weight: 3
        }]
    );
    // a weight change while down only takes effect when it comes back
    m.on_transition(0, 0, Transition::Down);
    assert_eq!(m.on_weight(0, DynWeight::Set(7)), vec![]);
    assert_eq!(
        m.on_transition(0, 0, Transition::Up)[0],
        Action::AddDest {
            svc: svc(),
            rs: addr(1),
            weight: 7
        }
    );
}

#[test]
fn quorum_hysteresis_thresholds() {
    let mut q = Quorum::new(5, 2, 6);
    assert!(!q.up(), "6 < 5+2");
    assert_eq!(q.update(6), None);
    assert_eq!(q.update(7), Some(true));
    assert_eq!(q.update(4), None, "4 >= 5-2");
    assert_eq!(q.update(3), None);
    assert_eq!(q.update(2), Some(false));
    assert_eq!(q.update(6), None);
    let mut q = Quorum::new(1, 5, 10);
    assert!(q.up());
    assert_eq!(q.update(0), Some(false), "a zero sum always loses quorum");
}

fn count(acts: &[Action], f: impl Fn(&Action) -> bool) -> usize {
    acts.iter().filter(|a| f(a)).count()
}

proptest! {
    /// Five servers of weight 1, quorum 3, hysteresis 1, a sorry server: whatever the
    /// order of failures and recoveries, the sorry server goes in exactly when the live
    /// weight first drops below 2 and out exactly when it reaches 4 again, once each per
    /// crossing; the pool the daemon holds always equals the desired pool.
    #[test]
    fn quorum_sorry_server_in_and_out_once(flips in proptest::collection::vec(0usize..5, 1..60)) {
        let servers: Vec<_> = (1..=5).map(|p| rs(p, 1, 1, false)).collect();
        let (mut m, init) = VsMachine::new(vs(3, 1, true), servers, None);
        prop_assert!(m.quorum_up());
        let mut daemon: BTreeMap<SocketAddr, u32> = BTreeMap::new();
        let apply = |daemon: &mut BTreeMap<SocketAddr, u32>, acts: &[Action]| -> Result<(), TestCaseError> {
            for a in acts {
                match a {
                    Action::AddDest { rs, weight, .. } => prop_assert!(daemon.insert(*rs, *weight).is_none(), "double add"),
                    Action::SetWeight { rs, weight, .. } => prop_assert!(daemon.insert(*rs, *weight).is_some(), "edit of absent"),
                    Action::RemoveDest { rs, .. } => prop_assert!(daemon.remove(rs).is_some(), "remove of absent"),
                    _ => {}
                }
            }
            Ok(())
        };
        apply(&mut daemon, &init)?;
        let sorry = SocketAddr::from(([10, 9, 9, 9], 80));
        let mut up = [true; 5];
        let mut quorum_up = true;
        for i in flips {
            up[i] = !up[i];
            let t = if up[i] { Transition::Up } else { Transition::Down };
            let acts = m.on_transition(i, 0, t);
            apply(&mut daemon, &acts)?;
            let live = up.iter().filter(|&&u| u).count() as u64;
            let sin = count(&acts, |a| matches!(a, Action::SorryIn { .. }));
            let sout = count(&acts, |a| matches!(a, Action::SorryOut { .. }));
            if quorum_up && live < 2 {
                prop_assert_eq!((sin, sout), (1, 0));
                prop_assert_eq!(count(&acts, |a| matches!(a, Action::Notify { script, .. } if script == "/bin/qdown")), 1);
                quorum_up = false;
            } else if !quorum_up && live >= 4 {
                prop_assert_eq!((sin, sout), (0, 1));
                prop_assert_eq!(count(&acts, |a| matches!(a, Action::Notify { script, .. } if script == "/bin/qup")), 1);
                quorum_up = true;
            } else {
                prop_assert_eq!((sin, sout), (0, 0));
            }
            prop_assert_eq!(m.quorum_up(), quorum_up);
            prop_assert_eq!(&daemon, m.pool());
            if quorum_up {
                prop_assert!(!daemon.contains_key(&sorry));
                prop_assert_eq!(daemon.len() as u64, live);
            } else {
                prop_assert_eq!(daemon.len(), 1, "only the sorry server while quorum is lost");
                prop_assert_eq!(daemon.get(&sorry), Some(&1));
            }
        }
    }
}

#[test]
fn starting_with_quorum_down_brings_the_sorry_server_in() {
    let mut r = rs(1, 1, 1, false);
    r.set_check(0, false);
    let (m, acts) = VsMachine::new(vs(1, 0, true), vec![r], None);
    assert!(!m.quorum_up());
    assert!(acts.contains(&Action::SorryIn {
        svc: svc(),
        sorry: SocketAddr::from(([10, 9, 9, 9], 80))
    }));
    assert!(acts.contains(&Action::AddDest {
        svc: svc(),
        rs: SocketAddr::from(([10, 9, 9, 9], 80)),
        weight: 1
    }));
    assert!(acts.contains(&Action::Notify {
        script: "/bin/qdown".into(),
        args: vec!["x".into()]
    }));
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_zero() {
    let mut cfg = vs(2, 0, true);
    cfg.sorry_server_inhibit = true;
    let (mut m, acts) = VsMachine::new(cfg, vec![rs(1, 1, 1, false), rs(2, 1, 1, false)], None);
    let s = SocketAddr::from(([10, 9, 9, 9], 80));
    assert!(acts.contains(&Action::AddDest {
        svc: svc(),
        rs: s,
        weight: 0
    }));
    let acts = m.on_transition(0, 0, Transition::Down);
    assert!(acts.contains(&Action::SetWeight {
        svc: svc(),
        rs: s,
        weight: 1
    }));
    assert!(acts.contains(&Action::RemoveDest {
        svc: svc(),
        rs: addr(2)
    }));
    let acts = m.on_transition(0, 0, Transition::Up);
    assert!(acts.contains(&Action::SetWeight {
        svc: svc(),
        rs: s,
        weight: 0
    }));
    assert!(acts.contains(&Action::AddDest {
        svc: svc(),
        rs: addr(1),
        weight: 1
    }));
    assert!(acts.contains(&Action::AddDest {
        svc: svc(),
        rs: addr(2),
        weight: 1
    }));
}

#[test]
fn omega_runs_down_notifiers_on_shutdown() {
    let mut cfg = vs(1, 0, false);
    let (mut m, _) = VsMachine::new(cfg.clone(), vec![rs(1, 1, 1, true)], None);
    assert_eq!(
        m.shutdown(),
        vec![Action::RemoveDest {
            svc: svc(),
            rs: addr(1)
        }]
    );
    cfg.omega = true;
    let (mut m, _) = VsMachine::new(cfg, vec![rs(1, 1, 1, true)], None);
    let acts = m.shutdown();
    assert_eq!(
        acts[0],
        Action::RemoveDest {
            svc: svc(),
            rs: addr(1)
        }
    );
    assert!(acts.contains(&Action::Notify {
        script: "/bin/down".into(),
        args: vec!["rs 1".into()]
    }));
    assert!(acts.contains(&Action::Notify {
        script: "/bin/qdown".into(),
        args: vec!["x".into()]
    }));
}

#[test]
fn reload_keeps_the_pool_and_diffs_only() {
    let (mut m, _) = VsMachine::new(
        vs(1, 0, false),
        vec![rs(1, 3, 1, false), rs(2, 2, 1, false)],
        None,
    );
    m.on_transition(1, 0, Transition::Down);
    // reload: rs 2 still down (state carried by the caller), rs 1 reweighted, rs 3 new
    let mut r2 = rs(2, 2, 1, false);
    r2.set_check(0, false);
    let (_, acts) = VsMachine::new(
        vs(1, 0, false),
        vec![rs(1, 5, 1, false), r2, rs(3, 1, 1, false)],
        Some(&m),
    );
    assert_eq!(
        acts,
        vec![
            Action::SetWeight {
                svc: svc(),
                rs: addr(1),
                weight: 5
            },
            Action::AddDest {
                svc: svc(),
                rs: addr(3),
                weight: 1
            },
        ]
    );
}
