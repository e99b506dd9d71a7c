//! ICMPv6 (RFC 4443). Neighbor discovery messages have their own views in
//! [`crate::ndisc`].

use core::net::Ipv6Addr;

use crate::{checksum, ip_proto, rd16, rd32, wr16, wr32, Error, Result};

/// Length of the ICMPv6 header (type, code, checksum and the 4-byte rest of header).
pub const HEADER_LEN: usize = 8;

/// The most an ICMPv6 error may quote so that the whole IPv6 packet stays within the
/// minimum MTU of 1280 (RFC 4443 §2.4 (c)).
pub const MAX_ERROR_QUOTE: usize = 1280 - 40 - HEADER_LEN;

/// Message types.
pub mod kind {
    /// Destination unreachable.
    pub const DST_UNREACH: u8 = 1;
    /// Packet too big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Router solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;

    // The code the engine sends, reachable from here too so either spelling works.
    pub use super::code::PORT_UNREACH;
}

/// Message codes.
pub mod code {
    /// Destination unreachable: no route.
    pub const NO_ROUTE: u8 = 0;
    /// Destination unreachable: administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 1;
    /// Destination unreachable: address unreachable.
    pub const ADDR_UNREACH: u8 = 3;
    /// Destination unreachable: port unreachable.
    pub const PORT_UNREACH: u8 = 4;
    /// Time exceeded: hop limit exceeded in transit.
    pub const HOP_LIMIT_EXCEEDED: u8 = 0;
}

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const REST: usize = 4;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQ: usize = 6;
}

/// A view of an ICMPv6 message. The buffer is exactly the message: the checksum covers
/// all of it plus the IPv6 pseudo header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the 8-byte header is present.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type ([`kind`]).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code ([`code`]).
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Bytes 4..8, whose meaning depends on the type.
    #[inline]
    pub fn rest(&self) -> u32 {
        rd32(self.buffer.as_ref(), field::REST)
    }

    /// Echo identifier (meaningful for echo request and reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (meaningful for echo request and reply).
    #[inline]
    pub fn echo_seq(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::ECHO_SEQ)
    }

    /// The MTU of a Packet Too Big message.
    #[inline]
    pub fn mtu(&self) -> Option<u32> {
        (self.msg_type() == kind::PACKET_TOO_BIG).then(|| self.rest())
    }

    /// Whether this is an error message (types 1–4), whose payload quotes the
    /// offending packet.
    #[inline]
    pub fn is_error(&self) -> bool {
        is_error(self.msg_type())
    }

    /// The bytes after the header (for errors, the quoted IPv6 packet).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Whether the checksum is correct for a message from `src` to `dst`.
    #[inline]
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        let ps = checksum::pseudo_v6(src.octets(), dst.octets(), ip_proto::ICMPV6, b.len() as u32);
        checksum::fold(ps + checksum::sum(b)) == 0xffff
    }
}

/// Whether an ICMPv6 type is an error message (types 1–4; RFC 4443 puts every error
/// below 128).
#[inline]
pub const fn is_error(msg_type: u8) -> bool {
    matches!(msg_type, 1..=4)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets the message type.
    #[inline]
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    /// Sets the message code.
    #[inline]
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets bytes 4..8.
    #[inline]
    pub fn set_rest(&mut self, v: u32) {
        wr32(self.buffer.as_mut(), field::REST, v);
    }

    /// Sets the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::ECHO_IDENT, v);
    }

    /// Sets the echo sequence number.
    #[inline]
    pub fn set_echo_seq(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::ECHO_SEQ, v);
    }

    /// The bytes after the header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Patches the checksum after an address of the pseudo header changed from `old` to
    /// `new` (RFC 1624).
    #[inline]
    pub fn update_checksum_for(&mut self, old: &[u8], new: &[u8]) {
        let c = checksum::update_addr(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// Recomputes the checksum over the whole buffer for a message from `src` to `dst`.
    #[inline]
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let ps = checksum::pseudo_v6(src.octets(), dst.octets(), ip_proto::ICMPV6, b.len() as u32);
        let c = checksum::finish(ps + checksum::sum(b));
        self.set_checksum(c);
    }
}

/// An ICMPv6 header, owned; the payload is passed to `emit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icmpv6Repr {
    /// Message type.
    pub msg_type: u8,
    /// Message code.
    pub msg_code: u8,
    /// Bytes 4..8 (echo ident and sequence, MTU, pointer, NA flags, …).
    pub rest: u32,
}

impl Icmpv6Repr {
    /// Reads a checked message (the checksum is not verified).
    pub fn parse<T: AsRef<[u8]>>(p: &Icmpv6Packet<T>) -> Result<Self> {
        Ok(Icmpv6Repr {
            msg_type: p.msg_type(),
            msg_code: p.msg_code(),
            rest: p.rest(),
        })
    }

    /// An echo request or reply.
    pub const fn echo(request: bool, ident: u16, seq: u16) -> Self {
        Icmpv6Repr {
            msg_type: if request {
                kind::ECHO_REQUEST
            } else {
                kind::ECHO_REPLY
            },
            msg_code: 0,
            rest: ((ident as u32) << 16) | seq as u32,
        }
    }

    /// Writes the header and `payload` at the start of `buf` with the checksum for
    /// `src` → `dst`, returning the message length.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: Ipv6Addr,
        dst: Ipv6Addr,
        payload: &[u8],
    ) -> Result<usize> {
        let total = HEADER_LEN + payload.len();
        let b = buf.get_mut(..total).ok_or(Error::Truncated)?;
        let mut p = Icmpv6Packet::new_unchecked(b);
        p.set_msg_type(self.msg_type);
        p.set_msg_code(self.msg_code);
        p.set_rest(self.rest);
        p.payload_mut().copy_from_slice(payload);
        p.fill_checksum(src, dst);
        Ok(total)
    }
}

