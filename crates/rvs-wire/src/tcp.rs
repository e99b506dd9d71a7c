//! TCP segments (RFC 9293): the fixed header, options, checksum and MSS clamping.

use core::net::IpAddr;

use crate::{checksum, ip_proto, rd16, rd32, wr16, wr32, Error, Result};

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;

/// How much of a segment must be present for its checksum field to be: an ICMP error
/// quoting fewer bytes cannot have the quoted checksum patched.
pub const CHECKSUM_END: usize = field::CHECKSUM + 2;

/// Flag bits of [`TcpPacket::flags`].
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push.
    pub const PSH: u8 = 0x08;
    /// The acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// The urgent pointer is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

/// TCP option kinds this crate interprets.
pub mod option {
    /// End of option list.
    pub const END: u8 = 0;
    /// No-operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERMITTED: u8 = 4;
    /// Timestamps.
    pub const TIMESTAMPS: u8 = 8;
}

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DOFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// A view of a TCP segment. The buffer is exactly the segment: checksums cover all of
/// it, so the caller slices it to the IP payload (without Ethernet padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the fixed header is present and the data offset is ≥ 5 words and
    /// within the buffer.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if hl > b.len() {
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

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        rd32(self.buffer.as_ref(), field::SEQ)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        rd32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes (data offset × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DOFF] >> 4) * 4
    }

    /// The eight flag bits ([`flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// Whether all bits of `f` are set.
    #[inline]
    pub fn has_flags(&self, f: u8) -> bool {
        self.flags() & f == f
    }

    /// Window size.
    #[inline]
    pub fn window_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent_at(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::URGENT)
    }

    /// The raw options (see [`options_iter`]).
    #[inline]
    pub fn options(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[HEADER_LEN..self.header_len().clamp(HEADER_LEN, b.len())]
    }

    /// The data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[self.header_len().min(b.len())..]
    }

    /// The MSS option's value, if present.
    #[inline]
    pub fn mss(&self) -> Option<u16> {
        mss_option(self.options())
    }

    /// Whether the checksum is correct for a segment between `src` and `dst`.
    #[inline]
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        let b = self.buffer.as_ref();
        let ps = checksum::pseudo(src, dst, ip_proto::TCP, b.len() as u32);
        checksum::fold(ps + checksum::sum(b)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
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

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, v: u32) {
        wr32(self.buffer.as_mut(), field::SEQ, v);
    }

    /// Sets the acknowledgment number.
    #[inline]
    pub fn set_ack_number(&mut self, v: u32) {
        wr32(self.buffer.as_mut(), field::ACK, v);
    }

    /// Sets the header length in bytes (a multiple of 4, 20..=60), clearing the
    /// reserved bits.
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(len & 3 == 0 && (HEADER_LEN..=60).contains(&len));
        self.buffer.as_mut()[field::DOFF] = ((len / 4) as u8) << 4;
    }

    /// Sets the eight flag bits.
    #[inline]
    pub fn set_flags(&mut self, v: u8) {
        self.buffer.as_mut()[field::FLAGS] = v;
    }

    /// Sets the window size.
    #[inline]
    pub fn set_window_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::WINDOW, v);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent_at(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::URGENT, v);
    }

    /// Patches the checksum after covered data at an even offset changed from `old` to
    /// `new` (RFC 1624): a port, or an address of the pseudo header. Only the checksum
    /// field need be in the buffer, so a segment quoted in an ICMP error can be patched.
    #[inline]
    pub fn update_checksum_for(&mut self, old: &[u8], new: &[u8]) {
        let c = checksum::update_addr(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// The data after the header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let hl = usize::from(b[field::DOFF] >> 4) * 4;
        let at = hl.min(b.len());
        &mut b[at..]
    }

    /// Computes the checksum over the whole buffer for a segment between `src` and
    /// `dst`.
    #[inline]
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let ps = checksum::pseudo(src, dst, ip_proto::TCP, b.len() as u32);
        let c = checksum::finish(ps + checksum::sum(b));
        self.set_checksum(c);
    }

    /// Lowers the MSS option to `max` if it is larger, returning `(old, new)` when it
    /// rewrote it. Like every setter it leaves the checksum alone: follow up with
    /// `checksum::update16(csum, old, new)` (the option's value is 16-bit aligned in any
    /// header that places options on their natural boundaries; if not, use
    /// [`Self::fill_checksum`]).
    pub fn clamp_mss(&mut self, max: u16) -> Option<(u16, u16)> {
        let hl = self
            .header_len()
            .clamp(HEADER_LEN, self.buffer.as_ref().len());
        let opts = &mut self.buffer.as_mut()[HEADER_LEN..hl];
        let at = find_option(opts, option::MSS)?;
        let old = rd16(opts, at);
        if old <= max {
            return None;
        }
        wr16(opts, at, max);
        Some((old, max))
    }
}

