//! Answers rvs gives in the kernel's place for the addresses it serves but the kernel does
//! not own: ARP requests, IPv6 neighbour solicitations and pings. Without them a VIP that
//! lives only in rvs (not `ip addr add`-ed anywhere) would be unreachable. Every answer is
//! written over the request in its own buffer and sent back out of the ingress port.

use crate::config::Config;
use crate::net::{NetView, PortId};
use crate::packet::PacketBuf;
use crate::verdict::Verdict;
use crate::vip::VipOwnership;
use core::net::{IpAddr, Ipv6Addr};
use rvs_wire::arp::{op as arp_op, ArpPacket, ArpRepr};
use rvs_wire::checksum;
use rvs_wire::ethernet::{ethertype, MacAddr};
use rvs_wire::frame::FrameInfo;
use rvs_wire::ndisc::{NdiscPacket, NeighborAdvertRepr};

/// Whether rvs speaks for `addr` on the wire: a vaddr or laddr that the kernel lacks and
/// that VRRP has not handed to another director.
fn answers_for(cfg: &Config, net: &dyn NetView, vips: &VipOwnership, addr: IpAddr) -> bool {
    (cfg.is_vaddr(addr) || cfg.is_laddr(addr)) && !net.is_local(addr) && vips.owns(addr)
}

/// Ethernet source from our port, destination the asker.
fn reflect_eth(f: &mut [u8], port_mac: MacAddr) {
    let (dst, src) = f.split_at_mut(6);
    dst.copy_from_slice(&src[..6]);
    src[..6].copy_from_slice(&port_mac.0);
}

/// An ARP request for a served address becomes the reply.
pub(crate) fn arp(
    cfg: &Config,
    net: &dyn NetView,
    vips: &VipOwnership,
    pkt: &mut PacketBuf,
    fi: &FrameInfo,
    ingress: PortId,
) -> Option<Verdict> {
    let l3 = fi.l3_offset;
    let req = {
        let p = ArpPacket::new_checked(pkt.data().get(l3..)?).ok()?;
        ArpRepr::parse(&p).ok()?
    };
    if req.op != arp_op::REQUEST || !answers_for(cfg, net, vips, IpAddr::V4(req.target_ip)) {
        return None;
    }
    let mac = net.port_mac(ingress)?;
    let f = pkt.data_mut();
    req.reply(mac).emit(&mut f[l3..]).ok()?;
    reflect_eth(f, mac);
    Some(Verdict::Tx(ingress))
}

/// An ICMP or ICMPv6 echo request to a served address becomes the echo reply: addresses
/// swapped, type changed, checksums updated incrementally (the swap leaves both the IPv4
/// header sum and the ICMPv6 pseudo-header sum unchanged).
pub(crate) fn echo(
    cfg: &Config,
    net: &dyn NetView,
    vips: &VipOwnership,
    pkt: &mut PacketBuf,
    fi: &FrameInfo,
    ingress: PortId,
) -> Option<Verdict> {
    if !answers_for(cfg, net, vips, fi.dst) || fi.src.is_multicast() {
        return None;
    }
    let mac = net.port_mac(ingress)?;
    let (l3, l4) = (fi.l3_offset, fi.l4_offset);
    let v6 = fi.dst.is_ipv6();
    let f = pkt.data_mut();
    if f.len() < l4 + 4 {
        return None;
    }
    let (addr_at, alen) = if v6 { (l3 + 8, 16) } else { (l3 + 12, 4) };
    let mut tmp = [0u8; 16];
    tmp[..alen].copy_from_slice(&f[addr_at..addr_at + alen]);
    f.copy_within(addr_at + alen..addr_at + 2 * alen, addr_at);
    f[addr_at + alen..addr_at + 2 * alen].copy_from_slice(&tmp[..alen]);
    let (old_ty, new_ty) = if v6 { (128u8, 129u8) } else { (8, 0) };
    let old = u16::from_be_bytes([old_ty, f[l4 + 1]]);
    let new = u16::from_be_bytes([new_ty, f[l4 + 1]]);
    f[l4] = new_ty;
    let ck = u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]);
    f[l4 + 2..l4 + 4].copy_from_slice(&checksum::update16(ck, old, new).to_be_bytes());
    if v6 {
        f[l3 + 7] = 64;
    } else {
        let old = u16::from_be_bytes([f[l3 + 8], f[l3 + 9]]);
        f[l3 + 8] = 64;
        let new = u16::from_be_bytes([f[l3 + 8], f[l3 + 9]]);
        let ck = u16::from_be_bytes([f[l3 + 10], f[l3 + 11]]);
        f[l3 + 10..l3 + 12].copy_from_slice(&checksum::update16(ck, old, new).to_be_bytes());
    }
    reflect_eth(f, mac);
    Some(Verdict::Tx(ingress))
}

