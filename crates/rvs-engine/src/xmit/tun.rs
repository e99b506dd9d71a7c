//! IP tunnelling (IPVS `ip_vs_tunnel_xmit`): the packet travels unchanged inside an outer
//! IPv4 or IPv6 header toward the real server, as IPIP, GUE (UDP) or GRE. The outer family
//! follows the real server, so IPv6 services may use IPv4 tunnel servers and the reverse.

use super::{dec_ttl, Hdr, Hop, IcmpRequest, IpIdent, Sent};
use crate::config::{TunCsum, TunType};
use crate::packet::PacketBuf;
use crate::verdict::{DropReason, Verdict};
use core::net::IpAddr;
use rvs_wire::ethernet::{ethertype, EthernetFrame};
use rvs_wire::gre::GreRepr;
use rvs_wire::gue::{self, GueRepr};
use rvs_wire::ip_proto;
use rvs_wire::ipv4::{self, Ipv4Packet, Ipv4Repr};
use rvs_wire::ipv6::{self, Ipv6Packet, Ipv6Repr};
use rvs_wire::udp::{self, UdpPacket};

const OUTER_TTL: u8 = 64;
/// The flow hash covers the transport header's first word as bytes: the ports of TCP,
/// UDP and SCTP, type, code and checksum of an ICMP error relayed on a conn.
const L4_WORD: usize = 4;

/// Bytes added in front of the inner IP packet.
pub fn overhead(outer_v6: bool, tun: TunType, csum: TunCsum) -> usize {
    let ip = if outer_v6 {
        ipv6::HEADER_LEN
    } else {
        ipv4::HEADER_LEN
    };
    ip + match tun {
        TunType::Ipip => 0,
        TunType::Gue { .. } => udp::HEADER_LEN + gue::HEADER_LEN,
        TunType::Gre => gre_repr(false, csum).header_len(),
    }
}

/// The GRE header IPVS sends: no key, no sequence number, a checksum if asked for.
fn gre_repr(inner_v6: bool, csum: TunCsum) -> GreRepr {
    GreRepr {
        protocol: if inner_v6 {
            ethertype::IPV6
        } else {
            ethertype::IPV4
        },
        csum: csum == TunCsum::Csum,
        key: None,
        seq: None,
    }
}

/// The inner packet's DSCP/ECN byte and whether it may not be fragmented (IPv6 never is
/// on the way).
fn inner_tos_df(f: &[u8], h: &Hdr) -> (u8, bool) {
    if h.v6 {
        (Ipv6Packet::new_unchecked(&f[h.l3..]).traffic_class(), true)
    } else {
        let ip = Ipv4Packet::new_unchecked(&f[h.l3..]);
        (ip.dscp_ecn(), ip.dont_frag())
    }
}

