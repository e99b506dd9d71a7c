// Every parser and accessor of rvs-wire on untrusted bytes, with the invariants the
// engine relies on. Shared by the no-panic proptest (tests/no_panic.rs) and the fuzz
// target (fuzz/fuzz_targets/wire.rs, which `include!`s this file), so both exercise the
// same surface. Only items here: no inner attributes or `//!` comments.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rvs_wire::arp::{ArpPacket, ArpRepr};
use rvs_wire::ethernet::{EthernetFrame, EthernetRepr};
use rvs_wire::gre::{GrePacket, GreRepr};
use rvs_wire::gue::{GuePacket, GueRepr};
use rvs_wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use rvs_wire::icmpv6::{Icmpv6Packet, Icmpv6Repr};
use rvs_wire::ipv4::{Ipv4Packet, Ipv4Repr};
use rvs_wire::ipv6::{Ipv6Packet, Ipv6Repr};
use rvs_wire::ndisc::{NdiscPacket, NeighborAdvertRepr, NeighborSolicitRepr};
use rvs_wire::sctp::{SctpPacket, SctpRepr};
use rvs_wire::tcp::{TcpPacket, TcpRepr};
use rvs_wire::udp::{UdpPacket, UdpRepr};
use rvs_wire::{checksum, ip_proto, FrameInfo, L3};

/// Checks what the engine assumes about a successful parse: offsets inside the slice,
/// and a complete fixed L4 header whenever `l4_ok` is set.
fn check_info(info: &FrameInfo, len: usize, inner: bool) {
    if !info.is_ip() {
        assert_eq!(info.ip_len, 0);
        assert!(info.l3_offset <= len);
        return;
    }
    assert!(info.l3_offset <= info.l4_offset, "{info:?}");
    assert!(info.l4_offset <= info.ip_end(), "{info:?}");
    assert!(info.ip_end() <= len, "{info:?}");
    if info.l4_ok {
        let need = if inner {
            8
        } else {
            match info.protocol {
                ip_proto::TCP => 20,
                ip_proto::SCTP => 12,
                _ => 8,
            }
        };
        assert!(info.l4_len() >= need, "{info:?}");
    }
    black_box(info);
}