/// A neighbour solicitation for a served address becomes a solicited advertisement
/// (RFC 4861 §7.2.4), rebuilt in place: the answer is never longer than 86 bytes.
pub(crate) fn solicit(
    cfg: &Config,
    net: &dyn NetView,
    vips: &VipOwnership,
    pkt: &mut PacketBuf,
    fi: &FrameInfo,
    ingress: PortId,
) -> Option<Verdict> {
    let (l3, l4) = (fi.l3_offset, fi.l4_offset);
    let IpAddr::V6(src) = fi.src else {
        return None;
    };
    // A real solicitation arrives with hop limit 255: anything else was routed here.
    if fi.ttl != 255 {
        return None;
    }
    let end = (l3 + fi.ip_len).min(pkt.len());
    let na = {
        let ns = NdiscPacket::new_checked(pkt.data().get(l4..end)?).ok()?;
        let IpAddr::V6(dst) = fi.dst else { return None };
        if !ns.is_solicit() || !ns.verify_checksum(src, dst) {
            return None;
        }
        if !answers_for(cfg, net, vips, IpAddr::V6(ns.target_addr())) {
            return None;
        }
        let mac = net.port_mac(ingress)?;
        let mut na = NeighborAdvertRepr::reply_to(&ns, mac);
        // Duplicate address detection asks from ::; the answer goes to all nodes, unsolicited.
        if src.is_unspecified() {
            na.flags &= !rvs_wire::ndisc::flags::SOLICITED;
        }
        (na, mac)
    };
    let (na, mac) = na;
    let to = if src.is_unspecified() {
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)
    } else {
        src
    };
    let need = l4 + 32;
    if pkt.len() < need && !pkt.set_len(need) {
        return None;
    }
    let f = pkt.data_mut();
    let n = na.emit(&mut f[l4..], na.target, to).ok()?;
    // The IPv6 header: same version/class/flow word, new length, hop limit, addresses.
    f[l3 + 4..l3 + 6].copy_from_slice(&(n as u16).to_be_bytes());
    f[l3 + 6] = rvs_wire::ip_proto::ICMPV6;
    f[l3 + 7] = 255;
    f[l3 + 8..l3 + 24].copy_from_slice(&na.target.octets());
    f[l3 + 24..l3 + 40].copy_from_slice(&to.octets());
    if !pkt.set_len(l4 + n) {
        return None;
    }
    let f = pkt.data_mut();
    if src.is_unspecified() {
        f[..6].copy_from_slice(&rvs_wire::ndisc::multicast_mac(to).0);
        f[6..12].copy_from_slice(&mac.0);
    } else {
        reflect_eth(f, mac);
    }
    Some(Verdict::Tx(ingress))
}

/// A gratuitous ARP (a request for `addr` from `addr`, broadcast) announcing that `mac`
/// now holds `addr`: sent when a VIP appears, or moves to this director.
pub fn garp(mac: MacAddr, addr: core::net::Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&MacAddr::BROADCAST.0);
    f[6..12].copy_from_slice(&mac.0);
    f[12..14].copy_from_slice(&ethertype::ARP.to_be_bytes());
    let r = ArpRepr {
        op: arp_op::REQUEST,
        sender_hw: mac,
        sender_ip: addr,
        target_hw: MacAddr::ZERO,
        target_ip: addr,
    };
    // 60 bytes always hold 14 + 28.
    let _ = r.emit(&mut f[14..]);
    f
}

/// An unsolicited neighbour advertisement of `addr` to all nodes (RFC 4861 §7.2.6).
pub fn unsolicited_na(mac: MacAddr, addr: Ipv6Addr) -> Vec<u8> {
    let all = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut f = vec![0u8; 14 + 40 + 32];
    f[..6].copy_from_slice(&rvs_wire::ndisc::multicast_mac(all).0);
    f[6..12].copy_from_slice(&mac.0);
    f[12..14].copy_from_slice(&ethertype::IPV6.to_be_bytes());
    let na = NeighborAdvertRepr {
        flags: rvs_wire::ndisc::flags::OVERRIDE,
        target: addr,
        lladdr: Some(mac),
    };
    let n = na.emit(&mut f[54..], addr, all).unwrap_or(32);
    f[14] = 0x60;
    f[18..20].copy_from_slice(&(n as u16).to_be_bytes());
    f[20] = rvs_wire::ip_proto::ICMPV6;
    f[21] = 255;
    f[22..38].copy_from_slice(&addr.octets());
    f[38..54].copy_from_slice(&all.octets());
    f
}
