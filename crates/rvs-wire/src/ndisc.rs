//! IPv6 neighbor discovery (RFC 4861): Neighbor Solicitation and Advertisement, the
//! IPv6 counterpart of ARP that the director answers for its virtual addresses and uses
//! to resolve real servers.
//!
//! RFC 4861 §7.1 also requires a hop limit of 255 on receipt; that is in the IPv6
//! header, so the caller checks it.

use core::net::Ipv6Addr;

use crate::ethernet::MacAddr;
use crate::icmpv6::{self, kind, Icmpv6Packet};
use crate::{arr16, Error, Result};

/// Length of an NS or NA message without options.
pub const HEADER_LEN: usize = 24;

/// Neighbor Advertisement flags ([`NdiscPacket::flags`]).
pub mod flags {
    /// The sender is a router.
    pub const ROUTER: u8 = 0x80;
    /// Sent in response to a solicitation.
    pub const SOLICITED: u8 = 0x40;
    /// Override an existing cache entry.
    pub const OVERRIDE: u8 = 0x20;
}

/// Option types.
pub mod option {
    /// Source link-layer address.
    pub const SOURCE_LLADDR: u8 = 1;
    /// Target link-layer address.
    pub const TARGET_LLADDR: u8 = 2;
}

mod field {
    use crate::field::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const FLAGS: usize = 4;
    pub const TARGET: Field = 8..24;
}

/// A view of a Neighbor Solicitation or Advertisement (the whole ICMPv6 message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdiscPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NdiscPacket<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        NdiscPacket { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that this is an NS or NA with code 0, the fixed part is present, and every
    /// option has a non-zero length that fits (RFC 4861 §7.1.1 says to drop the message
    /// otherwise).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if !matches!(
            b[field::TYPE],
            kind::NEIGHBOR_SOLICIT | kind::NEIGHBOR_ADVERT
        ) || b[field::CODE] != 0
        {
            return Err(Error::Malformed);
        }
        let mut rest = &b[HEADER_LEN..];
        while !rest.is_empty() {
            let units = usize::from(*rest.get(1).ok_or(Error::Truncated)?);
            if units == 0 {
                return Err(Error::Malformed);
            }
            rest = rest.get(units * 8..).ok_or(Error::Truncated)?;
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The ICMPv6 view of the same message.
    #[inline]
    pub fn icmp(&self) -> Icmpv6Packet<&[u8]> {
        Icmpv6Packet::new_unchecked(self.buffer.as_ref())
    }

    /// [`kind::NEIGHBOR_SOLICIT`] or [`kind::NEIGHBOR_ADVERT`].
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// A Neighbor Solicitation.
    #[inline]
    pub fn is_solicit(&self) -> bool {
        self.msg_type() == kind::NEIGHBOR_SOLICIT
    }

    /// A Neighbor Advertisement.
    #[inline]
    pub fn is_advert(&self) -> bool {
        self.msg_type() == kind::NEIGHBOR_ADVERT
    }

    /// The flag byte ([`flags`]; reserved, so 0, in solicitations).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The R flag.
    #[inline]
    pub fn router_flag(&self) -> bool {
        self.flags() & flags::ROUTER != 0
    }

    /// The S flag.
    #[inline]
    pub fn solicited_flag(&self) -> bool {
        self.flags() & flags::SOLICITED != 0
    }

    /// The O flag.
    #[inline]
    pub fn override_flag(&self) -> bool {
        self.flags() & flags::OVERRIDE != 0
    }

    /// The target address.
    #[inline]
    pub fn target_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(arr16(self.buffer.as_ref(), field::TARGET.start))
    }

    /// The raw options.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The options as `(type, data)`, `data` being everything after the type and length
    /// bytes.
    #[inline]
    pub fn options_iter(&self) -> NdiscOptionIter<'_> {
        NdiscOptionIter {
            rest: self.options(),
        }
    }

    fn lladdr(&self, kind: u8) -> Option<MacAddr> {
        self.options_iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, d)| MacAddr::from_bytes(d))
    }

    /// The source link-layer address option (in solicitations).
    #[inline]
    pub fn source_lladdr(&self) -> Option<MacAddr> {
        self.lladdr(option::SOURCE_LLADDR)
    }

    /// The target link-layer address option (in advertisements).
    #[inline]
    pub fn target_lladdr(&self) -> Option<MacAddr> {
        self.lladdr(option::TARGET_LLADDR)
    }

    /// Whether the ICMPv6 checksum is correct for a message from `src` to `dst`.
    #[inline]
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        self.icmp().verify_checksum(src, dst)
    }
}

