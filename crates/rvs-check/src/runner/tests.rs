//! The checker end to end, against real servers on 127.0.0.1.

use super::*;
use crate::spec::HttpUrl;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

fn timing(delay_loop: u64, ct: u64, retry: u32, dbr: u64) -> Timing {
    Timing {
        delay_loop_ms: delay_loop,
        connect_timeout_ms: ct,
        retry,
        delay_before_retry_ms: dbr,
        warmup_ms: 0,
    }
}

fn tcp(t: Timing) -> CheckSpec {
    CheckSpec {
        kind: CheckKind::Tcp,
        timing: t,
        endpoint: Endpoint::default(),
    }
}

fn vs(name: &str, rs: Vec<Target>) -> VsTarget {
    VsTarget {
        vs: VsConfig {
            svc: SvcId(name.into()),
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            sorry_server: None,
            sorry_server_inhibit: false,
            omega: false,
        },
        real_servers: rs,
    }
}

fn target(rs: SocketAddr, checks: Vec<CheckSpec>, alpha: bool) -> Target {
    Target {
        rs: RsConfig {
            rs,
            weight: 1,
            inhibit_on_failure: false,
            notify_up: Some("up.sh".into()),
            notify_down: Some(format!("down.sh {rs}")),
        },
        alpha,
        checks,
    }
}

/// A TCP listener on 127.0.0.1 that counts accepted connections.
fn counting_listener(
    addr: &str,
) -> (
    SocketAddr,
    Arc<AtomicUsize>,
    std::thread::JoinHandle<()>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    let l = std::net::TcpListener::bind(addr).unwrap();
    l.set_nonblocking(true).unwrap();
    let a = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (n2, stop2) = (n.clone(), stop.clone());
    let h = std::thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            match l.accept() {
                Ok(_) => {
                    n2.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (a, n, h, stop)
}

fn collect(rx: &mpsc::Receiver<Action>, wait: Duration) -> Vec<Action> {
    let end = Instant::now() + wait;
    let mut v = Vec::new();
    while let Ok(a) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        v.push(a);
    }
    v
}

/// Waits until an action matching `f` arrives; returns everything seen until then.
fn wait_for(
    rx: &mpsc::Receiver<Action>,
    wait: Duration,
    f: impl Fn(&Action) -> bool,
) -> Vec<Action> {
    let end = Instant::now() + wait;
    let mut v = Vec::new();
    loop {
        match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(a) => {
                let hit = f(&a);
                v.push(a);
                if hit {
                    return v;
                }
            }
            Err(_) => panic!("timed out; saw {v:?}"),
        }
    }
}

