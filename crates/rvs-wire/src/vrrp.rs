//! VRRP advertisements: version 2 (RFC 3768, IPv4 only, with the v2 authentication
//! fields) and version 3 (RFC 5798, IPv4 and IPv6, centisecond intervals).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! v2: |   Auth Type   |   Adver Int   |          Checksum             |
//! v3: |(rsvd) |    Max Adver Int      |          Checksum             |
//! |                  IP addresses (Count × 4 or × 16)             |
//! v2: |             Authentication Data (8 bytes)                     |
//! ```
//!
//! The v2 checksum covers the VRRP message alone; the v3 one also covers the IPv4 or
//! IPv6 pseudo header (protocol [`crate::ip_proto::VRRP`]). The address family of a
//! message is not in it: it is the family of the IP header around it, so the calls that
//! need it take the IP source and destination.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::{arr16, arr4, ip_proto, rd16, wr16, Error, Result};

/// Length of the fixed part before the addresses, in both versions.
pub const HEADER_LEN: usize = 8;
/// Length of the v2 authentication data after the addresses.
pub const AUTH_DATA_LEN: usize = 8;
/// The only VRRP message type (both versions).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// The TTL / hop limit every advert is sent with and must arrive with.
pub const TTL: u8 = 255;
/// The IPv4 multicast group of VRRP (224.0.0.18).
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP (ff02::12).
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// v2 auth type: none.
pub const AUTH_NONE: u8 = 0;
/// v2 auth type: simple text password.
pub const AUTH_PASS: u8 = 1;
/// v2 auth type: IP Authentication Header (RFC 2338; removed by RFC 3768).
pub const AUTH_AH: u8 = 2;
/// Largest v3 Max Adver Int (12 bits), in centiseconds.
pub const MAX_ADVER_INT_CS: u16 = 0x0fff;

mod field {
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    // v2: auth type, then the advert interval in seconds.
    pub const AUTH_TYPE: usize = 4;
    pub const ADVER_INT: usize = 5;
    // v3: 4 reserved bits and the 12-bit interval in centiseconds, over the same 2 bytes.
    pub const RSVD_MAX_ADVER_INT: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const ADDRS: usize = 8;
}

/// The VRRP version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: IPv4 only, auth fields, interval in seconds.
    V2,
    /// RFC 5798: IPv4 or IPv6, no auth, interval in centiseconds.
    V3,
}

