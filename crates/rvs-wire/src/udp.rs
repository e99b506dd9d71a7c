//! UDP datagrams (RFC 768).

use core::net::IpAddr;

use crate::{checksum, ip_proto, rd16, wr16, Error, Result};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// How much of a datagram must be present for its checksum field to be (the whole
/// header): an ICMP error quoting fewer bytes cannot have the quoted checksum patched.
pub const CHECKSUM_END: usize = field::CHECKSUM + 2;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// A view of a UDP datagram. The length field, not the buffer, bounds the datagram, so
/// trailing bytes (Ethernet padding) are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the header is present and the length field is ≥ 8 and within the
    /// buffer.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len > b.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header plus payload.
    #[inline]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Checksum (0: none, allowed over IPv4 only).
    #[inline]
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::CHECKSUM)
    }

    // Clamped so a later `set_len` cannot make the accessors panic.
    #[inline]
    fn end(&self) -> usize {
        usize::from(self.len()).clamp(HEADER_LEN, self.buffer.as_ref().len())
    }

    /// The payload, bounded by the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.end()]
    }

    #[inline]
    fn sum(&self, src: &IpAddr, dst: &IpAddr) -> u32 {
        let b = &self.buffer.as_ref()[..self.end()];
        checksum::pseudo(src, dst, ip_proto::UDP, b.len() as u32) + checksum::sum(b)
    }

    /// Whether the checksum is correct for a datagram between `src` and `dst`. A zero
    /// checksum is accepted over IPv4 (none was computed) and rejected over IPv6 (RFC
    /// 8200 §8.1; the zero-checksum tunnel exception of RFC 6935 is not taken).
    #[inline]
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4();
        }
        checksum::fold(self.sum(src, dst)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Patches the checksum after covered data at an even offset changed from `old` to
    /// `new` (RFC 1624): a port, or an address of the pseudo header. A computed 0 is
    /// sent as `0xffff`. With `zero_is_none` (IPv4) a zero checksum means none was
    /// computed and stays 0; over IPv6 zero is not a valid checksum and is patched like
    /// any other value (it stays invalid, so the receiver still drops the datagram).
    #[inline]
    pub fn update_checksum_for(&mut self, old: &[u8], new: &[u8], zero_is_none: bool) {
        let c = self.checksum();
        if c == 0 && zero_is_none {
            return;
        }
        let n = match checksum::update_addr(c, old, new) {
            0 => 0xffff,
            n => n,
        };
        self.set_checksum(n);
    }

    /// The payload, bounded by the length field, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.end();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Computes the checksum over the datagram for `src` → `dst`; a computed 0 is sent
    /// as `0xffff`, since 0 would mean "no checksum".
    #[inline]
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        self.set_checksum(0);
        let c = match checksum::finish(self.sum(src, dst)) {
            0 => 0xffff,
            c => c,
        };
        self.set_checksum(c);
    }
}