#[test]
fn ten_services_one_probe() {
    let (rs, accepts, h, stop) = counting_listener("127.0.0.1:0");
    let t = timing(200, 500, 1, 100);
    let plan: Vec<_> = (0..10)
        .map(|i| {
            vs(
                &format!("svc{i}"),
                vec![target(rs, vec![tcp(t.clone())], false)],
            )
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    let c = Checker::start(plan, move |a| tx.send(a).unwrap());
    let init = collect(&rx, Duration::from_millis(1100));
    assert_eq!(
        init.iter()
            .filter(|a| matches!(a, Action::AddDest { .. }))
            .count(),
        10
    );
    let st = c.status();
    assert_eq!(st.len(), 1, "one probe unit for ten services");
    assert_eq!(st[0].users.len(), 10);
    assert!(st[0].up);
    let probes = st[0].probes as usize;
    let n = accepts.load(Ordering::Relaxed);
    assert!((4..=7).contains(&n), "about 1100/200 connections, got {n}");
    assert!(n.abs_diff(probes) <= 1, "{n} accepts, {probes} probes");
    c.stop();
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}

#[test]
fn failed_server_comes_back() {
    let (rs, _, h, stop) = counting_listener("127.0.0.1:0");
    let t = timing(100, 300, 1, 50);
    let (tx, rx) = mpsc::channel();
    let c = Checker::start(
        vec![vs("s", vec![target(rs, vec![tcp(t)], true)])],
        move |a| tx.send(a).unwrap(),
    );
    // alpha: out of the pool until the first success
    let seen = wait_for(&rx, Duration::from_secs(3), |a| {
        matches!(a, Action::AddDest { .. })
    });
    assert_eq!(
        seen[0],
        Action::AddDest {
            svc: SvcId("s".into()),
            rs,
            weight: 1
        }
    );
    for round in 0..2 {
        stop.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
        // the listener is gone: connections are refused
        let t0 = Instant::now();
        let seen = wait_for(
            &rx,
            Duration::from_secs(3),
            |a| matches!(a, Action::Notify { script, .. } if script == "down.sh"),
        );
        assert!(
            seen.contains(&Action::RemoveDest {
                svc: SvcId("s".into()),
                rs
            }),
            "round {round}: {seen:?}"
        );
        // delay_loop + 2 * ct + dbr = 750 ms at most (refused is quick)
        assert!(
            t0.elapsed() < Duration::from_millis(900),
            "detected in {:?}",
            t0.elapsed()
        );
        assert!(!c.status()[0].up);
        // back on the same port
        let l = std::net::TcpListener::bind(rs).unwrap();
        let seen = wait_for(&rx, Duration::from_secs(3), |a| {
            matches!(a, Action::AddDest { .. })
        });
        assert_eq!(
            seen.last().unwrap(),
            &Action::AddDest {
                svc: SvcId("s".into()),
                rs,
                weight: 1
            },
            "round {round}"
        );
        assert!(c.status()[0].up);
        drop(l);
        stop.store(false, Ordering::Relaxed);
    }
    c.stop();
    h.join().unwrap();
}

#[test]
fn update_keeps_state_and_diffs() {
    let (up_rs, _, h, stop) = counting_listener("127.0.0.1:0");
    let down_rs = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let t = timing(100, 300, 0, 50);
    let plan = vec![vs(
        "s",
        vec![
            target(up_rs, vec![tcp(t.clone())], false),
            target(down_rs, vec![tcp(t.clone())], false),
        ],
    )];
    let (tx, rx) = mpsc::channel();
    let c = Checker::start(plan.clone(), move |a| tx.send(a).unwrap());
    let seen = wait_for(
        &rx,
        Duration::from_secs(3),
        |a| matches!(a, Action::Notify { script, .. } if script == "down.sh"),
    );
    assert!(
        seen.contains(&Action::RemoveDest {
            svc: SvcId("s".into()),
            rs: down_rs
        }),
        "{seen:?}"
    );
    let probes_before: u64 = c.status().iter().map(|s| s.probes).sum();
    // the same plan again: nothing to do, state kept (the down server stays down)
    c.update(plan.clone());
    assert_eq!(collect(&rx, Duration::from_millis(300)), vec![]);
    let st = c.status();
    assert!(
        st.iter().map(|s| s.probes).sum::<u64>() > probes_before,
        "probe units kept running"
    );
    assert_eq!(st.iter().filter(|s| !s.up).count(), 1);
    // a new service sharing the up server's check joins with the known state at once
    let mut plan2 = plan.clone();
    plan2.push(vs("t", vec![target(up_rs, vec![tcp(t.clone())], false)]));
    c.update(plan2);
    assert_eq!(
        collect(&rx, Duration::from_millis(300)),
        vec![Action::AddDest {
            svc: SvcId("t".into()),
            rs: up_rs,
            weight: 1
        }]
    );
    assert_eq!(c.status().len(), 2);
    // reweighting is a SetWeight; removing a real server is a RemoveDest
    let mut plan3 = vec![vs("s", vec![target(up_rs, vec![tcp(t.clone())], false)])];
    plan3[0].real_servers[0].rs.weight = 5;
    c.update(plan3);
    assert_eq!(
        collect(&rx, Duration::from_millis(300)),
        vec![Action::SetWeight {
            svc: SvcId("s".into()),
            rs: up_rs,
            weight: 5
        }]
    );
    assert_eq!(c.status().len(), 1, "the down server's probe stopped");
    c.stop();
    assert_eq!(
        collect(&rx, Duration::from_millis(100)),
        vec![Action::RemoveDest {
            svc: SvcId("s".into()),
            rs: up_rs
        }]
    );
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}

fn misc(script: &str, t: Timing) -> CheckSpec {
    CheckSpec {
        kind: CheckKind::Misc {
            path: script.into(),
            dynamic: true,
            user: None,
        },
        timing: t,
        endpoint: Endpoint::default(),
    }
}

#[test]
fn misc_dynamic_weight_flows_to_the_pool() {
    let rs: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let (tx, rx) = mpsc::channel();
    let c = Checker::start(
        vec![vs(
            "s",
            vec![target(
                rs,
                vec![misc("exit 12", timing(100, 2000, 0, 50))],
                false,
            )],
        )],
        move |a| tx.send(a).unwrap(),
    );
    let seen = wait_for(&rx, Duration::from_secs(3), |a| {
        matches!(a, Action::SetWeight { .. })
    });
    assert_eq!(
        seen.last().unwrap(),
        &Action::SetWeight {
            svc: SvcId("s".into()),
            rs,
            weight: 10
        }
    );
    assert_eq!(c.vs_status()[0].weight_sum, 10);
    drop(c);
}

#[test]
fn stall_is_detected_and_reported() {
    let (rs, _, h, stop) = counting_listener("127.0.0.1:0");
    // One probe slot: a 3 s script hogs it, so the 100 ms TCP check cannot run.
    let plan = vec![
        vs(
            "a",
            vec![target(
                "127.0.0.1:2".parse().unwrap(),
                vec![misc("sleep 3", timing(100, 5000, 0, 50))],
                false,
            )],
        ),
        vs(
            "b",
            vec![target(rs, vec![tcp(timing(100, 200, 0, 50))], false)],
        ),
    ];
    let c = Checker::with_config(plan, |_| {}, CheckerConfig { max_concurrency: 1 });
    std::thread::sleep(Duration::from_millis(2500));
    let st = c.status();
    let t = st.iter().find(|s| s.kind == "TCP_CHECK").unwrap();
    assert!(t.stalled, "{st:?}");
    assert!(c.stalled());
    drop(c);
    // unstarved, nothing stalls
    let c = Checker::start(
        vec![vs(
            "b",
            vec![target(rs, vec![tcp(timing(100, 200, 0, 50))], false)],
        )],
        |_| {},
    );
    std::thread::sleep(Duration::from_millis(600));
    assert!(!c.stalled(), "{:?}", c.status());
    assert!(c.status()[0].probes >= 3);
    drop(c);
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}

/// An HTTP server that answers after 200 ms and records the most requests in flight.
async fn slow_http(inflight: Arc<AtomicUsize>, max: Arc<AtomicUsize>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let (inflight, max) = (inflight.clone(), max.clone());
            tokio::spawn(async move {
                let mut b = [0u8; 1024];
                let _ = s.read(&mut b).await;
                let n = inflight.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                inflight.fetch_sub(1, Ordering::SeqCst);
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nok").await;
            });
        }
    });
    a
}