impl Version {
    /// The version field's value.
    #[inline]
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version for a field value (2 or 3).
    #[inline]
    pub const fn from_number(v: u8) -> Option<Self> {
        match v {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

/// The address family of a message: the family of its IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: 4-byte addresses.
    Ipv4,
    /// IPv6: 16-byte addresses.
    Ipv6,
}

impl Family {
    /// The family of `a`.
    #[inline]
    pub const fn of(a: &IpAddr) -> Self {
        match a {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The family of an IP source/destination pair, or `Malformed` when they differ.
    #[inline]
    pub fn of_pair(src: &IpAddr, dst: &IpAddr) -> Result<Self> {
        let f = Family::of(src);
        if f == Family::of(dst) {
            Ok(f)
        } else {
            Err(Error::Malformed)
        }
    }

    /// Bytes per address.
    #[inline]
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }
}

/// A view of a VRRP message (the IP payload).
///
/// [`Self::new_checked`] proves the fixed 8 bytes and a version of 2 or 3; the parts
/// after them (addresses, v2 auth data) depend on the family and `count`, so their
/// accessors return slices cut at the end of the buffer rather than panicking.
/// [`VrrpRepr::parse`] checks the whole message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        VrrpPacket { buffer }
    }

    /// Wraps `buffer` after [`Self::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the fixed header fits and that the version is 2 or 3.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if Version::from_number(self.version()).is_none() {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (2 or 3 once checked).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }

    /// The type field ([`TYPE_ADVERTISEMENT`] is the only one defined).
    #[inline]
    pub fn kind(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }

    /// Virtual router ID.
    #[inline]
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    /// Priority (0: the master stops; 255: the address owner).
    #[inline]
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// Number of addresses.
    #[inline]
    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// v2 auth type (the first byte of v3's reserved bits and interval).
    #[inline]
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_TYPE]
    }

    /// v2 advert interval in seconds.
    #[inline]
    pub fn adver_int(&self) -> u8 {
        self.buffer.as_ref()[field::ADVER_INT]
    }

    /// v3 reserved bits (the top 4 bits of bytes 4–5; sent as zero, ignored on receipt).
    #[inline]
    pub fn rsvd(&self) -> u8 {
        self.buffer.as_ref()[field::RSVD_MAX_ADVER_INT] >> 4
    }

    /// v3 Max Adver Int in centiseconds (12 bits).
    #[inline]
    pub fn max_adver_int(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::RSVD_MAX_ADVER_INT) & MAX_ADVER_INT_CS
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Length of the whole message as `count` and the version say for `family`: header,
    /// addresses and, for v2, the authentication data.
    #[inline]
    pub fn message_len(&self, family: Family) -> usize {
        let auth = if self.version() == 2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + usize::from(self.count()) * family.addr_len() + auth
    }

    #[inline]
    fn clamp(&self, r: core::ops::Range<usize>) -> core::ops::Range<usize> {
        let len = self.buffer.as_ref().len();
        r.start.min(len)..r.end.min(len)
    }

    #[inline]
    fn addrs_range(&self, family: Family) -> core::ops::Range<usize> {
        let n = usize::from(self.count()) * family.addr_len();
        self.clamp(field::ADDRS..field::ADDRS + n)
    }

    // v2 only: the 8 bytes after the IPv4 addresses; empty for v3.
    #[inline]
    fn auth_range(&self) -> core::ops::Range<usize> {
        if self.version() != 2 {
            return 0..0;
        }
        let at = field::ADDRS + usize::from(self.count()) * Family::Ipv4.addr_len();
        self.clamp(at..at + AUTH_DATA_LEN)
    }

    /// The raw addresses for `family` (`count` × 4 or × 16 bytes, cut at the buffer end).
    #[inline]
    pub fn addrs_bytes(&self, family: Family) -> &[u8] {
        &self.buffer.as_ref()[self.addrs_range(family)]
    }

    /// v2 authentication data: the 8 bytes after the IPv4 addresses (cut at the buffer
    /// end; empty for v3).
    #[inline]
    pub fn auth_data(&self) -> &[u8] {
        &self.buffer.as_ref()[self.auth_range()]
    }

    /// The message as [`Self::message_len`] says for `family`, cut at the buffer end.
    #[inline]
    pub fn message(&self, family: Family) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..self.message_len(family).min(b.len())]
    }

    // v2: the message alone; v3: the pseudo header of `src` → `dst` too.
    fn checksum_sum(&self, src: &IpAddr, dst: &IpAddr) -> Result<u32> {
        let family = Family::of_pair(src, dst)?;
        let m = self.message(family);
        let ps = if self.version() == 3 {
            checksum::pseudo(src, dst, ip_proto::VRRP, m.len() as u32)
        } else {
            0
        };
        Ok(ps + checksum::sum(m))
    }

    /// Whether the checksum is correct for a message from `src` to `dst` (false when the
    /// two are of different families).
    #[inline]
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        self.checksum_sum(src, dst)
            .is_ok_and(|s| checksum::fold(s) == 0xffff)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VrrpPacket<T> {
    /// Sets the version field.
    #[inline]
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TYPE];
        *b = (v << 4) | (*b & 0x0f);
    }

    /// Sets the type field.
    #[inline]
    pub fn set_kind(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TYPE];
        *b = (*b & 0xf0) | (v & 0x0f);
    }

    /// Sets the virtual router ID.
    #[inline]
    pub fn set_vrid(&mut self, v: u8) {
        self.buffer.as_mut()[field::VRID] = v;
    }

    /// Sets the priority.
    #[inline]
    pub fn set_priority(&mut self, v: u8) {
        self.buffer.as_mut()[field::PRIORITY] = v;
    }

    /// Sets the address count.
    #[inline]
    pub fn set_count(&mut self, v: u8) {
        self.buffer.as_mut()[field::COUNT] = v;
    }

    /// Sets the v2 auth type.
    #[inline]
    pub fn set_auth_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = v;
    }

    /// Sets the v2 advert interval in seconds.
    #[inline]
    pub fn set_adver_int(&mut self, v: u8) {
        self.buffer.as_mut()[field::ADVER_INT] = v;
    }

    /// Sets the v3 reserved bits (the low 4 bits of `v`).
    #[inline]
    pub fn set_rsvd(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::RSVD_MAX_ADVER_INT];
        *b = (v << 4) | (*b & 0x0f);
    }

    /// Sets the v3 Max Adver Int in centiseconds (the low 12 bits of `v`), keeping the
    /// reserved bits.
    #[inline]
    pub fn set_max_adver_int(&mut self, v: u16) {
        let b = self.buffer.as_mut();
        let old = rd16(b, field::RSVD_MAX_ADVER_INT);
        wr16(
            b,
            field::RSVD_MAX_ADVER_INT,
            (old & !MAX_ADVER_INT_CS) | (v & MAX_ADVER_INT_CS),
        );
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// The raw addresses for `family`, mutably (cut at the buffer end).
    #[inline]
    pub fn addrs_bytes_mut(&mut self, family: Family) -> &mut [u8] {
        let r = self.addrs_range(family);
        &mut self.buffer.as_mut()[r]
    }

    /// v2 authentication data, mutably (cut at the buffer end; empty for v3).
    #[inline]
    pub fn auth_data_mut(&mut self) -> &mut [u8] {
        let r = self.auth_range();
        &mut self.buffer.as_mut()[r]
    }

    /// Computes the checksum for a message from `src` to `dst` (v3 includes their pseudo
    /// header). `Malformed` when the two are of different families.
    #[inline]
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) -> Result<()> {
        self.set_checksum(0);
        let c = checksum::finish(self.checksum_sum(src, dst)?);
        self.set_checksum(c);
        Ok(())
    }
}

/// v2 authentication, as the auth type and data say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VrrpAuth {
    /// No authentication (type 0; always for v3). The data is sent as zeros.
    #[default]
    None,
    /// Simple text password (type 1): the 8 data bytes, zero-padded.
    Pass([u8; AUTH_DATA_LEN]),
    /// Any other type (2 is RFC 2338's IP AH), its data not kept; emitted with zero data.
    Other(u8),
}

impl VrrpAuth {
    /// A PASS password: its first 8 bytes, zero-padded (keepalived's truncation).
    pub fn pass(password: &[u8]) -> Self {
        let mut d = [0u8; AUTH_DATA_LEN];
        let n = password.len().min(AUTH_DATA_LEN);
        d[..n].copy_from_slice(&password[..n]);
        VrrpAuth::Pass(d)
    }

    /// The auth type field's value.
    #[inline]
    pub const fn auth_type(&self) -> u8 {
        match self {
            VrrpAuth::None => AUTH_NONE,
            VrrpAuth::Pass(_) => AUTH_PASS,
            VrrpAuth::Other(t) => *t,
        }
    }
}

/// The address list of an advert: either raw bytes borrowed from a received message, or
/// a borrowed slice of addresses to emit. Nothing is copied either way.
///
/// Two lists are equal when they hold the same addresses in the same order, whatever
/// their form.
#[derive(Debug, Clone, Copy)]
pub struct VrrpAddrs<'a>(AddrsInner<'a>);

