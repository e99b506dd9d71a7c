//! The data path's clear refusals: not root, an unknown interface, an XDP program someone
//! else attached; and a second RX queue served by its own worker.

mod e2e;
use e2e::*;
use rvs_testnet::{Lab, VethOpts};
use std::process::Command;

fn rvsd(lab: &Lab, ns: &str, extra: &[&str]) -> std::process::Output {
    let sock = lab.dir().join("err.sock");
    let shm = format!("/dev/shm/rvs-test-{}-err", lab.prefix());
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, RVSD, "--socket"])
        .arg(&sock)
        .args(["--conn-shm", &shm])
        .args(extra);
    let o = c.output().expect("run rvsd");
    let _ = std::fs::remove_dir_all(&shm);
    o
}

#[test]
fn refusals_are_clear() {
    let lab = Lab::new("err").expect("lab (the e2e tests need root)");
    let a = lab.ns("a").unwrap();
    let b = lab.ns("b").unwrap();
    lab.veth((&a, "eth0"), (&b, "eth0"), VethOpts::default())
        .unwrap();

    let o = rvsd(&lab, a.name(), &["--iface", "nosuch0"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("unknown interface \"nosuch0\""),
        "{err}"
    );

    // Not root: the same command as nobody.
    let o = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            RVSD,
            "--iface",
            "lo",
        ])
        .args(["--socket", "/tmp/rvs-nobody.sock"])
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("must run as root"),
        "{err}"
    );

    // Somebody else's XDP program on the interface.
    let src = lab.dir().join("pass.c");
    let obj = lab.dir().join("pass.o");
    std::fs::write(
        &src,
        "__attribute__((section(\"xdp\"), used)) int pass(void *ctx) { return 2; }\n\
         char _license[] __attribute__((section(\"license\"), used)) = \"GPL\";\n",
    )
    .unwrap();
    let st = Command::new("clang")
        .args(["-O2", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("clang");
    assert!(st.success());
    a.exec(&[
        "ip",
        "link",
        "set",
        "dev",
        "eth0",
        "xdpgeneric",
        "obj",
        obj.to_str().unwrap(),
        "sec",
        "xdp",
    ])
    .unwrap();
    let o = rvsd(&lab, a.name(), &["--iface", "eth0"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("already has an XDP program attached by someone else"),
        "{err}"
    );
    // The foreign program is left alone.
    let link = a.exec(&["ip", "link", "show", "eth0"]).unwrap();
    assert!(String::from_utf8_lossy(&link.stdout).contains("xdpgeneric"));
}

#[test]
fn each_rx_queue_gets_a_worker() {
    let lab = Lab::new("mq").expect("lab (the e2e tests need root)");
    let client = lab.ns("cl").unwrap();
    let dir = lab.ns("dir").unwrap();
    let rs = lab.ns("rs").unwrap();
    let two = VethOpts {
        rx_queues: 2,
        tx_queues: 2,
    };
    lab.veth((&client, "eth0"), (&dir, "eth0"), two).unwrap();
    lab.veth((&dir, "eth1"), (&rs, "eth0"), two).unwrap();
    client.addr("eth0", "10.0.0.2/24").unwrap();
    client.tx_off("eth0").unwrap();
    dir.addr("eth0", "10.0.0.1/24").unwrap();
    dir.addr("eth1", "172.16.0.1/24").unwrap();
    rs.addr("eth0", "172.16.0.2/24").unwrap();
    rs.route("default via 172.16.0.1").unwrap();
    rs.tx_off("eth0").unwrap();
    let _nginx = rs.nginx(&["0.0.0.0:80".parse().unwrap()], "rs1").unwrap();
    let d = Director::start(&lab, &dir, &["eth0", "eth1"], "afxdp");
    assert!(
        d.log().contains("queue 1"),
        "no worker for queue 1: {}",
        d.log()
    );
    d.ipvsadm("-A -t 10.0.0.1:80 -s rr");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.2:80 -m");
    let got = answers(&client, "http://10.0.0.1/", 20);
    assert!(got.iter().all(|g| g == "rs1"), "{got:?}");
}