#[test]
fn concurrency_is_bounded() {
    let inflight = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let (atx, arx) = mpsc::channel();
    let (i2, m2) = (inflight.clone(), max.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            atx.send(slow_http(i2, m2).await).unwrap();
            std::future::pending::<()>().await
        })
    });
    let rs = arx.recv().unwrap();
    let checks: Vec<CheckSpec> = (0..8)
        .map(|i| CheckSpec {
            kind: CheckKind::Http {
                tls: false,
                urls: vec![HttpUrl {
                    path: format!("/{i}"),
                    ..Default::default()
                }],
                virtualhost: None,
                sni: false,
                http_protocol: "1.0".into(),
            },
            timing: timing(100, 2000, 0, 50),
            endpoint: Endpoint::default(),
        })
        .collect();
    let c = Checker::with_config(
        vec![vs("s", vec![target(rs, checks, false)])],
        |_| {},
        CheckerConfig { max_concurrency: 2 },
    );
    std::thread::sleep(Duration::from_millis(1200));
    let st = c.status();
    assert_eq!(st.len(), 8);
    assert!(
        st.iter()
            .all(|s| s.last_ok == Some(true) || s.last_ok.is_none()),
        "{st:?}"
    );
    assert_eq!(max.load(Ordering::SeqCst), 2, "at most 2 probes in flight");
    drop(c);
}