/// Iterator over neighbor discovery options as `(type, data)`. It stops at an option
/// with a zero or overlong length.
#[derive(Debug, Clone)]
pub struct NdiscOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NdiscOptionIter<'a> {
    type Item = (u8, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest;
        let len = usize::from(*r.get(1)?) * 8;
        if len == 0 || len > r.len() {
            self.rest = &[];
            return None;
        }
        self.rest = &r[len..];
        Some((r[0], &r[2..len]))
    }
}

/// The solicited-node multicast address for `addr` (`ff02::1:ffXX:XXXX`), where
/// solicitations for it are sent.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, o[13], o[14], o[15],
    ])
}

/// The Ethernet address an IPv6 multicast group maps to (`33:33:` + low 32 bits,
/// RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

fn emit_nd(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    msg_type: u8,
    flags: u8,
    target: Ipv6Addr,
    opt: Option<(u8, MacAddr)>,
) -> Result<usize> {
    let total = HEADER_LEN + if opt.is_some() { 8 } else { 0 };
    let b = buf.get_mut(..total).ok_or(Error::Truncated)?;
    b.fill(0);
    b[field::TYPE] = msg_type;
    b[field::FLAGS] = flags;
    b[field::TARGET].copy_from_slice(&target.octets());
    if let Some((kind, mac)) = opt {
        b[HEADER_LEN] = kind;
        b[HEADER_LEN + 1] = 1;
        b[HEADER_LEN + 2..HEADER_LEN + 8].copy_from_slice(&mac.0);
    }
    icmpv6::Icmpv6Packet::new_unchecked(b).fill_checksum(src, dst);
    Ok(total)
}

/// A Neighbor Advertisement to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeighborAdvertRepr {
    /// [`flags`] bits (a reply to a solicitation sets SOLICITED, and OVERRIDE unless the
    /// address is anycast).
    pub flags: u8,
    /// The address being advertised.
    pub target: Ipv6Addr,
    /// The target link-layer address option.
    pub lladdr: Option<MacAddr>,
}

impl NeighborAdvertRepr {
    /// Reads a checked advertisement; a solicitation is `Malformed`.
    pub fn parse<T: AsRef<[u8]>>(p: &NdiscPacket<T>) -> Result<Self> {
        if !p.is_advert() {
            return Err(Error::Malformed);
        }
        Ok(NeighborAdvertRepr {
            flags: p.flags(),
            target: p.target_addr(),
            lladdr: p.target_lladdr(),
        })
    }

    /// The advertisement answering `ns` for the address it asks about, owned by `mac`.
    pub fn reply_to<T: AsRef<[u8]>>(ns: &NdiscPacket<T>, mac: MacAddr) -> Self {
        NeighborAdvertRepr {
            flags: flags::SOLICITED | flags::OVERRIDE,
            target: ns.target_addr(),
            lladdr: Some(mac),
        }
    }

    /// Writes the ICMPv6 message from `src` to `dst` at the start of `buf` with the
    /// checksum filled, returning its length. A reply goes to the solicitation's source,
    /// or to `ff02::1` if that was unspecified (RFC 4861 §7.2.4, with S cleared).
    pub fn emit(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<usize> {
        let opt = self.lladdr.map(|m| (option::TARGET_LLADDR, m));
        emit_nd(
            buf,
            src,
            dst,
            kind::NEIGHBOR_ADVERT,
            self.flags,
            self.target,
            opt,
        )
    }
}

/// A Neighbor Solicitation to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeighborSolicitRepr {
    /// The address being resolved.
    pub target: Ipv6Addr,
    /// The source link-layer address option (omitted for duplicate address detection).
    pub lladdr: Option<MacAddr>,
}

impl NeighborSolicitRepr {
    /// Reads a checked solicitation; an advertisement is `Malformed`.
    pub fn parse<T: AsRef<[u8]>>(p: &NdiscPacket<T>) -> Result<Self> {
        if !p.is_solicit() {
            return Err(Error::Malformed);
        }
        Ok(NeighborSolicitRepr {
            target: p.target_addr(),
            lladdr: p.source_lladdr(),
        })
    }

