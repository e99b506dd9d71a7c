//! Forwarding methods (IPVS `ip_vs_xmit.c`), one file each, over shared in-place rewrite
//! primitives.
//!
//! A transmitter is handed everything it needs (the conn, the resolved `Hop`) and returns
//! a verdict, or an `IcmpRequest` when the sender must hear of an error: it never calls
//! back into the engine.
//!
//! Rewrites go through rvs-wire's views, placed at the header offsets the one-pass parse
//! found (unchecked: the parse already validated the lengths), with RFC 1624 incremental
//! checksum updates: an address or port change costs a few adds instead of a pass over the
//! payload. This is only right when the incoming checksum is complete, which real NICs
//! deliver; the test topologies turn TX checksum offload off on their veths
//! (`ethtool -K dev tx off`) because locally generated veth traffic carries partial sums.

pub mod dr;
pub mod fullnat;
pub mod icmp;
pub mod nat;
pub mod tun;

use crate::net::PortId;
use crate::verdict::Verdict;
use core::net::IpAddr;
use rvs_wire::ethernet::{EthernetFrame, MacAddr};
use rvs_wire::icmpv6::Icmpv6Packet;
use rvs_wire::ip_proto;
use rvs_wire::ipv4::Ipv4Packet;
use rvs_wire::ipv6::Ipv6Packet;
use rvs_wire::sctp::SctpPacket;
use rvs_wire::tcp::TcpPacket;
use rvs_wire::udp::UdpPacket;

/// A resolved next hop: the port a frame leaves by and the MACs it leaves with. The engine
/// resolves it (`route.rs`); a transmitter finishes its frame on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hop {
    pub port: PortId,
    pub src_mac: MacAddr,
    pub dst_mac: Option<MacAddr>,
    pub next_hop: IpAddr,
    pub src: IpAddr,
    pub mtu: u16,
}

impl Hop {
    #[inline]
    pub fn finish(&self, f: &mut [u8]) -> Verdict {
        match self.dst_mac {
            Some(mac) => {
                set_macs(f, self.src_mac, mac);
                Verdict::Tx(self.port)
            }
            None => {
                set_macs(f, self.src_mac, MacAddr([0; 6]));
                Verdict::TxPending {
                    port: self.port,
                    next_hop: self.next_hop,
                }
            }
        }
    }
}

/// An ICMP error a transmitter asks for instead of sending the frame. Building it needs the
/// engine's reply state (scratch buffer, IP ident, ingress port), so the caller does it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IcmpRequest {
    /// TTL or hop limit ran out (IPVS `decrement_ttl`'s ICMP_TIME_EXCEEDED).
    TimeExceeded,
    /// The frame does not fit the path: fragmentation needed / packet too big, `mtu` being
    /// what the sender may use.
    TooBig { mtu: u32 },
}

/// What a transmitter did: a verdict on the rewritten frame, or a request for an ICMP error.
pub(crate) type Sent = Result<Verdict, IcmpRequest>;

/// The IPv4 identification counter of the packets the engine builds (tunnel headers and ICMP
/// errors).
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpIdent(pub u16);

impl IpIdent {
    #[inline]
    pub fn next(&mut self) -> u16 {
        self.0 = self.0.wrapping_add(1);
        self.0
    }
}

/// Where the headers of the frame being processed are.
#[derive(Clone, Copy, Debug)]
pub struct Hdr {
    pub l3: usize,
    pub l4: usize,
    pub v6: bool,
    pub proto: u8,
    /// The L4 header is complete, so its checksum field may be touched.
    pub l4_ok: bool,
    /// Length of the IP packet (header included).
    pub ip_len: usize,
}

/// Patch the transport checksum that covers the pseudo header after an address changed,
/// keeping UDP's rules (over IPv4 a zero checksum means "none" and stays zero; a computed
/// zero is sent as 0xffff).
#[inline]
fn update_l4(frame: &mut [u8], h: &Hdr, old: &[u8], new: &[u8]) {
    if !h.l4_ok {
        return;
    }
    let l4 = &mut frame[h.l4..];
    match h.proto {
        ip_proto::TCP => TcpPacket::new_unchecked(l4).update_checksum_for(old, new),
        ip_proto::UDP => UdpPacket::new_unchecked(l4).update_checksum_for(old, new, !h.v6),
        ip_proto::ICMPV6 => Icmpv6Packet::new_unchecked(l4).update_checksum_for(old, new),
        // SCTP's CRC32c has no pseudo header; ICMPv4 covers only itself.
        _ => {}
    }
}

