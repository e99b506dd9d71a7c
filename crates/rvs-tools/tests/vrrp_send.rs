//! `rvs-vrrp-send` between two namespaces of an rvs-testnet lab: tcpdump on the far end
//! of the veth sees exactly the adverts asked for, forged fields included. Fails (never
//! skips) without root.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use rvs_testnet::{Lab, Ns, Proc, VethOpts};
use rvs_wire::ip_proto;
use rvs_wire::ipv4::Ipv4Packet;
use rvs_wire::ipv6::Ipv6Packet;
use rvs_wire::vrrp::{self, Version, VrrpAddrs, VrrpAuth, VrrpPacket, VrrpRepr};

const SEND: &str = env!("CARGO_BIN_EXE_rvs-vrrp-send");
const WAIT: Duration = Duration::from_secs(10);

/// A lab of two namespaces, `a` and `b`, joined by a veth `eth0` with IPv4 and IPv6
/// addresses.
fn pair() -> (Lab, Ns, Ns) {
    let lab = Lab::new("vrs").expect("rvs-testnet lab (the e2e tests must run as root)");
    let a = lab.ns("a").unwrap();
    let b = lab.ns("b").unwrap();
    lab.veth((&a, "eth0"), (&b, "eth0"), VethOpts::default())
        .unwrap();
    a.addr("eth0", "10.202.0.1/24").unwrap();
    b.addr("eth0", "10.202.0.2/24").unwrap();
    for (ns, ip) in [(&a, "fd00:202::1/64"), (&b, "fd00:202::2/64")] {
        ns.ip(&["addr", "add", ip, "dev", "eth0", "nodad"]).unwrap();
    }
    (lab, a, b)
}

/// tcpdump on `ns`'s eth0, writing the VRRP packets it sees to a file, exiting after `n`.
fn capture(lab: &Lab, ns: &Ns, tag: &str, n: usize) -> (Proc, std::path::PathBuf) {
    let file = lab.dir().join(format!("{tag}.pcap"));
    let count = n.to_string();
    let mut p = ns
        .spawn(&[
            "tcpdump",
            "-i",
            "eth0",
            "-n",
            "-U",
            "-Z",
            "root",
            "-c",
            &count,
            "-w",
            file.to_str().unwrap(),
            "ip proto 112 or ip6 proto 112",
        ])
        .unwrap();
    p.wait_output("listening on", WAIT).unwrap();
    (p, file)
}

/// The IP packets of a pcap file (Ethernet link type). Read by hand: the format is a
/// 24-byte file header and a 16-byte header per record, not worth a crate.
fn ip_packets(path: &Path) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).unwrap();
    assert!(d.len() >= 24, "{} is not a pcap file", path.display());
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= d.len() {
        let incl = u32::from_le_bytes(d[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &d[at + 16..at + 16 + incl];
        out.push(frame[14..].to_vec());
        at += 16 + incl;
    }
    out
}

/// Runs the tool in `ns`, whatever its exit status.
fn send(ns: &Ns, args: &[&str]) -> std::process::Output {
    let mut argv = vec![SEND];
    argv.extend_from_slice(args);
    ns.run(&argv).unwrap()
}

fn send_ok(ns: &Ns, args: &[&str]) {
    let out = send(ns, args);
    assert!(
        out.status.success(),
        "rvs-vrrp-send {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("\"sent\""), "no summary line: {line:?}");
}

