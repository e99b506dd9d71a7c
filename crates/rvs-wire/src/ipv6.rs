//! IPv6 (RFC 8200) and the walk over its extension-header chain.

use core::net::Ipv6Addr;

use crate::{arr16, ip_proto, rd16, rd32, wr16, wr32, Error, Result};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// The most extension headers [`Ipv6Packet::upper_layer`] walks before giving up.
/// Real traffic carries one or two; a long chain is an attack on the parser, and
/// Linux's flow dissector stops at a similar depth.
pub const MAX_EXT_HEADERS: usize = 8;

mod field {
    use crate::field::Field;
    pub const VER_TC_FLOW: usize = 0;
    pub const LENGTH: usize = 4;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
}

/// A view of an IPv6 packet.
///
/// The buffer may extend past the payload length (Ethernet padding);
/// [`Ipv6Packet::payload`] stops at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// Where the upper-layer header starts, after the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpperLayer {
    /// The upper-layer protocol, or the next header that stopped the walk ([`ip_proto::ESP`],
    /// [`ip_proto::NONE`], or any protocol this crate does not skip). For a non-first
    /// fragment it is the fragment header's next header.
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub offset: usize,
    /// The fragment header, if one was crossed.
    pub frag: Option<FragInfo>,
}

/// The contents of an IPv6 fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragInfo {
    /// Fragment offset in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// Identification.
    pub ident: u32,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks version 6 and that the payload length fits. A zero payload length with a
    /// hop-by-hop header announces a jumbogram (RFC 2675), which no Ethernet path
    /// carries, so it is `Malformed`.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(Error::Malformed);
        }
        let pl = usize::from(self.payload_len());
        if pl == 0 && self.next_header() == ip_proto::HOPOPT {
            return Err(Error::Malformed);
        }
        if HEADER_LEN + pl > b.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (6 once checked).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Traffic class (DSCP and ECN).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (rd16(self.buffer.as_ref(), field::VER_TC_FLOW) >> 4) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        rd32(self.buffer.as_ref(), field::VER_TC_FLOW) & 0x000f_ffff
    }

    /// Payload length: everything after the fixed header, extension headers included.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The first next-header value.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(arr16(self.buffer.as_ref(), field::SRC.start))
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(arr16(self.buffer.as_ref(), field::DST.start))
    }

    // Clamped so a later `set_payload_len` cannot make `payload` panic.
    #[inline]
    fn end(&self) -> usize {
        (HEADER_LEN + usize::from(self.payload_len())).min(self.buffer.as_ref().len())
    }

    /// The bytes after the fixed header, up to the payload length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN.min(self.end())..self.end()]
    }

    /// Walks the extension headers to the upper-layer protocol (see [`walk_ext`]).
    #[inline]
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        walk_ext(&self.buffer.as_ref()[..self.end()], self.next_header())
    }
}

/// Walks the extension-header chain of the IPv6 packet `pkt` (starting at its fixed
/// header, and ending where the packet ends), whose first next header is `next`.
///
/// Hop-by-hop (only first), routing and destination options are skipped by
/// `(len + 1) * 8`, AH by `(len + 2) * 4`, and a fragment header by 8, recording it. The
/// walk stops at any other protocol, and right after the fragment header of a non-first
/// fragment, whose remaining bytes are not headers. A header that runs past `pkt` is
/// `Truncated`; more than [`MAX_EXT_HEADERS`] headers, a misplaced hop-by-hop header or
/// a second fragment header is `Malformed`.
#[inline]
pub fn walk_ext(pkt: &[u8], mut next: u8) -> Result<UpperLayer> {
    let mut off = HEADER_LEN;
    let mut frag = None;
    let mut count = 0;
    loop {
        let len = match next {
            ip_proto::HOPOPT | ip_proto::ROUTING | ip_proto::DSTOPTS | ip_proto::AH => {
                if next == ip_proto::HOPOPT && count != 0 {
                    return Err(Error::Malformed);
                }
                let h = pkt.get(off..off + 2).ok_or(Error::Truncated)?;
                if next == ip_proto::AH {
                    (usize::from(h[1]) + 2) * 4
                } else {
                    (usize::from(h[1]) + 1) * 8
                }
            }
            ip_proto::FRAGMENT => {
                if frag.is_some() {
                    return Err(Error::Malformed);
                }
                let h = pkt.get(off..off + 8).ok_or(Error::Truncated)?;
                let v = rd16(h, 2);
                let f = FragInfo {
                    offset: v & 0xfff8,
                    more: v & 1 != 0,
                    ident: rd32(h, 4),
                };
                frag = Some(f);
                if f.offset != 0 {
                    return Ok(UpperLayer {
                        protocol: h[0],
                        offset: off + 8,
                        frag,
                    });
                }
                8
            }
            _ => {
                return Ok(UpperLayer {
                    protocol: next,
                    offset: off,
                    frag,
                })
            }
        };
        count += 1;
        if count > MAX_EXT_HEADERS {
            return Err(Error::Malformed);
        }
        if off + len > pkt.len() {
            return Err(Error::Truncated);
        }
        next = pkt[off];
        off += len;
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label at once.
    #[inline]
    pub fn set_ver_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let v = (6 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        wr32(self.buffer.as_mut(), field::VER_TC_FLOW, v);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Sets the first next header.
    #[inline]
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = v;
    }

    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// The bytes after the fixed header, up to the payload length, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.end();
        &mut self.buffer.as_mut()[HEADER_LEN.min(end)..end]
    }
}

