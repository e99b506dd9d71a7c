//! One-pass classification of a received frame for the engine's hot path.
//!
//! [`parse_frame`] reads Ethernet (one 802.1Q tag), the IPv4 header or the IPv6 header
//! and extension-header chain, and the fixed L4 header, and returns offsets plus the
//! flow key in a [`FrameInfo`]. It does not build views: every length is checked once,
//! here, and the engine then rewrites the frame in place at the returned offsets.
//!
//! What is an error and what is not:
//! * A bad Ethernet, IPv4 or IPv6 header (wrong version, lengths that do not fit, bad
//!   IPv4 header checksum, broken extension chain) is `Err`: the kernel's `ip_rcv` drops
//!   these before IPVS sees them, and so does the engine.
//! * Non-IP frames (ARP, other ethertypes, stacked VLAN tags) are `Ok` with only
//!   `vlan`, `l3` and `l3_offset` meaningful.
//! * A short or inconsistent L4 header is `Ok` with `l4_ok == false`: whether to drop
//!   or pass such a packet is the engine's policy, not the parser's.
//! * L4 checksums are not verified; the engine does that only where IPVS does.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ethernet::ethertype;
use crate::{arr16, arr4, checksum, icmpv4, icmpv6, ip_proto, ipv6, rd16, Error, Result};

/// The network layer of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L3 {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// ARP.
    Arp,
    /// Anything else, with its ethertype ([`ethertype::VLAN`] for a second 802.1Q tag).
    Other(u16),
}

/// Fragmentation state of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Frag {
    /// Not a fragment (an IPv6 atomic fragment, offset 0 without M, counts as this).
    #[default]
    None,
    /// The first fragment: offset 0, more fragments follow. The L4 header is present
    /// (if the fragment is long enough).
    First,
    /// A later fragment: no L4 header, so no ports.
    Later,
}

/// What [`parse_frame`] found. All offsets are from the start of the slice parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// The 802.1Q tag control information (PCP, DEI and VID; see
    /// [`crate::ethernet::vid`]), if tagged.
    pub vlan: Option<u16>,
    /// The network layer.
    pub l3: L3,
    /// Offset of the network header (14 or 18 in a frame, 0 from [`parse_ip`]).
    pub l3_offset: usize,
    /// Length of the IP packet, header included: IPv4 total length, or 40 plus the
    /// IPv6 payload length. Bytes past `l3_offset + ip_len` are link padding. For
    /// [`parse_inner_ip`], capped at the bytes available. 0 for non-IP.
    pub ip_len: usize,
    /// Source address (unspecified IPv4 for non-IP).
    pub src: IpAddr,
    /// Destination address (unspecified IPv4 for non-IP).
    pub dst: IpAddr,
    /// The upper-layer protocol, after any IPv6 extension headers.
    pub protocol: u8,
    /// Offset of the upper-layer header, after IPv4 options or IPv6 extension headers
    /// (for a later fragment, where its data starts). 0 for non-IP.
    pub l4_offset: usize,
    /// Fragmentation state.
    pub frag: Frag,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IPv4 Don't Fragment; always true for IPv6, which routers never fragment.
    pub dont_frag: bool,
    /// TCP/UDP/SCTP source port, or the ICMP/ICMPv6 echo identifier; 0 otherwise.
    pub sport: u16,
    /// TCP/UDP/SCTP destination port, or the ICMP/ICMPv6 echo identifier; 0 otherwise.
    pub dport: u16,
    /// TCP flags; 0 unless TCP.
    pub tcp_flags: u8,
    /// ICMP/ICMPv6 type, or the type of the first SCTP chunk; 0 otherwise (and for an
    /// SCTP packet without chunks).
    pub l4_kind: u8,
    /// The L4 header of a TCP, UDP, SCTP or ICMP(v6) packet is complete and consistent
    /// (see [`parse_frame`] and [`parse_inner_ip`] for what is checked); when true, its
    /// fixed header lies within `l4_offset..l3_offset + ip_len`.
    pub l4_ok: bool,
}