/// Iterator over TCP options as `(kind, data)`, `data` excluding the kind and length
/// bytes. NOPs are skipped; END or a malformed length ends the walk.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
    pos: usize,
}

/// Iterates over the options in `options` (the bytes from [`TcpPacket::options`]).
#[inline]
pub fn options_iter(options: &[u8]) -> TcpOptionIter<'_> {
    TcpOptionIter {
        rest: options,
        pos: 0,
    }
}

impl<'a> TcpOptionIter<'a> {
    /// The offset of the next option's data within the options, with its kind.
    fn next_at(&mut self) -> Option<(u8, usize, &'a [u8])> {
        loop {
            let kind = *self.rest.first()?;
            match kind {
                option::END => {
                    self.rest = &[];
                    return None;
                }
                option::NOP => {
                    self.rest = &self.rest[1..];
                    self.pos += 1;
                }
                _ => {
                    let len = usize::from(*self.rest.get(1)?);
                    if len < 2 || len > self.rest.len() {
                        self.rest = &[];
                        return None;
                    }
                    let data = &self.rest[2..len];
                    let at = self.pos + 2;
                    self.rest = &self.rest[len..];
                    self.pos += len;
                    return Some((kind, at, data));
                }
            }
        }
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = (u8, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.next_at().map(|(k, _, d)| (k, d))
    }
}

/// Offset of the 2-byte MSS value (or of another `kind` with a 2-byte value).
fn find_option(options: &[u8], kind: u8) -> Option<usize> {
    let mut it = options_iter(options);
    while let Some((k, at, data)) = it.next_at() {
        if k == kind {
            return (data.len() == 2).then_some(at);
        }
    }
    None
}

/// The MSS carried in `options`, if any (and well formed).
#[inline]
pub fn mss_option(options: &[u8]) -> Option<u16> {
    find_option(options, option::MSS).map(|at| rd16(options, at))
}

/// The fixed fields of a TCP header, plus an optional MSS option, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits ([`flags`]).
    pub flags: u8,
    /// Window size.
    pub window: u16,
    /// An MSS option to emit (typically on SYN).
    pub mss: Option<u16>,
}

