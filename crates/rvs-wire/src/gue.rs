//! Generic UDP Encapsulation (draft-ietf-intarea-gue), as Linux's fou/gue module speaks
//! it (`include/net/gue.h`), for IPVS's GUE tunnel forwarding.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Ver|C|  Hlen   |  Proto/ctype  |        Standard flags       |P|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              Private flags (when P is set)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Remote checksum start       |   Remote checksum offset      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Hlen counts the 32-bit words of optional fields. Linux defines one standard flag, P
//! (`GUE_FLAG_PRIV`, the last bit of the flags), announcing a private flags word, and
//! one private flag, `GUE_PFLAG_REMCSUM` (its top bit), announcing the remote checksum
//! offload field after it. Like Linux, any other flag makes the header `Malformed`:
//! unknown flags would put the known fields at unknown offsets.
//!
//! Variant 1 (first two bits `01`) has no GUE header at all: the UDP payload is a bare
//! IPv4 or IPv6 packet, whose version nibble (4 or 6) supplies those bits.

use crate::{rd16, rd32, wr16, wr32, Error, Result};

/// Length of the fixed GUE header.
pub const HEADER_LEN: usize = 4;
/// Standard flag: a private flags word is present (`GUE_FLAG_PRIV`).
pub const FLAG_PRIV: u16 = 0x0001;
/// Length of the private flags word (`GUE_LEN_PRIV`).
pub const LEN_PRIV: usize = 4;
/// Private flag: the remote checksum offload field is present (`GUE_PFLAG_REMCSUM`).
pub const PFLAG_REMCSUM: u32 = 0x8000_0000;
/// Length of the remote checksum offload field (`GUE_PLEN_REMCSUM`).
pub const PLEN_REMCSUM: usize = 4;

mod field {
    pub const VER_C_HLEN: usize = 0;
    pub const PROTO: usize = 1;
    pub const FLAGS: usize = 2;
    pub const PRIV_FLAGS: usize = 4;
    pub const REMCSUM: usize = 8;
}

/// A view of a GUE header and its payload (the UDP payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GuePacket<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        GuePacket { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the variant, that the header with its Hlen words fits, and Linux's flag
    /// rules: only P and REMCSUM are known, and their fields must fit within Hlen.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        let first = *b.first().ok_or(Error::Truncated)?;
        match first >> 6 {
            0 => {}
            // Variant 1 carries IPv4 (0100) or IPv6 (0110) directly.
            1 if matches!(first >> 4, 4 | 6) => return Ok(()),
            _ => return Err(Error::Malformed),
        }
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len();
        if hl > b.len() {
            return Err(Error::Truncated);
        }
        let optlen = hl - HEADER_LEN;
        let flags = self.flags();
        if flags & !FLAG_PRIV != 0 {
            return Err(Error::Malformed);
        }
        if flags & FLAG_PRIV != 0 {
            if optlen < LEN_PRIV {
                return Err(Error::Malformed);
            }
            let pflags = rd32(b, field::PRIV_FLAGS);
            if pflags & !PFLAG_REMCSUM != 0 {
                return Err(Error::Malformed);
            }
            if pflags & PFLAG_REMCSUM != 0 && optlen < LEN_PRIV + PLEN_REMCSUM {
                return Err(Error::Malformed);
            }
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The two variant bits (0 for a GUE header, 1 for bare IP).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_C_HLEN] >> 6
    }

    /// Variant 1: the payload is a bare IPv4/IPv6 packet and there is no GUE header.
    #[inline]
    pub fn is_variant1(&self) -> bool {
        self.version() == 1
    }

    /// The C bit: a control message (variant 0 only).
    #[inline]
    pub fn control(&self) -> bool {
        !self.is_variant1() && self.buffer.as_ref()[field::VER_C_HLEN] & 0x20 != 0
    }

    /// Hlen: 32-bit words of optional fields (0 for variant 1).
    #[inline]
    pub fn hlen(&self) -> u8 {
        if self.is_variant1() {
            0
        } else {
            self.buffer.as_ref()[field::VER_C_HLEN] & 0x1f
        }
    }

    /// The payload's IP protocol (or the control type, for control messages); for
    /// variant 1, IPIP or IPv6 according to the version nibble.
    #[inline]
    pub fn proto(&self) -> u8 {
        let b = self.buffer.as_ref();
        if self.is_variant1() {
            if b[0] >> 4 == 6 {
                crate::ip_proto::IPV6
            } else {
                crate::ip_proto::IPIP
            }
        } else {
            b[field::PROTO]
        }
    }

    /// The standard flags (0 for variant 1).
    #[inline]
    pub fn flags(&self) -> u16 {
        if self.is_variant1() {
            0
        } else {
            rd16(self.buffer.as_ref(), field::FLAGS)
        }
    }

    /// Header length in bytes: 4 + 4 × Hlen, or 0 for variant 1.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.is_variant1() {
            0
        } else {
            HEADER_LEN + usize::from(self.hlen()) * 4
        }
    }

    /// The private flags word, if P is set.
    #[inline]
    pub fn priv_flags(&self) -> Option<u32> {
        (self.flags() & FLAG_PRIV != 0).then(|| rd32(self.buffer.as_ref(), field::PRIV_FLAGS))
    }

    /// The remote checksum offload field as (csum_start, csum_offset), if present. Both
    /// count from the start of the payload; Linux sends the offset as the absolute
    /// position of the checksum field, i.e. start plus the transport header's offset.
    #[inline]
    pub fn remcsum(&self) -> Option<(u16, u16)> {
        let pf = self.priv_flags()?;
        (pf & PFLAG_REMCSUM != 0).then(|| {
            let b = self.buffer.as_ref();
            (rd16(b, field::REMCSUM), rd16(b, field::REMCSUM + 2))
        })
    }

    /// The encapsulated packet.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[self.header_len().min(b.len())..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GuePacket<T> {
    /// The encapsulated packet, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        let at = hl.min(b.len());
        &mut b[at..]
    }
}