fn views(data: &[u8]) {
    if let Ok(f) = EthernetFrame::new_checked(data) {
        black_box((
            f.dst_addr(),
            f.src_addr(),
            f.vlan_tci(),
            f.ethertype(),
            f.header_len(),
            f.payload(),
        ));
        black_box(EthernetRepr::parse(&f).unwrap().header_len());
    }
    if let Ok(p) = ArpPacket::new_checked(data) {
        black_box((
            p.operation(),
            p.sender_hw(),
            p.sender_ip(),
            p.target_hw(),
            p.target_ip(),
        ));
        black_box(ArpRepr::parse(&p).map(|r| r.reply(p.target_hw())).ok());
    }
    if let Ok(p) = Ipv4Packet::new_checked(data) {
        black_box((
            p.version(),
            p.header_len(),
            p.dscp_ecn(),
            p.total_len(),
            p.ident(),
            p.dont_frag(),
        ));
        black_box((
            p.more_frags(),
            p.frag_offset(),
            p.is_fragment(),
            p.ttl(),
            p.protocol(),
            p.checksum(),
        ));
        black_box((
            p.src_addr(),
            p.dst_addr(),
            p.options(),
            p.payload(),
            p.verify_checksum(),
        ));
        let r = Ipv4Repr::parse(&p).unwrap();
        let mut buf = [0u8; 20];
        r.emit(&mut buf).unwrap();
        let q = Ipv4Packet::new_unchecked(&buf[..]);
        assert!(q.verify_checksum());
        assert_eq!(
            (q.src_addr(), q.dst_addr(), q.protocol()),
            (p.src_addr(), p.dst_addr(), p.protocol())
        );
    }
    if let Ok(p) = Ipv6Packet::new_checked(data) {
        black_box((
            p.version(),
            p.traffic_class(),
            p.flow_label(),
            p.payload_len(),
            p.next_header(),
        ));
        black_box((p.hop_limit(), p.src_addr(), p.dst_addr(), p.payload()));
        if let Ok(u) = p.upper_layer() {
            assert!(u.offset <= 40 + usize::from(p.payload_len()));
        }
        let r = Ipv6Repr::parse(&p).unwrap();
        let mut buf = [0u8; 40];
        r.emit(&mut buf).unwrap();
        assert_eq!(
            Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&buf[..])).unwrap(),
            r
        );
    }
    let (s4, d4): (IpAddr, IpAddr) = (
        Ipv4Addr::new(10, 0, 0, 1).into(),
        Ipv4Addr::new(10, 0, 0, 2).into(),
    );
    let (s6, d6) = (Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED);
    if let Ok(p) = TcpPacket::new_checked(data) {
        black_box((
            p.src_port(),
            p.dst_port(),
            p.seq_number(),
            p.ack_number(),
            p.header_len(),
            p.flags(),
        ));
        black_box((
            p.window_len(),
            p.checksum(),
            p.urgent_at(),
            p.options(),
            p.payload(),
            p.mss(),
        ));
        black_box((p.verify_checksum(&s4, &d4), p.has_flags(0x12)));
        black_box(rvs_wire::tcp::options_iter(p.options()).count());
        black_box(TcpRepr::parse(&p).unwrap());
    }
    if let Ok(p) = UdpPacket::new_checked(data) {
        black_box((
            p.src_port(),
            p.dst_port(),
            p.len(),
            p.checksum(),
            p.payload(),
        ));
        black_box((
            p.verify_checksum(&s4, &d4),
            p.verify_checksum(&s6.into(), &d6.into()),
        ));
        black_box(UdpRepr::parse(&p).unwrap());
    }
    if let Ok(p) = SctpPacket::new_checked(data) {
        black_box((
            p.src_port(),
            p.dst_port(),
            p.verification_tag(),
            p.checksum(),
            p.first_chunk(),
        ));
        black_box((
            p.verify_checksum(),
            p.chunks()
                .map(|(t, f, v)| usize::from(t ^ f) + v.len())
                .sum::<usize>(),
        ));
        black_box(SctpRepr::parse(&p).ok());
    }
    if let Ok(p) = Icmpv4Packet::new_checked(data) {
        black_box((
            p.msg_type(),
            p.msg_code(),
            p.checksum(),
            p.rest(),
            p.echo_ident(),
            p.echo_seq(),
        ));
        black_box((
            p.next_hop_mtu(),
            p.is_error(),
            p.payload(),
            p.verify_checksum(),
        ));
        black_box(Icmpv4Repr::parse(&p).unwrap());
    }
    if let Ok(p) = Icmpv6Packet::new_checked(data) {
        black_box((
            p.msg_type(),
            p.msg_code(),
            p.checksum(),
            p.rest(),
            p.echo_ident(),
            p.echo_seq(),
        ));
        black_box((
            p.mtu(),
            p.is_error(),
            p.payload(),
            p.verify_checksum(s6, d6),
        ));
        black_box(Icmpv6Repr::parse(&p).unwrap());
    }
    if let Ok(p) = NdiscPacket::new_checked(data) {
        black_box((
            p.msg_type(),
            p.is_solicit(),
            p.is_advert(),
            p.flags(),
            p.router_flag(),
        ));
        black_box((
            p.solicited_flag(),
            p.override_flag(),
            p.target_addr(),
            p.options(),
        ));
        black_box((
            p.source_lladdr(),
            p.target_lladdr(),
            p.verify_checksum(s6, d6),
        ));
        black_box(p.options_iter().count());
        black_box((
            NeighborAdvertRepr::parse(&p).ok(),
            NeighborSolicitRepr::parse(&p).ok(),
        ));
    }
    if let Ok(p) = GuePacket::new_checked(data) {
        black_box((
            p.version(),
            p.is_variant1(),
            p.control(),
            p.hlen(),
            p.proto(),
            p.flags(),
        ));
        black_box((p.header_len(), p.priv_flags(), p.remcsum(), p.payload()));
        if let Ok(r) = GueRepr::parse(&p) {
            let mut buf = [0u8; 12];
            let n = r.emit(&mut buf).unwrap();
            assert_eq!(
                GueRepr::parse(&GuePacket::new_checked(&buf[..n]).unwrap()).unwrap(),
                r
            );
        }
    }
    if let Ok(p) = GrePacket::new_checked(data) {
        black_box((
            p.checksum_present(),
            p.key_present(),
            p.seq_present(),
            p.version(),
            p.protocol(),
        ));
        black_box((
            p.header_len(),
            p.checksum(),
            p.key(),
            p.sequence(),
            p.payload(),
            p.verify_checksum(),
        ));
        black_box(GreRepr::parse(&p).unwrap());
    }
    black_box(rvs_wire::tcp::mss_option(data));
    black_box(rvs_wire::ipv6::walk_ext(data, data.first().copied().unwrap_or(0)).ok());
}

