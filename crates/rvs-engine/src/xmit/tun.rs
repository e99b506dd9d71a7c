//! IP tunnelling (IPVS `ip_vs_tunnel_xmit`): the packet travels unchanged inside an outer
//! IPv4 or IPv6 header toward the real server, as IPIP, GUE (UDP) or GRE. The outer family
//! follows the real server, so IPv6 services may use IPv4 tunnel servers and the reverse.

use super::{dec_ttl, rd16, wr16, Hdr, Hop, IcmpRequest, IpIdent, Sent};
use crate::config::{TunCsum, TunType};
use crate::packet::PacketBuf;
use crate::verdict::{DropReason, Verdict};
use core::net::IpAddr;
use rvs_wire::{checksum, ip_proto};

const OUTER_TTL: u8 = 64;
const GUE_LEN: usize = 4;
const UDP_LEN: usize = 8;

/// Bytes added in front of the inner IP packet.
pub fn overhead(outer_v6: bool, tun: TunType, csum: TunCsum) -> usize {
    let ip = if outer_v6 { 40 } else { 20 };
    ip + match tun {
        TunType::Ipip => 0,
        TunType::Gue { .. } => UDP_LEN + GUE_LEN,
        TunType::Gre => 4 + if csum == TunCsum::Csum { 4 } else { 0 },
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
    if inner_len + over > hop.mtu as usize {
        let inner_df = h.v6 || pkt.data()[h.l3 + 6] & 0x40 != 0;
        if !inner_df {
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
    wr16(f, l2 - 2, if outer_v6 { 0x86dd } else { 0x0800 });
    let inner_proto = if h.v6 { ip_proto::IPV6 } else { ip_proto::IPIP };
    let (encap_proto, encap_len) = match tun {
        TunType::Ipip => (inner_proto, 0),
        TunType::Gue { .. } => (ip_proto::UDP, UDP_LEN + GUE_LEN),
        TunType::Gre => (ip_proto::GRE, over - if outer_v6 { 40 } else { 20 }),
    };
    let src = hop.src;
    let outer_hdr = if outer_v6 { 40 } else { 20 };
    // ECN and DSCP are copied outward, as ip_tunnel_ecn_encap does for the common case.
    let tos = if h.v6 {
        ((rd16(f, l2 + over) >> 4) & 0xff) as u8
    } else {
        f[l2 + over + 1]
    };
    let df = h.v6 || f[l2 + over + 6] & 0x40 != 0;
    let payload_len = encap_len + inner_len;
    let o = &mut f[l2..];
    match (src, daddr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            o[0] = 0x45;
            o[1] = tos;
            wr16(o, 2, (20 + payload_len) as u16);
            wr16(o, 4, ident.next());
            wr16(o, 6, if df { 0x4000 } else { 0 });
            o[8] = OUTER_TTL;
            o[9] = encap_proto;
            wr16(o, 10, 0);
            o[12..16].copy_from_slice(&s.octets());
            o[16..20].copy_from_slice(&d.octets());
            let c = checksum::finish(checksum::sum(&o[..20]));
            wr16(o, 10, c);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let vtf: u32 = (6 << 28) | ((tos as u32) << 20);
            o[0..4].copy_from_slice(&vtf.to_be_bytes());
            wr16(o, 4, payload_len as u16);
            o[6] = encap_proto;
            o[7] = OUTER_TTL;
            o[8..24].copy_from_slice(&s.octets());
            o[24..40].copy_from_slice(&d.octets());
        }
        _ => return Ok(Verdict::Drop(DropReason::NoRoute)),
    }
    let e = &mut o[outer_hdr..];
    match tun {
        TunType::Ipip => {}
        TunType::Gue { port } => {
            wr16(e, 0, 0xc000 | (entropy & 0x3fff));
            wr16(e, 2, port);
            wr16(e, 4, (UDP_LEN + GUE_LEN + inner_len) as u16);
            wr16(e, 6, 0);
            // GUE variant 0, no optional fields: the kernel adds the remote-checksum option
            // only for CHECKSUM_PARTIAL packets, and ours always carry complete checksums.
            e[8] = 0;
            e[9] = inner_proto;
            wr16(e, 10, 0);
            if csum == TunCsum::Csum {
                let len = UDP_LEN + GUE_LEN + inner_len;
                let ps = checksum::pseudo(&src, &daddr, ip_proto::UDP, len as u32);
                let mut c = checksum::finish(ps.wrapping_add(checksum::sum(&e[..len])));
                if c == 0 {
                    c = 0xffff;
                }
                wr16(e, 6, c);
            }
        }
        TunType::Gre => {
            let ethertype = if h.v6 { 0x86dd } else { 0x0800 };
            if csum == TunCsum::Csum {
                wr16(e, 0, 0x8000);
                wr16(e, 2, ethertype);
                wr16(e, 4, 0);
                wr16(e, 6, 0);
                let c = checksum::finish(checksum::sum(&e[..8 + inner_len]));
                wr16(e, 4, c);
            } else {
                wr16(e, 0, 0);
                wr16(e, 2, ethertype);
            }
        }
    }
    Ok(hop.finish(pkt.data_mut()))
}

/// A per-flow value for the GUE source port, so that ECMP and RSS on the way to the real
/// server spread flows the way they would spread the inner packets.
pub fn flow_entropy(f: &[u8], h: &Hdr) -> u16 {
    let (a, b) = if h.v6 {
        (h.l3 + 8, h.l3 + 40)
    } else {
        (h.l3 + 12, h.l3 + 20)
    };
    let mut x: u32 = 0x811c_9dc5;
    for &byte in &f[a..b] {
        x = (x ^ byte as u32).wrapping_mul(0x0100_0193);
    }
    if h.l4_ok {
        for &byte in &f[h.l4..h.l4 + 4] {
            x = (x ^ byte as u32).wrapping_mul(0x0100_0193);
        }
    }
    (x ^ (x >> 16)) as u16
}
