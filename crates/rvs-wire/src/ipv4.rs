//! IPv4 (RFC 791).

use core::net::Ipv4Addr;

use crate::checksum;
use crate::{arr4, rd16, wr16, Error, Result};

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    use crate::field::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: Field = 12..16;
    pub const DST: Field = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
///
/// The buffer may extend past `total_len` (Ethernet pads short frames to 60 bytes);
/// [`Ipv4Packet::payload`] stops at `total_len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks version 4, IHL ≥ 5, and that the header and `total_len` fit in the buffer.
    /// The header checksum is not checked (see [`Self::verify_checksum`]).
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(Error::Malformed);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if b.len() < hl {
            return Err(Error::Truncated);
        }
        let total = usize::from(self.total_len());
        if total < hl {
            return Err(Error::Malformed);
        }
        if total > b.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 once checked).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The DSCP and ECN bits (the former TOS byte).
    #[inline]
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    /// Total length of the packet, header included.
    #[inline]
    pub fn total_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't Fragment.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        rd16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_DF != 0
    }

    /// More Fragments.
    #[inline]
    pub fn more_frags(&self) -> bool {
        rd16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (rd16(self.buffer.as_ref(), field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// Whether this is a fragment (MF set or a non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        rd16(self.buffer.as_ref(), field::FLG_OFF) & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The payload's protocol ([`crate::ip_proto`]).
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(arr4(self.buffer.as_ref(), field::SRC.start))
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(arr4(self.buffer.as_ref(), field::DST.start))
    }

    /// The options between the fixed header and the payload.
    #[inline]
    pub fn options(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.header_len().min(b.len());
        &b[HEADER_LEN.min(end)..end]
    }

    // The header as IHL says, cut at the buffer: `set_header_len` could have grown IHL.
    #[inline]
    fn header(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..self.header_len().min(b.len())]
    }

    // A setter may have shrunk `total_len` below the header or grown it past the buffer;
    // clamping keeps `payload` panic-free whatever the fields say now.
    #[inline]
    fn payload_range(&self) -> core::ops::Range<usize> {
        let b = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(b.len());
        self.header_len().min(end)..end
    }

    /// The bytes after the header, up to `total_len`.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.payload_range()]
    }

    /// Whether the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(self.header())) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length in bytes (a multiple of 4, 20..=60).
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(len & 3 == 0 && (HEADER_LEN..=60).contains(&len));
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((len / 4) as u8 & 0x0f);
    }

    /// Sets the DSCP and ECN bits.
    #[inline]
    pub fn set_dscp_ecn(&mut self, v: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = v;
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::IDENT, v);
    }

    #[inline]
    fn set_flg_off(&mut self, mask: u16, v: u16) {
        let b = self.buffer.as_mut();
        let old = rd16(b, field::FLG_OFF);
        wr16(b, field::FLG_OFF, (old & !mask) | (v & mask));
    }

    /// Sets Don't Fragment.
    #[inline]
    pub fn set_dont_frag(&mut self, v: bool) {
        self.set_flg_off(FLAG_DF, if v { FLAG_DF } else { 0 });
    }

    /// Sets More Fragments.
    #[inline]
    pub fn set_more_frags(&mut self, v: bool) {
        self.set_flg_off(FLAG_MF, if v { FLAG_MF } else { 0 });
    }

    /// Sets the fragment offset in bytes (a multiple of 8).
    #[inline]
    pub fn set_frag_offset(&mut self, bytes: u16) {
        self.set_flg_off(OFFSET_MASK, bytes >> 3);
    }

    /// Sets the time to live.
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }

    /// Sets the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Recomputes the header checksum from scratch.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::finish(checksum::sum(self.header()));
        self.set_checksum(c);
    }

    /// Patches the header checksum after a field at an even offset changed from `old` to
    /// `new` (RFC 1624), instead of re-summing the header: the TTL (with the protocol,
    /// as the 16-bit word they share) or an address.
    #[inline]
    pub fn update_checksum_for(&mut self, old: &[u8], new: &[u8]) {
        let c = checksum::update_addr(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// The bytes after the header, up to `total_len`, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let r = self.payload_range();
        &mut self.buffer.as_mut()[r]
    }
}

