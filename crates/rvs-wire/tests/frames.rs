//! End-to-end checks of the seed frames built with the Repr emitters, read back through
//! `parse_frame` and the views, plus the writer of the fuzz seed corpus.

mod seeds;

use std::net::IpAddr;

use rvs_wire::ethernet::{ethertype, EthernetFrame};
use rvs_wire::gre::GrePacket;
use rvs_wire::gue::GuePacket;
use rvs_wire::icmpv4::Icmpv4Packet;
use rvs_wire::icmpv6::Icmpv6Packet;
use rvs_wire::ndisc::NdiscPacket;
use rvs_wire::sctp::SctpPacket;
use rvs_wire::tcp::{flags, TcpPacket};
use rvs_wire::udp::UdpPacket;
use rvs_wire::{ip_proto, parse_frame, parse_inner_ip, parse_ip, Frag, L3};
use seeds::*;

fn frame(name: &str) -> Vec<u8> {
    seed_frames()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
}

#[test]
fn seeds_are_small_and_parse() {
    for (name, f) in seed_frames() {
        assert!(f.len() < 200, "{name}");
        let i = parse_frame(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
        if i.is_ip() {
            let transport = [
                ip_proto::TCP,
                ip_proto::UDP,
                ip_proto::SCTP,
                ip_proto::ICMP,
                ip_proto::ICMPV6,
            ];
            assert_eq!(i.l4_ok, transport.contains(&i.protocol), "{name}");
            assert_eq!(i.ip_end(), f.len(), "{name}");
        }
    }
}

#[test]
fn tcp_syn_v4() {
    let f = frame("tcp_syn_v4");
    let i = parse_frame(&f).unwrap();
    assert_eq!(
        (i.l3, i.src, i.dst),
        (L3::Ipv4, IpAddr::from(CIP), IpAddr::from(VIP))
    );
    assert_eq!(
        (i.protocol, i.sport, i.dport, i.tcp_flags),
        (ip_proto::TCP, 51000, 80, flags::SYN)
    );
    let t = TcpPacket::new_checked(&f[i.l4_offset..i.ip_end()]).unwrap();
    assert!(t.verify_checksum(&i.src, &i.dst));
    assert_eq!(t.mss(), Some(1460));
}

#[test]
fn tcp_syn_v6_ext() {
    let f = frame("tcp_syn_v6_ext");
    let i = parse_frame(&f).unwrap();
    assert_eq!(
        (i.l3, i.protocol, i.l4_offset, i.sport, i.dport),
        (L3::Ipv6, ip_proto::TCP, 14 + 56, 51000, 443)
    );
    assert_eq!((i.src, i.dst), (IpAddr::from(cip6()), IpAddr::from(vip6())));
    let t = TcpPacket::new_checked(&f[i.l4_offset..i.ip_end()]).unwrap();
    assert!(t.verify_checksum(&i.src, &i.dst));
}

#[test]
fn udp_frames() {
    let f = frame("udp_v4");
    let i = parse_frame(&f).unwrap();
    assert_eq!((i.protocol, i.sport, i.dport), (ip_proto::UDP, 12345, 53));
    assert!(UdpPacket::new_checked(&f[i.l4_offset..])
        .unwrap()
        .verify_checksum(&i.src, &i.dst));

    let f = frame("udp_v6_frag");
    let i = parse_frame(&f).unwrap();
    assert_eq!(
        (i.frag, i.protocol, i.sport, i.l4_offset),
        (Frag::First, ip_proto::UDP, 5353, 14 + 48)
    );
    assert!(UdpPacket::new_checked(&f[i.l4_offset..])
        .unwrap()
        .verify_checksum(&i.src, &i.dst));
}

#[test]
fn sctp_init() {
    let f = frame("sctp_init_v4");
    let i = parse_frame(&f).unwrap();
    assert_eq!(
        (i.sport, i.dport, i.l4_kind),
        (4068, 3868, rvs_wire::sctp::chunk::INIT)
    );
    let s = SctpPacket::new_checked(&f[i.l4_offset..]).unwrap();
    assert!(s.verify_checksum());
    // Same CRC as the captured packet these values come from.
    assert_eq!(s.checksum(), 0x04a7_789f);
}

#[test]
fn icmp_errors_quote_the_flow() {
    let f = frame("icmp_frag_needed_v4");
    let i = parse_frame(&f).unwrap();
    assert_eq!((i.protocol, i.l4_kind), (ip_proto::ICMP, 3));
    let icmp = Icmpv4Packet::new_checked(&f[i.l4_offset..]).unwrap();
    assert!(icmp.verify_checksum());
    assert_eq!(icmp.next_hop_mtu(), Some(1400));
    let j = parse_inner_ip(icmp.payload()).unwrap();
    assert_eq!(
        (j.src, j.dst, j.sport, j.dport),
        (IpAddr::from(VIP), IpAddr::from(CIP), 80, 51000)
    );

    let f = frame("icmpv6_too_big");
    let i = parse_frame(&f).unwrap();
    assert_eq!((i.protocol, i.l4_kind), (ip_proto::ICMPV6, 2));
    let icmp = Icmpv6Packet::new_checked(&f[i.l4_offset..]).unwrap();
    let (s, d) = match (i.src, i.dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => (s, d),
        _ => unreachable!(),
    };
    assert!(icmp.verify_checksum(s, d));
    assert_eq!(icmp.mtu(), Some(1280));
    let j = parse_inner_ip(icmp.payload()).unwrap();
    // Only 8 TCP bytes are quoted: ports, but no flags.
    assert_eq!(
        (j.src, j.sport, j.dport, j.tcp_flags),
        (IpAddr::from(vip6()), 443, 51000, 0)
    );
    assert!(j.l4_ok);
}

#[test]
fn tunnels_decapsulate() {
    let f = frame("gue_ipip");
    let i = parse_frame(&f).unwrap();
    assert_eq!((i.protocol, i.dport), (ip_proto::UDP, 6080));
    let u = UdpPacket::new_checked(&f[i.l4_offset..]).unwrap();
    assert!(u.verify_checksum(&i.src, &i.dst));
    let g = GuePacket::new_checked(u.payload()).unwrap();
    assert_eq!((g.proto(), g.remcsum()), (ip_proto::IPIP, Some((20, 36))));
    let j = parse_ip(g.payload(), L3::Ipv4).unwrap();
    assert_eq!((j.sport, j.dport, j.tcp_flags), (51000, 80, flags::SYN));

    let f = frame("gre_csum");
    let i = parse_frame(&f).unwrap();
    let g = GrePacket::new_checked(&f[i.l4_offset..]).unwrap();
    assert!(g.verify_checksum());
    assert_eq!((g.protocol(), g.key()), (ethertype::IPV4, Some(42)));
    assert_eq!(parse_ip(g.payload(), L3::Ipv4).unwrap().dport, 53);

    let f = frame("ipip");
    let i = parse_frame(&f).unwrap();
    assert_eq!(i.protocol, ip_proto::IPIP);
    assert!(!i.l4_ok);
    assert_eq!(parse_ip(&f[i.l4_offset..], L3::Ipv4).unwrap().dport, 80);
}

#[test]
fn link_layer() {
    let f = frame("arp_request");
    assert_eq!(parse_frame(&f).unwrap().l3, L3::Arp);
    let e = EthernetFrame::new_checked(&f[..]).unwrap();
    let a = rvs_wire::arp::ArpPacket::new_checked(e.payload()).unwrap();
    assert_eq!((a.sender_ip(), a.target_ip()), (CIP, VIP));

    let f = frame("vlan_tcp_v4");
    let i = parse_frame(&f).unwrap();
    assert_eq!((i.vlan, i.l3_offset, i.dport), (Some(0x2064), 18, 80));

    let f = frame("ndisc_ns");
    let i = parse_frame(&f).unwrap();
    assert_eq!((i.l4_kind, i.ttl), (135, 255));
    let ns = NdiscPacket::new_checked(&f[i.l4_offset..]).unwrap();
    assert_eq!(
        (ns.target_addr(), ns.source_lladdr()),
        (vip6(), Some(CLIENT_MAC))
    );
}

/// Regenerates `fuzz/corpus/wire/` from the seeds:
/// `cargo test -p rvs-wire --test frames -- --ignored write_fuzz_corpus`.
#[test]
#[ignore]
fn write_fuzz_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/wire");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, f) in seed_frames() {
        std::fs::write(dir.join(name), f).unwrap();
    }
}
