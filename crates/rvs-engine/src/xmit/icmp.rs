//! ICMP errors that belong to a conn (IPVS `ip_vs_in_icmp` / `ip_vs_out_icmp` find the conn,
//! `ip_vs_icmp_xmit` sends the error on): `related` finds it, the engine counts it and
//! resolves the hop, `relay_in` / `relay_out` rewrite and send.
//!
//! An error quotes the packet that caused it. From the client side, that packet is one we
//! sent the client (vaddr → caddr), so the error goes on to the real server; from the real
//! server's side it is one we forwarded (caddr or laddr → daddr), so it goes back to the
//! client. For NAT and FULLNAT the quoted headers are translated like the outer ones, so
//! that each end recognises its own packet.

use super::{set_addr, set_port, Hdr, Hop};
use crate::conn::{tick_of, Conn, ConnAddr, ConnKey, ConnTable, FwdKind};
use crate::packet::PacketBuf;
use crate::verdict::{DropReason, Verdict};
use rvs_wire::frame::{parse_inner_ip, FrameInfo, L3};
use rvs_wire::icmpv4::{self, Icmpv4Packet};
use rvs_wire::icmpv6::{self, Icmpv6Packet};
use rvs_wire::ipv6::Ipv6Packet;
use rvs_wire::{ip_proto, tcp, udp};

fn is_error(v6: bool, t: u8) -> bool {
    if v6 {
        (1..=4).contains(&t)
    } else {
        matches!(
            t,
            icmpv4::kind::DEST_UNREACH
                | icmpv4::kind::SOURCE_QUENCH
                | icmpv4::kind::TIME_EXCEEDED
                | icmpv4::kind::PARAM_PROBLEM
        )
    }
}

/// An ICMP error about one of our conns: the conn, and where the quoted packet's headers
/// are. The caller counts it and sends it on with [`relay_in`] or [`relay_out`].
pub(crate) enum Related<A: ConnAddr> {
    /// From the client side, about a packet we sent the client: on to the real server.
    In { c: Conn<A>, ih: Hdr },
    /// From the real server, about a packet we forwarded to it: back to the client.
    Out { c: Conn<A>, ih: Hdr },
}

/// The live conn an ICMP error is about, if any (anything else passes to the kernel).
pub(crate) fn related<A: ConnAddr>(
    table: &ConnTable<A>,
    pkt: &PacketBuf,
    h: &Hdr,
    fi: &FrameInfo,
    now: u64,
) -> Option<Related<A>> {
    if !is_error(h.v6, fi.l4_kind) {
        return None;
    }
    let ip_end = (h.l3 + h.ip_len).min(pkt.len());
    // The quoted packet follows the ICMP header.
    let inner_off = h.l4
        + if h.v6 {
            icmpv6::HEADER_LEN
        } else {
            icmpv4::HEADER_LEN
        };
    if inner_off >= ip_end {
        return None;
    }
    let Ok(inner) = parse_inner_ip(&pkt.data()[inner_off..ip_end]) else {
        return None;
    };
    // No quoted ports (a bare IP header or a later fragment): nothing to match a conn by,
    // and the port rewrites below would fall outside the quote.
    if !inner.l4_ok {
        return None;
    }
    let same_family = matches!((inner.l3, h.v6), (L3::Ipv4, false) | (L3::Ipv6, true));
    if !same_family
        || !matches!(
            inner.protocol,
            ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP
        )
    {
        return None;
    }
    let (Some(isrc), Some(idst)) = (A::from_ip(inner.src), A::from_ip(inner.dst)) else {
        return None;
    };
    let tnow = tick_of(now);
    // A quote is often cut short: its transport checksum may only be updated when the
    // field itself was quoted (the update stays right for the whole original segment).
    let inner_l4 = inner_off + inner.l4_offset;
    let csum_end = inner_l4
        + match inner.protocol {
            ip_proto::TCP => tcp::CHECKSUM_END,
            // UDP's checksum ends its header. SCTP's CRC32c is never patched in a quote
            // (it has no incremental form), so its ports and tag are all that counts.
            _ => udp::CHECKSUM_END,
        };
    let ih = Hdr {
        l3: inner_off + inner.l3_offset,
        l4: inner_l4,
        v6: h.v6,
        proto: inner.protocol,
        l4_ok: csum_end <= inner_off + inner.ip_len,
        ip_len: inner.ip_len,
    };
    // About a packet we sent the client: inner is vaddr:vport → caddr:cport.
    let k_in = ConnKey {
        proto: inner.protocol,
        template: false,
        a1: idst,
        p1: inner.dport,
        a2: isrc,
        p2: inner.sport,
    };
    if let Some(i) = table.find_in(&k_in) {
        let c = *table.get(i);
        if !c.expired(tnow) {
            return Some(Related::In { c, ih });
        }
    }
    // About a packet we forwarded to the real server: inner is (caddr|laddr) → daddr.
    let k_out = ConnKey {
        proto: inner.protocol,
        template: false,
        a1: idst,
        p1: inner.dport,
        a2: isrc,
        p2: inner.sport,
    };
    if let Some(i) = table.find_out(&k_out) {
        let c = *table.get(i);
        if !c.expired(tnow) {
            return Some(Related::Out { c, ih });
        }
    }
    None
}

