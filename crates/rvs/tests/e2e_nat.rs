//! LVS/NAT end to end with real packets: seed 001 (rr, then wrr 5:10), seed 000's port
//! mapping, IPv6, UDP, a 20 MB download, seed 003's `ab` load, a real server removed and
//! one quiesced under load, and the negative control. Each under AF_XDP and AF_PACKET.

mod e2e;
use e2e::*;
use std::time::Duration;

fn count(got: &[String], name: &str) -> usize {
    got.iter().filter(|g| *g == name).count()
}

fn nat(io: &str) {
    let t = nat_lab(&format!("n{}", &io[2..3]), 2);
    let mut d = Director::start(&t.lab, &t.dir, &["eth0", "eth1"], io);
    // Seed 001's commands, the VIP translated to a private address.
    d.ipvsadm("-A -t 10.0.0.1:80 -s rr");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.2:80 -m");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.3:80 -m");
    let got = answers(&t.client, "http://10.0.0.1/", 4);
    assert_ne!(got[0], got[1], "rr alternates: {got:?}\n{}", d.io_stats());
    assert_eq!((&got[0], &got[1]), (&got[2], &got[3]), "{got:?}");

    // Seed 001 runs curl on the director itself: its own traffic goes through rvs too.
    let got = answers(&t.dir, "http://10.0.0.1/", 4);
    assert_ne!(
        got[0],
        got[1],
        "from the director: {got:?}\n{}",
        d.io_stats()
    );

    // Seed 001's second step: weighted round robin, 1:2.
    d.ipvsadm("-E -t 10.0.0.1:80 -s wrr");
    d.ipvsadm("-e -t 10.0.0.1:80 -r 172.16.0.2:80 -m -w 5");
    d.ipvsadm("-e -t 10.0.0.1:80 -r 172.16.0.3:80 -m -w 10");
    let got = answers(&t.client, "http://10.0.0.1/", 30);
    assert_eq!(
        (count(&got, "rs1"), count(&got, "rs2")),
        (10, 20),
        "{got:?}"
    );
    let list = d.ipvsadm("-Ln");
    assert!(
        list.contains("-> 172.16.0.2:80                Masq    5"),
        "{list}"
    );
    let stats = d.ipvsadm("-Ln --stats");
    let line = stats
        .lines()
        .find(|l| l.starts_with("TCP  10.0.0.1:80"))
        .unwrap_or_else(|| panic!("{stats}"));
    let conns: u64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(conns, 38, "every connection counted: {stats}");

    // Seed 000's port mapping, VIP:80 to the real server's port 8000, on a VIP that only
    // rvs knows (it answers the client's ARP for it).
    d.ipvsadm("-A -t 10.0.0.5:80 -s rr");
    d.ipvsadm("-a -t 10.0.0.5:80 -r 172.16.0.2:8000 -m");
    assert_eq!(answers(&t.client, "http://10.0.0.5/", 1), ["rs1"]);

    // IPv6.
    d.ipvsadm("-A -t [fd00::1]:80 -s rr");
    d.ipvsadm("-a -t [fd00::1]:80 -r [fd16::2]:80 -m");
    d.ipvsadm("-a -t [fd00::1]:80 -r [fd16::3]:80 -m");
    let got = answers(&t.client, "http://[fd00::1]/", 2);
    assert_ne!(got[0], got[1], "IPv6 rr: {got:?}");

    // UDP: a burst of 10,000 datagrams, 99% or more delivered.
    d.ipvsadm("-A -u 10.0.0.1:5353 -s rr");
    d.ipvsadm("-a -u 10.0.0.1:5353 -r 172.16.0.2:5353 -m");
    d.ipvsadm("-a -u 10.0.0.1:5353 -r 172.16.0.3:5353 -m");
    let got = udp_burst(&t.client, &t.rs, "0.0.0.0:5353", "10.0.0.1:5353", 10_000);
    assert!(
        got >= 9_900,
        "UDP: {got} of 10000 delivered\n{}",
        d.io_stats()
    );

    // Integrity and load.
    big_download_matches(&t.lab, &t.client, "http://10.0.0.1/big");
    let ab = t
        .client
        .ab(&["-c", "10", "-n", "10000", "http://10.0.0.1/"])
        .unwrap();
    assert_eq!((ab.complete, ab.failed), (10_000, 0), "ab: {ab:?}");

    // A real server quiesced (weight 0) and one removed (-d), each in the middle of load:
    // nothing fails, and no new connection reaches that server afterwards.
    for (step, target, edit) in [
        (
            "quiesce",
            "172.16.0.2:80",
            "-e -t 10.0.0.1:80 -r 172.16.0.2:80 -m -w 0",
        ),
        (
            "remove",
            "172.16.0.3:80",
            "-d -t 10.0.0.1:80 -r 172.16.0.3:80",
        ),
    ] {
        if step == "remove" {
            d.ipvsadm("-e -t 10.0.0.1:80 -r 172.16.0.2:80 -m -w 5");
        }
        let mut load = t
            .client
            .spawn(&[
                "ab",
                "-c",
                "10",
                "-t",
                "3",
                "-n",
                "1000000",
                "http://10.0.0.1/slow",
            ])
            .unwrap();
        // The edit lands in the middle of the load: while that server has conns open.
        d.wait_conn(
            &format!("{step}: load on {target}"),
            Duration::from_secs(5),
            |c| c.state == "ESTABLISHED" && c.dest == target,
        );
        d.ipvsadm(edit);
        let st = load.wait(Duration::from_secs(30)).unwrap();
        let report = rvs_testnet::parse_ab(&load.stdout()).unwrap();
        assert!(st.success(), "{step}: ab {st}: {}", load.log());
        assert_eq!(report.failed, 0, "{step}: {report:?}");
        let gone = if step == "quiesce" { "rs1" } else { "rs2" };
        let after = answers(&t.client, "http://10.0.0.1/", 6);
        assert_eq!(
            count(&after, gone),
            0,
            "{step}: new conns still go to {gone}: {after:?}"
        );
    }

    // The negative control: rvsd stopped cleanly, the director forwards nothing (its
    // kernel has IP forwarding off) and the interfaces are left as they were.
    d.stop();
    let o = t
        .client
        .run(&["curl", "-s", "--max-time", "2", "http://10.0.0.1/"])
        .unwrap();
    assert!(!o.status.success(), "answered without rvsd: {:?}", o);
    let link = t.dir.exec(&["ip", "link", "show", "eth0"]).unwrap();
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains("xdp"),
        "XDP left attached"
    );
    let nft = t.dir.exec(&["nft", "list", "tables"]).unwrap();
    assert!(
        !String::from_utf8_lossy(&nft.stdout).contains("rvs_"),
        "nftables table left"
    );
}

#[test]
fn nat_afxdp() {
    nat("afxdp");
}

#[test]
fn nat_afpacket() {
    nat("afpacket");
}
