//! ARP (RFC 826) for Ethernet and IPv4, the only combination a director answers.
//!
//! The director replies for its virtual addresses and resolves real servers' MACs; any
//! other hardware or protocol type is `Malformed`, so callers never see a view whose
//! address fields are at the wrong offsets.

use core::net::Ipv4Addr;

use crate::ethernet::MacAddr;
use crate::{arr4, rd16, wr16, Error, Result};

/// Length of an Ethernet/IPv4 ARP packet.
pub const LEN: usize = 28;

/// ARP operation codes.
pub mod op {
    /// Who has `target_ip`?
    pub const REQUEST: u16 = 1;
    /// `sender_ip` is at `sender_hw`.
    pub const REPLY: u16 = 2;
}

mod field {
    use crate::field::Field;
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

const HTYPE_ETHERNET: u16 = 1;

/// A view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps `buffer` after checking its length and that it is Ethernet/IPv4 ARP.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the length and the hardware/protocol type and sizes.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < LEN {
            return Err(Error::Truncated);
        }
        if rd16(b, field::HTYPE) != HTYPE_ETHERNET
            || rd16(b, field::PTYPE) != crate::ethernet::ethertype::IPV4
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The operation: [`op::REQUEST`] or [`op::REPLY`] (others are possible on the wire).
    #[inline]
    pub fn operation(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::OPER)
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_hw(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::SHA])
    }

    /// Sender protocol address.
    #[inline]
    pub fn sender_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(arr4(self.buffer.as_ref(), field::SPA.start))
    }

    /// Target hardware address.
    #[inline]
    pub fn target_hw(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::THA])
    }

    /// Target protocol address.
    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(arr4(self.buffer.as_ref(), field::TPA.start))
    }
}

#[inline]
fn mac(b: &[u8]) -> MacAddr {
    MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets the operation.
    #[inline]
    pub fn set_operation(&mut self, op: u16) {
        wr16(self.buffer.as_mut(), field::OPER, op);
    }

    /// Sets the sender hardware address.
    #[inline]
    pub fn set_sender_hw(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }

    /// Sets the sender protocol address.
    #[inline]
    pub fn set_sender_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Sets the target hardware address.
    #[inline]
    pub fn set_target_hw(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }

    /// Sets the target protocol address.
    #[inline]
    pub fn set_target_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// An Ethernet/IPv4 ARP request or reply, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    /// [`op::REQUEST`] or [`op::REPLY`].
    pub op: u16,
    /// Sender hardware address.
    pub sender_hw: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address (zero in requests).
    pub target_hw: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Reads a checked packet; operations other than request and reply are `Malformed`.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> Result<Self> {
        let op = p.operation();
        if op != op::REQUEST && op != op::REPLY {
            return Err(Error::Malformed);
        }
        Ok(ArpRepr {
            op,
            sender_hw: p.sender_hw(),
            sender_ip: p.sender_ip(),
            target_hw: p.target_hw(),
            target_ip: p.target_ip(),
        })
    }

    /// Writes the 28-byte packet at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let b = buf.get_mut(..LEN).ok_or(Error::Truncated)?;
        wr16(b, field::HTYPE, HTYPE_ETHERNET);
        wr16(b, field::PTYPE, crate::ethernet::ethertype::IPV4);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        let mut p = ArpPacket::new_unchecked(b);
        p.set_operation(self.op);
        p.set_sender_hw(self.sender_hw);
        p.set_sender_ip(self.sender_ip);
        p.set_target_hw(self.target_hw);
        p.set_target_ip(self.target_ip);
        Ok(LEN)
    }

    /// The reply to this request from the owner of `target_ip` at `hw`.
    pub fn reply(&self, hw: MacAddr) -> ArpRepr {
        ArpRepr {
            op: op::REPLY,
            sender_hw: hw,
            sender_ip: self.target_ip,
            target_hw: self.sender_hw,
            target_ip: self.sender_ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Who has 192.168.1.1? Tell 192.168.1.10 (52:54:00:ab:cd:ef).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0xc0,
        0xa8, 0x01, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01,
    ];
    const HW: MacAddr = MacAddr([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);

    #[test]
    fn deconstruct() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.operation(), op::REQUEST);
        assert_eq!(p.sender_hw(), HW);
        assert_eq!(p.sender_ip(), Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(p.target_hw(), MacAddr::ZERO);
        assert_eq!(p.target_ip(), Ipv4Addr::new(192, 168, 1, 1));
    }

    #[test]
    fn construct() {
        let r = ArpRepr::parse(&ArpPacket::new_checked(&REQUEST[..]).unwrap()).unwrap();
        let mut buf = [0xaa; 30];
        assert_eq!(r.emit(&mut buf).unwrap(), LEN);
        assert_eq!(buf[..28], REQUEST);
        assert_eq!(r.emit(&mut [0u8; 27]), Err(Error::Truncated));

        let mine = MacAddr([2, 0, 0, 0, 0, 1]);
        let reply = r.reply(mine);
        reply.emit(&mut buf).unwrap();
        let p = ArpPacket::new_checked(&buf[..28]).unwrap();
        assert_eq!(p.operation(), op::REPLY);
        assert_eq!(p.sender_hw(), mine);
        assert_eq!(p.sender_ip(), Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(p.target_hw(), HW);
        assert_eq!(p.target_ip(), Ipv4Addr::new(192, 168, 1, 10));
    }

    #[test]
    fn malformed() {
        for n in 0..28 {
            assert_eq!(
                ArpPacket::new_checked(&REQUEST[..n]).unwrap_err(),
                Error::Truncated
            );
        }
        for (at, v) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut b = REQUEST;
            b[at] = v;
            assert_eq!(
                ArpPacket::new_checked(&b[..]).unwrap_err(),
                Error::Malformed
            );
        }
        let mut b = REQUEST;
        b[7] = 3; // RARP request
        let p = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p), Err(Error::Malformed));
    }
}