/// The fixed IPv6 header, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// The first next header.
    pub next_header: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Reads the fixed header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) -> Result<Self> {
        Ok(Ipv6Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: usize::from(p.payload_len()),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    /// Always [`HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 40-byte header at the start of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let pl = u16::try_from(self.payload_len).map_err(|_| Error::Malformed)?;
        let b = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        let mut p = Ipv6Packet::new_unchecked(b);
        p.set_ver_tc_flow(self.traffic_class, self.flow_label);
        p.set_payload_len(pl);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2001:db8::1 -> 2001:db8::2, hop-by-hop (PadN) -> destination options (PadN) ->
    // UDP 5353 -> 53 "abcd"; UDP checksum computed independently of this crate.
    const PACKET: [u8; 68] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x3c, 0x00, 0x01, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x11, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0xe9, 0x00, 0x35,
        0x00, 0x0c, 0xca, 0x7c, 0x61, 0x62, 0x63, 0x64,
    ];

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src: a("2001:db8::1"),
            dst: a("2001:db8::2"),
            next_header: ip_proto::HOPOPT,
            payload_len: 28,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
    }

    /// A packet with the given extension headers (each `(proto, bytes)`) before 8 bytes
    /// of upper-layer data of protocol `last`.
    fn chain(exts: &[(u8, &[u8])], last: u8) -> Vec<u8> {
        let mut body = Vec::new();
        for (i, (_, bytes)) in exts.iter().enumerate() {
            let mut h = bytes.to_vec();
            h[0] = exts.get(i + 1).map_or(last, |e| e.0);
            body.extend_from_slice(&h);
        }
        body.extend_from_slice(&[0xab; 8]);
        let mut buf = vec![0u8; 40 + body.len()];
        let r = Ipv6Repr {
            next_header: exts.first().map_or(last, |e| e.0),
            payload_len: body.len(),
            ..repr()
        };
        r.emit(&mut buf).unwrap();
        buf[40..].copy_from_slice(&body);
        buf
    }

    #[test]
    fn deconstruct() {
        let p = Ipv6Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0);
        assert_eq!(p.flow_label(), 0);
        assert_eq!(p.payload_len(), 28);
        assert_eq!(p.next_header(), ip_proto::HOPOPT);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), a("2001:db8::1"));
        assert_eq!(p.dst_addr(), a("2001:db8::2"));
        assert_eq!(p.payload(), &PACKET[40..]);
        assert_eq!(
            p.upper_layer().unwrap(),
            UpperLayer {
                protocol: ip_proto::UDP,
                offset: 56,
                frag: None
            }
        );
        assert_eq!(Ipv6Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn construct() {
        let mut buf = PACKET;
        buf[..40].fill(0);
        assert_eq!(repr().emit(&mut buf).unwrap(), 40);
        assert_eq!(buf, PACKET);
        assert_eq!(repr().emit(&mut [0u8; 39]), Err(Error::Truncated));
        assert_eq!(
            Ipv6Repr {
                payload_len: 65536,
                ..repr()
            }
            .emit(&mut buf),
            Err(Error::Malformed)
        );

        let r = Ipv6Repr {
            traffic_class: 0xb8,
            flow_label: 0xabcde,
            ..repr()
        };
        r.emit(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[0x6b, 0x8a, 0xbc, 0xde]);
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p).unwrap(), r);
    }

    #[test]
    fn setters() {
        let mut buf = PACKET;
        let mut p = Ipv6Packet::new_checked(&mut buf[..]).unwrap();
        p.set_hop_limit(1);
        p.set_src_addr(a("fd00::1"));
        p.set_dst_addr(a("fd00::2"));
        p.set_next_header(ip_proto::UDP);
        p.set_payload_len(12);
        assert_eq!(p.hop_limit(), 1);
        assert_eq!(p.src_addr(), a("fd00::1"));
        assert_eq!(p.dst_addr(), a("fd00::2"));
        assert_eq!(p.next_header(), ip_proto::UDP);
        assert_eq!(p.payload().len(), 12);
        p.set_payload_len(9999);
        assert_eq!(p.payload().len(), 28);
        assert_eq!(p.payload_mut().len(), 28);
    }

    #[test]
    fn extension_walk() {
        let opts: &[u8] = &[0, 0, 1, 4, 0, 0, 0, 0];
        let ah: &[u8] = &[0, 2, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; // (2+2)*4 = 16
        let first_frag: &[u8] = &[0, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
        let later_frag: &[u8] = &[0, 0, 0x05, 0xc8, 0xde, 0xad, 0xbe, 0xef]; // offset 1480

        let p = chain(&[], ip_proto::TCP);
        let u = Ipv6Packet::new_checked(&p[..])
            .unwrap()
            .upper_layer()
            .unwrap();
        assert_eq!(
            u,
            UpperLayer {
                protocol: ip_proto::TCP,
                offset: 40,
                frag: None
            }
        );

        let p = chain(
            &[
                (ip_proto::ROUTING, opts),
                (ip_proto::AH, ah),
                (ip_proto::DSTOPTS, opts),
            ],
            ip_proto::TCP,
        );
        let u = Ipv6Packet::new_checked(&p[..])
            .unwrap()
            .upper_layer()
            .unwrap();
        assert_eq!(
            u,
            UpperLayer {
                protocol: ip_proto::TCP,
                offset: 40 + 8 + 16 + 8,
                frag: None
            }
        );

        let p = chain(
            &[(ip_proto::HOPOPT, opts), (ip_proto::FRAGMENT, first_frag)],
            ip_proto::UDP,
        );
        let u = Ipv6Packet::new_checked(&p[..])
            .unwrap()
            .upper_layer()
            .unwrap();
        let f = FragInfo {
            offset: 0,
            more: true,
            ident: 0xdeadbeef,
        };
        assert_eq!(
            u,
            UpperLayer {
                protocol: ip_proto::UDP,
                offset: 56,
                frag: Some(f)
            }
        );

        // Behind a non-first fragment header there are no more headers to walk, even if
        // the next-header value names one.
        let p = chain(&[(ip_proto::FRAGMENT, later_frag)], ip_proto::DSTOPTS);
        let u = Ipv6Packet::new_checked(&p[..])
            .unwrap()
            .upper_layer()
            .unwrap();
        let f = FragInfo {
            offset: 1480,
            more: false,
            ident: 0xdeadbeef,
        };
        assert_eq!(
            u,
            UpperLayer {
                protocol: ip_proto::DSTOPTS,
                offset: 48,
                frag: Some(f)
            }
        );

        for stop in [
            ip_proto::ESP,
            ip_proto::NONE,
            ip_proto::ICMPV6,
            ip_proto::SCTP,
        ] {
            let p = chain(&[(ip_proto::DSTOPTS, opts)], stop);
            let u = Ipv6Packet::new_checked(&p[..])
                .unwrap()
                .upper_layer()
                .unwrap();
            assert_eq!((u.protocol, u.offset), (stop, 48));
        }
    }

    #[test]
    fn extension_limits() {
        let opts: &[u8] = &[0, 0, 1, 4, 0, 0, 0, 0];
        let frag: &[u8] = &[0, 0, 0x00, 0x01, 0, 0, 0, 1];
        let eight = vec![(ip_proto::DSTOPTS, opts); MAX_EXT_HEADERS];
        let p = chain(&eight, ip_proto::TCP);
        assert_eq!(
            Ipv6Packet::new_checked(&p[..])
                .unwrap()
                .upper_layer()
                .unwrap()
                .offset,
            40 + 64
        );
        let nine = vec![(ip_proto::DSTOPTS, opts); MAX_EXT_HEADERS + 1];
        let p = chain(&nine, ip_proto::TCP);
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).unwrap().upper_layer(),
            Err(Error::Malformed)
        );

        let p = chain(
            &[(ip_proto::DSTOPTS, opts), (ip_proto::HOPOPT, opts)],
            ip_proto::TCP,
        );
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).unwrap().upper_layer(),
            Err(Error::Malformed)
        );
        let p = chain(
            &[(ip_proto::FRAGMENT, frag), (ip_proto::FRAGMENT, frag)],
            ip_proto::TCP,
        );
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).unwrap().upper_layer(),
            Err(Error::Malformed)
        );

        // An options header whose length runs past the payload.
        let mut p = chain(&[(ip_proto::DSTOPTS, opts)], ip_proto::TCP);
        p[41] = 2; // 24 bytes, but only 16 remain
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).unwrap().upper_layer(),
            Err(Error::Truncated)
        );
        // Headers cut short by the payload length.
        for cut in [41usize, 44] {
            let mut p = chain(&[(ip_proto::FRAGMENT, frag)], ip_proto::TCP);
            p.truncate(cut);
            let pl = (cut - 40) as u16;
            p[4..6].copy_from_slice(&pl.to_be_bytes());
            assert_eq!(
                Ipv6Packet::new_checked(&p[..]).unwrap().upper_layer(),
                Err(Error::Truncated)
            );
        }
    }

    #[test]
    fn malformed() {
        for n in 0..PACKET.len() {
            assert_eq!(
                Ipv6Packet::new_checked(&PACKET[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
        }
        let mut b = PACKET;
        b[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        let mut b = PACKET;
        b[4..6].fill(0); // jumbogram
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        b[6] = ip_proto::NONE;
        assert!(Ipv6Packet::new_checked(&b[..]).is_ok());
    }
}