/// `daddr`, `tun` and `csum` are the dest's tunnel parameters, `hop` the way to it.
pub(crate) fn tun(
    pkt: &mut PacketBuf,
    h: &Hdr,
    hop: &Hop,
    (daddr, tun, csum): (IpAddr, TunType, TunCsum),
    ident: &mut IpIdent,
) -> Sent {
    let outer_v6 = daddr.is_ipv6();
    let over = overhead(outer_v6, tun, csum);
    let inner_len = h.ip_len;
    // ECN and DSCP are copied outward, as ip_tunnel_ecn_encap does for the common case.
    let (tos, df) = inner_tos_df(pkt.data(), h);
    if inner_len + over > hop.mtu as usize {
        if !df {
            // IPVS would let the kernel fragment the outer packet; a userspace data path
            // sending one frame per verdict cannot, so this is counted instead.
            return Ok(Verdict::Drop(DropReason::TooBig));
        }
        let mtu = (hop.mtu as usize).saturating_sub(over) as u32;
        return Err(IcmpRequest::TooBig { mtu });
    }
    if !dec_ttl(pkt.data_mut(), h) {
        return Err(IcmpRequest::TimeExceeded);
    }
    let entropy = flow_entropy(pkt.data(), h);
    let l2 = h.l3;
    if !pkt.push_front(over) {
        return Ok(Verdict::Drop(DropReason::NoHeadroom));
    }
    // Drop any Ethernet padding after the inner packet before it is covered by lengths.
    pkt.set_len(l2 + over + inner_len);
    let f = pkt.data_mut();
    f.copy_within(over..over + l2, 0);
    EthernetFrame::new_unchecked(&mut f[..l2]).set_ethertype(if outer_v6 {
        ethertype::IPV6
    } else {
        ethertype::IPV4
    });
    let inner_proto = if h.v6 { ip_proto::IPV6 } else { ip_proto::IPIP };
    let encap_proto = match tun {
        TunType::Ipip => inner_proto,
        TunType::Gue { .. } => ip_proto::UDP,
        TunType::Gre => ip_proto::GRE,
    };
    let src = hop.src;
    let o = &mut f[l2..];
    // The lengths fit (the MTU check above bounds them) and the room was pushed, so the
    // emits cannot fail; were they to, the frame is dropped and counted, not sent half-built.
    let payload_len = o.len()
        - if outer_v6 {
            ipv6::HEADER_LEN
        } else {
            ipv4::HEADER_LEN
        };
    let outer = match (src, daddr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Repr {
            src: s,
            dst: d,
            protocol: encap_proto,
            payload_len,
            ttl: OUTER_TTL,
            dont_frag: df,
            ident: ident.next(),
            dscp_ecn: tos,
        }
        .emit(o),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6Repr {
            src: s,
            dst: d,
            next_header: encap_proto,
            payload_len,
            hop_limit: OUTER_TTL,
            traffic_class: tos,
            flow_label: 0,
        }
        .emit(o),
        _ => return Ok(Verdict::Drop(DropReason::NoRoute)),
    };
    let Ok(outer_hdr) = outer else {
        return Ok(Verdict::Drop(DropReason::NoHeadroom));
    };
    let e = &mut o[outer_hdr..];
    let encap = match tun {
        TunType::Ipip => Ok(0),
        TunType::Gue { port } => {
            let mut u = UdpPacket::new_unchecked(e);
            u.set_src_port(0xc000 | (entropy & 0x3fff));
            u.set_dst_port(port);
            u.set_len(payload_len as u16);
            u.set_checksum(0);
            // GUE variant 0, no optional fields: the kernel adds the remote-checksum option
            // only for CHECKSUM_PARTIAL packets, and ours always carry complete checksums.
            let gue = GueRepr {
                proto: inner_proto,
                remcsum: None,
            }
            .emit(u.payload_mut());
            if csum == TunCsum::Csum {
                u.fill_checksum(&src, &daddr);
            }
            gue
        }
        TunType::Gre => gre_repr(h.v6, csum).emit(e, inner_len),
    };
    if encap.is_err() {
        return Ok(Verdict::Drop(DropReason::NoHeadroom));
    }
    Ok(hop.finish(pkt.data_mut()))
}

/// A per-flow value for the GUE source port, so that ECMP and RSS on the way to the real
/// server spread flows the way they would spread the inner packets.
#[inline]
pub fn flow_entropy(f: &[u8], h: &Hdr) -> u16 {
    let mut x: u32 = 0x811c_9dc5;
    let mut mix = |bytes: &[u8]| {
        for &byte in bytes {
            x = (x ^ byte as u32).wrapping_mul(0x0100_0193);
        }
    };
    if h.v6 {
        let ip = Ipv6Packet::new_unchecked(&f[h.l3..]);
        mix(&ip.src_addr().octets());
        mix(&ip.dst_addr().octets());
    } else {
        let ip = Ipv4Packet::new_unchecked(&f[h.l3..]);
        mix(&ip.src_addr().octets());
        mix(&ip.dst_addr().octets());
    }
    if h.l4_ok {
        mix(&f[h.l4..h.l4 + L4_WORD]);
    }
    (x ^ (x >> 16)) as u16
}
