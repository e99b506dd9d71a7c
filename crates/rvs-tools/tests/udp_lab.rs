//! `rvs-udp` between two namespaces of an rvs-testnet lab. It lives here rather than in
//! rvs-testnet's own self-test because only this crate's tests get
//! `CARGO_BIN_EXE_rvs-udp`, with cargo building the binary first. Fails (never skips)
//! without root.

use std::time::Duration;

use rvs_testnet::{Lab, Ns, VethOpts};
use serde_json::Value;

const UDP: &str = env!("CARGO_BIN_EXE_rvs-udp");

fn pair(lab: &Lab) -> (Ns, Ns) {
    let client = lab.ns("cli").unwrap();
    let server = lab.ns("srv").unwrap();
    lab.veth((&client, "eth0"), (&server, "eth0"), VethOpts::default())
        .unwrap();
    client.addr("eth0", "10.201.0.1/24").unwrap();
    server.addr("eth0", "10.201.0.2/24").unwrap();
    (client, server)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

#[test]
fn flood_reaches_sink() {
    let lab = Lab::new("udp").expect("rvs-testnet lab (the e2e tests must run as root)");
    let (client, server) = pair(&lab);
    let mut sink = server
        .spawn(&[UDP, "sink", "--bind", "10.201.0.2:9000", "--idle-ms", "500"])
        .unwrap();
    sink.wait_output("listening", Duration::from_secs(5))
        .unwrap();

    let out = client
        .exec(&[
            UDP,
            "flood",
            "--to",
            "10.201.0.2:9000",
            "--count",
            "10000",
            "--size",
            "18",
            "--sources",
            "4",
        ])
        .unwrap();
    let sent = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(sent["sent"], 10000);

    sink.wait(Duration::from_secs(5)).unwrap();
    let got = json(&sink.stdout());
    let received = got["received"].as_u64().unwrap();
    assert!(
        received >= 9900,
        "only {received} of 10000 delivered\n{}",
        sink.log()
    );
    assert_eq!(got["bytes"].as_u64().unwrap(), received * 18);
    assert_eq!(got["sources"], 4, "{}", sink.log());
}

#[test]
fn ask_names_the_echo_server() {
    let lab = Lab::new("udp").expect("rvs-testnet lab (the e2e tests must run as root)");
    let (client, server) = pair(&lab);
    let mut echo = server
        .spawn(&[UDP, "echo", "--bind", "10.201.0.2:7", "--name", "rs1"])
        .unwrap();
    echo.wait_output("listening", Duration::from_secs(5))
        .unwrap();

    let out = client
        .exec(&[UDP, "ask", "--to", "10.201.0.2:7", "--count", "20"])
        .unwrap();
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["replies"]["rs1"], 20, "{v}\n{}", echo.log());
    assert_eq!(v["lost"], 0);
}

#[test]
fn sink_reports_on_sigterm() {
    let lab = Lab::new("udp").expect("rvs-testnet lab (the e2e tests must run as root)");
    let ns = lab.ns("one").unwrap();
    let mut sink = ns
        .spawn(&[UDP, "sink", "--bind", "127.0.0.1:9000"])
        .unwrap();
    sink.wait_output("listening", Duration::from_secs(5))
        .unwrap();
    ns.exec(&[
        UDP,
        "flood",
        "--to",
        "127.0.0.1:9000",
        "--count",
        "100",
        "--size",
        "64",
        "--gso",
    ])
    .unwrap();
    // Still within the 1 s idle time: only SIGTERM makes it report now.
    assert!(sink.stop().unwrap().success(), "{}", sink.log());
    let got = json(&sink.stdout());
    assert_eq!(
        (got["received"].as_u64(), got["bytes"].as_u64()),
        (Some(100), Some(6400)),
        "{}",
        sink.log()
    );
}

#[test]
fn workspace_bin_finds_rvs_udp() {
    // What tests of other crates rely on. Under `cargo test` this takes the env var; run
    // the test binary directly to exercise the target-dir fallback.
    let found = rvs_testnet::workspace_bin("rvs-udp").unwrap();
    assert_eq!(
        found.canonicalize().unwrap(),
        std::path::Path::new(UDP).canonicalize().unwrap()
    );
    let err = rvs_testnet::workspace_bin("rvs-no-such-bin")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cargo build"), "{err}");
}
