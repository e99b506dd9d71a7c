//! Restarts lose nothing: a download through the director continues across `kill -9` of
//! rvsd and a restart (the conn table lives in shared memory; the XDP program,
//! or the nftables table under AF_PACKET, stays in place and keeps the kernel from
//! answering the orphaned traffic with RSTs meanwhile).

mod e2e;
use e2e::*;
use std::time::{Duration, Instant};

fn download_survives_kill_9(io: &str) {
    let t = nat_lab(&format!("k{}", &io[2..3]), 2);
    let mut d = Director::start(&t.lab, &t.dir, &["eth0", "eth1"], io);
    d.ipvsadm("-A -t 10.0.0.1:80 -s rr");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.2:80 -m");
    d.ipvsadm("-a -t 10.0.0.1:80 -r 172.16.0.3:80 -m");
    let out = t.lab.dir().join("slow.bin");
    // /slow is 1 MiB served at 400 KiB/s: about 2.5 s, long enough to kill rvsd mid-way.
    let mut curl = t
        .client
        .spawn(&[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "30",
            "-o",
            out.to_str().unwrap(),
            "-w",
            "%{size_download}",
            "http://10.0.0.1/slow",
        ])
        .unwrap();
    // Kill only once the download's conn is in the table and its body part-way: a download
    // that finished first, or never got a conn, would pass without testing adoption.
    let conn = d.wait_conn("the download's conn", Duration::from_secs(5), |c| {
        c.state == "ESTABLISHED" && c.virt == "10.0.0.1:80"
    });
    wait_part_way(&out, SLOW_LEN, &mut curl);
    d.kill();
    let killed = Instant::now();
    // While rvsd is down, service traffic is dropped, not answered by the director's
    // kernel: a new connection times out instead of being refused.
    let o = t
        .client
        .run(&["curl", "-s", "--max-time", "0.7", "http://10.0.0.1/"])
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(28),
        "a new connection while rvsd is down must time out (28), not be refused (7)"
    );
    d.spawn();
    // A figure for the log, not a test: the download only needs TCP's retransmissions to
    // outlast the gap.
    eprintln!("{io}: rvsd down for {:?}", killed.elapsed());
    assert!(
        conns(&d.ipvsadm("-Lnc"))
            .iter()
            .any(|c| c.client == conn.client && c.dest == conn.dest),
        "the restarted rvsd does not list the download's conn {conn:?}\n{}",
        d.log()
    );
    let st = curl.wait(Duration::from_secs(30)).unwrap();
    assert!(
        st.success(),
        "the download broke across the restart: {st}\ncurl: {}\nrvsd: {}\n{}",
        curl.log(),
        d.log(),
        d.io_stats()
    );
    let got = std::fs::metadata(&out).unwrap().len();
    assert_eq!(got, SLOW_LEN, "{}", curl.log());
    assert!(
        d.log().contains("adopted the connections"),
        "the new rvsd did not adopt: {}",
        d.log()
    );
    if io == "afxdp" {
        assert!(
            d.log().contains("TookOver"),
            "the pinned program was not taken over: {}",
            d.log()
        );
    }
    // And new connections work after the restart.
    let again = answers(&t.client, "http://10.0.0.1/", 2);
    assert_ne!(again[0], again[1]);
}

#[test]
fn restart_afxdp() {
    download_survives_kill_9("afxdp");
}

#[test]
fn restart_afpacket() {
    download_survives_kill_9("afpacket");
}