/// Writes the source or destination address through an IP view, giving the old one's
/// octets. A macro because the IPv4 and IPv6 views share these names but no trait.
macro_rules! swap_addr {
    ($ip:ident, $dst:expr, $new:expr) => {{
        let old = if $dst { $ip.dst_addr() } else { $ip.src_addr() }.octets();
        if $dst {
            $ip.set_dst_addr($new.into());
        } else {
            $ip.set_src_addr($new.into());
        }
        old
    }};
}

/// Writes the source or destination port through a transport view, giving the old one.
macro_rules! swap_port {
    ($p:ident, $dst:expr, $new:expr) => {{
        let old = if $dst { $p.dst_port() } else { $p.src_port() };
        if $dst {
            $p.set_dst_port($new);
        } else {
            $p.set_src_port($new);
        }
        old
    }};
}

/// Replace the source or destination address, fixing the IPv4 header checksum and the
/// transport checksum's pseudo header. The views are unchecked: the one-pass parse
/// already proved the IP header in bounds.
#[inline]
pub fn set_addr(frame: &mut [u8], h: &Hdr, dst: bool, new: &[u8]) {
    debug_assert_eq!(new.len(), if h.v6 { 16 } else { 4 });
    // Dispatch on the address's length, not `h.v6`: once inlined for a conn's address
    // type the length is a constant, and the other family's branch disappears.
    if let Ok(new) = <[u8; 4]>::try_from(new) {
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[h.l3..]);
        let old = swap_addr!(ip, dst, new);
        if old != new {
            ip.update_checksum_for(&old, &new);
            update_l4(frame, h, &old, &new);
        }
    } else if let Ok(new) = <[u8; 16]>::try_from(new) {
        let mut ip = Ipv6Packet::new_unchecked(&mut frame[h.l3..]);
        let old = swap_addr!(ip, dst, new);
        if old != new {
            update_l4(frame, h, &old, &new);
        }
    }
}

/// Replace the source or destination port. SCTP's CRC32c has no incremental form: the
/// caller recomputes it once after all rewrites ([`fix_sctp`]).
#[inline]
pub fn set_port(frame: &mut [u8], h: &Hdr, dst: bool, new: u16) {
    // An unchanged port leaves the checksum alone: patching it with old == new would turn
    // a 0xffff into the other encoding of zero.
    let l4 = &mut frame[h.l4..];
    match h.proto {
        ip_proto::TCP => {
            let mut p = TcpPacket::new_unchecked(l4);
            let old = swap_port!(p, dst, new);
            if old != new && h.l4_ok {
                p.update_checksum_for(&old.to_be_bytes(), &new.to_be_bytes());
            }
        }
        ip_proto::UDP => {
            let mut p = UdpPacket::new_unchecked(l4);
            let old = swap_port!(p, dst, new);
            if old != new && h.l4_ok {
                p.update_checksum_for(&old.to_be_bytes(), &new.to_be_bytes(), !h.v6);
            }
        }
        ip_proto::SCTP => {
            let mut p = SctpPacket::new_unchecked(l4);
            swap_port!(p, dst, new);
        }
        // Conns exist only for TCP, UDP and SCTP (IPVS's ip_vs_proto list).
        _ => debug_assert!(false, "port rewrite of protocol {}", h.proto),
    }
}

/// Recompute an SCTP packet's CRC32c after its ports changed.
pub fn fix_sctp(frame: &mut [u8], h: &Hdr) {
    if h.proto == ip_proto::SCTP && h.l4_ok {
        let end = (h.l3 + h.ip_len).min(frame.len());
        let mut p = SctpPacket::new_unchecked(&mut frame[h.l4..end]);
        p.fill_checksum();
    }
}

/// Decrement TTL / hop limit as a router does (IPVS `decrement_ttl`); false when it would
/// reach zero, and the caller answers with ICMP time exceeded.
#[inline]
pub fn dec_ttl(frame: &mut [u8], h: &Hdr) -> bool {
    if h.v6 {
        let mut ip = Ipv6Packet::new_unchecked(&mut frame[h.l3..]);
        let hl = ip.hop_limit();
        if hl <= 1 {
            return false;
        }
        ip.set_hop_limit(hl - 1);
    } else {
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[h.l3..]);
        let ttl = ip.ttl();
        if ttl <= 1 {
            return false;
        }
        ip.set_ttl(ttl - 1);
        // TTL shares its checksummed 16-bit word with the protocol.
        let proto = ip.protocol();
        ip.update_checksum_for(&[ttl, proto], &[ttl - 1, proto]);
    }
    true
}

#[inline]
pub fn set_macs(frame: &mut [u8], src: MacAddr, dst: MacAddr) {
    let mut eth = EthernetFrame::new_unchecked(frame);
    eth.set_dst_addr(dst);
    eth.set_src_addr(src);
}
