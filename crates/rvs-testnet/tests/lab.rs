//! Self-test of the lab: two namespaces on a veth pair, nginx in one, curl from the other,
//! and nothing left behind. Fails (never skips) without root.
//!
//! The UDP part (`rvs-udp` sink/flood/echo/ask) lives in `crates/rvs-tools/tests/udp_lab.rs`:
//! only the crate that owns a binary gets `CARGO_BIN_EXE_<name>` at compile time, and there
//! cargo also builds the binary before the test.

use std::ops::ControlFlow;
use std::process::Command;
use std::time::Duration;

use rvs_testnet::{file_len, sha256_hex, wait_for, Error, Lab, VethOpts};

fn netns_list() -> String {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn two_namespaces_nginx_and_curl() {
    let lab = Lab::new("self").expect("rvs-testnet lab (the e2e tests must run as root)");
    let prefix = lab.prefix().to_string();
    let client = lab.ns("cli").unwrap();
    let server = lab.ns("rs1").unwrap();
    lab.veth(
        (&client, "eth0"),
        (&server, "eth0"),
        VethOpts {
            rx_queues: 2,
            tx_queues: 2,
        },
    )
    .unwrap();
    client.addr("eth0", "10.200.0.1/24").unwrap();
    server.addr("eth0", "10.200.0.2/24").unwrap();
    client.addr("eth0", "fd00:200::1/64").unwrap();
    server.addr("eth0", "fd00:200::2/64").unwrap();
    client.tx_off("eth0").unwrap();
    server.sysctl("net.ipv4.ip_forward", "0").unwrap();
    assert_eq!(client.mac("eth0").unwrap().len(), 17);
    assert!(netns_list().contains(client.name()));

    let nginx = server
        .nginx(&["10.200.0.2:80".parse().unwrap()], "rs1")
        .unwrap();
    assert_eq!(
        client.curl("http://10.200.0.2/").unwrap(),
        "rs1\n",
        "{}",
        nginx.log()
    );

    let big = client
        .curl_bytes("http://10.200.0.2/big", Duration::from_secs(20))
        .unwrap();
    assert_eq!(big.len(), 20 * 1024 * 1024);
    assert_eq!(sha256_hex(&big), lab.big_file_sha256().unwrap());

    // /slow is rate-limited: caught part-way through, then complete.
    let slow_path = lab.dir().join("slow.bin");
    let mut slow = client
        .spawn(&[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "10",
            "-o",
            slow_path.to_str().unwrap(),
            "http://10.200.0.2/slow",
        ])
        .unwrap();
    wait_for("/slow part-way", Duration::from_secs(5), || {
        Ok(match file_len(&slow_path) {
            n if n > 0 && n < 1024 * 1024 => ControlFlow::Break(()),
            n => ControlFlow::Continue(format!("{n} bytes")),
        })
    })
    .unwrap();
    assert!(
        slow.wait(Duration::from_secs(10)).unwrap().success(),
        "{}",
        slow.log()
    );
    assert_eq!(file_len(&slow_path), 1024 * 1024);

    let ab = client
        .ab(&["-n", "200", "-c", "4", "http://10.200.0.2/"])
        .unwrap();
    assert_eq!((ab.complete, ab.failed), (200, 0));
    let wrk = client
        .wrk("http://10.200.0.2/", 1, 4, Duration::from_secs(1))
        .unwrap();
    assert!(wrk.requests > 0 && wrk.socket_errors == 0, "{wrk:?}");

    // A command over its limit is killed: `timeout` reports that with status 124.
    match client.exec_timeout(&["sleep", "10"], Duration::from_millis(200)) {
        Err(Error::Failed { status, .. }) => assert_eq!(status.code(), Some(124), "{status}"),
        other => panic!("sleep 10 with a 200 ms limit: {other:?}"),
    }

    // A process still running at teardown must not keep anything alive.
    let _sleeper = client.spawn(&["sleep", "60"]).unwrap();
    drop(lab);
    drop(nginx);
    let left = netns_list();
    assert!(
        !left.contains(&prefix),
        "namespaces with prefix {prefix} left behind:\n{left}"
    );
    assert!(!std::path::Path::new("/run/rvs-testnet")
        .join(&prefix)
        .exists());
}

#[test]
fn concurrent_labs_get_distinct_prefixes_and_survive_each_other() {
    let a = Lab::new("self").expect("lab (root)");
    let na = a.ns("x").unwrap();
    // A second lab with the same tag reaps only dead owners: `a` is alive, so its
    // namespace survives.
    let b = Lab::new("self").expect("lab (root)");
    assert_ne!(a.prefix(), b.prefix());
    assert!(netns_list().contains(na.name()));
    drop(b);
    assert!(netns_list().contains(na.name()));
}

#[test]
fn names_longer_than_15_are_refused() {
    let lab = Lab::new("self").expect("lab (root)");
    assert!(lab.ns("a-much-too-long-name").is_err());
}

#[test]
fn leftovers_of_a_dead_lab_are_removed() {
    // Fake the registration of a lab whose process died: a pid that has been reaped, and a
    // namespace it "created" (not a valid lab prefix, so no live lab can own it).
    let mut child = Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let prefix = format!("rdead{}", std::process::id() % 100_000);
    let ns = format!("{prefix}x");
    std::fs::create_dir_all("/run/rvs-testnet").expect("/run/rvs-testnet (root)");
    std::fs::write(
        format!("/run/rvs-testnet/{prefix}"),
        format!("{dead_pid} 1\n{ns}\n"),
    )
    .unwrap();
    assert!(Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .unwrap()
        .success());
    let _lab = Lab::new("self").expect("lab (root)");
    assert!(!netns_list()
        .lines()
        .any(|l| l.split_whitespace().next() == Some(ns.as_str())));
    assert!(!std::path::Path::new("/run/rvs-testnet")
        .join(&prefix)
        .exists());
}
