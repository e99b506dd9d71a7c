// Sample frames built with the crate's own Repr emitters: the fuzz seed corpus, the
// starting points of the mutation proptest, and end-to-end checks of the emitters.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rvs_wire::arp::{op, ArpRepr};
use rvs_wire::ethernet::{ethertype, EthernetRepr, MacAddr};
use rvs_wire::gre::GreRepr;
use rvs_wire::gue::GueRepr;
use rvs_wire::icmpv4;
use rvs_wire::icmpv6;
use rvs_wire::ip_proto;
use rvs_wire::ipv4::Ipv4Repr;
use rvs_wire::ipv6::Ipv6Repr;
use rvs_wire::ndisc::{solicited_node, NeighborSolicitRepr};
use rvs_wire::sctp::{chunk, SctpRepr};
use rvs_wire::tcp::{flags, TcpRepr};
use rvs_wire::udp::UdpRepr;

pub const CLIENT_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
pub const DIRECTOR_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
pub const CIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const RIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const DIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

pub fn cip6() -> Ipv6Addr {
    "2001:db8::10".parse().unwrap()
}

pub fn vip6() -> Ipv6Addr {
    "2001:db8:100::1".parse().unwrap()
}

pub fn eth(vlan: Option<u16>, et: u16, payload: &[u8]) -> Vec<u8> {
    let r = EthernetRepr {
        src: CLIENT_MAC,
        dst: DIRECTOR_MAC,
        vlan,
        ethertype: et,
    };
    let mut f = vec![0u8; r.header_len() + payload.len()];
    let n = r.emit(&mut f).unwrap();
    f[n..].copy_from_slice(payload);
    f
}

pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let r = Ipv4Repr {
        src,
        dst,
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        dont_frag: true,
        ident: 0x1c46,
        dscp_ecn: 0,
    };
    let mut p = vec![0u8; 20 + payload.len()];
    r.emit(&mut p).unwrap();
    p[20..].copy_from_slice(payload);
    p
}

/// An IPv6 packet whose payload is `exts` (already chained) followed by `payload`.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, exts: &[u8], payload: &[u8]) -> Vec<u8> {
    let len = exts.len() + payload.len();
    let r = Ipv6Repr {
        src,
        dst,
        next_header,
        payload_len: len,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0x12345,
    };
    let mut p = vec![0u8; 40 + len];
    r.emit(&mut p).unwrap();
    p[40..40 + exts.len()].copy_from_slice(exts);
    p[40 + exts.len()..].copy_from_slice(payload);
    p
}

pub fn tcp(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    fl: u8,
    mss: Option<u16>,
    data: &[u8],
) -> Vec<u8> {
    let r = TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq: 0x6b8b4567,
        ack: 0,
        flags: fl,
        window: 64240,
        mss,
    };
    let mut s = vec![0u8; r.header_len() + data.len()];
    r.emit(&mut s, &src, &dst, data).unwrap();
    s
}

pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut s = vec![0u8; 8 + data.len()];
    UdpRepr {
        src_port: sport,
        dst_port: dport,
    }
    .emit(&mut s, &src, &dst, data)
    .unwrap();
    s
}

