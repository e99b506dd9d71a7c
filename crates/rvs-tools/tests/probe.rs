//! `rvs-probe` between two namespaces: attempts against nginx succeed and carry its body;
//! attempts against a closed port fail; the lines parse with rvs-testnet's parser. Fails
//! (never skips) without root.

use rvs_testnet::vrrp::parse_attempts;
use rvs_testnet::{Lab, VethOpts};

const PROBE: &str = env!("CARGO_BIN_EXE_rvs-probe");

#[test]
fn probes_open_and_closed_ports() {
    let lab = Lab::new("prb").expect("rvs-testnet lab (the e2e tests must run as root)");
    let client = lab.ns("cli").unwrap();
    let server = lab.ns("srv").unwrap();
    lab.veth((&client, "eth0"), (&server, "eth0"), VethOpts::default())
        .unwrap();
    client.addr("eth0", "10.202.0.1/24").unwrap();
    server.addr("eth0", "10.202.0.2/24").unwrap();
    let _nginx = server
        .nginx(&["10.202.0.2:80".parse().unwrap()], "srv")
        .unwrap();

    let run = |to: &str| {
        let out = client
            .exec(&[
                PROBE,
                "--to",
                to,
                "--interval-ms",
                "10",
                "--duration-ms",
                "300",
            ])
            .unwrap();
        parse_attempts(&String::from_utf8_lossy(&out.stdout))
    };
    let open = run("10.202.0.2:80");
    // 300 ms at one attempt per 10 ms; a loaded machine may start fewer.
    assert!(open.len() >= 10, "{open:?}");
    assert!(open.iter().all(|a| a.ok && a.detail == "srv"), "{open:?}");
    assert!(open.windows(2).all(|w| w[0].start_us <= w[1].start_us));
    assert!(open.iter().all(|a| a.end_us >= a.start_us));

    let closed = run("10.202.0.2:81");
    assert!(closed.len() >= 10, "{closed:?}");
    assert!(
        closed
            .iter()
            .all(|a| !a.ok && a.detail == "connect:ConnectionRefused"),
        "{closed:?}"
    );
}
