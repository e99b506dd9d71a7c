//! keepalived.conf end to end (issue 5): rvsd --config builds the table, the health checker
//! takes failed real servers out (or to weight 0 with inhibit_on_failure) and brings them
//! back, quorum switches a sorry server in and out, SIGHUP reloads under load without a
//! failed request, and a broken file changes nothing.

mod e2e;
use e2e::*;
use rvs_testnet::wait_for;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CHECK: &str = "TCP_CHECK {\n            connect_timeout 1\n            retry 1\n            delay_before_retry 1\n        }";

fn conf(extra_vs: &str, inhibit: bool) -> String {
    let inh = if inhibit { "inhibit_on_failure" } else { "" };
    format!(
        "global_defs {{\n    router_id rvs_e2e\n}}\n\
         virtual_server 10.0.0.1 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n{extra_vs}\n\
         \x20   real_server 172.16.0.2 80 {{\n        weight 1\n        {inh}\n        {CHECK}\n    }}\n\
         \x20   real_server 172.16.0.3 80 {{\n        weight 1\n        {inh}\n        {CHECK}\n    }}\n}}\n"
    )
}

/// curl in a loop from the client; counts the failures of requests begun after `armed`
/// is set.
struct Load {
    stop: Arc<AtomicBool>,
    armed: Arc<AtomicBool>,
    failures: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    /// Requests made, armed or not.
    total: Arc<AtomicU64>,
    h: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(client: &rvs_testnet::Ns, url: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let armed = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let total = Arc::new(AtomicU64::new(0));
        let (c, u) = (client.clone(), url.to_string());
        let (s, a, f, d) = (stop.clone(), armed.clone(), failures.clone(), done.clone());
        let t = total.clone();
        let h = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                // Only requests begun after arming count: one in flight when the test
                // arms may have been scheduled before the detection it waits for.
                let armed = a.load(Ordering::Relaxed);
                let ok = c
                    .run(&["curl", "-s", "--fail", "--max-time", "2", &u])
                    .map(|o| o.status.success())
                    .unwrap_or(false);
                t.fetch_add(1, Ordering::Relaxed);
                if armed {
                    d.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        f.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Load {
            stop,
            armed,
            failures,
            done,
            total,
            h: Some(h),
        }
    }

    /// Waits until `n` more requests have been made (armed or not, whatever their outcome).
    fn wait_requests(&self, n: u64, limit: Duration) {
        let goal = self.total.load(Ordering::Relaxed) + n;
        wait_for(&format!("{n} requests of the load"), limit, || {
            Ok(match self.total.load(Ordering::Relaxed) {
                t if t >= goal => ControlFlow::Break(()),
                t => ControlFlow::Continue(format!("{t} of {goal}")),
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    fn arm(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.armed.store(true, Ordering::Relaxed);
    }

    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.h.take() {
            let _ = h.join();
        }
        (
            self.failures.load(Ordering::Relaxed),
            self.done.load(Ordering::Relaxed),
        )
    }
}

/// delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry, plus a second
/// of slack for the poll and the transaction.
const DETECT: Duration = Duration::from_secs(1 + 2 + 1 + 1);

fn failure_kinds(io: &str) {
    let mut t = nat_lab(&format!("h{}", &io[2..3]), 2);
    let path = t.lab.dir().join("keepalived.conf");
    std::fs::write(&path, conf("", false)).unwrap();
    let p = path.display().to_string();
    let d = Director::start_with(&t.lab, &t.dir, &["eth0", "eth1"], io, &["--config", &p]);
    d.wait_list(
        "-Ln",
        Duration::from_secs(5),
        "both real servers added",
        |l| l.contains("172.16.0.2:80") && l.contains("172.16.0.3:80"),
    );
    let load = Load::start(&t.client, "http://10.0.0.1/");
    load.wait_requests(1, Duration::from_secs(5));

    // 1. The web server dies.
    t.nginx[0].kill();
    let took = d.wait_list("-Ln", DETECT, "killed nginx detected", |l| {
        !l.contains("172.16.0.2:80")
    });
    eprintln!("{io}: nginx killed, out in {took:?}");
    load.arm();
    load.wait_requests(30, Duration::from_secs(30));
    let (f, n) = (
        load.failures.load(Ordering::Relaxed),
        load.done.load(Ordering::Relaxed),
    );
    assert_eq!(f, 0, "{f} of {n} requests failed after detection");
    t.nginx[0] = t.rs[0]
        .nginx(&["0.0.0.0:80".parse().unwrap()], "rs1")
        .unwrap();
    d.wait_list("-Ln", Duration::from_secs(5), "restarted nginx back", |l| {
        l.contains("172.16.0.2:80")
    });

    // 2-4. The link goes down; the host stops answering (nftables drop: the check times
    // out); the host answers with ICMP unreachable. Each is detected in time and undone.
    let rs1 = t.rs[0].clone();
    let nft = |rule: &str| {
        rs1.exec(&["nft", &format!("add table inet blk; add chain inet blk in {{ type filter hook input priority 0; {rule} }}")])
            .unwrap();
    };
    type Step<'a> = &'a dyn Fn();
    let failures: [(&str, Step, Step); 3] = [
        (
            "link down",
            &|| {
                rs1.ip(&["link", "set", "eth0", "down"]).unwrap();
            },
            &|| {
                rs1.ip(&["link", "set", "eth0", "up"]).unwrap();
                rs1.route("default via 172.16.0.1").unwrap();
            },
        ),
        ("silent host", &|| nft("policy drop;"), &|| {
            rs1.exec(&["nft", "delete table inet blk"]).unwrap();
        }),
        (
            "ICMP unreachable",
            &|| nft("tcp dport 80 reject with icmp type host-unreachable;"),
            &|| {
                rs1.exec(&["nft", "delete table inet blk"]).unwrap();
            },
        ),
    ];
    for (what, break_it, fix_it) in failures {
        break_it();
        d.wait_list("-Ln", DETECT, &format!("{what} detected"), |l| {
            !l.contains("172.16.0.2:80")
        });
        fix_it();
        d.wait_list(
            "-Ln",
            Duration::from_secs(8),
            &format!("{what} undone"),
            |l| l.contains("172.16.0.2:80"),
        );
    }
    let (f, n) = load.finish();
    assert!(n > 0, "no load ran");
    eprintln!("{io}: {f} failures in {n} requests over the whole run (before detections too)");
}

#[test]
fn keepalived_failure_kinds_afxdp() {
    failure_kinds("afxdp");
}

#[test]
fn keepalived_failure_kinds_afpacket() {
    failure_kinds("afpacket");
}

fn quorum(io: &str) {
    let mut t = nat_lab(&format!("q{}", &io[2..3]), 3);
    let path = t.lab.dir().join("keepalived.conf");
    // rs3 is the sorry server; quorum 2 needs both real servers.
    std::fs::write(
        &path,
        conf("    quorum 2\n    sorry_server 172.16.0.4 80\n", false),
    )
    .unwrap();
    let p = path.display().to_string();
    let d = Director::start_with(&t.lab, &t.dir, &["eth0", "eth1"], io, &["--config", &p]);
    d.wait_list("-Ln", Duration::from_secs(5), "real servers in", |l| {
        l.contains("172.16.0.2:80") && l.contains("172.16.0.3:80") && !l.contains("172.16.0.4:80")
    });
    let got = answers(&t.client, "http://10.0.0.1/", 4);
    assert!(
        got.iter().all(|g| g != "rs3"),
        "sorry server used with quorum: {got:?}"
    );
    t.nginx[0].kill();
    d.wait_list("-Ln", DETECT, "quorum lost: sorry server in", |l| {
        l.contains("172.16.0.4:80") && !l.contains("172.16.0.3:80")
    });
    let got = answers(&t.client, "http://10.0.0.1/", 4);
    assert!(
        got.iter().all(|g| g == "rs3"),
        "quorum lost, not all to the sorry server: {got:?}"
    );
    t.nginx[0] = t.rs[0]
        .nginx(&["0.0.0.0:80".parse().unwrap()], "rs1")
        .unwrap();
    d.wait_list(
        "-Ln",
        Duration::from_secs(6),
        "quorum regained: sorry server out",
        |l| {
            !l.contains("172.16.0.4:80")
                && l.contains("172.16.0.2:80")
                && l.contains("172.16.0.3:80")
        },
    );
    let got = answers(&t.client, "http://10.0.0.1/", 4);
    assert!(
        got.iter().all(|g| g != "rs3"),
        "traffic stayed on the sorry server: {got:?}"
    );
}

#[test]
fn keepalived_quorum_afxdp() {
    quorum("afxdp");
}

#[test]
fn keepalived_quorum_afpacket() {
    quorum("afpacket");
}

#[test]
fn keepalived_inhibit_on_failure_sets_weight_zero() {
    let mut t = nat_lab("inh", 2);
    let path = t.lab.dir().join("keepalived.conf");
    // notify_down runs with the words keepalived would pass (none added for a real server).
    let flag = t.lab.dir().join("rs1-down");
    let text = conf("", true).replacen(
        "weight 1\n        inhibit_on_failure",
        &format!(
            "weight 1\n        inhibit_on_failure\n        notify_down \"/usr/bin/touch {}\"",
            flag.display()
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let p = path.display().to_string();
    let d = Director::start_with(
        &t.lab,
        &t.dir,
        &["eth0", "eth1"],
        "afxdp",
        &["--config", &p],
    );
    d.wait_list("-Ln", Duration::from_secs(5), "real servers in", |l| {
        l.contains("172.16.0.2:80                Masq    1")
    });
    t.nginx[0].kill();
    d.wait_list("-Ln", DETECT, "weight 0 on failure", |l| {
        l.contains("172.16.0.2:80                Masq    0")
    });
    let got = answers(&t.client, "http://10.0.0.1/", 4);
    assert!(got.iter().all(|g| g == "rs2"), "{got:?}");
    wait_for("notify_down", Duration::from_secs(3), || {
        Ok(match flag.exists() {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(d.log()),
        })
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let o = std::process::Command::new(RVSADM)
        .arg("--check-status")
        .env("RVS_SOCKET", &d.socket)
        .output()
        .unwrap();
    let st = String::from_utf8_lossy(&o.stdout);
    assert!(st.contains("TCP 10.0.0.1:80: quorum up"), "{st}");
    assert!(st.contains("TCP_CHECK 172.16.0.2:80 DOWN"), "{st}");
    assert!(st.contains("TCP_CHECK 172.16.0.3:80 UP"), "{st}");
}

fn reload(io: &str) {
    let t = nat_lab(&format!("r{}", &io[2..3]), 2);
    let path = t.lab.dir().join("keepalived.conf");
    std::fs::write(&path, conf("", false)).unwrap();
    let p = path.display().to_string();
    let d = Director::start_with(&t.lab, &t.dir, &["eth0", "eth1"], io, &["--config", &p]);
    d.wait_list("-Ln", Duration::from_secs(5), "real servers in", |l| {
        l.contains("172.16.0.2:80") && l.contains("172.16.0.3:80")
    });
    // An established download that must survive all of it.
    let out = t.lab.dir().join("slow.bin");
    let mut slow = t
        .client
        .spawn(&[
            "curl",
            "-sS",
            "--fail",
            "-o",
            out.to_str().unwrap(),
            "http://10.0.0.1/slow",
        ])
        .unwrap();
    let mut wrk = t
        .client
        .spawn(&[
            "wrk",
            "--latency",
            "-t1",
            "-c10",
            "-d6s",
            "http://10.0.0.1/",
        ])
        .unwrap();
    let before = d.ipvsadm("-S -n");
    for i in 1..=10 {
        // Pacing on purpose: spreads the reloads over wrk's 6 s. Each reload is awaited,
        // so no two SIGHUPs merge into one.
        std::thread::sleep(Duration::from_millis(400));
        d.hup();
        d.wait_log("configuration reloaded", i, Duration::from_secs(5));
    }
    let st = wrk.wait(Duration::from_secs(20)).unwrap();
    assert!(st.success(), "wrk: {}", wrk.log());
    let r = rvs_testnet::parse_wrk(&wrk.stdout()).unwrap();
    assert!(r.requests > 100, "{r:?}");
    assert_eq!(
        (r.socket_errors, r.non_2xx_3xx),
        (0, 0),
        "reloads under load: {r:?}"
    );
    assert!(
        slow.wait(Duration::from_secs(20)).unwrap().success(),
        "{}",
        slow.log()
    );
    assert_eq!(std::fs::metadata(&out).unwrap().len(), SLOW_LEN);
    assert_eq!(
        d.ipvsadm("-S -n"),
        before,
        "unchanged services stay as they are"
    );
    assert_eq!(
        d.log().matches("configuration reloaded").count(),
        10,
        "{}",
        d.log()
    );

    // A changed weight is edited in place.
    let changed = conf("", false).replace(
        "172.16.0.3 80 {\n        weight 1",
        "172.16.0.3 80 {\n        weight 3",
    );
    std::fs::write(&path, &changed).unwrap();
    d.hup();
    d.wait_list("-Ln", Duration::from_secs(5), "weight edited", |l| {
        l.contains("172.16.0.3:80                Masq    3")
    });

    // A removed real server is drained: the one a running download is on (its client
    // port pinned, to find its conn).
    let mut slow = t
        .client
        .spawn(&[
            "curl",
            "-sS",
            "--fail",
            "--local-port",
            "45000",
            "-o",
            out.to_str().unwrap(),
            "http://10.0.0.1/slow",
        ])
        .unwrap();
    let held = d.wait_conn("the download's conn", Duration::from_secs(5), |c| {
        c.state == "ESTABLISHED" && c.client == "10.0.0.2:45000"
    });
    let gone = held.dest.trim_end_matches(":80");
    let without_gone: String = {
        let start = changed.find(&format!("    real_server {gone} 80")).unwrap();
        let end = changed[start..].find("\n    }\n").unwrap() + start + 7;
        format!("{}{}", &changed[..start], &changed[end..])
    };
    std::fs::write(&path, without_gone).unwrap();
    d.hup();
    d.wait_list("-Ln", Duration::from_secs(5), "real server removed", |l| {
        !l.contains(&held.dest)
    });
    assert!(
        slow.try_wait().unwrap().is_none(),
        "the download ended before {gone} was removed: nothing was drained\n{}",
        slow.log()
    );
    assert!(
        slow.wait(Duration::from_secs(20)).unwrap().success(),
        "drained download: {}",
        slow.log()
    );
    assert_eq!(std::fs::metadata(&out).unwrap().len(), SLOW_LEN);
}

#[test]
fn keepalived_reload_afxdp() {
    reload("afxdp");
}

#[test]
fn keepalived_reload_afpacket() {
    reload("afpacket");
}

#[test]
fn broken_configs_name_file_and_line_and_change_nothing() {
    let t = nat_lab("bad", 2);
    let dir = t.lab.dir();
    let good = dir.join("keepalived.conf");
    std::fs::write(&good, conf("", false)).unwrap();
    let cases: [(&str, String, &str); 5] = [
        (
            "bad address",
            conf("", false).replace("172.16.0.3 80", "172.16.0.300 80"),
            ":19:",
        ),
        (
            "unknown scheduler",
            conf("", false).replace("lb_algo rr", "lb_algo nosuch"),
            ":6:",
        ),
        ("stray brace", format!("}}\n{}", conf("", false)), ":1:"),
        (
            "bad port",
            conf("", false).replace("10.0.0.1 80 {", "10.0.0.1 99999 {"),
            ":4:",
        ),
        (
            "include of a broken file",
            format!("include {}/part.conf\n", dir.display()),
            "part.conf:2:",
        ),
    ];
    std::fs::write(
        dir.join("part.conf"),
        "virtual_server 10.0.0.9 80 {\n    lb_kind NOPE\n}\n",
    )
    .unwrap();
    for (what, text, at) in &cases {
        let f = dir.join("broken.conf");
        std::fs::write(&f, text).unwrap();
        let o = std::process::Command::new(RVSD)
            .args(["--config-test", "--config"])
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{what}: accepted");
        assert!(err.contains(at), "{what}: no {at} in {err}");
    }
    // A running rvsd keeps its table when a reload meets a broken file.
    let p = good.display().to_string();
    let d = Director::start_with(
        &t.lab,
        &t.dir,
        &["eth0", "eth1"],
        "afxdp",
        &["--config", &p],
    );
    d.wait_list("-Ln", Duration::from_secs(5), "real servers in", |l| {
        l.contains("172.16.0.2:80") && l.contains("172.16.0.3:80")
    });
    let before = d.ipvsadm("-S -n");
    for (i, (what, text, _)) in cases.iter().enumerate() {
        std::fs::write(&good, text).unwrap();
        d.hup();
        d.wait_log("reload refused", i + 1, Duration::from_secs(5));
        assert_eq!(d.ipvsadm("-S -n"), before, "{what}: the table changed");
    }
    assert!(
        d.log().matches("reload refused").count() >= cases.len(),
        "{}",
        d.log()
    );
}

/// With --config too, a crashed rvsd's successor keeps the running downloads: it adopts the
/// conns from the table saved in the state directory before the checker rebuilds the pool.
#[test]
fn keepalived_restart_keeps_downloads() {
    let t = nat_lab("kr", 2);
    let path = t.lab.dir().join("keepalived.conf");
    std::fs::write(&path, conf("", false)).unwrap();
    let p = path.display().to_string();
    let mut d = Director::start_with(
        &t.lab,
        &t.dir,
        &["eth0", "eth1"],
        "afxdp",
        &["--config", &p],
    );
    d.wait_list("-Ln", Duration::from_secs(5), "real servers in", |l| {
        l.contains("172.16.0.2:80") && l.contains("172.16.0.3:80")
    });
    let out = t.lab.dir().join("slow.bin");
    let mut slow = t
        .client
        .spawn(&[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "30",
            "-o",
            out.to_str().unwrap(),
            "http://10.0.0.1/slow",
        ])
        .unwrap();
    d.wait_conn("the download's conn", Duration::from_secs(5), |c| {
        c.state == "ESTABLISHED" && c.virt == "10.0.0.1:80"
    });
    wait_part_way(&out, SLOW_LEN, &mut slow);
    d.kill();
    d.spawn();
    assert!(
        slow.wait(Duration::from_secs(30)).unwrap().success(),
        "{}\n{}",
        slow.log(),
        d.log()
    );
    assert_eq!(std::fs::metadata(&out).unwrap().len(), SLOW_LEN);
    d.wait_list("-Ln", Duration::from_secs(5), "pool rebuilt", |l| {
        l.contains("172.16.0.2:80") && l.contains("172.16.0.3:80")
    });
    let got = answers(&t.client, "http://10.0.0.1/", 2);
    assert_ne!(got[0], got[1]);
}
