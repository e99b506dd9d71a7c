//! Checked zero-copy packet views and builders: the bottom layer of rvs.
//!
//! Everything the director reads or writes on the wire goes through this crate, in the
//! style of smoltcp's `wire` module:
//!
//! * **Views** (`Ipv4Packet<T>`, `TcpPacket<T>`, …) wrap any `T: AsRef<[u8]>` without
//!   copying. `new_checked` validates every length the accessors rely on, so after it
//!   succeeds no getter can panic; `new_unchecked` skips that and is only for buffers the
//!   caller just built or whose lengths a parse already proved (the engine's transmitters
//!   rewrite at the offsets [`frame::parse_frame`] found). Setters never touch checksums:
//!   the views' `update_checksum_for` patches them with the RFC 1624 incremental updates
//!   in [`checksum`].
//! * **Reprs** (`Ipv4Repr`, `TcpRepr`, …) are plain structs with `parse` (from a view)
//!   and `emit` (into a buffer, checksum filled), used to build packets in tests, benches
//!   and for locally generated replies (ARP, NDP, ICMP errors).
//! * [`frame::parse_frame`] is the hot path: one pass over Ethernet, IP, extension
//!   headers and the fixed L4 header, returning offsets and the flow key in a
//!   [`frame::FrameInfo`].
//!
//! Nothing here allocates, and nothing panics on untrusted input: malformed bytes give
//! [`Error::Truncated`] or [`Error::Malformed`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod frame;
pub mod gre;
pub mod gue;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ndisc;
pub mod sctp;
pub mod tcp;
pub mod udp;
pub mod vrrp;

pub use frame::{parse_frame, parse_inner_ip, parse_ip, Frag, FrameInfo, L3};
pub use icmpv4::emit_icmpv4_error;
pub use icmpv6::emit_icmpv6_error;

/// Why bytes could not be read as the requested packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer ends before a header or a length field says it should.
    Truncated,
    /// A field holds a value the protocol forbids (or this crate does not handle).
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated packet",
            Error::Malformed => "malformed packet",
        })
    }
}

impl std::error::Error for Error {}

/// The result of parsing or emitting wire data.
pub type Result<T> = core::result::Result<T, Error>;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), shared by the IPv4
/// protocol field and the IPv6 next-header chain.
pub mod ip_proto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPT: u8 = 0;
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// IPv4 in IP (IPIP tunnels).
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 in IP (6in4 / 6in6 tunnels).
    pub const IPV6: u8 = 41;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Generic Routing Encapsulation.
    pub const GRE: u8 = 47;
    /// IPsec Encapsulating Security Payload.
    pub const ESP: u8 = 50;
    /// IPsec Authentication Header.
    pub const AH: u8 = 51;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const NONE: u8 = 59;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// VRRP (RFC 3768, RFC 5798).
    pub const VRRP: u8 = 112;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// Byte ranges used by the private `field` modules.
pub(crate) mod field {
    pub type Field = core::ops::Range<usize>;
}

// Readers and writers for fixed-width big-endian fields. Views call these only on
// offsets their `check_len` has proven in bounds, so the slice checks never fire there.

#[inline(always)]
pub(crate) fn rd16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline(always)]
pub(crate) fn rd32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline(always)]
pub(crate) fn wr16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
pub(crate) fn wr32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
pub(crate) fn arr4(b: &[u8], at: usize) -> [u8; 4] {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

#[inline(always)]
pub(crate) fn arr16(b: &[u8], at: usize) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display() {
        assert_eq!(Error::Truncated.to_string(), "truncated packet");
        assert_eq!(Error::Malformed.to_string(), "malformed packet");
        let e: Box<dyn std::error::Error> = Box::new(Error::Malformed);
        assert_eq!(e.to_string(), "malformed packet");
    }
}