/// The seed frames, by file name.
pub fn seed_frames() -> Vec<(&'static str, Vec<u8>)> {
    let (c4, v4, r4, d4): (IpAddr, IpAddr, IpAddr, IpAddr) =
        (CIP.into(), VIP.into(), RIP.into(), DIP.into());
    let (c6, v6) = (cip6(), vip6());
    let mut out = Vec::new();

    let syn = tcp(c4, v4, 51000, 80, flags::SYN, Some(1460), &[]);
    out.push((
        "tcp_syn_v4",
        eth(None, ethertype::IPV4, &ipv4(CIP, VIP, ip_proto::TCP, &syn)),
    ));

    // Hop-by-hop (PadN) -> destination options (PadN) -> TCP SYN.
    let syn6 = tcp(
        c6.into(),
        v6.into(),
        51000,
        443,
        flags::SYN,
        Some(1440),
        &[],
    );
    let exts = [
        ip_proto::DSTOPTS,
        0,
        1,
        4,
        0,
        0,
        0,
        0,
        ip_proto::TCP,
        0,
        1,
        4,
        0,
        0,
        0,
        0,
    ];
    out.push((
        "tcp_syn_v6_ext",
        eth(
            None,
            ethertype::IPV6,
            &ipv6(c6, v6, ip_proto::HOPOPT, &exts, &syn6),
        ),
    ));

    let dns = udp(
        c4,
        v4,
        12345,
        53,
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x00\x00\x01\x00\x01",
    );
    out.push((
        "udp_v4",
        eth(None, ethertype::IPV4, &ipv4(CIP, VIP, ip_proto::UDP, &dns)),
    ));

    // A first IPv6 fragment of a UDP datagram.
    let dgram = udp(c6.into(), v6.into(), 5353, 53, b"abcd");
    let frag = [ip_proto::UDP, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
    out.push((
        "udp_v6_frag",
        eth(
            None,
            ethertype::IPV6,
            &ipv6(c6, v6, ip_proto::FRAGMENT, &frag, &dgram),
        ),
    ));

    // The INIT value of a real Diameter association setup.
    let init_value = [
        0xbb, 0x7b, 0x0f, 0x9c, 0x00, 0x00, 0xfa, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0xbb, 0x7b, 0x0f,
        0x9c,
    ];
    let sr = SctpRepr {
        src_port: 4068,
        dst_port: 3868,
        verification_tag: 0,
        chunk_type: chunk::INIT,
        chunk_flags: 0,
    };
    let mut sctp = vec![0u8; sr.buffer_len(init_value.len())];
    sr.emit(&mut sctp, &init_value).unwrap();
    out.push((
        "sctp_init_v4",
        eth(
            None,
            ethertype::IPV4,
            &ipv4(CIP, VIP, ip_proto::SCTP, &sctp),
        ),
    ));

    // A router tells the director that its 1500-byte segment to the client was too big.
    let big = tcp(v4, c4, 80, 51000, flags::ACK, None, &[0x78; 1460]);
    let orig = ipv4(VIP, CIP, ip_proto::TCP, &big);
    let mut icmp = [0u8; 8 + 28];
    let n = rvs_wire::emit_icmpv4_error(
        &mut icmp,
        icmpv4::kind::DEST_UNREACH,
        icmpv4::code::FRAG_NEEDED,
        1400,
        &orig[..28],
    )
    .unwrap();
    let router = Ipv4Addr::new(203, 0, 113, 1);
    out.push((
        "icmp_frag_needed_v4",
        eth(
            None,
            ethertype::IPV4,
            &ipv4(router, VIP, ip_proto::ICMP, &icmp[..n]),
        ),
    ));

    // The IPv6 counterpart, quoting 48 bytes.
    let big6 = tcp(
        v6.into(),
        c6.into(),
        443,
        51000,
        flags::ACK,
        None,
        &[0x78; 60],
    );
    let orig6 = ipv6(v6, c6, ip_proto::TCP, &[], &big6);
    let router6: Ipv6Addr = "2001:db8:ffff::1".parse().unwrap();
    let mut icmp6 = [0u8; 8 + 48];
    let n = rvs_wire::emit_icmpv6_error(
        &mut icmp6,
        router6,
        v6,
        icmpv6::kind::PACKET_TOO_BIG,
        0,
        1280,
        &orig6[..48],
    )
    .unwrap();
    out.push((
        "icmpv6_too_big",
        eth(
            None,
            ethertype::IPV6,
            &ipv6(router6, v6, ip_proto::ICMPV6, &[], &icmp6[..n]),
        ),
    ));

    // IPVS GUE tunnel: director -> real server, UDP 6080, remote checksum offload, IPIP.
    let inner = ipv4(CIP, VIP, ip_proto::TCP, &syn);
    let gr = GueRepr {
        proto: ip_proto::IPIP,
        remcsum: Some((20, 36)),
    };
    let mut gue = vec![0u8; gr.header_len() + inner.len()];
    let n = gr.emit(&mut gue).unwrap();
    gue[n..].copy_from_slice(&inner);
    let outer = udp(d4, r4, 40000, 6080, &gue);
    out.push((
        "gue_ipip",
        eth(
            None,
            ethertype::IPV4,
            &ipv4(DIP, RIP, ip_proto::UDP, &outer),
        ),
    ));

    // IPVS GRE tunnel with checksum and key.
    let inner = ipv4(CIP, VIP, ip_proto::UDP, &dns);
    let gre_r = GreRepr {
        protocol: ethertype::IPV4,
        csum: true,
        key: Some(42),
        seq: None,
    };
    let mut gre = vec![0u8; gre_r.header_len() + inner.len()];
    gre[gre_r.header_len()..].copy_from_slice(&inner);
    gre_r.emit(&mut gre, inner.len()).unwrap();
    out.push((
        "gre_csum",
        eth(None, ethertype::IPV4, &ipv4(DIP, RIP, ip_proto::GRE, &gre)),
    ));

    // IPIP (the classic IPVS tunnel).
    out.push((
        "ipip",
        eth(
            None,
            ethertype::IPV4,
            &ipv4(
                DIP,
                RIP,
                ip_proto::IPIP,
                &ipv4(CIP, VIP, ip_proto::TCP, &syn),
            ),
        ),
    ));

    let arp = ArpRepr {
        op: op::REQUEST,
        sender_hw: CLIENT_MAC,
        sender_ip: CIP,
        target_hw: MacAddr::ZERO,
        target_ip: VIP,
    };
    let mut a = [0u8; 28];
    arp.emit(&mut a).unwrap();
    let mut frame = eth(None, ethertype::ARP, &a);
    frame[..6].copy_from_slice(&MacAddr::BROADCAST.0);
    out.push(("arp_request", frame));

    out.push((
        "vlan_tcp_v4",
        eth(
            Some(0x2064),
            ethertype::IPV4,
            &ipv4(CIP, VIP, ip_proto::TCP, &syn),
        ),
    ));

    let ll: Ipv6Addr = "fe80::5054:ff:feab:cdef".parse().unwrap();
    let ns = NeighborSolicitRepr {
        target: v6,
        lladdr: Some(CLIENT_MAC),
    };
    let mut nd = [0u8; 32];
    let n = ns.emit(&mut nd, ll, solicited_node(v6)).unwrap();
    let mut ip = ipv6(ll, solicited_node(v6), ip_proto::ICMPV6, &[], &nd[..n]);
    ip[7] = 255;
    out.push(("ndisc_ns", eth(None, ethertype::IPV6, &ip)));

    out
}
