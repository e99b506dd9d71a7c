//! rvs answers ARP, neighbour solicitations and pings for the addresses it serves but the
//! kernel does not own, and stays silent for everything else.

use rvs_engine::config::{FwdMethod, Settings};
use rvs_engine::local::{garp, unsolicited_na};
use rvs_engine::testkit::*;
use rvs_engine::topo::*;
use rvs_engine::Verdict;
use rvs_wire::arp::{op, ArpPacket, ArpRepr};
use rvs_wire::checksum;
use rvs_wire::ethernet::MacAddr;
use rvs_wire::ndisc::{NdiscPacket, NeighborSolicitRepr};
use std::net::{IpAddr, Ipv6Addr};

fn harness(owner: bool) -> Harness {
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .build();
    let svc6 = Svc::tcp("fd00::100", 80, "rr")
        .dest("fd16::2", 80, FwdMethod::Masq, 1)
        .build();
    // 10.0.0.1 is also a vaddr here, but the kernel owns it (topo's director address).
    let own = Svc::tcp("10.0.0.1", 443, "rr")
        .dest("172.16.0.2", 443, FwdMethod::Masq, 1)
        .build();
    let settings = Settings {
        laddrs: vec!["172.16.0.250".parse().unwrap()],
        ..Settings::default()
    };
    let h = Harness::with(config_with(vec![svc, svc6, own], settings), 1024);
    if !owner {
        // A VRRP backup: the daemon marks every address it would claim as not owned.
        let vips = h.engine.vip_ownership();
        for a in ["10.0.0.100", "fd00::100", "10.0.0.1", "172.16.0.250"] {
            vips.set_owned(a.parse().unwrap(), false);
        }
    }
    h
}

fn arp_request(target: &str) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&MAC_GW.0);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    ArpRepr {
        op: op::REQUEST,
        sender_hw: MAC_GW,
        sender_ip: "10.0.0.254".parse().unwrap(),
        target_hw: MacAddr::ZERO,
        target_ip: target.parse().unwrap(),
    }
    .emit(&mut f[14..])
    .unwrap();
    f
}

#[test]
fn arp_for_a_served_vip_is_answered_with_the_port_mac() {
    let mut h = harness(true);
    let (v, out) = h.send(&arp_request("10.0.0.100"), OUT);
    assert_eq!(v, Verdict::Tx(OUT));
    assert_eq!(&out[..6], &MAC_GW.0, "back to the asker");
    assert_eq!(&out[6..12], &MAC_DIRECTOR.0);
    let r = ArpRepr::parse(&ArpPacket::new_checked(&out[14..]).unwrap()).unwrap();
    assert_eq!(r.op, op::REPLY);
    assert_eq!(r.sender_hw, MAC_DIRECTOR);
    assert_eq!(r.sender_ip.to_string(), "10.0.0.100");
    assert_eq!(r.target_hw, MAC_GW);
    assert_eq!(r.target_ip.to_string(), "10.0.0.254");
    // A FULLNAT local address is ours to answer for too.
    assert_eq!(h.send(&arp_request("172.16.0.250"), IN).0, Verdict::Tx(IN));
    assert_eq!(h.engine.counters().local_answers, 2);
}

#[test]
fn arp_is_left_to_the_kernel_for_its_own_and_unknown_addresses() {
    let mut h = harness(true);
    for target in ["10.0.0.1", "10.0.0.77"] {
        assert_eq!(
            h.send(&arp_request(target), OUT).0,
            Verdict::Pass,
            "{target}"
        );
    }
    // A VRRP backup stays silent even for the VIPs.
    let mut h = harness(false);
    assert_eq!(h.send(&arp_request("10.0.0.100"), OUT).0, Verdict::Pass);
    assert_eq!(h.engine.counters().local_answers, 0);
}

