//! FULLNAT end to end: the real servers have no route back to the clients (no default
//! gateway), so every reply must come back to the director's local address, which rvs
//! owns (the kernel does not: rvs answers ARP for it).

mod e2e;
use e2e::*;

fn fullnat(io: &str) {
    let t = nat_lab(&format!("f{}", &io[2..3]), 2);
    for r in &t.rs {
        r.ip(&["route", "del", "default"]).unwrap();
        r.ip(&["-6", "route", "del", "default"]).unwrap();
    }
    let d = Director::start(&t.lab, &t.dir, &["eth0", "eth1"], io);
    d.ipvsadm("-A -t 10.0.0.1:80 -s rr --laddr 172.16.0.250");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.2:80 --fullnat");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.3:80 --fullnat");
    let got = answers(&t.client, "http://10.0.0.1/", 4);
    assert_ne!(got[0], got[1], "FULLNAT rr: {got:?}\n{}", d.io_stats());
    assert_eq!((&got[0], &got[1]), (&got[2], &got[3]));
    big_download_matches(&t.lab, &t.client, "http://10.0.0.1/big");

    d.ipvsadm("-A -u 10.0.0.1:5353 -s rr --laddr 172.16.0.251");
    d.ipvsadm("-a -u 10.0.0.1:5353 -r 172.16.0.2:5353 --fullnat");
    d.ipvsadm("-a -u 10.0.0.1:5353 -r 172.16.0.3:5353 --fullnat");
    let got = udp_burst(&t.client, &t.rs, "0.0.0.0:5353", "10.0.0.1:5353", 10_000);
    assert!(
        got >= 9_900,
        "UDP: {got} of 10000 delivered\n{}",
        d.io_stats()
    );

    d.ipvsadm("-A -t [fd00::1]:80 -s rr --laddr fd16::250");
    d.ipvsadm("-a -t [fd00::1]:80 -r [fd16::2]:80 --fullnat");
    d.ipvsadm("-a -t [fd00::1]:80 -r [fd16::3]:80 --fullnat");
    let got = answers(&t.client, "http://[fd00::1]/", 2);
    assert_ne!(got[0], got[1], "IPv6 FULLNAT rr: {got:?}\n{}", d.io_stats());
}

#[test]
fn fullnat_afxdp() {
    fullnat("afxdp");
}

#[test]
fn fullnat_afpacket() {
    fullnat("afpacket");
}
