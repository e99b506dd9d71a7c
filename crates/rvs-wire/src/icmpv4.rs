//! ICMP for IPv4 (RFC 792), including the error messages the director must translate
//! (IPVS `ip_vs_in_icmp`) and generate (fragmentation needed, time exceeded).

use crate::{checksum, rd16, rd32, wr16, wr32, Error, Result};

/// Length of the ICMP header (type, code, checksum and the 4-byte rest of header).
pub const HEADER_LEN: usize = 8;

/// The most an ICMP error may quote: RFC 1812 §4.3.2.3 keeps the whole error within
/// 576 bytes, minus a 20-byte IP header and the 8-byte ICMP header.
pub const MAX_ERROR_QUOTE: usize = 576 - 20 - HEADER_LEN;

/// Message types.
pub mod kind {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DEST_UNREACH: u8 = 3;
    /// Source quench (deprecated, still an error message).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 12;

    // The two codes the engine sends, reachable from here too so either spelling works.
    pub use super::code::{FRAG_NEEDED, PORT_UNREACH};
}

/// Message codes.
pub mod code {
    /// Destination unreachable: network unreachable.
    pub const NET_UNREACH: u8 = 0;
    /// Destination unreachable: host unreachable.
    pub const HOST_UNREACH: u8 = 1;
    /// Destination unreachable: protocol unreachable.
    pub const PROTO_UNREACH: u8 = 2;
    /// Destination unreachable: port unreachable.
    pub const PORT_UNREACH: u8 = 3;
    /// Destination unreachable: fragmentation needed and DF set (RFC 1191).
    pub const FRAG_NEEDED: u8 = 4;
    /// Destination unreachable: communication administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 13;
    /// Time exceeded: TTL exceeded in transit.
    pub const TTL_EXCEEDED: u8 = 0;
}

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const REST: usize = 4;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQ: usize = 6;
    pub const NEXT_HOP_MTU: usize = 6;
}

/// A view of an ICMP message. The buffer is exactly the message: the checksum covers
/// all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
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

    /// The next-hop MTU of a "fragmentation needed" message (type 3 code 4).
    #[inline]
    pub fn next_hop_mtu(&self) -> Option<u16> {
        (self.msg_type() == kind::DEST_UNREACH && self.msg_code() == code::FRAG_NEEDED)
            .then(|| rd16(self.buffer.as_ref(), field::NEXT_HOP_MTU))
    }

    /// Whether this is an error message, whose payload quotes the offending packet.
    #[inline]
    pub fn is_error(&self) -> bool {
        is_error(self.msg_type())
    }

    /// The bytes after the header (for errors, the quoted IP packet).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Whether the checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(self.buffer.as_ref())) == 0xffff
    }
}

/// Whether an ICMP type is an error message (3, 4, 5, 11, 12).
#[inline]
pub const fn is_error(msg_type: u8) -> bool {
    matches!(
        msg_type,
        kind::DEST_UNREACH
            | kind::SOURCE_QUENCH
            | kind::REDIRECT
            | kind::TIME_EXCEEDED
            | kind::PARAM_PROBLEM
    )
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
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

    /// Recomputes the checksum over the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::finish(checksum::sum(self.buffer.as_ref()));
        self.set_checksum(c);
    }
}

/// An ICMP header, owned; the payload is passed to `emit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icmpv4Repr {
    /// Message type.
    pub msg_type: u8,
    /// Message code.
    pub msg_code: u8,
    /// Bytes 4..8 (echo ident and sequence, next-hop MTU, pointer, …).
    pub rest: u32,
}

impl Icmpv4Repr {
    /// Reads a checked message (the checksum is not verified).
    pub fn parse<T: AsRef<[u8]>>(p: &Icmpv4Packet<T>) -> Result<Self> {
        Ok(Icmpv4Repr {
            msg_type: p.msg_type(),
            msg_code: p.msg_code(),
            rest: p.rest(),
        })
    }

    /// An echo request or reply.
    pub const fn echo(request: bool, ident: u16, seq: u16) -> Self {
        Icmpv4Repr {
            msg_type: if request {
                kind::ECHO_REQUEST
            } else {
                kind::ECHO_REPLY
            },
            msg_code: 0,
            rest: ((ident as u32) << 16) | seq as u32,
        }
    }

    /// Writes the header and `payload` at the start of `buf` with the checksum filled,
    /// returning the message length.
    pub fn emit(&self, buf: &mut [u8], payload: &[u8]) -> Result<usize> {
        let total = HEADER_LEN + payload.len();
        let b = buf.get_mut(..total).ok_or(Error::Truncated)?;
        let mut p = Icmpv4Packet::new_unchecked(b);
        p.set_msg_type(self.msg_type);
        p.set_msg_code(self.msg_code);
        p.set_rest(self.rest);
        p.payload_mut().copy_from_slice(payload);
        p.fill_checksum();
        Ok(total)
    }
}

