//! LVS/TUN end to end, as in seed 000: the director encapsulates (IPIP, GUE, GRE) to real
//! servers that decapsulate with rvs-decap (this kernel, like many container kernels, has
//! no ipip/fou/gre modules) and answer the client directly from the VIP on their lo.

mod e2e;
use e2e::*;
use rvs_testnet::{wait_for, Proc};
use std::ops::ControlFlow;
use std::time::Duration;

fn decap_bin() -> String {
    rvs_testnet::workspace_bin("rvs-decap")
        .expect("rvs-decap (cargo build --workspace --bins)")
        .display()
        .to_string()
}

fn tun(io: &str) {
    let t = dr_lab(&format!("t{}", &io[2..3]), 2, &["10.0.0.100", "fd00::100"]);
    let bin = decap_bin();
    let _agents: Vec<Proc> =
        t.rs.iter()
            .map(|r| {
                let mut p = r
                    .spawn(&[
                        &bin,
                        "--ipip",
                        "--gre",
                        "--gue-port",
                        "6080",
                        "--ipv6",
                        "--vip",
                        "10.0.0.100",
                        "--vip",
                        "fd00::100",
                    ])
                    .unwrap();
                // The agent is ready once its TUN device is up.
                wait_for("rvs-decap's TUN device up", Duration::from_secs(5), || {
                    let o = r.run(&["ip", "link", "show", "rvsdecap0"])?;
                    let link = String::from_utf8_lossy(&o.stdout).into_owned();
                    if o.status.success() && link.contains("UP") {
                        return Ok(ControlFlow::Break(()));
                    }
                    if let Some(st) = p.try_wait()? {
                        panic!("rvs-decap exited {st}: {}", p.log());
                    }
                    Ok(ControlFlow::Continue(p.log()))
                })
                .unwrap_or_else(|e| panic!("{e}"));
                p
            })
            .collect();
    let d = Director::start(&t.lab, &t.dir, &["eth0"], io);
    // Tunnels cannot map ports: each type in turn serves VIP:80 (the real servers' port).
    for (kind, opts) in [
        ("gue", "-i --tun-type gue --tun-port 6080"),
        ("gre", "-i --tun-type gre"),
        ("ipip", "-i"),
    ] {
        d.ipvsadm("-A -t 10.0.0.100:80 -s rr");
        d.ipvsadm(&format!("-a -t 10.0.0.100:80 -r 10.0.0.11 {opts}"));
        d.ipvsadm(&format!("-a -t 10.0.0.100:80 -r 10.0.0.12 {opts}"));
        let got = answers(&t.client, "http://10.0.0.100/", 2);
        assert_ne!(got[0], got[1], "{kind}: {got:?}\n{}", d.io_stats());
        if kind != "ipip" {
            d.ipvsadm("-D -t 10.0.0.100:80");
        }
    }
    big_download_matches(&t.lab, &t.client, "http://10.0.0.100/big");

    d.ipvsadm("-A -u 10.0.0.100:5353 -s rr");
    d.ipvsadm("-a -u 10.0.0.100:5353 -r 10.0.0.11 -i");
    d.ipvsadm("-a -u 10.0.0.100:5353 -r 10.0.0.12 -i");
    let got = udp_burst(&t.client, &t.rs, "0.0.0.0:5353", "10.0.0.100:5353", 10_000);
    assert!(
        got >= 9_900,
        "UDP: {got} of 10000 delivered\n{}",
        d.io_stats()
    );

    d.ipvsadm("-A -t [fd00::100]:80 -s rr");
    d.ipvsadm("-a -t [fd00::100]:80 -r fd00::11 -i");
    d.ipvsadm("-a -t [fd00::100]:80 -r fd00::12 -i");
    let got = answers(&t.client, "http://[fd00::100]/", 2);
    assert_ne!(got[0], got[1], "IPv6 TUN: {got:?}\n{}", d.io_stats());
}

#[test]
fn tun_afxdp() {
    tun("afxdp");
}

#[test]
fn tun_afpacket() {
    tun("afpacket");
}
