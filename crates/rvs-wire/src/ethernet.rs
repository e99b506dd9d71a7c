//! Ethernet II frames with at most one IEEE 802.1Q tag.
//!
//! A second tag (QinQ, or an 802.1ad outer tag) is not looked through: the frame then
//! reports the tag's TPID as its ethertype, which no IP path accepts, so stacked VLANs
//! are passed on untouched instead of being load balanced with the wrong key.

use core::fmt;
use core::str::FromStr;

use crate::{rd16, wr16, Error, Result};

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// `00:00:00:00:00:00`, as ARP requests carry for the unknown target.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Reads an address from the first 6 bytes of `b`; `None` if it is shorter.
    #[inline]
    pub fn from_bytes(b: &[u8]) -> Option<MacAddr> {
        let b: &[u8; 6] = b.get(..6)?.try_into().ok()?;
        Some(MacAddr(*b))
    }

    /// The address bytes.
    #[inline]
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// The I/G bit: group (multicast or broadcast) rather than individual.
    #[inline]
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// `ff:ff:ff:ff:ff:ff`.
    #[inline]
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// An individual address other than all-zeros.
    #[inline]
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = Error;

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-` separators), as `ip link` prints it.
    fn from_str(s: &str) -> Result<Self> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in &mut out {
            let p = parts.next().ok_or(Error::Malformed)?;
            if p.is_empty() || p.len() > 2 {
                return Err(Error::Malformed);
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| Error::Malformed)?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed);
        }
        Ok(MacAddr(out))
    }
}

/// Ethertype values rvs looks at.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IEEE 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88a8;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
}

/// The VLAN id (low 12 bits) of an 802.1Q tag control field.
#[inline]
pub const fn vid(tci: u16) -> u16 {
    tci & 0x0fff
}

mod field {
    use crate::field::Field;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const TCI: usize = 14;
    pub const INNER_ETHERTYPE: usize = 16;
    pub const HEADER_LEN: usize = 14;
    pub const TAGGED_LEN: usize = 18;
}

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = field::HEADER_LEN;
/// Length of an Ethernet header with one 802.1Q tag.
pub const TAGGED_HEADER_LEN: usize = field::TAGGED_LEN;

/// A view of an Ethernet frame (without FCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without checking it; accessors may panic on short buffers.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` after checking that the header (and tag, if any) is present.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks that every accessor is in bounds.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < field::HEADER_LEN {
            return Err(Error::Truncated);
        }
        if rd16(b, field::ETHERTYPE) == ethertype::VLAN && b.len() < field::TAGGED_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> MacAddr {
        let b = self.buffer.as_ref();
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> MacAddr {
        let b = self.buffer.as_ref();
        MacAddr([b[6], b[7], b[8], b[9], b[10], b[11]])
    }

    #[inline]
    fn is_tagged(&self) -> bool {
        rd16(self.buffer.as_ref(), field::ETHERTYPE) == ethertype::VLAN
    }

    /// The whole tag control information (PCP, DEI, VID) of the 802.1Q tag; see [`vid`].
    #[inline]
    pub fn vlan_tci(&self) -> Option<u16> {
        self.is_tagged()
            .then(|| rd16(self.buffer.as_ref(), field::TCI))
    }

    /// The ethertype after the 802.1Q tag, if any. A second tag yields [`ethertype::VLAN`].
    #[inline]
    pub fn ethertype(&self) -> u16 {
        let at = if self.is_tagged() {
            field::INNER_ETHERTYPE
        } else {
            field::ETHERTYPE
        };
        rd16(self.buffer.as_ref(), at)
    }

    /// 14, or 18 with an 802.1Q tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.is_tagged() {
            field::TAGGED_LEN
        } else {
            field::HEADER_LEN
        }
    }

    /// The bytes after the header (including any Ethernet padding).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.0);
    }

    /// Sets the source MAC address.
    #[inline]
    pub fn set_src_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.0);
    }

    /// Sets the ethertype after the tag, if any (the one [`Self::ethertype`] returns).
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        let at = if self.is_tagged() {
            field::INNER_ETHERTYPE
        } else {
            field::ETHERTYPE
        };
        wr16(self.buffer.as_mut(), at, t);
    }

    /// The bytes after the header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