impl FrameInfo {
    fn non_ip(l3: L3, l3_offset: usize) -> Self {
        FrameInfo {
            vlan: None,
            l3,
            l3_offset,
            ip_len: 0,
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            protocol: 0,
            l4_offset: 0,
            frag: Frag::None,
            ttl: 0,
            dont_frag: false,
            sport: 0,
            dport: 0,
            tcp_flags: 0,
            l4_kind: 0,
            l4_ok: false,
        }
    }

    /// IPv4 or IPv6.
    #[inline]
    pub fn is_ip(&self) -> bool {
        matches!(self.l3, L3::Ipv4 | L3::Ipv6)
    }

    /// IPv6.
    #[inline]
    pub fn is_ipv6(&self) -> bool {
        self.l3 == L3::Ipv6
    }

    /// Where the IP packet ends (`l3_offset + ip_len`).
    #[inline]
    pub fn ip_end(&self) -> usize {
        self.l3_offset + self.ip_len
    }

    /// Length of the L4 segment: from `l4_offset` to the end of the IP packet.
    #[inline]
    pub fn l4_len(&self) -> usize {
        self.ip_end().saturating_sub(self.l4_offset)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A whole packet as received.
    Strict,
    /// A packet quoted by an ICMP error: possibly cut short, maybe already rewritten.
    Inner,
}

/// Classifies an Ethernet frame (without FCS) in one pass.
///
/// For TCP, UDP and SCTP the ports are read when the fixed header (20, 8 or 12 bytes)
/// is within the IP packet and the packet is not a later fragment; `l4_ok`
/// additionally requires a TCP data offset ≥ 5 that fits, a UDP length ≥ 8 that fits,
/// or an SCTP first chunk (if any) whose length is ≥ 4 and fits. ICMP needs its 8-byte
/// header.
#[inline]
pub fn parse_frame(frame: &[u8]) -> Result<FrameInfo> {
    if frame.len() < crate::ethernet::HEADER_LEN {
        return Err(Error::Truncated);
    }
    let mut et = rd16(frame, 12);
    let mut off = crate::ethernet::HEADER_LEN;
    let mut vlan = None;
    if et == ethertype::VLAN {
        if frame.len() < crate::ethernet::TAGGED_HEADER_LEN {
            return Err(Error::Truncated);
        }
        vlan = Some(rd16(frame, 14));
        et = rd16(frame, 16);
        off = crate::ethernet::TAGGED_HEADER_LEN;
    }
    let mut info = match et {
        ethertype::IPV4 => ipv4(frame, off, Mode::Strict)?,
        ethertype::IPV6 => ipv6(frame, off, Mode::Strict)?,
        ethertype::ARP => FrameInfo::non_ip(L3::Arp, off),
        other => FrameInfo::non_ip(L3::Other(other), off),
    };
    info.vlan = vlan;
    Ok(info)
}

/// [`parse_frame`] from an IP header of the family `l3` (for decapsulated packets);
/// offsets are from the start of `packet`. `L3::Arp` or `L3::Other` is `Malformed`.
#[inline]
pub fn parse_ip(packet: &[u8], l3: L3) -> Result<FrameInfo> {
    match l3 {
        L3::Ipv4 => ipv4(packet, 0, Mode::Strict),
        L3::Ipv6 => ipv6(packet, 0, Mode::Strict),
        L3::Arp | L3::Other(_) => Err(Error::Malformed),
    }
}

/// Parses the original packet quoted in an ICMP or ICMPv6 error, whose family is given
/// by its version nibble.
///
/// Quotes are usually cut short, so the IP length may exceed the bytes present
/// (`ip_len` is then the bytes available), the IPv4 header checksum is not checked, and
/// `l4_ok` only means that the first 8 bytes of the L4 header, which hold the ports
/// (and for ICMP the echo identifier), are present. The IP header itself, and any IPv6
/// extension headers, must be complete.
#[inline]
pub fn parse_inner_ip(packet: &[u8]) -> Result<FrameInfo> {
    match packet.first().ok_or(Error::Truncated)? >> 4 {
        4 => ipv4(packet, 0, Mode::Inner),
        6 => ipv6(packet, 0, Mode::Inner),
        _ => Err(Error::Malformed),
    }
}

#[inline(always)]
fn ipv4(buf: &[u8], off: usize, mode: Mode) -> Result<FrameInfo> {
    let ip = buf.get(off..).ok_or(Error::Truncated)?;
    if ip.len() < crate::ipv4::HEADER_LEN {
        return Err(Error::Truncated);
    }
    if ip[0] >> 4 != 4 {
        return Err(Error::Malformed);
    }
    let hl = usize::from(ip[0] & 0x0f) * 4;
    if hl < crate::ipv4::HEADER_LEN {
        return Err(Error::Malformed);
    }
    if ip.len() < hl {
        return Err(Error::Truncated);
    }
    let total = usize::from(rd16(ip, 2));
    if total < hl {
        return Err(Error::Malformed);
    }
    let ip_len = if total <= ip.len() {
        total
    } else if mode == Mode::Inner {
        ip.len()
    } else {
        return Err(Error::Truncated);
    };
    if mode == Mode::Strict {
        let s = match ip.first_chunk::<20>() {
            Some(h) if hl == 20 => checksum::sum20(h),
            _ => checksum::sum(&ip[..hl]),
        };
        if checksum::fold(s) != 0xffff {
            return Err(Error::Malformed);
        }
    }
    let fo = rd16(ip, 6);
    let frag = if fo & 0x1fff != 0 {
        Frag::Later
    } else if fo & 0x2000 != 0 {
        Frag::First
    } else {
        Frag::None
    };
    let mut info = FrameInfo {
        vlan: None,
        l3: L3::Ipv4,
        l3_offset: off,
        ip_len,
        src: IpAddr::V4(Ipv4Addr::from(arr4(ip, 12))),
        dst: IpAddr::V4(Ipv4Addr::from(arr4(ip, 16))),
        protocol: ip[9],
        l4_offset: off + hl,
        frag,
        ttl: ip[8],
        dont_frag: fo & 0x4000 != 0,
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        l4_kind: 0,
        l4_ok: false,
    };
    if frag != Frag::Later {
        l4(&mut info, &ip[hl..ip_len], mode);
    }
    Ok(info)
}

#[inline(always)]
fn ipv6(buf: &[u8], off: usize, mode: Mode) -> Result<FrameInfo> {
    let ip = buf.get(off..).ok_or(Error::Truncated)?;
    if ip.len() < ipv6::HEADER_LEN {
        return Err(Error::Truncated);
    }
    if ip[0] >> 4 != 6 {
        return Err(Error::Malformed);
    }
    let pl = usize::from(rd16(ip, 4));
    let next = ip[6];
    if pl == 0 && next == ip_proto::HOPOPT {
        return Err(Error::Malformed);
    }
    let ip_len = if ipv6::HEADER_LEN + pl <= ip.len() {
        ipv6::HEADER_LEN + pl
    } else if mode == Mode::Inner {
        ip.len()
    } else {
        return Err(Error::Truncated);
    };
    let pkt = &ip[..ip_len];
    let ul = ipv6::walk_ext(pkt, next)?;
    let frag = match ul.frag {
        Some(f) if f.offset != 0 => Frag::Later,
        Some(f) if f.more => Frag::First,
        _ => Frag::None,
    };
    let mut info = FrameInfo {
        vlan: None,
        l3: L3::Ipv6,
        l3_offset: off,
        ip_len,
        src: IpAddr::V6(Ipv6Addr::from(arr16(ip, 8))),
        dst: IpAddr::V6(Ipv6Addr::from(arr16(ip, 24))),
        protocol: ul.protocol,
        l4_offset: off + ul.offset,
        frag,
        ttl: ip[7],
        dont_frag: true,
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        l4_kind: 0,
        l4_ok: false,
    };
    if frag != Frag::Later {
        l4(&mut info, pkt.get(ul.offset..).unwrap_or(&[]), mode);
    }
    Ok(info)
}

/// Fills the L4 fields from `seg`, the bytes from the L4 header to the end of the IP
/// packet.
#[inline(always)]
fn l4(info: &mut FrameInfo, seg: &[u8], mode: Mode) {
    let inner = mode == Mode::Inner;
    let ports = |info: &mut FrameInfo| {
        info.sport = rd16(seg, 0);
        info.dport = rd16(seg, 2);
    };
    match info.protocol {
        ip_proto::TCP => {
            if seg.len() >= crate::tcp::HEADER_LEN {
                ports(info);
                info.tcp_flags = seg[13];
                let doff = usize::from(seg[12] >> 4) * 4;
                info.l4_ok = inner || (doff >= crate::tcp::HEADER_LEN && doff <= seg.len());
            } else if inner && seg.len() >= 8 {
                ports(info);
                info.tcp_flags = seg.get(13).copied().unwrap_or(0);
                info.l4_ok = true;
            }
        }
        ip_proto::UDP if seg.len() >= crate::udp::HEADER_LEN => {
            ports(info);
            let len = usize::from(rd16(seg, 4));
            info.l4_ok = inner || (len >= crate::udp::HEADER_LEN && len <= seg.len());
        }
        ip_proto::SCTP => {
            if inner && seg.len() >= 8 {
                ports(info);
                info.l4_kind = seg.get(12).copied().unwrap_or(0);
                info.l4_ok = true;
            } else if seg.len() >= crate::sctp::HEADER_LEN {
                ports(info);
                info.l4_ok = match seg.get(12..16) {
                    Some(c) => {
                        info.l4_kind = c[0];
                        let clen = usize::from(rd16(c, 2));
                        clen >= 4 && crate::sctp::HEADER_LEN + clen <= seg.len()
                    }
                    // Either no chunk at all, or a partial chunk header.
                    None => seg.len() == crate::sctp::HEADER_LEN,
                };
            }
        }
        ip_proto::ICMP if info.l3 == L3::Ipv4 && seg.len() >= icmpv4::HEADER_LEN => {
            info.l4_kind = seg[0];
            if matches!(
                seg[0],
                icmpv4::kind::ECHO_REQUEST | icmpv4::kind::ECHO_REPLY
            ) {
                info.sport = rd16(seg, 4);
                info.dport = info.sport;
            }
            info.l4_ok = true;
        }
        ip_proto::ICMPV6 if info.l3 == L3::Ipv6 && seg.len() >= icmpv6::HEADER_LEN => {
            info.l4_kind = seg[0];
            if matches!(
                seg[0],
                icmpv6::kind::ECHO_REQUEST | icmpv6::kind::ECHO_REPLY
            ) {
                info.sport = rd16(seg, 4);
                info.dport = info.sport;
            }
            info.l4_ok = true;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::flags;

    // Frames built independently of this crate (checksums included).

    // 192.168.1.10:51000 -> 192.168.1.20:80 TCP SYN with MSS 1460.
    const SYN_V4: [u8; 58] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x9b, 0x17, 0xc0, 0xa8, 0x01, 0x0a,
        0xc0, 0xa8, 0x01, 0x14, 0xc7, 0x38, 0x00, 0x50, 0x6b, 0x8b, 0x45, 0x67, 0x00, 0x00, 0x00,
        0x00, 0x60, 0x02, 0xfa, 0xf0, 0xa1, 0x4b, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
    ];
    // VLAN 100 (PCP 1): 10.1.1.1:12345 -> 10.2.2.2:53 UDP "hello", no DF.
    const UDP_VLAN: [u8; 51] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x81, 0x00, 0x20,
        0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x63, 0xc6,
        0x0a, 0x01, 0x01, 0x01, 0x0a, 0x02, 0x02, 0x02, 0x30, 0x39, 0x00, 0x35, 0x00, 0x0d, 0x74,
        0x8e, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];
    // 2001:db8::1 -> 2001:db8::2, hop-by-hop -> destination options -> UDP 5353 -> 53.
    const UDP_V6_EXT: [u8; 82] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x3c, 0x00, 0x01, 0x04, 0x00, 0x00,
        0x00, 0x00, 0x11, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0xe9, 0x00, 0x35, 0x00,
        0x0c, 0xca, 0x7c, 0x61, 0x62, 0x63, 0x64,
    ];
    // 10.0.0.1 -> 10.0.0.2 SCTP INIT 4068 -> 3868.
    const SCTP_INIT: [u8; 66] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x34, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x84, 0x09, 0xfe, 0x0a, 0x00, 0x00, 0x01,
        0x0a, 0x00, 0x00, 0x02, 0x0f, 0xe4, 0x0f, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x9f, 0x78, 0xa7,
        0x04, 0x01, 0x00, 0x00, 0x14, 0xbb, 0x7b, 0x0f, 0x9c, 0x00, 0x00, 0xfa, 0x00, 0x00, 0x0a,
        0x00, 0x0a, 0xbb, 0x7b, 0x0f, 0x9c,
    ];
    // 10.0.0.254 -> 192.168.1.10 ICMP fragmentation needed (MTU 1400), quoting the IPv4
    // header and first 8 TCP bytes of a 1500-byte 192.168.1.10:51000 -> 203.0.113.5:80.
    const FRAG_NEEDED: [u8; 70] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0xae, 0x15, 0x0a, 0x00, 0x00, 0xfe,
        0xc0, 0xa8, 0x01, 0x0a, 0x03, 0x04, 0x7f, 0x08, 0x00, 0x00, 0x05, 0x78, 0x45, 0x00, 0x05,
        0xd0, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x1b, 0x2a, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00,
        0x71, 0x05, 0xc7, 0x38, 0x00, 0x50, 0x6b, 0x8b, 0x45, 0x67,
    ];

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    /// Re-fills the IPv4 header checksum at `l3` after a test edits the header.
    fn fix_v4(frame: &mut [u8], l3: usize) {
        let hl = usize::from(frame[l3] & 0x0f) * 4;
        crate::ipv4::Ipv4Packet::new_unchecked(&mut frame[l3..l3 + hl]).fill_checksum();
    }

    #[test]
    fn tcp_syn_v4() {
        let i = parse_frame(&SYN_V4).unwrap();
        assert_eq!(i.vlan, None);
        assert_eq!(i.l3, L3::Ipv4);
        assert_eq!(
            (i.l3_offset, i.ip_len, i.l4_offset, i.ip_end(), i.l4_len()),
            (14, 44, 34, 58, 24)
        );
        assert_eq!(i.src, v4([192, 168, 1, 10]));
        assert_eq!(i.dst, v4([192, 168, 1, 20]));
        assert_eq!(i.protocol, ip_proto::TCP);
        assert_eq!(i.frag, Frag::None);
        assert_eq!(i.ttl, 64);
        assert!(i.dont_frag);
        assert_eq!((i.sport, i.dport), (51000, 80));
        assert_eq!(i.tcp_flags, flags::SYN);
        assert_eq!(i.l4_kind, 0);
        assert!(i.l4_ok && i.is_ip() && !i.is_ipv6());
    }

    #[test]
    fn ethernet_padding_is_not_ip() {
        let mut f = [0u8; 64];
        f[..58].copy_from_slice(&SYN_V4);
        let i = parse_frame(&f).unwrap();
        assert_eq!((i.ip_len, i.l4_len()), (44, 24));
        assert!(i.l4_ok);
    }

    #[test]
    fn udp_vlan() {
        let i = parse_frame(&UDP_VLAN).unwrap();
        assert_eq!(i.vlan, Some(0x2064));
        assert_eq!((i.l3_offset, i.ip_len, i.l4_offset), (18, 33, 38));
        assert_eq!((i.src, i.dst), (v4([10, 1, 1, 1]), v4([10, 2, 2, 2])));
        assert_eq!(
            (i.protocol, i.sport, i.dport, i.tcp_flags),
            (ip_proto::UDP, 12345, 53, 0)
        );
        assert!(!i.dont_frag && i.l4_ok);
    }

    #[test]
    fn udp_v6_with_extension_headers() {
        let i = parse_frame(&UDP_V6_EXT).unwrap();
        assert_eq!(i.l3, L3::Ipv6);
        assert_eq!((i.l3_offset, i.ip_len, i.l4_offset), (14, 68, 70));
        assert_eq!((i.src, i.dst), (v6("2001:db8::1"), v6("2001:db8::2")));
        assert_eq!((i.protocol, i.sport, i.dport), (ip_proto::UDP, 5353, 53));
        assert_eq!((i.ttl, i.dont_frag, i.frag), (64, true, Frag::None));
        assert!(i.l4_ok && i.is_ipv6());
        // From the IP header, offsets are relative to it.
        let j = parse_ip(&UDP_V6_EXT[14..], L3::Ipv6).unwrap();
        assert_eq!((j.l3_offset, j.l4_offset, j.sport), (0, 56, 5353));
        assert_eq!(parse_ip(&UDP_V6_EXT[14..], L3::Ipv4), Err(Error::Malformed));
        assert_eq!(parse_ip(&UDP_V6_EXT[14..], L3::Arp), Err(Error::Malformed));
    }

    #[test]
    fn sctp_init() {
        let i = parse_frame(&SCTP_INIT).unwrap();
        assert_eq!((i.protocol, i.sport, i.dport), (ip_proto::SCTP, 4068, 3868));
        assert_eq!(i.l4_kind, crate::sctp::chunk::INIT);
        assert!(i.l4_ok);
        // A first chunk longer than the packet.
        let mut f = SCTP_INIT;
        f[49] = 0x40;
        let i = parse_frame(&f).unwrap();
        assert!(!i.l4_ok);
        assert_eq!(i.sport, 4068);
    }

    #[test]
    fn icmp_error_and_inner() {
        let i = parse_frame(&FRAG_NEEDED).unwrap();
        assert_eq!(
            (i.protocol, i.l4_kind, i.sport, i.dport),
            (ip_proto::ICMP, 3, 0, 0)
        );
        assert!(i.l4_ok && !i.dont_frag);
        let inner = &FRAG_NEEDED[i.l4_offset + 8..i.ip_end()];
        // Strictly, the quote is cut short.
        assert_eq!(parse_ip(inner, L3::Ipv4), Err(Error::Truncated));
        let j = parse_inner_ip(inner).unwrap();
        assert_eq!((j.l3_offset, j.ip_len, j.l4_offset), (0, 28, 20));
        assert_eq!(
            (j.src, j.dst),
            (v4([192, 168, 1, 10]), v4([203, 0, 113, 5]))
        );
        assert_eq!(
            (j.protocol, j.sport, j.dport, j.tcp_flags),
            (ip_proto::TCP, 51000, 80, 0)
        );
        assert!(j.l4_ok);
        // Fewer than 8 L4 bytes: no ports.
        let j = parse_inner_ip(&inner[..27]).unwrap();
        assert!(!j.l4_ok);
        assert_eq!((j.sport, j.ip_len), (0, 27));
        assert_eq!(parse_inner_ip(&inner[..19]), Err(Error::Truncated));
        assert_eq!(parse_inner_ip(&[]), Err(Error::Truncated));
        assert_eq!(parse_inner_ip(&[0x55; 40]), Err(Error::Malformed));
    }

    #[test]
    fn inner_ipv6_and_icmp_echo() {
        // An ICMPv6 echo request quoted with its first 8 bytes only.
        let mut p = [0u8; 48];
        let r = crate::ipv6::Ipv6Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: ip_proto::ICMPV6,
            payload_len: 64,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        };
        r.emit(&mut p).unwrap();
        p[40..48].copy_from_slice(&[128, 0, 0, 0, 0x12, 0x34, 0, 1]);
        let j = parse_inner_ip(&p).unwrap();
        assert_eq!(
            (j.ip_len, j.l4_offset, j.l4_kind, j.sport, j.dport),
            (48, 40, 128, 0x1234, 0x1234)
        );
        assert!(j.l4_ok);
        assert_eq!(parse_ip(&p, L3::Ipv6), Err(Error::Truncated));
    }

    #[test]
    fn icmp_echo_ident() {
        // Echo request 10.0.0.1 -> 10.0.0.2, ident 0x1234.
        let mut f = [0u8; 14 + 20 + 16];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let r = crate::ipv4::Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: ip_proto::ICMP,
            payload_len: 16,
            ttl: 64,
            dont_frag: false,
            ident: 1,
            dscp_ecn: 0,
        };
        r.emit(&mut f[14..]).unwrap();
        crate::icmpv4::Icmpv4Repr::echo(true, 0x1234, 7)
            .emit(&mut f[34..], b"abcdefgh")
            .unwrap();
        let i = parse_frame(&f).unwrap();
        assert_eq!(
            (i.l4_kind, i.sport, i.dport, i.l4_ok),
            (8, 0x1234, 0x1234, true)
        );
    }

    #[test]
    fn fragments() {
        // First fragment: MF set, offset 0 -> ports present.
        let mut f = SYN_V4;
        f[20] = 0x20;
        fix_v4(&mut f, 14);
        let i = parse_frame(&f).unwrap();
        assert_eq!(i.frag, Frag::First);
        assert_eq!((i.sport, i.dport), (51000, 80));
        assert!(i.l4_ok);
        // Later fragment: no ports, whatever the bytes say.
        f[20] = 0x00;
        f[21] = 0xb9;
        fix_v4(&mut f, 14);
        let i = parse_frame(&f).unwrap();
        assert_eq!(i.frag, Frag::Later);
        assert_eq!((i.sport, i.dport, i.tcp_flags, i.l4_ok), (0, 0, 0, false));
        assert_eq!(i.l4_offset, 34);

        // IPv6: replace the hop-by-hop header with a fragment header.
        let mut f = UDP_V6_EXT;
        f[20] = ip_proto::FRAGMENT;
        f[54..62].copy_from_slice(&[ip_proto::DSTOPTS, 0, 0x00, 0x01, 0, 0, 0, 9]);
        let i = parse_frame(&f).unwrap();
        assert_eq!(i.frag, Frag::First);
        assert_eq!(
            (i.protocol, i.sport, i.l4_offset),
            (ip_proto::UDP, 5353, 70)
        );
        f[56..58].copy_from_slice(&[0x00, 0x08]); // offset 8, no M
        let i = parse_frame(&f).unwrap();
        assert_eq!(i.frag, Frag::Later);
        assert_eq!(
            (i.protocol, i.sport, i.l4_offset, i.l4_ok),
            (ip_proto::DSTOPTS, 0, 62, false)
        );
        f[56..58].copy_from_slice(&[0x00, 0x00]); // atomic fragment
        assert_eq!(parse_frame(&f).unwrap().frag, Frag::None);
    }

    #[test]
    fn l4_problems_are_not_errors() {
        // TCP data offset 4.
        let mut f = SYN_V4;
        f[46] = 0x40;
        let i = parse_frame(&f).unwrap();
        assert!(!i.l4_ok);
        assert_eq!((i.sport, i.dport), (51000, 80));
        // Data offset past the segment.
        f[46] = 0xf0;
        assert!(!parse_frame(&f).unwrap().l4_ok);
        // UDP length beyond the IP packet, and below 8.
        let mut f = UDP_VLAN;
        f[43] = 0x0e;
        assert!(!parse_frame(&f).unwrap().l4_ok);
        f[43] = 0x07;
        assert!(!parse_frame(&f).unwrap().l4_ok);
        // IP packet too short for the TCP header.
        let mut f = SYN_V4;
        f[17] = 0x27; // total length 39
        fix_v4(&mut f, 14);
        let i = parse_frame(&f).unwrap();
        assert!(!i.l4_ok);
        assert_eq!((i.sport, i.ip_len, i.l4_len()), (0, 39, 19));
    }

    #[test]
    fn ip_header_problems_are_errors() {
        let mut f = SYN_V4;
        f[24] ^= 1; // checksum
        assert_eq!(parse_frame(&f), Err(Error::Malformed));
        let mut f = SYN_V4;
        f[14] = 0x55;
        assert_eq!(parse_frame(&f), Err(Error::Malformed));
        let mut f = SYN_V4;
        f[14] = 0x44;
        assert_eq!(parse_frame(&f), Err(Error::Malformed));
        let mut f = SYN_V4;
        f[17] = 45;
        fix_v4(&mut f, 14);
        assert_eq!(parse_frame(&f), Err(Error::Truncated));
        let mut f = UDP_V6_EXT;
        f[14] = 0x40;
        assert_eq!(parse_frame(&f), Err(Error::Malformed));
        let mut f = UDP_V6_EXT;
        f[19] = 0x00; // payload length 0 with hop-by-hop: jumbogram
        assert_eq!(parse_frame(&f), Err(Error::Malformed));
        let mut f = UDP_V6_EXT;
        f[55] = 0x05; // hop-by-hop length past the packet
        assert_eq!(parse_frame(&f), Err(Error::Truncated));
    }

    #[test]
    fn every_truncation_is_an_error() {
        for frame in [
            &SYN_V4[..],
            &UDP_VLAN,
            &UDP_V6_EXT,
            &SCTP_INIT,
            &FRAG_NEEDED,
        ] {
            for n in 0..frame.len() {
                assert!(parse_frame(&frame[..n]).is_err(), "len {n}");
            }
        }
    }

    #[test]
    fn non_ip() {
        let mut f = [0u8; 42];
        f[12..14].copy_from_slice(&ethertype::ARP.to_be_bytes());
        let i = parse_frame(&f).unwrap();
        assert_eq!(
            (i.l3, i.l3_offset, i.ip_len, i.l4_offset),
            (L3::Arp, 14, 0, 0)
        );
        assert!(!i.is_ip() && !i.l4_ok);
        assert_eq!(i.src, IpAddr::V4(Ipv4Addr::UNSPECIFIED));

        f[12..14].copy_from_slice(&0x88ccu16.to_be_bytes()); // LLDP
        assert_eq!(parse_frame(&f).unwrap().l3, L3::Other(0x88cc));

        // QinQ: the second tag is not looked through.
        let mut f = [0u8; 60];
        f[12..14].copy_from_slice(&ethertype::VLAN.to_be_bytes());
        f[14..16].copy_from_slice(&[0, 5]);
        f[16..18].copy_from_slice(&ethertype::VLAN.to_be_bytes());
        f[20..22].copy_from_slice(&ethertype::IPV4.to_be_bytes());
        let i = parse_frame(&f).unwrap();
        assert_eq!(
            (i.l3, i.vlan, i.l3_offset),
            (L3::Other(ethertype::VLAN), Some(5), 18)
        );
        f[12..14].copy_from_slice(&ethertype::QINQ.to_be_bytes());
        assert_eq!(parse_frame(&f).unwrap().l3, L3::Other(ethertype::QINQ));
    }
}
