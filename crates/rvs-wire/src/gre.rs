//! GRE (RFC 2784 with the key and sequence extensions of RFC 2890), for IPVS's GRE
//! tunnel forwarding.
//!
//! ```text
//! |C| |K|S| Reserved0       | Ver |         Protocol Type         |
//! |      Checksum (if C)          |       Reserved1 (if C)        |
//! |                         Key (if K)                            |
//! |                   Sequence Number (if S)                      |
//! ```
//!
//! Like Linux (`gre_parse_header`), a non-zero version (PPTP's enhanced GRE is
//! version 1) or the RFC 1701 routing bit makes the header `Malformed`; other reserved
//! bits are ignored.

use crate::{checksum, rd16, rd32, wr16, wr32, Error, Result};

/// Length of the fixed GRE header.
pub const HEADER_LEN: usize = 4;

/// Checksum present.
pub const FLAG_CSUM: u16 = 0x8000;
/// Routing present (RFC 1701 only; rejected).
pub const FLAG_ROUTING: u16 = 0x4000;
/// Key present.
pub const FLAG_KEY: u16 = 0x2000;
/// Sequence number present.
pub const FLAG_SEQ: u16 = 0x1000;
/// The version bits.
pub const VERSION_MASK: u16 = 0x0007;

mod field {
    pub const FLAGS: usize = 0;
    pub const PROTOCOL: usize = 2;
    pub const OPTIONAL: usize = 4;
}

/// A view of a GRE packet. The buffer is exactly the GRE header and payload: the
/// optional checksum covers all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GrePacket<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        GrePacket { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks version 0, no routing, and that the optional fields fit.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.flags() & (VERSION_MASK | FLAG_ROUTING) != 0 {
            return Err(Error::Malformed);
        }
        if self.header_len() > b.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn flags(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::FLAGS)
    }

    /// The C bit.
    #[inline]
    pub fn checksum_present(&self) -> bool {
        self.flags() & FLAG_CSUM != 0
    }

    /// The K bit.
    #[inline]
    pub fn key_present(&self) -> bool {
        self.flags() & FLAG_KEY != 0
    }

    /// The S bit.
    #[inline]
    pub fn seq_present(&self) -> bool {
        self.flags() & FLAG_SEQ != 0
    }

    /// The version (0 once checked).
    #[inline]
    pub fn version(&self) -> u8 {
        (self.flags() & VERSION_MASK) as u8
    }

    /// The payload's ethertype (0x0800 for IPv4, 0x86DD for IPv6).
    #[inline]
    pub fn protocol(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// Header length: 4 plus 4 for each of checksum, key and sequence present.
    #[inline]
    pub fn header_len(&self) -> usize {
        let f = self.flags();
        HEADER_LEN
            + 4 * (usize::from(f & FLAG_CSUM != 0)
                + usize::from(f & FLAG_KEY != 0)
                + usize::from(f & FLAG_SEQ != 0))
    }

    /// The checksum, if present.
    #[inline]
    pub fn checksum(&self) -> Option<u16> {
        self.checksum_present()
            .then(|| rd16(self.buffer.as_ref(), field::OPTIONAL))
    }

    #[inline]
    fn key_at(&self) -> usize {
        field::OPTIONAL + if self.checksum_present() { 4 } else { 0 }
    }

    /// The key, if present.
    #[inline]
    pub fn key(&self) -> Option<u32> {
        self.key_present()
            .then(|| rd32(self.buffer.as_ref(), self.key_at()))
    }

    /// The sequence number, if present.
    #[inline]
    pub fn sequence(&self) -> Option<u32> {
        let at = self.key_at() + if self.key_present() { 4 } else { 0 };
        self.seq_present().then(|| rd32(self.buffer.as_ref(), at))
    }

    /// The encapsulated packet.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Whether the checksum, if present, is correct; true when there is none.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        !self.checksum_present() || checksum::fold(checksum::sum(self.buffer.as_ref())) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GrePacket<T> {
    /// Sets the payload's ethertype.
    #[inline]
    pub fn set_protocol(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::PROTOCOL, v);
    }

    /// The encapsulated packet, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }

    /// Recomputes the checksum over the whole buffer, if the C bit is set.
    #[inline]
    pub fn fill_checksum(&mut self) {
        if self.checksum_present() {
            let b = self.buffer.as_mut();
            wr16(b, field::OPTIONAL, 0);
            let c = checksum::finish(checksum::sum(b));
            wr16(b, field::OPTIONAL, c);
        }
    }
}

/// A GRE header, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GreRepr {
    /// The payload's ethertype.
    pub protocol: u16,
    /// Whether to carry a checksum.
    pub csum: bool,
    /// The key, if any.
    pub key: Option<u32>,
    /// The sequence number, if any.
    pub seq: Option<u32>,
}

impl GreRepr {
    /// Reads a checked header (the checksum is not verified).
    pub fn parse<T: AsRef<[u8]>>(p: &GrePacket<T>) -> Result<Self> {
        Ok(GreRepr {
            protocol: p.protocol(),
            csum: p.checksum_present(),
            key: p.key(),
            seq: p.sequence(),
        })
    }