/// Writes an ICMP error message quoting `original_ip_packet` (cut to
/// [`MAX_ERROR_QUOTE`] bytes, the RFC 1812 rule) at the start of `buf`, with the
/// checksum filled, and returns its length. The caller adds the IP header. For
/// "fragmentation needed", `rest` is the next-hop MTU (low 16 bits).
pub fn emit_icmpv4_error(
    buf: &mut [u8],
    msg_type: u8,
    code: u8,
    rest: u32,
    original_ip_packet: &[u8],
) -> Result<usize> {
    let quote = &original_ip_packet[..original_ip_packet.len().min(MAX_ERROR_QUOTE)];
    Icmpv4Repr {
        msg_type,
        msg_code: code,
        rest,
    }
    .emit(buf, quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request ident 0x1234 seq 1 "abcdefgh", and a "fragmentation needed" (MTU
    // 1400) quoting the IP header and first 8 TCP bytes of a 1500-byte packet;
    // checksums computed independently.
    const ECHO: [u8; 16] = [
        0x08, 0x00, 0x54, 0x35, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
        0x68,
    ];
    const FRAG_NEEDED: [u8; 36] = [
        0x03, 0x04, 0x7f, 0x08, 0x00, 0x00, 0x05, 0x78, 0x45, 0x00, 0x05, 0xd0, 0x1c, 0x46, 0x40,
        0x00, 0x40, 0x06, 0x1b, 0x2a, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x05, 0xc7, 0x38,
        0x00, 0x50, 0x6b, 0x8b, 0x45, 0x67,
    ];

    #[test]
    fn deconstruct_echo() {
        let p = Icmpv4Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), kind::ECHO_REQUEST);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0x5435);
        assert_eq!(p.rest(), 0x1234_0001);
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq(), 1);
        assert_eq!(p.next_hop_mtu(), None);
        assert!(!p.is_error());
        assert_eq!(p.payload(), b"abcdefgh");
        assert!(p.verify_checksum());
        assert_eq!(
            Icmpv4Repr::parse(&p).unwrap(),
            Icmpv4Repr::echo(true, 0x1234, 1)
        );
    }

    #[test]
    fn deconstruct_error() {
        let p = Icmpv4Packet::new_checked(&FRAG_NEEDED[..]).unwrap();
        assert_eq!(
            (p.msg_type(), p.msg_code()),
            (kind::DEST_UNREACH, code::FRAG_NEEDED)
        );
        assert_eq!(p.next_hop_mtu(), Some(1400));
        assert!(p.is_error());
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &FRAG_NEEDED[8..]);
    }

    #[test]
    fn construct() {
        let mut buf = [0u8; 64];
        let n = Icmpv4Repr::echo(true, 0x1234, 1)
            .emit(&mut buf, b"abcdefgh")
            .unwrap();
        assert_eq!(buf[..n], ECHO);
        let n = emit_icmpv4_error(
            &mut buf,
            kind::DEST_UNREACH,
            code::FRAG_NEEDED,
            1400,
            &FRAG_NEEDED[8..],
        )
        .unwrap();
        assert_eq!(buf[..n], FRAG_NEEDED);
        assert_eq!(
            Icmpv4Repr::echo(true, 1, 1).emit(&mut buf[..15], b"abcdefgh"),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn error_quote_is_capped() {
        let original = [0x45u8; 1500];
        let mut buf = [0u8; 1600];
        let n = emit_icmpv4_error(
            &mut buf,
            kind::TIME_EXCEEDED,
            code::TTL_EXCEEDED,
            0,
            &original,
        )
        .unwrap();
        assert_eq!(n, 576 - 20);
        let p = Icmpv4Packet::new_checked(&buf[..n]).unwrap();
        assert!(p.verify_checksum() && p.is_error());
        assert_eq!(p.payload().len(), MAX_ERROR_QUOTE);
        assert_eq!(
            emit_icmpv4_error(&mut buf[..100], 3, 3, 0, &original),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn setters() {
        let mut buf = ECHO;
        let mut p = Icmpv4Packet::new_checked(&mut buf[..]).unwrap();
        let old = p.echo_ident();
        p.set_echo_ident(0x4321);
        p.set_checksum(checksum::update16(p.checksum(), old, 0x4321));
        assert!(p.verify_checksum());
        p.set_msg_type(kind::ECHO_REPLY);
        p.set_msg_code(0);
        p.set_echo_seq(2);
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(
            (p.msg_type(), p.echo_ident(), p.echo_seq()),
            (kind::ECHO_REPLY, 0x4321, 2)
        );
        p.set_rest(0x0000_05dc);
        p.set_msg_type(kind::DEST_UNREACH);
        p.set_msg_code(code::FRAG_NEEDED);
        assert_eq!(p.next_hop_mtu(), Some(1500));
    }

    #[test]
    fn truncated() {
        for n in 0..8 {
            assert_eq!(
                Icmpv4Packet::new_checked(&ECHO[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        assert!(Icmpv4Packet::new_checked(&ECHO[..8])
            .unwrap()
            .payload()
            .is_empty());
        for t in [3, 4, 5, 11, 12] {
            assert!(is_error(t));
        }
        for t in [0, 8, 13, 14] {
            assert!(!is_error(t));
        }
    }
}