/// Setters and in-place fixes on a copy, including ones that break the length fields
/// after the check: accessors must still not panic.
fn mutate(data: &[u8]) {
    let mut buf = data.to_vec();
    if let Ok(mut p) = Ipv4Packet::new_checked(&mut buf[..]) {
        p.fill_checksum();
        assert!(p.verify_checksum());
        p.set_total_len(0xffff);
        black_box(p.payload().len());
        p.set_total_len(0);
        black_box(p.payload_mut().len());
    }
    let mut buf = data.to_vec();
    if let Ok(mut p) = Ipv6Packet::new_checked(&mut buf[..]) {
        p.set_payload_len(0xffff);
        black_box((p.payload().len(), p.upper_layer().ok()));
        black_box(p.payload_mut().len());
    }
    let (s, d): (IpAddr, IpAddr) = (
        Ipv4Addr::new(10, 0, 0, 1).into(),
        Ipv4Addr::new(10, 0, 0, 2).into(),
    );
    let mut buf = data.to_vec();
    if let Ok(mut p) = TcpPacket::new_checked(&mut buf[..]) {
        let before = p.checksum();
        if let Some((old, new)) = p.clamp_mss(536) {
            assert!(new < old);
            p.set_checksum(checksum::update16(before, old, new));
        }
        p.fill_checksum(&s, &d);
        assert!(p.verify_checksum(&s, &d));
        black_box(p.payload_mut().len());
    }
    let mut buf = data.to_vec();
    if let Ok(mut p) = UdpPacket::new_checked(&mut buf[..]) {
        p.fill_checksum(&s, &d);
        assert!(p.verify_checksum(&s, &d));
        assert_ne!(p.checksum(), 0);
        p.set_len(0xffff);
        black_box(p.payload().len());
        p.set_len(0);
        black_box(p.payload_mut().len());
    }
    let mut buf = data.to_vec();
    if let Ok(mut p) = SctpPacket::new_checked(&mut buf[..]) {
        p.set_src_port(1);
        p.fill_checksum();
        assert!(p.verify_checksum());
    }
    let mut buf = data.to_vec();
    if let Ok(mut p) = Icmpv4Packet::new_checked(&mut buf[..]) {
        p.fill_checksum();
        assert!(p.verify_checksum());
    }
    let mut buf = data.to_vec();
    if let Ok(mut p) = GrePacket::new_checked(&mut buf[..]) {
        p.fill_checksum();
        assert!(p.verify_checksum());
    }
}

/// Runs everything on `data`.
pub fn exercise(data: &[u8]) {
    if let Ok(info) = rvs_wire::parse_frame(data) {
        check_info(&info, data.len(), false);
    }
    if let Ok(info) = rvs_wire::parse_inner_ip(data) {
        check_info(&info, data.len(), true);
    }
    for l3 in [L3::Ipv4, L3::Ipv6] {
        if let Ok(info) = rvs_wire::parse_ip(data, l3) {
            check_info(&info, data.len(), false);
        }
    }
    views(data);
    mutate(data);
    let mut out = [0u8; 1400];
    black_box(rvs_wire::emit_icmpv4_error(&mut out, 3, 4, 1400, data).ok());
    black_box(
        rvs_wire::emit_icmpv6_error(
            &mut out,
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::LOCALHOST,
            2,
            0,
            1280,
            data,
        )
        .ok(),
    );
}