/// A variant-0 GUE data header, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GueRepr {
    /// The payload's IP protocol ([`crate::ip_proto::IPIP`] or [`crate::ip_proto::IPV6`]
    /// for IPVS tunnels).
    pub proto: u8,
    /// Remote checksum offload (csum_start, csum_offset), which needs the private flags
    /// word as well.
    pub remcsum: Option<(u16, u16)>,
}

impl GueRepr {
    /// Reads a checked variant-0 data header; variant 1 and control messages are
    /// `Malformed`.
    pub fn parse<T: AsRef<[u8]>>(p: &GuePacket<T>) -> Result<Self> {
        if p.is_variant1() || p.control() {
            return Err(Error::Malformed);
        }
        Ok(GueRepr {
            proto: p.proto(),
            remcsum: p.remcsum(),
        })
    }

    /// 4, or 12 with remote checksum offload.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN
            + if self.remcsum.is_some() {
                LEN_PRIV + PLEN_REMCSUM
            } else {
                0
            }
    }

    /// Writes the header at the start of `buf` and returns its length.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let hl = self.header_len();
        let b = buf.get_mut(..hl).ok_or(Error::Truncated)?;
        b[field::VER_C_HLEN] = ((hl - HEADER_LEN) / 4) as u8;
        b[field::PROTO] = self.proto;
        match self.remcsum {
            Some((start, offset)) => {
                wr16(b, field::FLAGS, FLAG_PRIV);
                wr32(b, field::PRIV_FLAGS, PFLAG_REMCSUM);
                wr16(b, field::REMCSUM, start);
                wr16(b, field::REMCSUM + 2, offset);
            }
            None => wr16(b, field::FLAGS, 0),
        }
        Ok(hl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_proto;

    // A header as Linux emits it for IPIP with remote checksum offload (start 20,
    // offset 26: the inner UDP checksum behind a 20-byte IPv4 header), then the first
    // bytes of the inner IPv4 header.
    const REMCSUM: [u8; 16] = [
        0x02, 0x04, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x1a, 0x45, 0x00, 0x00,
        0x28,
    ];
    const PLAIN: [u8; 6] = [0x00, 0x29, 0x00, 0x00, 0x60, 0x00];

    #[test]
    fn deconstruct() {
        let p = GuePacket::new_checked(&REMCSUM[..]).unwrap();
        assert_eq!(p.version(), 0);
        assert!(!p.is_variant1() && !p.control());
        assert_eq!(p.hlen(), 2);
        assert_eq!(p.proto(), ip_proto::IPIP);
        assert_eq!(p.flags(), FLAG_PRIV);
        assert_eq!(p.header_len(), 12);
        assert_eq!(p.priv_flags(), Some(PFLAG_REMCSUM));
        assert_eq!(p.remcsum(), Some((20, 26)));
        assert_eq!(p.payload(), &[0x45, 0x00, 0x00, 0x28]);

        let p = GuePacket::new_checked(&PLAIN[..]).unwrap();
        assert_eq!(p.proto(), ip_proto::IPV6);
        assert_eq!(p.header_len(), 4);
        assert_eq!(p.remcsum(), None);
        assert_eq!(p.priv_flags(), None);
        assert_eq!(p.payload(), &[0x60, 0x00]);
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 12];
        let r = GueRepr {
            proto: ip_proto::IPIP,
            remcsum: Some((20, 26)),
        };
        assert_eq!(r.emit(&mut buf).unwrap(), 12);
        assert_eq!(buf, REMCSUM[..12]);
        assert_eq!(
            GueRepr::parse(&GuePacket::new_checked(&buf[..]).unwrap()).unwrap(),
            r
        );
        let r = GueRepr {
            proto: ip_proto::IPV6,
            remcsum: None,
        };
        assert_eq!(r.emit(&mut buf).unwrap(), 4);
        assert_eq!(buf[..4], PLAIN[..4]);
        assert_eq!(r.emit(&mut buf[..3]), Err(Error::Truncated));
    }

    #[test]
    fn variant1() {
        let v4 = [0x45, 0x00, 0x00, 0x14];
        let p = GuePacket::new_checked(&v4[..]).unwrap();
        assert!(p.is_variant1() && !p.control());
        assert_eq!((p.header_len(), p.hlen(), p.flags()), (0, 0, 0));
        assert_eq!(p.proto(), ip_proto::IPIP);
        assert_eq!(p.payload(), &v4);
        assert_eq!(p.remcsum(), None);
        assert_eq!(GueRepr::parse(&p), Err(Error::Malformed));
        let p = GuePacket::new_checked(&[0x60][..]).unwrap();
        assert_eq!(p.proto(), ip_proto::IPV6);
        assert_eq!(
            GuePacket::new_checked(&[0x50][..]).unwrap_err(),
            Error::Malformed
        );
        assert_eq!(
            GuePacket::new_checked(&[0x70][..]).unwrap_err(),
            Error::Malformed
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(
            GuePacket::new_checked(&[][..]).unwrap_err(),
            Error::Truncated
        );
        for n in 1..12 {
            assert_eq!(
                GuePacket::new_checked(&REMCSUM[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
        }
        let bad = |at: usize, v: u8| {
            let mut b = REMCSUM;
            b[at] = v;
            GuePacket::new_checked(&b[..]).map(|_| ())
        };
        assert_eq!(bad(0, 0x82), Err(Error::Malformed)); // variant 2
        assert_eq!(bad(0, 0xc2), Err(Error::Malformed)); // variant 3
        assert_eq!(bad(3, 0x03), Err(Error::Malformed)); // unknown standard flag
        assert_eq!(bad(2, 0x80), Err(Error::Malformed)); // unknown standard flag
        assert_eq!(bad(7, 0x01), Err(Error::Malformed)); // unknown private flag
        assert_eq!(bad(0, 0x01), Err(Error::Malformed)); // REMCSUM does not fit in Hlen 1
        assert_eq!(bad(0, 0x00), Err(Error::Malformed)); // private flags do not fit
        assert_eq!(bad(0, 0x03), Ok(())); // spare option space is allowed
        assert_eq!(bad(0, 0x1f), Err(Error::Truncated));
        // Control messages are parsed (the engine drops them), but have no Repr.
        let mut b = PLAIN;
        b[0] = 0x20;
        let p = GuePacket::new_checked(&b[..]).unwrap();
        assert!(p.control());
        assert_eq!(GueRepr::parse(&p), Err(Error::Malformed));
    }
}