fn icmp_sum_ok(ip: &[u8], v6: bool) -> bool {
    let (src, dst, l4) = if v6 {
        let s: [u8; 16] = ip[8..24].try_into().unwrap();
        let d: [u8; 16] = ip[24..40].try_into().unwrap();
        (IpAddr::from(s), IpAddr::from(d), &ip[40..])
    } else {
        let s: [u8; 4] = ip[12..16].try_into().unwrap();
        let d: [u8; 4] = ip[16..20].try_into().unwrap();
        (IpAddr::from(s), IpAddr::from(d), &ip[20..])
    };
    let mut sum = checksum::sum(l4);
    if v6 {
        sum += checksum::pseudo(&src, &dst, 58, l4.len() as u32);
    }
    checksum::fold(sum) == 0xffff
}

#[test]
fn ping_to_a_served_vip_gets_an_echo_reply() {
    let mut h = harness(true);
    for (src, dst, kind, reply, v6) in [
        ("10.9.0.5", "10.0.0.100", 8u8, 0u8, false),
        ("fd09::5", "fd00::100", 128, 129, true),
    ] {
        let req = Pkt::icmp(src, dst, kind, 0, 0x1234_0001, b"ping-payload".to_vec())
            .macs(MAC_GW, MAC_DIRECTOR)
            .build();
        let (v, out) = h.send(&req, OUT);
        assert_eq!(v, Verdict::Tx(OUT), "{dst}");
        assert_eq!(&out[..6], &MAC_GW.0);
        let ip = &out[14..];
        let l4 = if v6 { 40 } else { 20 };
        assert_eq!(ip[l4], reply);
        assert_eq!(
            &ip[l4 + 4..l4 + 8],
            &0x1234_0001u32.to_be_bytes(),
            "id and seq kept"
        );
        assert!(icmp_sum_ok(ip, v6), "{dst}: ICMP checksum");
        if v6 {
            assert_eq!(
                Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap()).to_string(),
                dst
            );
        } else {
            assert_eq!(
                checksum::fold(checksum::sum(&ip[..20])),
                0xffff,
                "IPv4 header sum"
            );
            assert_eq!(
                &ip[12..16],
                &"10.0.0.100".parse::<std::net::Ipv4Addr>().unwrap().octets()
            );
            assert_eq!(&ip[16..20], &[10, 9, 0, 5]);
        }
    }
    // The kernel answers pings to its own address.
    let req = Pkt::icmp("10.9.0.5", "10.0.0.1", 8, 0, 1, vec![])
        .macs(MAC_GW, MAC_DIRECTOR)
        .build();
    assert_eq!(h.send(&req, OUT).0, Verdict::Pass);
}

fn solicitation(target: &str, src: &str) -> Vec<u8> {
    let target: Ipv6Addr = target.parse().unwrap();
    let src: Ipv6Addr = src.parse().unwrap();
    let dst = rvs_wire::ndisc::solicited_node(target);
    let mut icmp = [0u8; 32];
    let lladdr = if src.is_unspecified() {
        None
    } else {
        Some(MAC_GW)
    };
    let n = NeighborSolicitRepr { target, lladdr }
        .emit(&mut icmp, src, dst)
        .unwrap();
    let mut f = vec![0u8; 14 + 40 + n];
    f[..6].copy_from_slice(&rvs_wire::ndisc::multicast_mac(dst).0);
    f[6..12].copy_from_slice(&MAC_GW.0);
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    f[14] = 0x60;
    f[18..20].copy_from_slice(&(n as u16).to_be_bytes());
    f[20] = 58;
    f[21] = 255;
    f[22..38].copy_from_slice(&src.octets());
    f[38..54].copy_from_slice(&dst.octets());
    f[54..].copy_from_slice(&icmp[..n]);
    f
}