/// An Ethernet header, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Source MAC address.
    pub src: MacAddr,
    /// Destination MAC address.
    pub dst: MacAddr,
    /// 802.1Q tag control information, if tagged.
    pub vlan: Option<u16>,
    /// The ethertype of the payload.
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<Self> {
        Ok(EthernetRepr {
            src: frame.src_addr(),
            dst: frame.dst_addr(),
            vlan: frame.vlan_tci(),
            ethertype: frame.ethertype(),
        })
    }

    /// 14, or 18 with a tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.vlan.is_some() {
            field::TAGGED_LEN
        } else {
            field::HEADER_LEN
        }
    }

    /// Writes the header at the start of `buf` and returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let hl = self.header_len();
        let b = buf.get_mut(..hl).ok_or(Error::Truncated)?;
        b[field::DST].copy_from_slice(&self.dst.0);
        b[field::SRC].copy_from_slice(&self.src.0);
        match self.vlan {
            Some(tci) => {
                wr16(b, field::ETHERTYPE, ethertype::VLAN);
                wr16(b, field::TCI, tci);
                wr16(b, field::INNER_ETHERTYPE, self.ethertype);
            }
            None => wr16(b, field::ETHERTYPE, self.ethertype),
        }
        Ok(hl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An untagged IPv4 frame header followed by two payload bytes.
    const UNTAGGED: [u8; 16] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00, 0x45,
        0x00,
    ];
    // The same, tagged with VID 100 and PCP 1.
    const TAGGED: [u8; 20] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x81, 0x00, 0x20,
        0x64, 0x08, 0x00, 0x45, 0x00,
    ];
    const M1: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    const M2: MacAddr = MacAddr([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);

    #[test]
    fn deconstruct_untagged() {
        let f = EthernetFrame::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(f.dst_addr(), M1);
        assert_eq!(f.src_addr(), M2);
        assert_eq!(f.vlan_tci(), None);
        assert_eq!(f.ethertype(), ethertype::IPV4);
        assert_eq!(f.header_len(), 14);
        assert_eq!(f.payload(), &[0x45, 0x00]);
    }

    #[test]
    fn deconstruct_tagged() {
        let f = EthernetFrame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(f.vlan_tci(), Some(0x2064));
        assert_eq!(vid(f.vlan_tci().unwrap()), 100);
        assert_eq!(f.ethertype(), ethertype::IPV4);
        assert_eq!(f.header_len(), 18);
        assert_eq!(f.payload(), &[0x45, 0x00]);
    }

    #[test]
    fn construct() {
        let mut buf = [0u8; 20];
        let r = EthernetRepr {
            src: M2,
            dst: M1,
            vlan: Some(0x2064),
            ethertype: ethertype::IPV4,
        };
        assert_eq!(r.emit(&mut buf).unwrap(), 18);
        buf[18..].copy_from_slice(&[0x45, 0x00]);
        assert_eq!(buf, TAGGED);
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&f).unwrap(), r);

        let mut buf = [0u8; 16];
        let r = EthernetRepr { vlan: None, ..r };
        assert_eq!(r.emit(&mut buf).unwrap(), 14);
        buf[14..].copy_from_slice(&[0x45, 0x00]);
        assert_eq!(buf, UNTAGGED);
        assert_eq!(r.emit(&mut [0u8; 13]), Err(Error::Truncated));
    }

    #[test]
    fn setters() {
        let mut buf = TAGGED;
        let mut f = EthernetFrame::new_checked(&mut buf[..]).unwrap();
        f.set_dst_addr(M2);
        f.set_src_addr(M1);
        f.set_ethertype(ethertype::IPV6);
        f.payload_mut()[0] = 0x60;
        assert_eq!(f.dst_addr(), M2);
        assert_eq!(f.src_addr(), M1);
        assert_eq!(f.ethertype(), ethertype::IPV6);
        assert_eq!(f.vlan_tci(), Some(0x2064));
        assert_eq!(buf[18], 0x60);
    }

    #[test]
    fn qinq_is_not_ip() {
        let mut buf = [0u8; 22];
        buf[..16].copy_from_slice(&TAGGED[..16]);
        buf[16..18].copy_from_slice(&ethertype::VLAN.to_be_bytes());
        buf[18..20].copy_from_slice(&[0x00, 0x0a]);
        buf[20..22].copy_from_slice(&ethertype::IPV4.to_be_bytes());
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(f.ethertype(), ethertype::VLAN);
        assert_eq!(f.header_len(), 18);
        buf[12..14].copy_from_slice(&ethertype::QINQ.to_be_bytes());
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(f.ethertype(), ethertype::QINQ);
        assert_eq!(f.vlan_tci(), None);
    }

    #[test]
    fn truncated() {
        for n in 0..14 {
            assert_eq!(
                EthernetFrame::new_checked(&UNTAGGED[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        for n in 14..18 {
            assert_eq!(
                EthernetFrame::new_checked(&TAGGED[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        assert!(EthernetFrame::new_checked(&TAGGED[..18]).is_ok());
    }

    #[test]
    fn mac_addr() {
        assert_eq!(M1.to_string(), "52:54:00:12:34:56");
        assert_eq!(format!("{:?}", M2), "52:54:00:ab:cd:ef");
        assert_eq!("52:54:00:AB:cd:ef".parse::<MacAddr>().unwrap(), M2);
        assert_eq!("52-54-00-12-34-56".parse::<MacAddr>().unwrap(), M1);
        for bad in [
            "",
            "52:54:00:12:34",
            "52:54:00:12:34:56:78",
            "52:54:00:12:34:5g",
            "052:54:00:12:34:56",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(Error::Malformed), "{bad}");
        }
        assert!(MacAddr::BROADCAST.is_multicast() && MacAddr::BROADCAST.is_broadcast());
        assert!(MacAddr([0x01, 0, 0x5e, 0, 0, 1]).is_multicast());
        assert!(M1.is_unicast() && !MacAddr::ZERO.is_unicast());
        assert_eq!(MacAddr::from_bytes(&UNTAGGED), Some(M1));
        assert_eq!(MacAddr::from_bytes(&UNTAGGED[..5]), None);
    }
}