/// The fields of an option-less IPv4 header, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol.
    pub protocol: u8,
    /// Payload length in bytes (total length minus header).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Don't Fragment.
    pub dont_frag: bool,
    /// Identification.
    pub ident: u16,
    /// DSCP and ECN bits.
    pub dscp_ecn: u8,
}

impl Ipv4Repr {
    /// Reads a checked packet. Options and fragmentation fields are not represented, and
    /// the checksum is not verified (the caller decides, via
    /// [`Ipv4Packet::verify_checksum`]).
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Result<Self> {
        Ok(Ipv4Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: usize::from(p.total_len()) - p.header_len(),
            ttl: p.ttl(),
            dont_frag: p.dont_frag(),
            ident: p.ident(),
            dscp_ecn: p.dscp_ecn(),
        })
    }

    /// Always [`HEADER_LEN`].
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes a 20-byte header with a correct checksum at the start of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = u16::try_from(HEADER_LEN + self.payload_len).map_err(|_| Error::Malformed)?;
        let b = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        let mut p = Ipv4Packet::new_unchecked(b);
        p.set_header_len(HEADER_LEN);
        p.set_dscp_ecn(self.dscp_ecn);
        p.set_total_len(total);
        p.set_ident(self.ident);
        wr16(
            p.buffer,
            field::FLG_OFF,
            if self.dont_frag { FLAG_DF } else { 0 },
        );
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
        p.set_checksum(0);
        // The header is always the fixed 20 bytes here, so the unrolled sum applies: the
        // tunnel transmitter emits one of these per forwarded packet.
        let h: &[u8; HEADER_LEN] = p.buffer[..HEADER_LEN]
            .try_into()
            .map_err(|_| Error::Truncated)?;
        let c = checksum::finish(checksum::sum20(h));
        p.set_checksum(c);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_proto;

    // IPv4 + TCP SYN 192.168.1.10:51000 -> 192.168.1.20:80, MSS 1460; checksums computed
    // independently of this crate.
    const SYN: [u8; 44] = [
        0x45, 0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x9b, 0x17, 0xc0, 0xa8, 0x01,
        0x0a, 0xc0, 0xa8, 0x01, 0x14, 0xc7, 0x38, 0x00, 0x50, 0x6b, 0x8b, 0x45, 0x67, 0x00, 0x00,
        0x00, 0x00, 0x60, 0x02, 0xfa, 0xf0, 0xa1, 0x4b, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
    ];

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 1, 10),
            dst: Ipv4Addr::new(192, 168, 1, 20),
            protocol: ip_proto::TCP,
            payload_len: 24,
            ttl: 64,
            dont_frag: true,
            ident: 0x1c46,
            dscp_ecn: 0,
        }
    }

    #[test]
    fn deconstruct() {
        let p = Ipv4Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp_ecn(), 0);
        assert_eq!(p.total_len(), 44);
        assert_eq!(p.ident(), 0x1c46);
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), ip_proto::TCP);
        assert_eq!(p.checksum(), 0x9b17);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 1, 20));
        assert!(p.options().is_empty());
        assert_eq!(p.payload(), &SYN[20..]);
        assert!(p.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn construct() {
        let mut buf = SYN;
        buf[..20].fill(0xee);
        assert_eq!(repr().emit(&mut buf).unwrap(), 20);
        assert_eq!(buf, SYN);
        assert_eq!(repr().emit(&mut [0u8; 19]), Err(Error::Truncated));
        let huge = Ipv4Repr {
            payload_len: 65516,
            ..repr()
        };
        assert_eq!(huge.emit(&mut buf), Err(Error::Malformed));
    }

    #[test]
    fn ethernet_padding_is_excluded() {
        let mut buf = [0u8; 60];
        buf[..44].copy_from_slice(&SYN);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload().len(), 24);
    }

    #[test]
    fn setters_leave_checksum_alone() {
        let mut buf = SYN;
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        p.set_ttl(63);
        p.set_src_addr(Ipv4Addr::new(10, 0, 0, 1));
        p.set_dst_addr(Ipv4Addr::new(10, 0, 0, 2));
        p.set_ident(7);
        p.set_protocol(ip_proto::UDP);
        p.set_dscp_ecn(0xb8);
        assert_eq!(p.checksum(), 0x9b17);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.ttl(), 63);
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.ident(), 7);
        assert_eq!(p.protocol(), ip_proto::UDP);
        assert_eq!(p.dscp_ecn(), 0xb8);
    }

    #[test]
    fn incremental_checksum() {
        // TTL 64 -> 63 and a new destination, patched: the same bytes as a full recompute.
        let mut buf = SYN;
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        let proto = p.protocol();
        p.set_ttl(63);
        p.update_checksum_for(&[64, proto], &[63, proto]);
        let old = p.dst_addr().octets();
        p.set_dst_addr(Ipv4Addr::new(172, 16, 0, 2));
        p.update_checksum_for(&old, &[172, 16, 0, 2]);
        assert!(p.verify_checksum());
        let mut full = buf;
        Ipv4Packet::new_unchecked(&mut full[..]).fill_checksum();
        assert_eq!(buf, full);
        assert_eq!(&buf[8..12], &[63, 0x06, 0xb1, 0xc1]);
        assert_eq!(&buf[16..20], &[172, 16, 0, 2]);
    }

    #[test]
    fn fragment_fields() {
        let mut buf = SYN;
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        p.set_dont_frag(false);
        p.set_more_frags(true);
        assert!(p.is_fragment() && p.more_frags() && !p.dont_frag());
        assert_eq!(p.frag_offset(), 0);
        p.set_more_frags(false);
        p.set_frag_offset(1480);
        assert!(p.is_fragment() && !p.more_frags());
        assert_eq!(p.frag_offset(), 1480);
        assert_eq!(&buf[6..8], &[0x00, 0xb9]);
    }

    #[test]
    fn setters_cannot_make_payload_panic() {
        let mut buf = SYN;
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        p.set_total_len(4000);
        assert_eq!(p.payload().len(), 24);
        p.set_total_len(3);
        assert!(p.payload().is_empty());
        assert!(p.payload_mut().is_empty());
    }

    #[test]
    fn options() {
        // Header with one NOP-padded 4-byte option (Router Alert) and an empty payload.
        let mut h = [
            0x46, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x0a, 0x00,
            0x00, 0x01, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00,
        ];
        let mut p = Ipv4Packet::new_checked(&mut h[..]).unwrap();
        p.fill_checksum();
        assert_eq!(p.checksum(), 0x3ac9);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert!(p.payload().is_empty());
        assert!(p.verify_checksum());
    }

    #[test]
    fn malformed() {
        for n in 0..44 {
            assert_eq!(
                Ipv4Packet::new_checked(&SYN[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
        }
        let bad = |at: usize, v: u8| {
            let mut b = SYN;
            b[at] = v;
            Ipv4Packet::new_checked(&b[..]).map(|_| ())
        };
        assert_eq!(bad(0, 0x65), Err(Error::Malformed)); // version 6
        assert_eq!(bad(0, 0x44), Err(Error::Malformed)); // IHL 4
        assert_eq!(bad(0, 0x4f), Err(Error::Truncated)); // IHL 60 > buffer
        assert_eq!(bad(3, 19), Err(Error::Malformed)); // total_len < header
        assert_eq!(bad(3, 45), Err(Error::Truncated)); // total_len > buffer
                                                       // A header longer than total_len (but within the buffer).
        let mut buf = [0u8; 64];
        buf[..44].copy_from_slice(&SYN);
        buf[0] = 0x4c;
        assert_eq!(
            Ipv4Packet::new_checked(&buf[..]).unwrap_err(),
            Error::Malformed
        );
    }
}