#[test]
fn neighbour_solicitation_for_a_served_vip_gets_an_advertisement() {
    let mut h = harness(true);
    let (v, out) = h.send(&solicitation("fd00::100", "fd00::fe"), OUT);
    assert_eq!(v, Verdict::Tx(OUT));
    assert_eq!(&out[..6], &MAC_GW.0);
    let ip = &out[14..];
    assert_eq!(ip[7], 255, "hop limit");
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
    assert_eq!(src.to_string(), "fd00::100");
    assert_eq!(dst.to_string(), "fd00::fe");
    let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    let na = NdiscPacket::new_checked(&ip[40..40 + plen]).unwrap();
    assert!(na.is_advert() && na.solicited_flag() && na.override_flag());
    assert!(na.verify_checksum(src, dst));
    assert_eq!(na.target_lladdr(), Some(MAC_DIRECTOR));

    // Duplicate address detection (from ::) is answered to all nodes, not solicited.
    let (v, out) = h.send(&solicitation("fd00::100", "::"), OUT);
    assert_eq!(v, Verdict::Tx(OUT));
    assert_eq!(&out[..2], &[0x33, 0x33]);
    let ip = &out[14..];
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
    assert_eq!(dst.to_string(), "ff02::1");
    let na = NdiscPacket::new_checked(&ip[40..]).unwrap();
    assert!(!na.solicited_flag());

    // Not ours, or a corrupted checksum: the kernel's business.
    assert_eq!(
        h.send(&solicitation("fd00::77", "fd00::fe"), OUT).0,
        Verdict::Pass
    );
    let mut bad = solicitation("fd00::100", "fd00::fe");
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert_eq!(h.send(&bad, OUT).0, Verdict::Pass);
}

#[test]
fn announcements_parse_as_what_they_claim() {
    let g = garp(MAC_DIRECTOR, "10.0.0.100".parse().unwrap());
    assert_eq!(&g[..6], &[0xff; 6]);
    let r = ArpRepr::parse(&ArpPacket::new_checked(&g[14..]).unwrap()).unwrap();
    assert_eq!(
        (r.sender_ip, r.target_ip, r.sender_hw),
        (r.target_ip, r.sender_ip, MAC_DIRECTOR)
    );
    let na = unsolicited_na(MAC_DIRECTOR, "fd00::100".parse().unwrap());
    let ip = &na[14..];
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
    let p = NdiscPacket::new_checked(&ip[40..]).unwrap();
    assert!(p.is_advert() && p.override_flag() && !p.solicited_flag());
    assert!(p.verify_checksum(src, dst));
    assert_eq!(p.target_addr(), src);
}

/// The run-time ownership overlay, per address: a VIP marked not owned (a VRRP backup) gets
/// no ARP, NS or ping answer while the others still do; marked owned again, it is answered.
#[test]
fn a_vip_marked_not_owned_is_silent_until_owned_again() {
    let mut h = harness(true);
    let vips = h.engine.vip_ownership();
    let ping = |dst: &str, src: &str, kind: u8| {
        Pkt::icmp(src, dst, kind, 0, 1, b"x".to_vec())
            .macs(MAC_GW, MAC_DIRECTOR)
            .build()
    };
    let asks = || {
        [
            arp_request("10.0.0.100"),
            ping("10.0.0.100", "10.9.0.5", 8),
            solicitation("fd00::100", "fd00::fe"),
            ping("fd00::100", "fd09::5", 128),
        ]
    };
    assert!(vips.set_owned("10.0.0.100".parse().unwrap(), false));
    assert!(vips.set_owned("fd00::100".parse().unwrap(), false));
    assert!(
        !vips.set_owned("fd00::100".parse().unwrap(), false),
        "no change"
    );
    for (i, f) in asks().iter().enumerate() {
        assert_eq!(h.send(f, OUT).0, Verdict::Pass, "ask {i} while not owned");
    }
    assert_eq!(h.engine.counters().local_answers, 0);
    // Another address is unaffected.
    assert_eq!(h.send(&arp_request("172.16.0.250"), IN).0, Verdict::Tx(IN));
    assert!(vips.set_owned("10.0.0.100".parse().unwrap(), true));
    assert!(vips.set_owned("fd00::100".parse().unwrap(), true));
    for (i, f) in asks().iter().enumerate() {
        assert_eq!(
            h.send(f, OUT).0,
            Verdict::Tx(OUT),
            "ask {i} once owned again"
        );
    }
    assert_eq!(h.engine.counters().local_answers, 5);
}
