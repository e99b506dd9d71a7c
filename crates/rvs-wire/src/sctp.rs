//! SCTP packets (RFC 9260): the common header, the chunk walk and the CRC32c checksum.
//!
//! The checksum is CRC32c (RFC 3309) over the packet with the checksum field zeroed. It
//! has no incremental form, so after rewriting ports the engine recomputes it with
//! [`SctpPacket::fill_checksum`]. On the wire the CRC is in little-endian byte order
//! (RFC 9260 appendix A, and Linux's `sctp_compute_cksum` stores `cpu_to_le32`); the
//! accessors here take and return the CRC value itself.

use crate::{rd16, rd32, wr16, wr32, Error, Result};

/// Length of the SCTP common header.
pub const HEADER_LEN: usize = 12;

/// Length of a chunk header (type, flags, length).
pub const CHUNK_HEADER_LEN: usize = 4;

/// Chunk types.
pub mod chunk {
    /// Payload data.
    pub const DATA: u8 = 0;
    /// Initiation.
    pub const INIT: u8 = 1;
    /// Initiation acknowledgement.
    pub const INIT_ACK: u8 = 2;
    /// Selective acknowledgement.
    pub const SACK: u8 = 3;
    /// Heartbeat request.
    pub const HEARTBEAT: u8 = 4;
    /// Heartbeat acknowledgement.
    pub const HEARTBEAT_ACK: u8 = 5;
    /// Abort.
    pub const ABORT: u8 = 6;
    /// Shutdown.
    pub const SHUTDOWN: u8 = 7;
    /// Shutdown acknowledgement.
    pub const SHUTDOWN_ACK: u8 = 8;
    /// Operation error.
    pub const ERROR: u8 = 9;
    /// State cookie.
    pub const COOKIE_ECHO: u8 = 10;
    /// Cookie acknowledgement.
    pub const COOKIE_ACK: u8 = 11;
    /// Shutdown complete.
    pub const SHUTDOWN_COMPLETE: u8 = 14;
}

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const VTAG: usize = 4;
    pub const CHECKSUM: usize = 8;
    pub const CHUNK_TYPE: usize = 12;
    pub const CHUNK_FLAGS: usize = 13;
    pub const CHUNK_LEN: usize = 14;
}

/// A view of an SCTP packet. The buffer is exactly the packet: the CRC covers all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SctpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SctpPacket<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        SctpPacket { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the common header and, if any bytes follow it, that the first chunk's
    /// header is complete and its length is ≥ 4 and fits. Later chunks are checked
    /// lazily by [`Self::chunks`].
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b.len() > HEADER_LEN {
            if b.len() < HEADER_LEN + CHUNK_HEADER_LEN {
                return Err(Error::Truncated);
            }
            let clen = usize::from(rd16(b, field::CHUNK_LEN));
            if clen < CHUNK_HEADER_LEN {
                return Err(Error::Malformed);
            }
            if HEADER_LEN + clen > b.len() {
                return Err(Error::Truncated);
            }
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

    /// Verification tag.
    #[inline]
    pub fn verification_tag(&self) -> u32 {
        rd32(self.buffer.as_ref(), field::VTAG)
    }

    /// The CRC32c value carried (read from its little-endian wire form).
    #[inline]
    pub fn checksum(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_le_bytes([b[8], b[9], b[10], b[11]])
    }

    /// Type and flags of the first chunk, if there is one.
    #[inline]
    pub fn first_chunk(&self) -> Option<(u8, u8)> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN + CHUNK_HEADER_LEN {
            return None;
        }
        Some((b[field::CHUNK_TYPE], b[field::CHUNK_FLAGS]))
    }

    /// The chunks as `(type, flags, value)`; see [`ChunkIter`].
    #[inline]
    pub fn chunks(&self) -> ChunkIter<'_> {
        ChunkIter {
            rest: self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[]),
        }
    }

    /// The CRC32c of the packet with the checksum field taken as zero.
    #[inline]
    pub fn compute_checksum(&self) -> u32 {
        let b = self.buffer.as_ref();
        let crc = crc32c::crc32c(&b[..field::CHECKSUM]);
        let crc = crc32c::crc32c_append(crc, &[0; 4]);
        crc32c::crc32c_append(crc, &b[HEADER_LEN..])
    }

    /// Whether the carried CRC32c matches the packet.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        self.compute_checksum() == self.checksum()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SctpPacket<T> {
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

    /// Sets the verification tag.
    #[inline]
    pub fn set_verification_tag(&mut self, v: u32) {
        wr32(self.buffer.as_mut(), field::VTAG, v);
    }

    /// Stores a CRC32c value (in little-endian wire order).
    #[inline]
    pub fn set_checksum(&mut self, v: u32) {
        self.buffer.as_mut()[field::CHECKSUM..HEADER_LEN].copy_from_slice(&v.to_le_bytes());
    }

    /// Recomputes the CRC32c over the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let c = self.compute_checksum();
        self.set_checksum(c);
    }
}