impl TcpRepr {
    /// Reads a checked segment. Options other than MSS are dropped and the checksum is
    /// not verified.
    pub fn parse<T: AsRef<[u8]>>(p: &TcpPacket<T>) -> Result<Self> {
        Ok(TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack: p.ack_number(),
            flags: p.flags(),
            window: p.window_len(),
            mss: p.mss(),
        })
    }

    /// 20, or 24 with an MSS option.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + if self.mss.is_some() { 4 } else { 0 }
    }

    /// Writes the header and `payload` at the start of `buf` with the checksum for
    /// `src` → `dst`, returning the segment length.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: &IpAddr,
        dst: &IpAddr,
        payload: &[u8],
    ) -> Result<usize> {
        let hl = self.header_len();
        let total = hl + payload.len();
        let b = buf.get_mut(..total).ok_or(Error::Truncated)?;
        let mut p = TcpPacket::new_unchecked(b);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq);
        p.set_ack_number(self.ack);
        p.set_header_len(hl);
        p.set_flags(self.flags);
        p.set_window_len(self.window);
        p.set_urgent_at(0);
        if let Some(mss) = self.mss {
            let b = &mut p.buffer[HEADER_LEN..HEADER_LEN + 4];
            b[0] = option::MSS;
            b[1] = 4;
            wr16(b, 2, mss);
        }
        p.payload_mut().copy_from_slice(payload);
        p.fill_checksum(src, dst);
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    // 192.168.1.10:51000 -> 192.168.1.20:80 SYN with MSS 1460, and 10.0.0.1:40000 ->
    // 10.0.0.2:443 PSH|ACK "hello, world"; checksums computed independently.
    const SYN: [u8; 24] = [
        0xc7, 0x38, 0x00, 0x50, 0x6b, 0x8b, 0x45, 0x67, 0x00, 0x00, 0x00, 0x00, 0x60, 0x02, 0xfa,
        0xf0, 0xa1, 0x4b, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
    ];
    const DATA: [u8; 32] = [
        0x9c, 0x40, 0x01, 0xbb, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0, 0x50, 0x18, 0x01,
        0xf6, 0xaf, 0xc8, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x77, 0x6f, 0x72,
        0x6c, 0x64,
    ];

    fn syn_addrs() -> (IpAddr, IpAddr) {
        (
            Ipv4Addr::new(192, 168, 1, 10).into(),
            Ipv4Addr::new(192, 168, 1, 20).into(),
        )
    }

    fn syn_repr() -> TcpRepr {
        TcpRepr {
            src_port: 51000,
            dst_port: 80,
            seq: 0x6b8b4567,
            ack: 0,
            flags: flags::SYN,
            window: 64240,
            mss: Some(1460),
        }
    }

    #[test]
    fn deconstruct() {
        let (s, d) = syn_addrs();
        let p = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!(p.src_port(), 51000);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.seq_number(), 0x6b8b4567);
        assert_eq!(p.ack_number(), 0);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.flags(), flags::SYN);
        assert!(p.has_flags(flags::SYN) && !p.has_flags(flags::SYN | flags::ACK));
        assert_eq!(p.window_len(), 64240);
        assert_eq!(p.checksum(), 0xa14b);
        assert_eq!(p.urgent_at(), 0);
        assert_eq!(p.options(), &[2, 4, 5, 0xb4]);
        assert_eq!(p.mss(), Some(1460));
        assert!(p.payload().is_empty());
        assert!(p.verify_checksum(&s, &d));
        assert!(!p.verify_checksum(&d, &d));
        assert_eq!(TcpRepr::parse(&p).unwrap(), syn_repr());

        let p = TcpPacket::new_checked(&DATA[..]).unwrap();
        assert_eq!(p.flags(), flags::PSH | flags::ACK);
        assert_eq!(p.payload(), b"hello, world");
        assert_eq!(p.mss(), None);
        assert!(p.verify_checksum(
            &Ipv4Addr::new(10, 0, 0, 1).into(),
            &Ipv4Addr::new(10, 0, 0, 2).into()
        ));
    }

    #[test]
    fn construct() {
        let (s, d) = syn_addrs();
        let mut buf = [0xffu8; 30];
        assert_eq!(syn_repr().emit(&mut buf, &s, &d, &[]).unwrap(), 24);
        assert_eq!(buf[..24], SYN);

        let r = TcpRepr {
            src_port: 40000,
            dst_port: 443,
            seq: 1000,
            ack: 2000,
            flags: flags::PSH | flags::ACK,
            window: 502,
            mss: None,
        };
        let (s, d) = (
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
        );
        let mut buf = [0u8; 32];
        assert_eq!(r.emit(&mut buf, &s, &d, b"hello, world").unwrap(), 32);
        assert_eq!(buf, DATA);
        assert_eq!(
            r.emit(&mut buf[..31], &s, &d, b"hello, world"),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn incremental_checksum() {
        // SYN's 192.168.1.10:51000 -> 192.168.1.20:80 DNATed to 172.16.0.2:8080.
        let (s, _) = syn_addrs();
        let d2: IpAddr = Ipv4Addr::new(172, 16, 0, 2).into();
        let mut buf = SYN;
        let mut p = TcpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_dst_port(8080);
        p.update_checksum_for(&80u16.to_be_bytes(), &8080u16.to_be_bytes());
        p.update_checksum_for(&[192, 168, 1, 20], &[172, 16, 0, 2]);
        assert!(p.verify_checksum(&s, &d2));
        assert_eq!(&buf[2..4], &[0x1f, 0x90]);
        let mut full = buf;
        TcpPacket::new_unchecked(&mut full[..]).fill_checksum(&s, &d2);
        assert_eq!(buf, full);
        // A quote cut right after the checksum field can still be patched.
        let mut quote = [0u8; CHECKSUM_END];
        quote.copy_from_slice(&SYN[..CHECKSUM_END]);
        let mut q = TcpPacket::new_unchecked(&mut quote[..]);
        q.update_checksum_for(&80u16.to_be_bytes(), &8080u16.to_be_bytes());
        q.update_checksum_for(&[192, 168, 1, 20], &[172, 16, 0, 2]);
        assert_eq!(&quote[16..18], &buf[16..18]);
    }

    #[test]
    fn ipv6_checksum() {
        let s: IpAddr = "2001:db8::1".parse::<Ipv6Addr>().unwrap().into();
        let d: IpAddr = "2001:db8::2".parse::<Ipv6Addr>().unwrap().into();
        let mut buf = [0u8; 28];
        let n = syn_repr().emit(&mut buf, &s, &d, b"abcd").unwrap();
        let p = TcpPacket::new_checked(&buf[..n]).unwrap();
        assert!(p.verify_checksum(&s, &d));
        assert_eq!(p.payload(), b"abcd");
    }

    #[test]
    fn setters() {
        let (s, d) = syn_addrs();
        let mut buf = SYN;
        let mut p = TcpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_src_port(1);
        p.set_dst_port(2);
        p.set_seq_number(3);
        p.set_ack_number(4);
        p.set_flags(flags::SYN | flags::ACK);
        p.set_window_len(5);
        p.set_urgent_at(6);
        assert_eq!(p.checksum(), 0xa14b);
        assert!(!p.verify_checksum(&s, &d));
        p.fill_checksum(&s, &d);
        assert!(p.verify_checksum(&s, &d));
        assert_eq!(
            (
                p.src_port(),
                p.dst_port(),
                p.seq_number(),
                p.ack_number(),
                p.flags(),
                p.window_len(),
                p.urgent_at()
            ),
            (1, 2, 3, 4, 0x12, 5, 6)
        );
    }

    #[test]
    fn mss_clamp_with_incremental_checksum() {
        let (s, d) = syn_addrs();
        let mut buf = SYN;
        let mut p = TcpPacket::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.clamp_mss(1460), None);
        assert_eq!(p.clamp_mss(1500), None);
        let (old, new) = p.clamp_mss(1400).unwrap();
        assert_eq!((old, new), (1460, 1400));
        assert_eq!(p.mss(), Some(1400));
        let c = checksum::update16(p.checksum(), old, new);
        p.set_checksum(c);
        assert!(p.verify_checksum(&s, &d));
        let mut buf = DATA;
        assert_eq!(
            TcpPacket::new_checked(&mut buf[..]).unwrap().clamp_mss(1),
            None
        );
    }

    #[test]
    fn option_walk() {
        // NOP NOP timestamps(10) NOP wscale(3) SACK-perm(2) MSS(4) END junk
        let opts = [
            1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7, 4, 2, 2, 4, 0x05, 0x78, 0, 9,
        ];
        let kinds: Vec<u8> = options_iter(&opts).map(|(k, _)| k).collect();
        assert_eq!(kinds, [8, 3, 4, 2]);
        assert_eq!(mss_option(&opts), Some(1400));
        // Malformed lengths stop the walk instead of reading past the end.
        assert_eq!(options_iter(&[2, 0, 5, 0xb4]).count(), 0);
        assert_eq!(options_iter(&[2, 9, 5, 0xb4]).count(), 0);
        assert_eq!(options_iter(&[2]).count(), 0);
        assert_eq!(mss_option(&[2, 3, 5]), None); // wrong MSS length
        assert_eq!(mss_option(&[0, 2, 4, 5, 0xb4]), None); // after END
        assert_eq!(mss_option(&[]), None);
    }

    #[test]
    fn malformed() {
        for n in 0..24 {
            assert_eq!(
                TcpPacket::new_checked(&SYN[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
        }
        let mut b = SYN;
        b[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        b[12] = 0x00;
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        b[12] = 0x70;
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Truncated
        );
    }
}