    /// Header length for the fields present.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN
            + 4 * (usize::from(self.csum)
                + usize::from(self.key.is_some())
                + usize::from(self.seq.is_some()))
    }

    /// Writes the header at the start of `buf` and returns its length.
    ///
    /// With `csum` set, the checksum covers the header and the `payload_len` bytes that
    /// follow it, so the payload must already be in place in `buf` right after the
    /// header; `buf` shorter than header plus payload is `Truncated`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) -> Result<usize> {
        let hl = self.header_len();
        let end = if self.csum { hl + payload_len } else { hl };
        let b = buf.get_mut(..end).ok_or(Error::Truncated)?;
        let mut flags = 0;
        let mut at = field::OPTIONAL;
        if self.csum {
            flags |= FLAG_CSUM;
            wr32(b, at, 0);
            at += 4;
        }
        if let Some(k) = self.key {
            flags |= FLAG_KEY;
            wr32(b, at, k);
            at += 4;
        }
        if let Some(s) = self.seq {
            flags |= FLAG_SEQ;
            wr32(b, at, s);
        }
        wr16(b, field::FLAGS, flags);
        wr16(b, field::PROTOCOL, self.protocol);
        GrePacket::new_unchecked(b).fill_checksum();
        Ok(hl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Checksummed GRE carrying 8 payload bytes as IPv4; checksum computed independently.
    const CSUM: [u8; 16] = [
        0x80, 0x00, 0x08, 0x00, 0x67, 0xeb, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
        0x08,
    ];
    // Key 0x01020304 and sequence 7, no checksum, IPv6 payload.
    const KEY_SEQ: [u8; 14] = [
        0x30, 0x00, 0x86, 0xdd, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x07, 0x60, 0x00,
    ];

    #[test]
    fn deconstruct() {
        let p = GrePacket::new_checked(&CSUM[..]).unwrap();
        assert!(p.checksum_present() && !p.key_present() && !p.seq_present());
        assert_eq!(p.version(), 0);
        assert_eq!(p.protocol(), 0x0800);
        assert_eq!(p.header_len(), 8);
        assert_eq!(p.checksum(), Some(0x67eb));
        assert_eq!((p.key(), p.sequence()), (None, None));
        assert_eq!(p.payload(), &CSUM[8..]);
        assert!(p.verify_checksum());

        let p = GrePacket::new_checked(&KEY_SEQ[..]).unwrap();
        assert!(!p.checksum_present() && p.key_present() && p.seq_present());
        assert_eq!(p.protocol(), 0x86dd);
        assert_eq!(p.header_len(), 12);
        assert_eq!(
            (p.checksum(), p.key(), p.sequence()),
            (None, Some(0x01020304), Some(7))
        );
        assert_eq!(p.payload(), &[0x60, 0x00]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn construct() {
        let mut buf = CSUM;
        buf[..8].fill(0xff);
        let r = GreRepr {
            protocol: 0x0800,
            csum: true,
            key: None,
            seq: None,
        };
        assert_eq!(r.emit(&mut buf, 8).unwrap(), 8);
        assert_eq!(buf, CSUM);
        assert_eq!(
            GreRepr::parse(&GrePacket::new_checked(&buf[..]).unwrap()).unwrap(),
            r
        );
        assert_eq!(r.emit(&mut buf, 9), Err(Error::Truncated));

        let mut buf = [0u8; 14];
        buf[12..].copy_from_slice(&[0x60, 0x00]);
        let r = GreRepr {
            protocol: 0x86dd,
            csum: false,
            key: Some(0x01020304),
            seq: Some(7),
        };
        assert_eq!(r.header_len(), 12);
        assert_eq!(r.emit(&mut buf, 2).unwrap(), 12);
        assert_eq!(buf, KEY_SEQ);

        let all = GreRepr { csum: true, ..r };
        let mut buf = [0u8; 20];
        assert_eq!(all.emit(&mut buf, 4).unwrap(), 16);
        let p = GrePacket::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(GreRepr::parse(&p).unwrap(), all);
    }

    #[test]
    fn checksum_detects_payload_change() {
        let mut buf = CSUM;
        buf[15] ^= 1;
        let mut p = GrePacket::new_checked(&mut buf[..]).unwrap();
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        p.set_protocol(0x86dd);
        p.payload_mut()[0] = 0x60;
        assert_eq!(p.protocol(), 0x86dd);
    }

    #[test]
    fn malformed() {
        for n in 0..8 {
            assert_eq!(
                GrePacket::new_checked(&CSUM[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        for n in 4..12 {
            assert_eq!(
                GrePacket::new_checked(&KEY_SEQ[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        let mut b = CSUM;
        b[1] = 0x01; // version 1 (PPTP)
        assert_eq!(
            GrePacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        let mut b = CSUM;
        b[0] = 0x40; // routing
        assert_eq!(
            GrePacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
    }
}
