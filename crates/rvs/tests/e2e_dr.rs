//! LVS/DR end to end: seeds 002 and 004 (one L2 segment, the VIP on the real servers' lo
//! with arp_ignore/arp_announce), wlc with weights 1 and 2, persistence with -p 60, IPv6,
//! UDP and a 20 MB download. The IPv4 VIP is configured on the director as the seeds do
//! (`ip addr add`: the kernel answers ARP for it); the IPv6 VIP is not, so rvs answers
//! neighbour solicitations itself.

mod e2e;
use e2e::*;
use rvs_testnet::wait_for;
use std::ops::ControlFlow;
use std::time::Duration;

fn count(got: &[String], name: &str) -> usize {
    got.iter().filter(|g| *g == name).count()
}

fn dr(io: &str) {
    let t = dr_lab(&format!("d{}", &io[2..3]), 2, &["10.0.0.100", "fd00::100"]);
    // Seed 002: `ifconfig eth0:1 VIP up` on the director.
    t.dir.addr("eth0", "10.0.0.100/32").unwrap();
    let d = Director::start(&t.lab, &t.dir, &["eth0"], io);
    d.ipvsadm("-A -t 10.0.0.100:80 -s wlc");
    d.ipvsadm("-a -t 10.0.0.100:80 -r 10.0.0.11 -g -w 1");
    d.ipvsadm("-a -t 10.0.0.100:80 -r 10.0.0.12 -g -w 2");
    let got = answers(&t.client, "http://10.0.0.100/", 30);
    let (a, b) = (count(&got, "rs1"), count(&got, "rs2"));
    assert!(a > 0 && b > a, "wlc 1:2 spreads {a}:{b}\n{}", d.io_stats());
    assert_eq!(a + b, 30);

    // Persistence: one client sticks to one real server.
    d.ipvsadm("-E -t 10.0.0.100:80 -s wlc -p 60");
    let got = answers(&t.client, "http://10.0.0.100/", 10);
    assert!(got.iter().all(|g| *g == got[0]), "-p 60: {got:?}");
    let conns = d.ipvsadm("-Lnc");
    assert!(
        conns.contains("NONE"),
        "a persistence template is listed: {conns}"
    );

    big_download_matches(&t.lab, &t.client, "http://10.0.0.100/big");

    // IPv6, the VIP not configured on the director.
    d.ipvsadm("-A -t [fd00::100]:80 -s rr");
    d.ipvsadm("-a -t [fd00::100]:80 -r fd00::11 -g");
    d.ipvsadm("-a -t [fd00::100]:80 -r fd00::12 -g");
    let got = answers(&t.client, "http://[fd00::100]/", 2);
    assert_ne!(got[0], got[1], "IPv6 DR rr: {got:?}\n{}", d.io_stats());

    // A VIP only rvs knows: announced by gratuitous ARP when it appears (the client learns
    // it without asking), and answered for ARP and ping.
    t.client
        .sysctl("net.ipv4.conf.eth0.arp_accept", "1")
        .unwrap();
    d.ipvsadm("-A -t 10.0.0.200:80 -s rr");
    d.ipvsadm("-a -t 10.0.0.200:80 -r 10.0.0.11 -g");
    let mac = t.dir.mac("eth0").unwrap();
    wait_for(
        &format!("gratuitous ARP for 10.0.0.200 ({mac})"),
        Duration::from_secs(3),
        || {
            let n = t.client.exec(&["ip", "neigh", "show", "10.0.0.200"])?;
            let n = String::from_utf8_lossy(&n.stdout).into_owned();
            Ok(match n.contains(&mac) {
                true => ControlFlow::Break(()),
                false => ControlFlow::Continue(n),
            })
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", d.io_stats()));
    t.client
        .exec(&["ping", "-c", "2", "-W", "2", "10.0.0.200"])
        .unwrap_or_else(|e| panic!("ping to an rvs-owned VIP: {e:#}\n{}", d.io_stats()));
    t.client
        .exec(&["ping", "-6", "-c", "2", "-W", "2", "fd00::100"])
        .unwrap_or_else(|e| panic!("ping to an rvs-owned IPv6 VIP: {e:#}\n{}", d.io_stats()));

    // UDP.
    d.ipvsadm("-A -u 10.0.0.100:5353 -s rr");
    d.ipvsadm("-a -u 10.0.0.100:5353 -r 10.0.0.11 -g");
    d.ipvsadm("-a -u 10.0.0.100:5353 -r 10.0.0.12 -g");
    let got = udp_burst(&t.client, &t.rs, "0.0.0.0:5353", "10.0.0.100:5353", 10_000);
    assert!(
        got >= 9_900,
        "UDP: {got} of 10000 delivered\n{}",
        d.io_stats()
    );
}

#[test]
fn dr_afxdp() {
    dr("afxdp");
}

#[test]
fn dr_afpacket() {
    dr("afpacket");
}