/// Client side → real server, for NAT and FULLNAT (DR and TUN forward the error as it is,
/// like any packet of the conn). `hop` leads to the real server.
pub(crate) fn relay_in<A: ConnAddr>(
    pkt: &mut PacketBuf,
    h: &Hdr,
    ih: &Hdr,
    c: &Conn<A>,
    hop: Result<Hop, DropReason>,
) -> Verdict {
    let f = pkt.data_mut();
    if c.flags.fwd() == FwdKind::FullNat {
        set_addr(f, h, false, c.laddr.as_ref());
        // The quoted packet went laddr:lport → ... from the server's point of view.
        set_addr(f, ih, true, c.laddr.as_ref());
        set_port(f, ih, true, c.lport);
    }
    set_addr(f, h, true, c.daddr.as_ref());
    set_addr(f, ih, false, c.daddr.as_ref());
    set_port(f, ih, false, c.dport);
    fix_icmp_checksum(f, h);
    let hop = match hop {
        Ok(hop) => hop,
        Err(r) => return Verdict::Drop(r),
    };
    if !super::dec_ttl(pkt.data_mut(), h) {
        return Verdict::Drop(DropReason::TtlExceeded);
    }
    hop.finish(pkt.data_mut())
}

/// Real server side → client; `hop` leads to the client.
pub(crate) fn relay_out<A: ConnAddr>(
    pkt: &mut PacketBuf,
    h: &Hdr,
    ih: &Hdr,
    c: &Conn<A>,
    hop: &Hop,
) -> Verdict {
    let f = pkt.data_mut();
    set_addr(f, h, false, c.vaddr.as_ref());
    set_addr(f, ih, true, c.vaddr.as_ref());
    set_port(f, ih, true, c.vport);
    if c.flags.fwd() == FwdKind::FullNat {
        set_addr(f, h, true, c.caddr.as_ref());
        set_addr(f, ih, false, c.caddr.as_ref());
        set_port(f, ih, false, c.cport);
    }
    fix_icmp_checksum(f, h);
    if !super::dec_ttl(f, h) {
        return Verdict::Drop(DropReason::TtlExceeded);
    }
    hop.finish(pkt.data_mut())
}

/// The quoted packet changed, so the ICMP checksum is recomputed over the whole message
/// (as IPVS does); ICMPv6 covers the pseudo header too.
fn fix_icmp_checksum(f: &mut [u8], h: &Hdr) {
    let end = (h.l3 + h.ip_len).min(f.len());
    if h.v6 {
        let ip = Ipv6Packet::new_unchecked(&f[h.l3..]);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        Icmpv6Packet::new_unchecked(&mut f[h.l4..end]).fill_checksum(src, dst);
    } else {
        Icmpv4Packet::new_unchecked(&mut f[h.l4..end]).fill_checksum();
    }
}