/// Writes an ICMPv6 error message from `src` to `dst` quoting `original` (cut so the
/// IPv6 packet carrying it fits in 1280 bytes) at the start of `buf`, with the checksum
/// filled, and returns its length. The caller adds the IPv6 header. For Packet Too Big,
/// `rest` is the MTU; for Parameter Problem, the pointer.
#[allow(clippy::too_many_arguments)]
pub fn emit_icmpv6_error(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    msg_type: u8,
    code: u8,
    rest: u32,
    original: &[u8],
) -> Result<usize> {
    let quote = &original[..original.len().min(MAX_ERROR_QUOTE)];
    Icmpv6Repr {
        msg_type,
        msg_code: code,
        rest,
    }
    .emit(buf, src, dst, quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request 2001:db8::1 -> 2001:db8::2, ident 0x1234 seq 1 "abcdefgh"; checksum
    // computed independently.
    const ECHO: [u8; 16] = [
        0x80, 0x00, 0x80, 0x75, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
        0x68,
    ];

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn deconstruct() {
        let (s, d) = (a("2001:db8::1"), a("2001:db8::2"));
        let p = Icmpv6Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), kind::ECHO_REQUEST);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0x8075);
        assert_eq!(p.rest(), 0x1234_0001);
        assert_eq!((p.echo_ident(), p.echo_seq()), (0x1234, 1));
        assert_eq!(p.mtu(), None);
        assert!(!p.is_error());
        assert_eq!(p.payload(), b"abcdefgh");
        assert!(p.verify_checksum(s, d));
        assert!(!p.verify_checksum(s, a("2001:db8::3")));
        assert_eq!(
            Icmpv6Repr::parse(&p).unwrap(),
            Icmpv6Repr::echo(true, 0x1234, 1)
        );
    }

    #[test]
    fn construct() {
        let (s, d) = (a("2001:db8::1"), a("2001:db8::2"));
        let mut buf = [0u8; 16];
        assert_eq!(
            Icmpv6Repr::echo(true, 0x1234, 1)
                .emit(&mut buf, s, d, b"abcdefgh")
                .unwrap(),
            16
        );
        assert_eq!(buf, ECHO);
        assert_eq!(
            Icmpv6Repr::echo(true, 1, 1).emit(&mut buf[..15], s, d, b"abcdefgh"),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn incremental_checksum() {
        // ECHO re-addressed from 2001:db8::1 to 2001:db8::99: patched like a recompute.
        let (s2, d) = (a("2001:db8::99"), a("2001:db8::2"));
        let mut buf = ECHO;
        let mut p = Icmpv6Packet::new_checked(&mut buf[..]).unwrap();
        p.update_checksum_for(&a("2001:db8::1").octets(), &s2.octets());
        assert!(p.verify_checksum(s2, d));
        assert_eq!(&buf[2..4], &[0x7f, 0xdd]);
        let mut full = ECHO;
        Icmpv6Packet::new_unchecked(&mut full[..]).fill_checksum(s2, d);
        assert_eq!(buf, full);
    }

    #[test]
    fn packet_too_big() {
        let (s, d) = (a("2001:db8::fe"), a("2001:db8::1"));
        let original = [0x60u8; 1500];
        let mut buf = [0u8; 1500];
        let n =
            emit_icmpv6_error(&mut buf, s, d, kind::PACKET_TOO_BIG, 0, 1400, &original).unwrap();
        assert_eq!(40 + n, 1280);
        let p = Icmpv6Packet::new_checked(&buf[..n]).unwrap();
        assert_eq!(p.mtu(), Some(1400));
        assert!(p.is_error());
        assert!(p.verify_checksum(s, d));
        let n = emit_icmpv6_error(
            &mut buf,
            s,
            d,
            kind::DST_UNREACH,
            code::PORT_UNREACH,
            0,
            &original[..48],
        )
        .unwrap();
        assert_eq!(n, 56);
        assert!(Icmpv6Packet::new_checked(&buf[..n])
            .unwrap()
            .verify_checksum(s, d));
        assert_eq!(
            emit_icmpv6_error(&mut buf[..100], s, d, 1, 4, 0, &original),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn setters() {
        let (s, d) = (a("2001:db8::1"), a("2001:db8::2"));
        let mut buf = ECHO;
        let mut p = Icmpv6Packet::new_checked(&mut buf[..]).unwrap();
        p.set_msg_type(kind::ECHO_REPLY);
        p.set_msg_code(0);
        p.set_echo_ident(7);
        p.set_echo_seq(8);
        p.fill_checksum(d, s);
        assert!(p.verify_checksum(d, s));
        assert_eq!(
            (p.msg_type(), p.echo_ident(), p.echo_seq()),
            (kind::ECHO_REPLY, 7, 8)
        );
        p.set_rest(1280);
        p.set_msg_type(kind::PACKET_TOO_BIG);
        assert_eq!(p.mtu(), Some(1280));
        p.payload_mut()[0] = 0;
        p.set_checksum(0);
        assert_eq!(p.checksum(), 0);
    }

    #[test]
    fn truncated() {
        for n in 0..8 {
            assert_eq!(
                Icmpv6Packet::new_checked(&ECHO[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        assert!((1..=4).all(is_error));
        assert!(![0, 5, 127, 128, 135].into_iter().any(is_error));
    }
}
