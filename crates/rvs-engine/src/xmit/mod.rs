//! Forwarding methods (IPVS `ip_vs_xmit.c`), one file each, over shared in-place rewrite
//! primitives.
//!
//! A transmitter is handed everything it needs (the conn, the resolved `Hop`) and returns
//! a verdict, or an `IcmpRequest` when the sender must hear of an error: it never calls
//! back into the engine.
//!
//! Rewrites are done on raw offsets found by the one-pass parse, with RFC 1624 incremental
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
use rvs_wire::ethernet::MacAddr;
use rvs_wire::{checksum, ip_proto};

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

#[inline]
pub fn rd16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

#[inline]
pub fn wr16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

/// Offset of the L4 checksum that covers the IP pseudo header, if any.
#[inline]
fn pseudo_csum_off(h: &Hdr) -> Option<usize> {
    if !h.l4_ok {
        return None;
    }
    match h.proto {
        ip_proto::TCP => Some(h.l4 + 16),
        ip_proto::UDP => Some(h.l4 + 6),
        ip_proto::ICMPV6 => Some(h.l4 + 2),
        _ => None,
    }
}

/// Apply a change of 16-bit words to a transport checksum, keeping UDP's rules: over IPv4
/// a zero checksum means "none" and stays zero, and a computed zero is sent as 0xffff.
#[inline]
fn update_l4(frame: &mut [u8], h: &Hdr, off: usize, old: &[u8], new: &[u8]) {
    let c = rd16(frame, off);
    if h.proto == ip_proto::UDP && c == 0 && !h.v6 {
        return;
    }
    let mut n = checksum::update_addr(c, old, new);
    if h.proto == ip_proto::UDP && n == 0 {
        n = 0xffff;
    }
    wr16(frame, off, n);
}

/// Replace the source or destination address, fixing the IPv4 header checksum and the
/// transport checksum's pseudo header.
#[inline]
pub fn set_addr(frame: &mut [u8], h: &Hdr, dst: bool, new: &[u8]) {
    let (off, n) = if h.v6 {
        (h.l3 + if dst { 24 } else { 8 }, 16)
    } else {
        (h.l3 + if dst { 16 } else { 12 }, 4)
    };
    debug_assert_eq!(new.len(), n);
    let mut old = [0u8; 16];
    old[..n].copy_from_slice(&frame[off..off + n]);
    if old[..n] == *new {
        return;
    }
    frame[off..off + n].copy_from_slice(new);
    if !h.v6 {
        let c = rd16(frame, h.l3 + 10);
        wr16(frame, h.l3 + 10, checksum::update_addr(c, &old[..n], new));
    }
    if let Some(co) = pseudo_csum_off(h) {
        update_l4(frame, h, co, &old[..n], new);
    }
}

/// Replace the source or destination port. SCTP's CRC32c has no incremental form: the
/// caller recomputes it once after all rewrites ([`fix_sctp`]).
#[inline]
pub fn set_port(frame: &mut [u8], h: &Hdr, dst: bool, new: u16) {
    let off = h.l4 + if dst { 2 } else { 0 };
    let old = rd16(frame, off);
    if old == new {
        return;
    }
    wr16(frame, off, new);
    if h.l4_ok && matches!(h.proto, ip_proto::TCP | ip_proto::UDP) {
        let co = h.l4 + if h.proto == ip_proto::TCP { 16 } else { 6 };
        update_l4(frame, h, co, &old.to_be_bytes(), &new.to_be_bytes());
    }
}

/// Recompute an SCTP packet's CRC32c after its ports changed.
pub fn fix_sctp(frame: &mut [u8], h: &Hdr) {
    if h.proto == ip_proto::SCTP && h.l4_ok {
        let end = (h.l3 + h.ip_len).min(frame.len());
        let mut p = rvs_wire::sctp::SctpPacket::new_unchecked(&mut frame[h.l4..end]);
        p.fill_checksum();
    }
}

/// Decrement TTL / hop limit as a router does (IPVS `decrement_ttl`); false when it would
/// reach zero, and the caller answers with ICMP time exceeded.
#[inline]
pub fn dec_ttl(frame: &mut [u8], h: &Hdr) -> bool {
    if h.v6 {
        let hl = frame[h.l3 + 7];
        if hl <= 1 {
            return false;
        }
        frame[h.l3 + 7] = hl - 1;
    } else {
        let ttl = frame[h.l3 + 8];
        if ttl <= 1 {
            return false;
        }
        let old = [ttl, frame[h.l3 + 9]];
        frame[h.l3 + 8] = ttl - 1;
        let new = [ttl - 1, frame[h.l3 + 9]];
        let c = rd16(frame, h.l3 + 10);
        wr16(frame, h.l3 + 10, checksum::update_addr(c, &old, &new));
    }
    true
}

#[inline]
pub fn set_macs(frame: &mut [u8], src: MacAddr, dst: MacAddr) {
    frame[0..6].copy_from_slice(&dst.0);
    frame[6..12].copy_from_slice(&src.0);
}