#[derive(Debug, Clone, Copy)]
enum AddrsInner<'a> {
    Wire { family: Family, bytes: &'a [u8] },
    List(&'a [IpAddr]),
}

impl<'a> VrrpAddrs<'a> {
    /// Raw addresses of `family`, back to back; `Malformed` unless the length is a
    /// multiple of the address length.
    pub fn from_wire(family: Family, bytes: &'a [u8]) -> Result<Self> {
        if !bytes.len().is_multiple_of(family.addr_len()) {
            return Err(Error::Malformed);
        }
        Ok(VrrpAddrs(AddrsInner::Wire { family, bytes }))
    }

    /// Addresses to emit (all must be of the message's family, checked by emit).
    pub const fn from_list(addrs: &'a [IpAddr]) -> Self {
        VrrpAddrs(AddrsInner::List(addrs))
    }

    /// Number of addresses.
    pub fn len(&self) -> usize {
        match self.0 {
            AddrsInner::Wire { family, bytes } => bytes.len() / family.addr_len(),
            AddrsInner::List(l) => l.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the addresses take on the wire.
    pub fn wire_len(&self) -> usize {
        match self.0 {
            AddrsInner::Wire { bytes, .. } => bytes.len(),
            AddrsInner::List(l) => l.iter().map(|a| Family::of(a).addr_len()).sum(),
        }
    }

    /// The family of the list: a wire list's own, a slice's first address's (`None` for
    /// an empty slice).
    pub fn family(&self) -> Option<Family> {
        match self.0 {
            AddrsInner::Wire { family, .. } => Some(family),
            AddrsInner::List(l) => l.first().map(Family::of),
        }
    }

    /// The addresses in order.
    pub fn iter(&self) -> VrrpAddrsIter<'a> {
        VrrpAddrsIter(match self.0 {
            AddrsInner::Wire { family, bytes } => IterInner::Wire {
                family,
                chunks: bytes.chunks_exact(family.addr_len()),
            },
            AddrsInner::List(l) => IterInner::List(l.iter()),
        })
    }

    /// Whether `a` is in the list.
    pub fn contains(&self, a: &IpAddr) -> bool {
        self.iter().any(|x| x == *a)
    }
}

impl<'a> From<&'a [IpAddr]> for VrrpAddrs<'a> {
    fn from(l: &'a [IpAddr]) -> Self {
        VrrpAddrs::from_list(l)
    }
}

impl PartialEq for VrrpAddrs<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for VrrpAddrs<'_> {}

impl<'a> IntoIterator for &VrrpAddrs<'a> {
    type Item = IpAddr;
    type IntoIter = VrrpAddrsIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the addresses of a [`VrrpAddrs`].
#[derive(Debug, Clone)]
pub struct VrrpAddrsIter<'a>(IterInner<'a>);

#[derive(Debug, Clone)]
enum IterInner<'a> {
    Wire {
        family: Family,
        chunks: core::slice::ChunksExact<'a, u8>,
    },
    List(core::slice::Iter<'a, IpAddr>),
}

impl Iterator for VrrpAddrsIter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        match &mut self.0 {
            IterInner::Wire { family, chunks } => {
                let c = chunks.next()?;
                Some(match family {
                    Family::Ipv4 => Ipv4Addr::from(arr4(c, 0)).into(),
                    Family::Ipv6 => Ipv6Addr::from(arr16(c, 0)).into(),
                })
            }
            IterInner::List(it) => it.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterInner::Wire { chunks, .. } => chunks.size_hint(),
            IterInner::List(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for VrrpAddrsIter<'_> {}

/// The fields of a VRRP advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpRepr<'a> {
    /// v2 or v3.
    pub version: Version,
    /// Virtual router ID.
    pub vrid: u8,
    /// Priority (0: the master stops; 255: the address owner).
    pub priority: u8,
    /// Advert interval in centiseconds: v2's seconds × 100, v3's Max Adver Int.
    pub adver_int_cs: u16,
    /// v2 authentication; always [`VrrpAuth::None`] for v3.
    pub auth: VrrpAuth,
    /// The virtual addresses.
    pub addrs: VrrpAddrs<'a>,
}

impl<'a> VrrpRepr<'a> {
    /// Reads and validates a whole advertisement received from `src` to `dst` (the IP
    /// header's addresses), in this order:
    ///
    /// * `src` and `dst` of one family, and v2 only over IPv4 (else `Malformed`);
    /// * type 1 (else `Malformed`);
    /// * exactly the length that `count`, the version and the family give: header,
    ///   addresses, v2's 8 auth bytes (`Truncated` if shorter, `Malformed` if longer);
    /// * the checksum: v2 over the message, v3 with the pseudo header (else `Malformed`).
    ///
    /// A caller that counts drops by reason checks [`VrrpPacket::version`],
    /// [`VrrpPacket::kind`] and [`VrrpPacket::verify_checksum`] itself first. The v3
    /// reserved bits and v2's data for auth types other than PASS are ignored.
    pub fn parse(p: &VrrpPacket<&'a [u8]>, src: &IpAddr, dst: &IpAddr) -> Result<Self> {
        p.check_len()?;
        let family = Family::of_pair(src, dst)?;
        let version = Version::from_number(p.version()).ok_or(Error::Malformed)?;
        if version == Version::V2 && family != Family::Ipv4 {
            return Err(Error::Malformed);
        }
        if p.kind() != TYPE_ADVERTISEMENT {
            return Err(Error::Malformed);
        }
        let want = p.message_len(family);
        let b: &'a [u8] = p.buffer;
        if b.len() < want {
            return Err(Error::Truncated);
        }
        if b.len() > want {
            return Err(Error::Malformed);
        }
        if !p.verify_checksum(src, dst) {
            return Err(Error::Malformed);
        }
        let addrs = VrrpAddrs::from_wire(family, &b[p.addrs_range(family)])?;
        let (adver_int_cs, auth) = match version {
            Version::V2 => {
                let auth = match p.auth_type() {
                    AUTH_NONE => VrrpAuth::None,
                    AUTH_PASS => {
                        let mut d = [0u8; AUTH_DATA_LEN];
                        d.copy_from_slice(&b[p.auth_range()]);
                        VrrpAuth::Pass(d)
                    }
                    t => VrrpAuth::Other(t),
                };
                (u16::from(p.adver_int()) * 100, auth)
            }
            Version::V3 => (p.max_adver_int(), VrrpAuth::None),
        };
        Ok(VrrpRepr {
            version,
            vrid: p.vrid(),
            priority: p.priority(),
            adver_int_cs,
            auth,
            addrs,
        })
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        let auth = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + self.addrs.wire_len() + auth
    }

    /// Writes the message from `src` to `dst` at the start of `buf`, checksum filled,
    /// and returns its length. `Malformed` when the repr cannot be sent as is: `src` and
    /// `dst` or an address of another family, v2 over IPv6, more than 255 addresses, a v2
    /// interval that is not whole seconds up to 255, a v3 interval over 4095 cs, or
    /// authentication with v3. `Truncated` when `buf` is shorter than
    /// [`Self::buffer_len`].
    pub fn emit(&self, buf: &mut [u8], src: &IpAddr, dst: &IpAddr) -> Result<usize> {
        // Everything is checked before the first byte is written.
        let family = Family::of_pair(src, dst)?;
        if self.addrs.iter().any(|a| Family::of(&a) != family) {
            return Err(Error::Malformed);
        }
        let count = u8::try_from(self.addrs.len()).map_err(|_| Error::Malformed)?;
        let interval = match self.version {
            Version::V2 => {
                if family != Family::Ipv4 || !self.adver_int_cs.is_multiple_of(100) {
                    return Err(Error::Malformed);
                }
                let secs = u8::try_from(self.adver_int_cs / 100).map_err(|_| Error::Malformed)?;
                u16::from_be_bytes([self.auth.auth_type(), secs])
            }
            Version::V3 => {
                if self.auth != VrrpAuth::None || self.adver_int_cs > MAX_ADVER_INT_CS {
                    return Err(Error::Malformed);
                }
                self.adver_int_cs
            }
        };
        let len = self.buffer_len();
        let b = buf.get_mut(..len).ok_or(Error::Truncated)?;
        let mut p = VrrpPacket::new_unchecked(b);
        // v2's auth type and seconds, or v3's reserved bits (zero) and centiseconds.
        wr16(p.buffer, field::AUTH_TYPE, interval);
        p.buffer[field::VER_TYPE] = (self.version.number() << 4) | TYPE_ADVERTISEMENT;
        p.set_vrid(self.vrid);
        p.set_priority(self.priority);
        p.set_count(count);
        let out = p.addrs_bytes_mut(family);
        for (a, chunk) in self
            .addrs
            .iter()
            .zip(out.chunks_exact_mut(family.addr_len()))
        {
            match a {
                IpAddr::V4(a) => chunk.copy_from_slice(&a.octets()),
                IpAddr::V6(a) => chunk.copy_from_slice(&a.octets()),
            }
        }
        let data = match self.auth {
            VrrpAuth::Pass(d) => d,
            VrrpAuth::None | VrrpAuth::Other(_) => [0; AUTH_DATA_LEN],
        };
        // 8 bytes for v2 (the buffer is exactly the message), none for v3.
        let out = p.auth_data_mut();
        let n = out.len();
        out.copy_from_slice(&data[..n]);
        p.fill_checksum(src, dst)?;
        Ok(len)
    }
}

/// The body of the `vrrp` fuzz target (`fuzz/fuzz_targets/vrrp.rs`), shared with the
/// corpus replay in `tests/fuzz_vrrp.rs` so plain `cargo test` runs every kept input.
/// Public only for those two.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// The first byte picks the IP header around the message (bit 0: IPv6; bit 1: a
    /// unicast destination; bit 2: repair the checksum; bit 3: force version/type to a
    /// valid advert's, bit 4 choosing v3), so inputs reach past the cheap checks. The rest
    /// is the message. Every accessor runs; what parses must re-emit to the canonical
    /// form of the input and parse back the same. Returns whether it parsed.
    pub fn vrrp(data: &[u8]) -> bool {
        let Some((&sel, rest)) = data.split_first() else {
            return false;
        };
        let (src, dst): (IpAddr, IpAddr) = match (sel & 1 != 0, sel & 2 != 0) {
            (false, false) => (Ipv4Addr::new(10, 0, 0, 1).into(), MCAST_V4.into()),
            (false, true) => (
                Ipv4Addr::new(10, 0, 0, 1).into(),
                Ipv4Addr::new(10, 0, 0, 2).into(),
            ),
            (true, false) => (
                Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).into(),
                MCAST_V6.into(),
            ),
            (true, true) => (
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(),
            ),
        };
        let family = Family::of(&src);
        let mut msg = rest.to_vec();
        if sel & 8 != 0 {
            if let Some(b) = msg.first_mut() {
                *b = if sel & 16 != 0 { 0x31 } else { 0x21 };
            }
        }
        if let Ok(mut p) = VrrpPacket::new_checked(&mut msg[..]) {
            if sel & 4 != 0 {
                p.fill_checksum(&src, &dst).expect("one family");
            }
            // Setters on a checked buffer of any length.
            let mut copy = p.into_inner().to_vec();
            let mut q = VrrpPacket::new_unchecked(&mut copy[..]);
            q.set_max_adver_int(q.max_adver_int());
            q.set_rsvd(q.rsvd());
            q.set_count(q.count());
            let n = q.addrs_bytes_mut(family).len();
            assert!(n <= usize::from(q.count()) * family.addr_len());
            assert!(q.auth_data_mut().len() <= AUTH_DATA_LEN);
        }
        let Ok(p) = VrrpPacket::new_checked(&msg[..]) else {
            return false;
        };
        let _ = (p.version(), p.kind(), p.vrid(), p.priority(), p.count());
        let _ = (
            p.auth_type(),
            p.adver_int(),
            p.rsvd(),
            p.max_adver_int(),
            p.checksum(),
        );
        assert!(p.message(family).len() <= p.message_len(family));
        let _ = (p.addrs_bytes(family), p.auth_data());
        let sum_ok = p.verify_checksum(&src, &dst);
        let Ok(r) = VrrpRepr::parse(&p, &src, &dst) else {
            return false;
        };
        assert!(sum_ok && p.kind() == TYPE_ADVERTISEMENT);
        assert_eq!(r.addrs.len(), usize::from(p.count()));
        assert_eq!(r.addrs.family(), Some(family));
        assert_eq!(r.buffer_len(), msg.len());
        let mut out = vec![0u8; msg.len()];
        assert_eq!(r.emit(&mut out, &src, &dst), Ok(msg.len()));
        // The canonical form: v3's reserved bits zero, v2's data zero unless PASS.
        let mut canon = msg.clone();
        let mut c = VrrpPacket::new_unchecked(&mut canon[..]);
        match r.version {
            Version::V3 => c.set_rsvd(0),
            Version::V2 if r.auth.auth_type() != AUTH_PASS => c.auth_data_mut().fill(0),
            Version::V2 => {}
        }
        c.fill_checksum(&src, &dst).expect("one family");
        assert_eq!(out, canon);
        let again = VrrpRepr::parse(
            &VrrpPacket::new_checked(&out[..]).expect("emitted"),
            &src,
            &dst,
        );
        assert_eq!(again, Ok(r));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipv4::Ipv4Packet;
    use crate::ipv6::Ipv6Packet;
    use proptest::prelude::*;

    // Adverts captured from keepalived 2.2.7 (two instances in a namespace pair, veth,
    // tcpdump -w), IP header included. v2: VRID 51, priority 150, advert_int 1, PASS
    // "1111", VIPs 10.213.0.100 and .101.
    const KA_V2_PASS: [u8; 44] = [
        0x45, 0xc0, 0x00, 0x2c, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xcf, 0xb8, 0x0a, 0xd5, 0x00,
        0x01, 0xe0, 0x00, 0x00, 0x12, 0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0xce, 0xf3, 0x0a, 0xd5,
        0x00, 0x64, 0x0a, 0xd5, 0x00, 0x65, 0x31, 0x31, 0x31, 0x31, 0x00, 0x00, 0x00, 0x00,
    ];
    // The same instance stopping: priority 0.
    const KA_V2_PASS_STOP: [u8; 44] = [
        0x45, 0xc0, 0x00, 0x2c, 0x00, 0x04, 0x00, 0x00, 0xff, 0x70, 0xcf, 0xb5, 0x0a, 0xd5, 0x00,
        0x01, 0xe0, 0x00, 0x00, 0x12, 0x21, 0x33, 0x00, 0x02, 0x01, 0x01, 0x64, 0xf4, 0x0a, 0xd5,
        0x00, 0x64, 0x0a, 0xd5, 0x00, 0x65, 0x31, 0x31, 0x31, 0x31, 0x00, 0x00, 0x00, 0x00,
    ];
    // v3 over IPv4: VRID 52, priority 150, advert_int 0.5 (50 cs), VIPs 10.213.0.110, .111.
    const KA_V3_V4: [u8; 36] = [
        0x45, 0xc0, 0x00, 0x24, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xcf, 0xc0, 0x0a, 0xd5, 0x00,
        0x01, 0xe0, 0x00, 0x00, 0x12, 0x31, 0x34, 0x96, 0x02, 0x00, 0x32, 0x36, 0xa7, 0x0a, 0xd5,
        0x00, 0x6e, 0x0a, 0xd5, 0x00, 0x6f,
    ];
    // v3 over IPv6 from fe80::ff:fe00:2101: VRID 53, priority 150, advert_int 0.2 (20 cs),
    // VIPs fd00:213::100 and ::101.
    const KA_V3_V6: [u8; 80] = [
        0x6c, 0x0b, 0xff, 0xa3, 0x00, 0x28, 0x70, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x21, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x31, 0x35, 0x96, 0x02, 0x00,
        0x14, 0x1a, 0x5c, 0xfd, 0x00, 0x02, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0xfd, 0x00, 0x02, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x01, 0x01,
    ];

    /// The VRRP message and IP addresses inside a captured IP packet.
    fn split(ip: &[u8]) -> (IpAddr, IpAddr, Vec<u8>) {
        if ip[0] >> 4 == 4 {
            let p = Ipv4Packet::new_checked(ip).unwrap();
            assert_eq!((p.ttl(), p.protocol()), (TTL, ip_proto::VRRP));
            assert!(p.verify_checksum());
            (
                p.src_addr().into(),
                p.dst_addr().into(),
                p.payload().to_vec(),
            )
        } else {
            let p = Ipv6Packet::new_checked(ip).unwrap();
            assert_eq!((p.hop_limit(), p.next_header()), (TTL, ip_proto::VRRP));
            (
                p.src_addr().into(),
                p.dst_addr().into(),
                p.payload().to_vec(),
            )
        }
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        Ipv4Addr::new(a, b, c, d).into()
    }

    fn v6(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Parses a capture, checks the fields, and re-emits it byte for byte.
    fn roundtrip(ip: &[u8], want: VrrpRepr<'_>) {
        let (src, dst, msg) = split(ip);
        let p = VrrpPacket::new_checked(&msg[..]).unwrap();
        assert!(p.verify_checksum(&src, &dst));
        let r = VrrpRepr::parse(&p, &src, &dst).unwrap();
        assert_eq!(r, want);
        assert_eq!(r.buffer_len(), msg.len());
        let mut out = vec![0xeeu8; msg.len()];
        assert_eq!(r.emit(&mut out, &src, &dst), Ok(msg.len()));
        assert_eq!(out, msg);
        // The same from a slice of addresses instead of the borrowed wire bytes.
        let list: Vec<IpAddr> = r.addrs.iter().collect();
        let r2 = VrrpRepr {
            addrs: VrrpAddrs::from_list(&list),
            ..r
        };
        assert_eq!(r2, r);
        out.fill(0xee);
        assert_eq!(r2.emit(&mut out, &src, &dst), Ok(msg.len()));
        assert_eq!(out, msg);
    }

    #[test]
    fn keepalived_v2_pass() {
        let addrs = [v4(10, 213, 0, 100), v4(10, 213, 0, 101)];
        let want = VrrpRepr {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            adver_int_cs: 100,
            auth: VrrpAuth::pass(b"1111"),
            addrs: VrrpAddrs::from_list(&addrs),
        };
        roundtrip(&KA_V2_PASS, want);
        roundtrip(
            &KA_V2_PASS_STOP,
            VrrpRepr {
                priority: 0,
                ..want
            },
        );
    }

    #[test]
    fn keepalived_v3_ipv4() {
        let addrs = [v4(10, 213, 0, 110), v4(10, 213, 0, 111)];
        roundtrip(
            &KA_V3_V4,
            VrrpRepr {
                version: Version::V3,
                vrid: 52,
                priority: 150,
                adver_int_cs: 50,
                auth: VrrpAuth::None,
                addrs: VrrpAddrs::from_list(&addrs),
            },
        );
    }

    #[test]
    fn keepalived_v3_ipv6() {
        let addrs = [v6("fd00:213::100"), v6("fd00:213::101")];
        roundtrip(
            &KA_V3_V6,
            VrrpRepr {
                version: Version::V3,
                vrid: 53,
                priority: 150,
                adver_int_cs: 20,
                auth: VrrpAuth::None,
                addrs: VrrpAddrs::from_list(&addrs),
            },
        );
    }

    #[test]
    fn deconstruct() {
        let (src, dst, msg) = split(&KA_V2_PASS);
        let p = VrrpPacket::new_checked(&msg[..]).unwrap();
        assert_eq!(p.version(), 2);
        assert_eq!(p.kind(), TYPE_ADVERTISEMENT);
        assert_eq!(p.vrid(), 51);
        assert_eq!(p.priority(), 150);
        assert_eq!(p.count(), 2);
        assert_eq!(p.auth_type(), AUTH_PASS);
        assert_eq!(p.adver_int(), 1);
        assert_eq!(p.checksum(), 0xcef3);
        assert_eq!(p.message_len(Family::Ipv4), 24);
        assert_eq!(
            p.addrs_bytes(Family::Ipv4),
            &[10, 213, 0, 100, 10, 213, 0, 101]
        );
        assert_eq!(p.auth_data(), b"1111\0\0\0\0");
        assert_eq!(dst, IpAddr::from(MCAST_V4));
        assert!(p.verify_checksum(&src, &dst));
        // v2's checksum does not cover the IP addresses.
        assert!(p.verify_checksum(&v4(10, 9, 9, 9), &dst));

        let (src, dst, msg) = split(&KA_V3_V6);
        let p = VrrpPacket::new_checked(&msg[..]).unwrap();
        assert_eq!((p.version(), p.kind(), p.vrid(), p.count()), (3, 1, 53, 2));
        assert_eq!((p.rsvd(), p.max_adver_int()), (0, 20));
        assert_eq!(p.message_len(Family::Ipv6), 40);
        assert!(p.auth_data().is_empty());
        assert_eq!(dst, IpAddr::from(MCAST_V6));
        assert!(p.verify_checksum(&src, &dst));
        // v3's does (the pseudo header).
        assert!(!p.verify_checksum(&v6("fe80::1"), &dst));
        assert!(!p.verify_checksum(&v4(10, 0, 0, 1), &dst));
    }

    #[test]
    fn construct_with_setters() {
        let (src, dst, msg) = split(&KA_V3_V4);
        let mut buf = vec![0u8; msg.len()];
        let mut p = VrrpPacket::new_unchecked(&mut buf[..]);
        p.set_version(3);
        p.set_kind(TYPE_ADVERTISEMENT);
        p.set_vrid(52);
        p.set_priority(150);
        p.set_count(2);
        p.set_rsvd(0xf);
        p.set_max_adver_int(0xf032);
        assert_eq!((p.rsvd(), p.max_adver_int()), (0xf, 0x032));
        p.set_rsvd(0);
        p.addrs_bytes_mut(Family::Ipv4)
            .copy_from_slice(&[10, 213, 0, 110, 10, 213, 0, 111]);
        assert!(p.auth_data_mut().is_empty());
        p.fill_checksum(&src, &dst).unwrap();
        assert_eq!(buf, msg);
        let mut p = VrrpPacket::new_unchecked(&mut buf[..]);
        assert_eq!(
            p.fill_checksum(&src, &v6("ff02::12")),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn rejects() {
        let (src, dst, msg) = split(&KA_V2_PASS);
        let parse = |m: &[u8], s: &IpAddr, d: &IpAddr| {
            VrrpPacket::new_checked(m).and_then(|p| VrrpRepr::parse(&p, s, d).map(|_| ()))
        };
        assert_eq!(parse(&msg, &src, &dst), Ok(()));
        for n in 0..HEADER_LEN {
            assert_eq!(parse(&msg[..n], &src, &dst), Err(Error::Truncated));
        }
        for n in HEADER_LEN..msg.len() {
            assert_eq!(parse(&msg[..n], &src, &dst), Err(Error::Truncated), "{n}");
        }
        let mut long = msg.clone();
        long.extend_from_slice(&[0, 0]);
        assert_eq!(parse(&long, &src, &dst), Err(Error::Malformed));
        let bad = |at: usize, v: u8| {
            let mut m = msg.clone();
            m[at] = v;
            parse(&m, &src, &dst)
        };
        assert_eq!(bad(0, 0x11), Err(Error::Malformed)); // version 1
        assert_eq!(bad(0, 0x41), Err(Error::Malformed)); // version 4
        assert_eq!(bad(0, 0x22), Err(Error::Malformed)); // type 2
        assert_eq!(bad(3, 3), Err(Error::Truncated)); // count says 3
        assert_eq!(bad(3, 1), Err(Error::Malformed)); // count says 1
        assert_eq!(bad(7, 0), Err(Error::Malformed)); // checksum
        assert_eq!(bad(16, b'2'), Err(Error::Malformed)); // password, under the checksum
                                                          // v2 over IPv6, and mixed families.
        let s6 = v6("fe80::1");
        let d6 = IpAddr::from(MCAST_V6);
        assert_eq!(parse(&msg, &s6, &d6), Err(Error::Malformed));
        assert_eq!(parse(&msg, &src, &d6), Err(Error::Malformed));
        // A v3 message read with the wrong family's address length.
        let (s3, d3, m3) = split(&KA_V3_V4);
        assert_eq!(parse(&m3, &s6, &d6), Err(Error::Truncated));
        assert_eq!(parse(&m3, &s3, &d3), Ok(()));
    }

    #[test]
    fn v3_reserved_bits_are_ignored_and_v2_other_auth_kept_as_type() {
        let (src, dst, mut msg) = split(&KA_V3_V4);
        let mut p = VrrpPacket::new_checked(&mut msg[..]).unwrap();
        p.set_rsvd(0x5);
        p.fill_checksum(&src, &dst).unwrap();
        let p = VrrpPacket::new_checked(&msg[..]).unwrap();
        let r = VrrpRepr::parse(&p, &src, &dst).unwrap();
        assert_eq!(r.adver_int_cs, 50);

        let (src, dst, mut msg) = split(&KA_V2_PASS);
        let mut p = VrrpPacket::new_checked(&mut msg[..]).unwrap();
        p.set_auth_type(AUTH_AH);
        p.fill_checksum(&src, &dst).unwrap();
        let p = VrrpPacket::new_checked(&msg[..]).unwrap();
        let r = VrrpRepr::parse(&p, &src, &dst).unwrap();
        assert_eq!(r.auth, VrrpAuth::Other(AUTH_AH));
        assert_eq!(r.auth.auth_type(), AUTH_AH);
    }

    #[test]
    fn emit_rejects() {
        let a4 = [v4(10, 0, 0, 1)];
        let a6 = [v6("fd00::1")];
        let mixed = [v4(10, 0, 0, 1), v6("fd00::1")];
        let s4 = v4(10, 0, 0, 2);
        let d4 = IpAddr::from(MCAST_V4);
        let s6 = v6("fe80::2");
        let d6 = IpAddr::from(MCAST_V6);
        let base = VrrpRepr {
            version: Version::V3,
            vrid: 1,
            priority: 100,
            adver_int_cs: 100,
            auth: VrrpAuth::None,
            addrs: VrrpAddrs::from_list(&a4),
        };
        let mut buf = [0u8; 64];
        let emit = |r: VrrpRepr<'_>, s: &IpAddr, d: &IpAddr, buf: &mut [u8]| r.emit(buf, s, d);
        assert_eq!(emit(base, &s4, &d4, &mut buf), Ok(12));
        assert_eq!(emit(base, &s4, &d4, &mut buf[..11]), Err(Error::Truncated));
        assert_eq!(emit(base, &s6, &d6, &mut buf), Err(Error::Malformed));
        assert_eq!(emit(base, &s4, &d6, &mut buf), Err(Error::Malformed));
        let r6 = VrrpRepr {
            addrs: VrrpAddrs::from_list(&a6),
            ..base
        };
        assert_eq!(emit(r6, &s6, &d6, &mut buf), Ok(24));
        let rm = VrrpRepr {
            addrs: VrrpAddrs::from_list(&mixed),
            ..base
        };
        assert_eq!(emit(rm, &s4, &d4, &mut buf), Err(Error::Malformed));
        let big = VrrpRepr {
            adver_int_cs: 4096,
            ..base
        };
        assert_eq!(emit(big, &s4, &d4, &mut buf), Err(Error::Malformed));
        let auth3 = VrrpRepr {
            auth: VrrpAuth::pass(b"x"),
            ..base
        };
        assert_eq!(emit(auth3, &s4, &d4, &mut buf), Err(Error::Malformed));
        let v2 = VrrpRepr {
            version: Version::V2,
            ..base
        };
        assert_eq!(emit(v2, &s4, &d4, &mut buf), Ok(20));
        assert_eq!(emit(v2, &s6, &d6, &mut buf), Err(Error::Malformed));
        for cs in [150, 25600] {
            let r = VrrpRepr {
                adver_int_cs: cs,
                ..v2
            };
            assert_eq!(emit(r, &s4, &d4, &mut buf), Err(Error::Malformed), "{cs}");
        }
        let many = vec![v4(10, 0, 0, 1); 256];
        let r = VrrpRepr {
            addrs: VrrpAddrs::from_list(&many),
            ..base
        };
        assert_eq!(emit(r, &s4, &d4, &mut [0u8; 2048]), Err(Error::Malformed));
    }

    #[test]
    fn addrs() {
        assert_eq!(
            VrrpAddrs::from_wire(Family::Ipv6, &[0; 20]).unwrap_err(),
            Error::Malformed
        );
        let w = VrrpAddrs::from_wire(Family::Ipv4, &[10, 0, 0, 1, 10, 0, 0, 2]).unwrap();
        let l = [v4(10, 0, 0, 1), v4(10, 0, 0, 2)];
        let l = VrrpAddrs::from(&l[..]);
        assert_eq!(w, l);
        assert_eq!(
            (w.len(), w.wire_len(), w.family()),
            (2, 8, Some(Family::Ipv4))
        );
        assert!(w.contains(&v4(10, 0, 0, 2)) && !w.contains(&v4(10, 0, 0, 3)));
        assert_eq!(w.iter().len(), 2);
        assert_eq!((&w).into_iter().last(), Some(v4(10, 0, 0, 2)));
        assert_ne!(
            w,
            VrrpAddrs::from_list(&l.iter().take(1).collect::<Vec<_>>())
        );
        let e = VrrpAddrs::from_list(&[]);
        assert!(e.is_empty() && e.family().is_none());
        assert_eq!(e, VrrpAddrs::from_wire(Family::Ipv6, &[]).unwrap());
        assert_eq!(
            VrrpAuth::pass(b"longer than eight"),
            VrrpAuth::pass(b"longer t")
        );
        assert_eq!(VrrpAuth::default().auth_type(), AUTH_NONE);
    }

    #[test]
    fn accessors_cut_at_buffer_end() {
        // count 255 in a minimal buffer: the slices end at the buffer, nothing panics.
        let mut m = [0x21, 1, 100, 255, 1, 1, 0, 0];
        let p = VrrpPacket::new_checked(&m[..]).unwrap();
        assert!(p.addrs_bytes(Family::Ipv6).is_empty());
        assert!(p.auth_data().is_empty());
        assert_eq!(p.message(Family::Ipv4), &m[..]);
        let mut p = VrrpPacket::new_checked(&mut m[..]).unwrap();
        assert!(p.addrs_bytes_mut(Family::Ipv4).is_empty());
        assert!(p.auth_data_mut().is_empty());
    }

    fn arb_repr() -> impl Strategy<Value = (Version, u8, u8, u16, VrrpAuth, bool, Vec<IpAddr>)> {
        (any::<bool>(), any::<bool>()).prop_flat_map(|(is_v2, is_v6)| {
            let is_v6 = is_v6 && !is_v2;
            let addr = if is_v6 {
                any::<[u8; 16]>()
                    .prop_map(|o| IpAddr::from(Ipv6Addr::from(o)))
                    .boxed()
            } else {
                any::<[u8; 4]>()
                    .prop_map(|o| IpAddr::from(Ipv4Addr::from(o)))
                    .boxed()
            };
            let (version, int, auth) = if is_v2 {
                (
                    Just(Version::V2),
                    (0u16..=255).prop_map(|s| s * 100).boxed(),
                    prop_oneof![
                        Just(VrrpAuth::None),
                        any::<[u8; 8]>().prop_map(VrrpAuth::Pass),
                        (2u8..).prop_map(VrrpAuth::Other),
                    ]
                    .boxed(),
                )
            } else {
                (
                    Just(Version::V3),
                    (0u16..=MAX_ADVER_INT_CS).boxed(),
                    Just(VrrpAuth::None).boxed(),
                )
            };
            (
                version,
                any::<u8>(),
                any::<u8>(),
                int,
                auth,
                Just(is_v6),
                proptest::collection::vec(addr, 0..20),
            )
        })
    }

    proptest! {
        #[test]
        fn emit_parse_roundtrip(
            (version, vrid, priority, adver_int_cs, auth, is_v6, list) in arb_repr(),
            src_tail in any::<u8>(),
        ) {
            let (src, dst) = if is_v6 {
                (v6(&format!("fe80::{src_tail:x}")), IpAddr::from(MCAST_V6))
            } else {
                (v4(10, 0, 0, src_tail), IpAddr::from(MCAST_V4))
            };
            let r = VrrpRepr {
                version, vrid, priority, adver_int_cs, auth,
                addrs: VrrpAddrs::from_list(&list),
            };
            let mut buf = vec![0u8; r.buffer_len()];
            prop_assert_eq!(r.emit(&mut buf, &src, &dst), Ok(buf.len()));
            let p = VrrpPacket::new_checked(&buf[..]).unwrap();
            prop_assert!(p.verify_checksum(&src, &dst));
            let back = VrrpRepr::parse(&p, &src, &dst).unwrap();
            prop_assert_eq!(back, r);
        }

        #[test]
        fn parse_never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..120),
            is_v6 in any::<bool>(),
            fix in any::<bool>(),
        ) {
            let (src, dst) = if is_v6 {
                (v6("fe80::1"), IpAddr::from(MCAST_V6))
            } else {
                (v4(10, 0, 0, 1), IpAddr::from(MCAST_V4))
            };
            let mut data = data;
            if fix {
                // Get past the version and checksum checks now and then.
                if let Some(b) = data.first_mut() {
                    *b = (*b & 0x1f) | 0x20;
                }
                if let Ok(mut p) = VrrpPacket::new_checked(&mut data[..]) {
                    p.fill_checksum(&src, &dst).unwrap();
                }
            }
            if let Ok(p) = VrrpPacket::new_checked(&data[..]) {
                let f = Family::of(&src);
                let _ = (p.version(), p.kind(), p.vrid(), p.priority(), p.count());
                let _ = (p.auth_type(), p.adver_int(), p.rsvd(), p.max_adver_int());
                let _ = (p.addrs_bytes(f), p.auth_data(), p.message(f), p.checksum());
                let _ = p.verify_checksum(&src, &dst);
                if let Ok(r) = VrrpRepr::parse(&p, &src, &dst) {
                    // Whatever parses re-emits to the same message, but for the data of
                    // auth types other than PASS and the v3 reserved bits.
                    let mut out = vec![0u8; r.buffer_len()];
                    prop_assert_eq!(r.emit(&mut out, &src, &dst), Ok(data.len()));
                    let again = VrrpRepr::parse(
                        &VrrpPacket::new_checked(&out[..]).unwrap(), &src, &dst).unwrap();
                    prop_assert_eq!(again, r);
                }
            }
        }
    }
}