    /// Writes the ICMPv6 message from `src` to `dst` (usually
    /// [`solicited_node`]`(target)`) at the start of `buf` with the checksum filled,
    /// returning its length.
    pub fn emit(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<usize> {
        let opt = self.lladdr.map(|m| (option::SOURCE_LLADDR, m));
        emit_nd(buf, src, dst, kind::NEIGHBOR_SOLICIT, 0, self.target, opt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // NS fe80::1 -> ff02::1:ff00:2 for 2001:db8::2 with source lladdr 52:54:00:ab:cd:ef,
    // and the NA 2001:db8::2 -> fe80::1 answering it (S|O, target lladdr
    // 52:54:00:12:34:56); checksums computed independently.
    const NS: [u8; 32] = [
        0x87, 0x00, 0x2c, 0x71, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x52, 0x54, 0x00, 0xab,
        0xcd, 0xef,
    ];
    const NA: [u8; 32] = [
        0x88, 0x00, 0x34, 0xef, 0x60, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x01, 0x52, 0x54, 0x00, 0x12,
        0x34, 0x56,
    ];
    const CLIENT: MacAddr = MacAddr([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
    const OURS: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn deconstruct() {
        let ns = NdiscPacket::new_checked(&NS[..]).unwrap();
        assert!(ns.is_solicit() && !ns.is_advert());
        assert_eq!(ns.target_addr(), a("2001:db8::2"));
        assert_eq!(ns.source_lladdr(), Some(CLIENT));
        assert_eq!(ns.target_lladdr(), None);
        assert!(ns.verify_checksum(a("fe80::1"), a("ff02::1:ff00:2")));
        assert_eq!(
            NeighborSolicitRepr::parse(&ns).unwrap().lladdr,
            Some(CLIENT)
        );
        assert_eq!(NeighborAdvertRepr::parse(&ns), Err(Error::Malformed));

        let na = NdiscPacket::new_checked(&NA[..]).unwrap();
        assert!(na.is_advert());
        assert_eq!(na.msg_type(), kind::NEIGHBOR_ADVERT);
        assert!(!na.router_flag() && na.solicited_flag() && na.override_flag());
        assert_eq!(na.target_addr(), a("2001:db8::2"));
        assert_eq!(na.target_lladdr(), Some(OURS));
        assert_eq!(
            na.options_iter().collect::<Vec<_>>(),
            [(option::TARGET_LLADDR, &NA[26..32])]
        );
        assert!(na.verify_checksum(a("2001:db8::2"), a("fe80::1")));
        assert_eq!(NeighborSolicitRepr::parse(&na), Err(Error::Malformed));
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 40];
        let ns = NeighborSolicitRepr {
            target: a("2001:db8::2"),
            lladdr: Some(CLIENT),
        };
        let n = ns
            .emit(&mut buf, a("fe80::1"), solicited_node(a("2001:db8::2")))
            .unwrap();
        assert_eq!(buf[..n], NS);

        let view = NdiscPacket::new_checked(&NS[..]).unwrap();
        let na = NeighborAdvertRepr::reply_to(&view, OURS);
        let n = na.emit(&mut buf, a("2001:db8::2"), a("fe80::1")).unwrap();
        assert_eq!(buf[..n], NA);
        assert_eq!(
            NeighborAdvertRepr::parse(&NdiscPacket::new_checked(&buf[..n]).unwrap()).unwrap(),
            na
        );

        let bare = NeighborAdvertRepr { lladdr: None, ..na };
        assert_eq!(bare.emit(&mut buf, a("::1"), a("::1")).unwrap(), 24);
        assert_eq!(
            na.emit(&mut buf[..31], a("::1"), a("::1")),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn multicast_helpers() {
        assert_eq!(
            solicited_node(a("2001:db8::12:3456:789a")),
            a("ff02::1:ff56:789a")
        );
        assert_eq!(
            multicast_mac(a("ff02::1:ff56:789a")),
            MacAddr([0x33, 0x33, 0xff, 0x56, 0x78, 0x9a])
        );
    }

    #[test]
    fn malformed() {
        for n in 0..24 {
            assert_eq!(
                NdiscPacket::new_checked(&NS[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        for n in 25..32 {
            assert_eq!(
                NdiscPacket::new_checked(&NS[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
        }
        assert_eq!(
            NdiscPacket::new_checked(&NS[..24]).unwrap().source_lladdr(),
            None
        );
        let mut b = NS;
        b[25] = 0;
        assert_eq!(
            NdiscPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        b[25] = 2;
        assert_eq!(
            NdiscPacket::new_checked(&b[..]).unwrap_err(),
            Error::Truncated
        );
        let mut b = NS;
        b[0] = kind::ECHO_REQUEST;
        assert_eq!(
            NdiscPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        let mut b = NS;
        b[1] = 1;
        assert_eq!(
            NdiscPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        // The unchecked iterator still refuses to run past the end.
        let p = NdiscPacket::new_unchecked(
            &[
                0x87, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9,
            ][..],
        );
        assert_eq!(p.options_iter().count(), 0);
    }
}