#[test]
fn v2_pass_and_forged_ipv4() {
    let (lab, a, b) = pair();
    let (mut dump, file) = capture(&lab, &b, "v4", 4);
    #[rustfmt::skip]
    send_ok(&a, &["--iface", "eth0", "--src", "10.202.0.1", "--vrid", "51", "--priority", "150",
        "--auth-pass", "1111", "--addr", "10.202.0.100", "--addr", "10.202.0.101",
        "--count", "3", "--interval-ms", "10"]);
    // A source that is not local, TTL 1, type 2, a wrong checksum, unicast.
    #[rustfmt::skip]
    send_ok(&a, &["--iface", "eth0", "--src", "10.202.0.99", "--dst", "10.202.0.2",
        "--vrid", "7", "--ttl", "1", "--type", "2", "--bad-checksum", "--adver-int-cs", "300"]);
    assert!(dump.wait(WAIT).unwrap().success(), "{}", dump.log());

    let pkts = ip_packets(&file);
    assert_eq!(pkts.len(), 4);
    let vips = [
        IpAddr::from(Ipv4Addr::new(10, 202, 0, 100)),
        IpAddr::from(Ipv4Addr::new(10, 202, 0, 101)),
    ];
    for ip in &pkts[..3] {
        let p = Ipv4Packet::new_checked(&ip[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!((p.ttl(), p.protocol()), (255, ip_proto::VRRP));
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 202, 0, 1));
        assert_eq!(p.dst_addr(), vrrp::MCAST_V4);
        let (s, d) = (p.src_addr().into(), p.dst_addr().into());
        let v = VrrpPacket::new_checked(p.payload()).unwrap();
        let r = VrrpRepr::parse(&v, &s, &d).unwrap();
        assert_eq!(
            r,
            VrrpRepr {
                version: Version::V2,
                vrid: 51,
                priority: 150,
                adver_int_cs: 100,
                auth: VrrpAuth::pass(b"1111"),
                addrs: VrrpAddrs::from_list(&vips),
            }
        );
    }
    let p = Ipv4Packet::new_checked(&pkts[3][..]).unwrap();
    assert_eq!(p.ttl(), 1);
    assert_eq!(p.src_addr(), Ipv4Addr::new(10, 202, 0, 99));
    assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 202, 0, 2));
    let (s, d) = (p.src_addr().into(), p.dst_addr().into());
    let v = VrrpPacket::new_checked(p.payload()).unwrap();
    assert_eq!(
        (v.version(), v.kind(), v.vrid(), v.adver_int()),
        (2, 2, 7, 3)
    );
    assert_eq!((v.count(), v.auth_type()), (0, vrrp::AUTH_NONE));
    assert!(!v.verify_checksum(&s, &d));
}

#[test]
fn v3_ipv6_multicast_and_unicast() {
    let (lab, a, b) = pair();
    let (mut dump, file) = capture(&lab, &b, "v6", 2);
    // fe80::99 is not a's own: the tool binds it freely.
    #[rustfmt::skip]
    send_ok(&a, &["--iface", "eth0", "--src", "fe80::99", "--vrid", "53", "--version", "3",
        "--priority", "200", "--adver-int-cs", "20",
        "--addr", "fd00:202::100", "--addr", "fd00:202::101"]);
    #[rustfmt::skip]
    send_ok(&a, &["--iface", "eth0", "--src", "fd00:202::1", "--dst", "fd00:202::2",
        "--vrid", "53", "--version", "3", "--ttl", "7", "--addr", "fd00:202::100"]);
    assert!(dump.wait(WAIT).unwrap().success(), "{}", dump.log());

    let pkts = ip_packets(&file);
    assert_eq!(pkts.len(), 2);
    let vips: Vec<IpAddr> = ["fd00:202::100", "fd00:202::101"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let want = [
        ("fe80::99", "ff02::12", 255, 200, 20, &vips[..]),
        ("fd00:202::1", "fd00:202::2", 7, 100, 100, &vips[..1]),
    ];
    for (ip, (src, dst, hops, prio, int, addrs)) in pkts.iter().zip(want) {
        let p = Ipv6Packet::new_checked(&ip[..]).unwrap();
        assert_eq!((p.hop_limit(), p.next_header()), (hops, ip_proto::VRRP));
        let (s, d): (IpAddr, IpAddr) = (p.src_addr().into(), p.dst_addr().into());
        assert_eq!((s, d), (src.parse().unwrap(), dst.parse().unwrap()));
        let v = VrrpPacket::new_checked(p.payload()).unwrap();
        let r = VrrpRepr::parse(&v, &s, &d).unwrap();
        assert_eq!(
            r,
            VrrpRepr {
                version: Version::V3,
                vrid: 53,
                priority: prio,
                adver_int_cs: int,
                auth: VrrpAuth::None,
                addrs: VrrpAddrs::from_list(addrs),
            }
        );
    }
}

#[test]
fn errors_are_reported() {
    let (_lab, a, _b) = pair();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--iface", "eth0", "--src", "fe80::1", "--vrid", "1"],
            "cannot build the advert",
        ),
        (
            &[
                "--iface",
                "eth0",
                "--src",
                "10.202.0.1",
                "--vrid",
                "1",
                "--version",
                "3",
                "--auth-pass",
                "x",
            ],
            "v3 has no authentication",
        ),
        (
            &[
                "--iface",
                "eth0",
                "--src",
                "10.202.0.1",
                "--vrid",
                "1",
                "--adver-int-cs",
                "150",
            ],
            "whole seconds",
        ),
        (
            &[
                "--iface",
                "eth0",
                "--src",
                "10.202.0.1",
                "--vrid",
                "1",
                "--addr",
                "fd00::1",
            ],
            "one family",
        ),
        (
            &["--iface", "nosuch0", "--src", "10.202.0.1", "--vrid", "1"],
            "no interface \"nosuch0\"",
        ),
    ];
    for (args, msg) in cases {
        let out = send(&a, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err:?} lacks {msg:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed a summary");
    }
}