/// The ports of a UDP header, owned; the length comes from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// Reads a checked datagram (the checksum is not verified).
    pub fn parse<T: AsRef<[u8]>>(p: &UdpPacket<T>) -> Result<Self> {
        Ok(UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
        })
    }

    /// Always [`HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header and `payload` at the start of `buf` with the checksum for
    /// `src` → `dst`, returning the datagram length.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: &IpAddr,
        dst: &IpAddr,
        payload: &[u8],
    ) -> Result<usize> {
        let total = HEADER_LEN + payload.len();
        let len = u16::try_from(total).map_err(|_| Error::Malformed)?;
        let b = buf.get_mut(..total).ok_or(Error::Truncated)?;
        let mut p = UdpPacket::new_unchecked(b);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(len);
        p.payload_mut().copy_from_slice(payload);
        p.fill_checksum(src, dst);
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    // 10.1.1.1:12345 -> 10.2.2.2:53 "hello", checksum computed independently.
    const DGRAM: [u8; 13] = [
        0x30, 0x39, 0x00, 0x35, 0x00, 0x0d, 0x74, 0x8e, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];

    fn addrs() -> (IpAddr, IpAddr) {
        (
            Ipv4Addr::new(10, 1, 1, 1).into(),
            Ipv4Addr::new(10, 2, 2, 2).into(),
        )
    }

    #[test]
    fn deconstruct() {
        let (s, d) = addrs();
        let p = UdpPacket::new_checked(&DGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 12345);
        assert_eq!(p.dst_port(), 53);
        assert_eq!(p.len(), 13);
        assert_eq!(p.checksum(), 0x748e);
        assert_eq!(p.payload(), b"hello");
        assert!(p.verify_checksum(&s, &d));
        assert!(!p.verify_checksum(&s, &Ipv4Addr::new(10, 2, 2, 3).into()));
        assert_eq!(
            UdpRepr::parse(&p).unwrap(),
            UdpRepr {
                src_port: 12345,
                dst_port: 53
            }
        );
    }

    #[test]
    fn construct() {
        let (s, d) = addrs();
        let mut buf = [0u8; 16];
        let r = UdpRepr {
            src_port: 12345,
            dst_port: 53,
        };
        assert_eq!(r.emit(&mut buf, &s, &d, b"hello").unwrap(), 13);
        assert_eq!(buf[..13], DGRAM);
        assert_eq!(
            r.emit(&mut buf[..12], &s, &d, b"hello"),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn padding_is_excluded() {
        let (s, d) = addrs();
        let mut buf = [0u8; 20];
        buf[..13].copy_from_slice(&DGRAM);
        buf[13..].fill(0x55);
        let p = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload(), b"hello");
        assert!(p.verify_checksum(&s, &d));
    }

    #[test]
    fn zero_checksum_rules() {
        let (s, d) = addrs();
        let mut buf = DGRAM;
        let mut p = UdpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_checksum(0);
        assert!(p.verify_checksum(&s, &d));
        let s6: IpAddr = Ipv6Addr::LOCALHOST.into();
        assert!(!p.verify_checksum(&s6, &s6));

        // Find ports that make the computed checksum 0 and check it goes out as 0xffff.
        let r = UdpRepr {
            src_port: 0,
            dst_port: 53,
        };
        let mut buf = [0u8; 13];
        r.emit(&mut buf, &s, &d, b"hello").unwrap();
        let c = UdpPacket::new_checked(&buf[..]).unwrap().checksum();
        // Raising the source port by the checksum value drives the sum to all ones.
        let r = UdpRepr { src_port: c, ..r };
        r.emit(&mut buf, &s, &d, b"hello").unwrap();
        let p = UdpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(&s, &d));
    }

    #[test]
    fn incremental_checksum() {
        // DGRAM's 10.1.1.1:12345 -> 10.2.2.2:53 SNATed to 10.9.9.9:1024.
        let d: IpAddr = Ipv4Addr::new(10, 2, 2, 2).into();
        let s2: IpAddr = Ipv4Addr::new(10, 9, 9, 9).into();
        let mut buf = DGRAM;
        let mut p = UdpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_src_port(1024);
        p.update_checksum_for(&12345u16.to_be_bytes(), &1024u16.to_be_bytes(), true);
        p.update_checksum_for(&[10, 1, 1, 1], &[10, 9, 9, 9], true);
        assert!(p.verify_checksum(&s2, &d));
        assert_eq!(&buf[..2], &[0x04, 0x00]);
        let mut full = buf;
        UdpPacket::new_unchecked(&mut full[..]).fill_checksum(&s2, &d);
        assert_eq!(buf, full);

        // No checksum over IPv4 stays none; over IPv6 a zero is patched like a value.
        let mut buf = DGRAM;
        let mut p = UdpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_checksum(0);
        p.update_checksum_for(&[10, 1, 1, 1], &[10, 9, 9, 9], true);
        assert_eq!(p.checksum(), 0);
        p.update_checksum_for(&[0, 1], &[0, 2], false);
        assert_eq!(p.checksum(), 0xfffe);

        // A patch that comes out as 0 is sent as 0xffff: ~0x0001 + 1 is all ones.
        p.set_checksum(0x0001);
        p.update_checksum_for(&[0, 0], &[0, 1], true);
        assert_eq!(p.checksum(), 0xffff);
        assert_eq!(&buf[6..8], &[0xff, 0xff]);
    }

    #[test]
    fn setters() {
        let (s, d) = addrs();
        let mut buf = DGRAM;
        let mut p = UdpPacket::new_checked(&mut buf[..]).unwrap();
        let old = p.dst_port();
        p.set_dst_port(5353);
        p.set_src_port(1);
        let c = checksum::update16_udp(p.checksum(), old, 5353);
        let c = checksum::update16_udp(c, 12345, 1);
        p.set_checksum(c);
        assert!(p.verify_checksum(&s, &d));
        p.set_len(9999);
        assert_eq!(p.payload(), b"hello");
        p.set_len(2);
        assert!(p.payload_mut().is_empty());
    }

    proptest::proptest! {
        // NAT-style rewrites patched incrementally always verify, and never put a 0
        // (meaning "no checksum") on the wire.
        #[test]
        fn incremental_rewrite_verifies(
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            sport: u16, dport: u16, new_port: u16,
            src: [u8; 4], dst: [u8; 4], new_dst: [u8; 4],
        ) {
            let (s, d, nd): (IpAddr, IpAddr, IpAddr) = (src.into(), dst.into(), new_dst.into());
            let mut buf = [0u8; 72];
            let n = UdpRepr { src_port: sport, dst_port: dport }.emit(&mut buf, &s, &d, &payload).unwrap();
            let mut p = UdpPacket::new_checked(&mut buf[..n]).unwrap();
            let c = checksum::update_addr_udp(p.checksum(), &dst, &new_dst);
            let c = checksum::update16_udp(c, dport, new_port);
            p.set_dst_port(new_port);
            p.set_checksum(c);
            proptest::prop_assert_ne!(p.checksum(), 0);
            proptest::prop_assert!(p.verify_checksum(&s, &nd));
        }
    }

    #[test]
    fn malformed() {
        for n in 0..13 {
            assert_eq!(
                UdpPacket::new_checked(&DGRAM[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
        }
        let mut b = DGRAM;
        b[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        b[5] = 8;
        assert_eq!(UdpPacket::new_checked(&b[..]).unwrap().payload(), b"");
    }
}