/// Iterator over SCTP chunks as `(type, flags, value)`, `value` excluding the chunk
/// header and padding. It stops at the first chunk whose header is incomplete, whose
/// length is below 4, or which runs past the packet.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = (u8, u8, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest;
        if r.len() < CHUNK_HEADER_LEN {
            self.rest = &[];
            return None;
        }
        let len = usize::from(rd16(r, 2));
        if len < CHUNK_HEADER_LEN || len > r.len() {
            self.rest = &[];
            return None;
        }
        // Chunks are padded to 4 bytes; the last one's padding may be missing.
        let padded = (len + 3) & !3;
        self.rest = r.get(padded..).unwrap_or(&[]);
        Some((r[0], r[1], &r[CHUNK_HEADER_LEN..len]))
    }
}

/// An SCTP packet with a single chunk, owned (the chunk value is passed to `emit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SctpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Verification tag (0 on INIT).
    pub verification_tag: u32,
    /// The chunk's type ([`chunk`]).
    pub chunk_type: u8,
    /// The chunk's flags.
    pub chunk_flags: u8,
}

impl SctpRepr {
    /// Reads the common header and the first chunk's type and flags; `Malformed` if the
    /// packet has no chunk.
    pub fn parse<T: AsRef<[u8]>>(p: &SctpPacket<T>) -> Result<Self> {
        let (chunk_type, chunk_flags) = p.first_chunk().ok_or(Error::Malformed)?;
        Ok(SctpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            verification_tag: p.verification_tag(),
            chunk_type,
            chunk_flags,
        })
    }

    /// Length of the packet carrying `value_len` bytes of chunk value (padded to 4).
    #[inline]
    pub fn buffer_len(&self, value_len: usize) -> usize {
        HEADER_LEN + ((CHUNK_HEADER_LEN + value_len + 3) & !3)
    }

    /// Writes the common header and one chunk holding `value` (zero-padded to 4 bytes)
    /// at the start of `buf`, with the CRC32c filled, returning the packet length.
    pub fn emit(&self, buf: &mut [u8], value: &[u8]) -> Result<usize> {
        let clen = u16::try_from(CHUNK_HEADER_LEN + value.len()).map_err(|_| Error::Malformed)?;
        let total = self.buffer_len(value.len());
        let b = buf.get_mut(..total).ok_or(Error::Truncated)?;
        b[field::CHUNK_TYPE] = self.chunk_type;
        b[field::CHUNK_FLAGS] = self.chunk_flags;
        wr16(b, field::CHUNK_LEN, clen);
        let vstart = HEADER_LEN + CHUNK_HEADER_LEN;
        b[vstart..vstart + value.len()].copy_from_slice(value);
        b[vstart + value.len()..].fill(0);
        let mut p = SctpPacket::new_unchecked(b);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_verification_tag(self.verification_tag);
        p.fill_checksum();
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An INIT from a Diameter client (4068 -> 3868) as captured on the wire; its CRC32c
    // 0x04a7789f is stored as 9f 78 a7 04.
    const INIT: [u8; 32] = [
        0x0f, 0xe4, 0x0f, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x9f, 0x78, 0xa7, 0x04, 0x01, 0x00, 0x00,
        0x14, 0xbb, 0x7b, 0x0f, 0x9c, 0x00, 0x00, 0xfa, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0xbb, 0x7b,
        0x0f, 0x9c,
    ];

    fn init_repr() -> SctpRepr {
        SctpRepr {
            src_port: 4068,
            dst_port: 3868,
            verification_tag: 0,
            chunk_type: chunk::INIT,
            chunk_flags: 0,
        }
    }

    #[test]
    fn deconstruct() {
        let p = SctpPacket::new_checked(&INIT[..]).unwrap();
        assert_eq!(p.src_port(), 4068);
        assert_eq!(p.dst_port(), 3868);
        assert_eq!(p.verification_tag(), 0);
        assert_eq!(p.checksum(), 0x04a7_789f);
        assert!(p.verify_checksum());
        assert_eq!(p.first_chunk(), Some((chunk::INIT, 0)));
        let chunks: Vec<_> = p.chunks().collect();
        assert_eq!(chunks, [(chunk::INIT, 0, &INIT[16..])]);
        assert_eq!(SctpRepr::parse(&p).unwrap(), init_repr());
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 40];
        assert_eq!(init_repr().emit(&mut buf, &INIT[16..]).unwrap(), 32);
        assert_eq!(buf[..32], INIT);
        assert_eq!(
            init_repr().emit(&mut buf[..31], &INIT[16..]),
            Err(Error::Truncated)
        );

        // A value that needs padding.
        let r = SctpRepr {
            chunk_type: chunk::ABORT,
            chunk_flags: 1,
            verification_tag: 7,
            ..init_repr()
        };
        let n = r.emit(&mut buf, &[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(n, 24);
        assert_eq!(&buf[14..16], &[0, 9]);
        assert_eq!(&buf[21..24], &[0, 0, 0]);
        let p = SctpPacket::new_checked(&buf[..n]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(
            p.chunks().collect::<Vec<_>>(),
            [(chunk::ABORT, 1, &[1u8, 2, 3, 4, 5][..])]
        );
    }

    #[test]
    fn rewrite_ports_then_recompute() {
        let mut buf = INIT;
        let mut p = SctpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_dst_port(3869);
        p.set_src_port(1);
        p.set_verification_tag(9);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(
            (p.src_port(), p.dst_port(), p.verification_tag()),
            (1, 3869, 9)
        );
    }

    #[test]
    fn chunk_walk() {
        // Three chunks: COOKIE_ACK (4), DATA with a 3-byte value (7, padded to 8), then a
        // chunk claiming 16 bytes of which 8 are present.
        let mut buf = [0u8; 12 + 4 + 8 + 8];
        buf[12..16].copy_from_slice(&[chunk::COOKIE_ACK, 0, 0, 4]);
        buf[16..24].copy_from_slice(&[chunk::DATA, 3, 0, 7, 0xa, 0xb, 0xc, 0]);
        buf[24..32].copy_from_slice(&[chunk::SACK, 0, 0, 16, 0, 0, 0, 0]);
        let p = SctpPacket::new_checked(&buf[..]).unwrap();
        let chunks: Vec<_> = p.chunks().collect();
        assert_eq!(
            chunks,
            [
                (chunk::COOKIE_ACK, 0, &[][..]),
                (chunk::DATA, 3, &[0xa, 0xb, 0xc][..])
            ]
        );
        // A zero-length chunk ends the walk instead of looping.
        buf[24..28].copy_from_slice(&[chunk::SACK, 0, 0, 0]);
        assert_eq!(
            SctpPacket::new_checked(&buf[..]).unwrap().chunks().count(),
            2
        );
        // Unpadded last chunk.
        assert_eq!(
            SctpPacket::new_checked(&buf[..23])
                .unwrap()
                .chunks()
                .count(),
            2
        );
    }

    #[test]
    fn malformed() {
        for n in 0..12 {
            assert_eq!(
                SctpPacket::new_checked(&INIT[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        let bare = SctpPacket::new_checked(&INIT[..12]).unwrap();
        assert_eq!(bare.first_chunk(), None);
        assert_eq!(bare.chunks().count(), 0);
        assert_eq!(SctpRepr::parse(&bare), Err(Error::Malformed));
        for n in 13..32 {
            assert_eq!(
                SctpPacket::new_checked(&INIT[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
        }
        let mut b = INIT;
        b[15] = 3;
        assert_eq!(
            SctpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
    }
}
