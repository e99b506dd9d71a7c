//! Seed 001 (LVS/NAT) and seed 000's port mapping, end to end with real packets.

mod e2e;
use e2e::*;

fn nat_rr_then_wrr(io: &str) {
    let t = nat_lab(&format!("n{}", &io[2..3]), 2);
    let d = Director::start(&t.lab, &t.dir, &["eth0", "eth1"], io);
    // Seed 001's commands, with the VIP translated.
    d.ipvsadm("-A -t 10.0.0.1:80 -s rr");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.2:80 -m");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.3:80 -m");
    let got = answers(&t.client, "http://10.0.0.1/", 4);
    assert_eq!(
        got[0] == got[1],
        false,
        "rr alternates: {got:?}\n{}",
        d.io_stats()
    );
    assert_eq!(got[0], got[2]);
    assert_eq!(got[1], got[3]);
    let list = d.ipvsadm("-Ln --stats");
    assert!(list.contains("172.16.0.2:80"), "{list}");
    eprintln!("{list}\n{}", d.io_stats());
}

#[test]
fn nat_afxdp() {
    nat_rr_then_wrr("afxdp");
}

#[test]
fn nat_afpacket() {
    nat_rr_then_wrr("afpacket");
}
