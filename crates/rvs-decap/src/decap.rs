//! Sans-IO decapsulation: bytes as a socket returned them in, the inner packet's byte range
//! (or a counted [`DropReason`]) out.
//!
//! What the director sends (`rvs-engine/src/xmit/tun.rs`, like IPVS's `ip_vs_tunnel_xmit`):
//! IPIP (IPv4 proto 4) or IPv6-in-IP (proto 41) with no extra header; GRE with no flags, or
//! with only the checksum flag (`--tun-csum`); GUE variant 0 with no optional fields and the
//! inner protocol in its proto field, to the dest's `--tun-port`. Beyond that we accept what
//! Linux's own receivers accept: GRE key and sequence numbers (ignored, as a keyless
//! `gre0` fallback device does), and GUE variant 1 (a bare IP packet in the UDP payload).
//! GUE remote checksum offload is refused: it needs the inner transport checksum rewritten,
//! and no IPVS director sends it for complete-checksum packets.

use core::net::IpAddr;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};

use rvs_wire::gre::GrePacket;
use rvs_wire::gue::GuePacket;
use rvs_wire::ipv4::Ipv4Packet;
use rvs_wire::ipv6::Ipv6Packet;
use rvs_wire::{ip_proto, Error as WireError};

/// GRE protocol type for an IPv4 payload.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// GRE protocol type for an IPv6 payload.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// Which socket the bytes came from, which fixes both what precedes the encapsulation and
/// which encapsulation it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// An `AF_INET` `SOCK_RAW` socket for `proto` (4, 41 or 47): Linux hands raw IPv4
    /// sockets the outer IPv4 header as well.
    RawV4 {
        /// The socket's protocol.
        proto: u8,
    },
    /// An `AF_INET6` `SOCK_RAW` socket for `proto` (4, 41 or 47): raw IPv6 sockets get
    /// only what follows the outer header (and its extension headers).
    RawV6 {
        /// The socket's protocol.
        proto: u8,
    },
    /// A UDP socket bound to a GUE port: the UDP payload.
    Gue,
}

/// Why a received packet was not delivered. Every variant has a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(u8)]
pub enum DropReason {
    /// The outer IPv4 header is short, not version 4, or its lengths do not fit.
    #[error("outer IPv4 header malformed")]
    OuterMalformed = 0,
    /// The outer protocol is not the socket's, or the socket's protocol is not a tunnel.
    #[error("outer protocol is not a tunnel protocol")]
    OuterProto,
    /// The GRE header is short, has a non-zero version, or carries RFC 1701 routing.
    #[error("GRE header malformed")]
    GreMalformed,
    /// The GRE checksum is present and wrong.
    #[error("GRE checksum wrong")]
    GreChecksum,
    /// The GRE protocol type is neither IPv4 nor IPv6 (e.g. transparent Ethernet bridging).
    #[error("GRE protocol type not IP")]
    GreProto,
    /// The GUE header is short, of an unknown variant, or has unknown flags.
    #[error("GUE header malformed")]
    GueMalformed,
    /// A GUE control message: there is no control channel to answer.
    #[error("GUE control message")]
    GueControl,
    /// The GUE proto field is neither IPIP nor IPv6.
    #[error("GUE protocol not IP")]
    GueProto,
    /// GUE remote checksum offload, which would need the inner checksum completed here.
    #[error("GUE remote checksum offload unsupported")]
    GueRemcsum,
    /// The inner packet's version is not the one its encapsulation declared.
    #[error("inner IP version does not match the encapsulation")]
    InnerVersion,
    /// The inner packet is shorter than its header or its length field says.
    #[error("inner packet truncated")]
    InnerTruncated,
    /// The inner header's lengths contradict each other (IHL < 5, total < IHL, jumbogram).
    #[error("inner packet malformed")]
    InnerMalformed,
    /// The inner IPv4 header checksum is wrong (the kernel would drop it silently).
    #[error("inner IPv4 header checksum wrong")]
    InnerChecksum,
    /// The inner daddr is not one of the configured vaddrs.
    #[error("inner destination is not a configured VIP")]
    NotVip,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 14] = [
        DropReason::OuterMalformed,
        DropReason::OuterProto,
        DropReason::GreMalformed,
        DropReason::GreChecksum,
        DropReason::GreProto,
        DropReason::GueMalformed,
        DropReason::GueControl,
        DropReason::GueProto,
        DropReason::GueRemcsum,
        DropReason::InnerVersion,
        DropReason::InnerTruncated,
        DropReason::InnerMalformed,
        DropReason::InnerChecksum,
        DropReason::NotVip,
    ];

    /// A short snake_case name for logs and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::OuterMalformed => "outer_malformed",
            DropReason::OuterProto => "outer_proto",
            DropReason::GreMalformed => "gre_malformed",
            DropReason::GreChecksum => "gre_checksum",
            DropReason::GreProto => "gre_proto",
            DropReason::GueMalformed => "gue_malformed",
            DropReason::GueControl => "gue_control",
            DropReason::GueProto => "gue_proto",
            DropReason::GueRemcsum => "gue_remcsum",
            DropReason::InnerVersion => "inner_version",
            DropReason::InnerTruncated => "inner_truncated",
            DropReason::InnerMalformed => "inner_malformed",
            DropReason::InnerChecksum => "inner_checksum",
            DropReason::NotVip => "not_vip",
        }
    }
}

/// The inner family an encapsulation declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

/// The decapsulation rules: which vaddrs the inner packets may be addressed to.
#[derive(Debug, Clone, Default)]
pub struct Decap {
    vaddrs: Vec<IpAddr>,
}

impl Decap {
    /// Accepts inner packets for any of `vaddrs`, or for any address when it is empty.
    pub fn new(vaddrs: Vec<IpAddr>) -> Self {
        Decap { vaddrs }
    }

    /// The configured vaddrs (empty: any destination).
    pub fn vaddrs(&self) -> &[IpAddr] {
        &self.vaddrs
    }

    /// Finds the inner IP packet in `buf`, read from `src`. The range ends at the inner
    /// packet's own length, so trailing bytes never reach the TUN device.
    pub fn decap(&self, src: Source, buf: &[u8]) -> Result<Range<usize>, DropReason> {
        let (proto, start) = match src {
            Source::RawV4 { proto } => {
                let outer = Ipv4Packet::new_checked(buf).map_err(|_| DropReason::OuterMalformed)?;
                if outer.protocol() != proto {
                    return Err(DropReason::OuterProto);
                }
                // payload() stops at the outer total length, so use its bounds rather
                // than the end of the buffer.
                let hl = outer.header_len();
                let end = usize::from(outer.total_len());
                let r = self.encap(proto, &buf[hl..end])?;
                return Ok(r.start + hl..r.end + hl);
            }
            Source::RawV6 { proto } => (proto, 0),
            Source::Gue => return self.gue(buf),
        };
        let r = self.encap(proto, &buf[start..])?;
        Ok(r.start + start..r.end + start)
    }

    /// The payload of an outer IP header whose protocol is `proto`.
    fn encap(&self, proto: u8, p: &[u8]) -> Result<Range<usize>, DropReason> {
        match proto {
            ip_proto::IPIP => self.inner(Family::V4, p, 0),
            ip_proto::IPV6 => self.inner(Family::V6, p, 0),
            ip_proto::GRE => {
                let gre = GrePacket::new_checked(p).map_err(|_| DropReason::GreMalformed)?;
                if !gre.verify_checksum() {
                    return Err(DropReason::GreChecksum);
                }
                let fam = match gre.protocol() {
                    ETHERTYPE_IPV4 => Family::V4,
                    ETHERTYPE_IPV6 => Family::V6,
                    _ => return Err(DropReason::GreProto),
                };
                self.inner(fam, p, gre.header_len())
            }
            _ => Err(DropReason::OuterProto),
        }
    }

    fn gue(&self, p: &[u8]) -> Result<Range<usize>, DropReason> {
        let gue = GuePacket::new_checked(p).map_err(|_| DropReason::GueMalformed)?;
        if gue.control() {
            return Err(DropReason::GueControl);
        }
        if gue.remcsum().is_some() {
            return Err(DropReason::GueRemcsum);
        }
        // For variant 1 proto() reads the version nibble, so the match below always agrees
        // with the inner header; for variant 0 it is the sender's declaration.
        let fam = match gue.proto() {
            ip_proto::IPIP => Family::V4,
            ip_proto::IPV6 => Family::V6,
            _ => return Err(DropReason::GueProto),
        };
        self.inner(fam, p, gue.header_len())
    }

    /// Validates the inner packet at `p[at..]` against the declared family and the vaddrs.
    fn inner(&self, fam: Family, p: &[u8], at: usize) -> Result<Range<usize>, DropReason> {
        let b = p.get(at..).ok_or(DropReason::InnerTruncated)?;
        let version = b
            .first()
            .map(|v| v >> 4)
            .ok_or(DropReason::InnerTruncated)?;
        let (daddr, len): (IpAddr, usize) = match (fam, version) {
            (Family::V4, 4) => {
                let ip = Ipv4Packet::new_checked(b).map_err(inner_err)?;
                if !ip.verify_checksum() {
                    return Err(DropReason::InnerChecksum);
                }
                (ip.dst_addr().into(), usize::from(ip.total_len()))
            }
            (Family::V6, 6) => {
                let ip = Ipv6Packet::new_checked(b).map_err(inner_err)?;
                (
                    ip.dst_addr().into(),
                    rvs_wire::ipv6::HEADER_LEN + usize::from(ip.payload_len()),
                )
            }
            _ => return Err(DropReason::InnerVersion),
        };
        if !self.vaddrs.is_empty() && !self.vaddrs.contains(&daddr) {
            return Err(DropReason::NotVip);
        }
        Ok(at..at + len)
    }
}

fn inner_err(e: WireError) -> DropReason {
    match e {
        WireError::Truncated => DropReason::InnerTruncated,
        WireError::Malformed => DropReason::InnerMalformed,
    }
}

/// Packet counters, shared between the reader threads and the stats logger.
#[derive(Debug, Default)]
pub struct Counters {
    received: AtomicU64,
    delivered: AtomicU64,
    tun_errors: AtomicU64,
    drops: [AtomicU64; DropReason::ALL.len()],
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Packets read from the tunnel sockets.
    pub received: u64,
    /// Inner packets written to the TUN device.
    pub delivered: u64,
    /// Valid inner packets the TUN device refused (kept apart from the drops: it says
    /// something about the device, not the packet).
    pub tun_errors: u64,
    /// Drops, indexed like [`DropReason::ALL`].
    pub drops: [u64; DropReason::ALL.len()],
}

impl Counters {
    /// Counts one packet read from a socket.
    pub fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one packet written to the TUN device.
    pub fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failed TUN write and returns how many there have been, so the caller
    /// can log the first of a burst without flooding the log.
    pub fn tun_error(&self) -> u64 {
        self.tun_errors.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Counts one drop.
    pub fn dropped(&self, r: DropReason) {
        self.drops[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Reads every counter (each one atomically, not all together).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            received: self.received.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            tun_errors: self.tun_errors.load(Ordering::Relaxed),
            drops: core::array::from_fn(|i| self.drops[i].load(Ordering::Relaxed)),
        }
    }
}

impl Snapshot {
    /// The drop count for `r`.
    pub fn drops(&self, r: DropReason) -> u64 {
        self.drops[r as usize]
    }

    /// Non-zero drop counters as `name=n` pairs, or `none`.
    pub fn drops_text(&self) -> String {
        let s: Vec<String> = DropReason::ALL
            .iter()
            .filter(|r| self.drops(**r) != 0)
            .map(|r| format!("{}={}", r.name(), self.drops(*r)))
            .collect();
        if s.is_empty() {
            "none".into()
        } else {
            s.join(",")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use rvs_wire::checksum;
    use rvs_wire::gre::GreRepr;
    use rvs_wire::gue::GueRepr;
    use rvs_wire::ipv4::Ipv4Repr;
    use rvs_wire::ipv6::Ipv6Repr;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 10);
    const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xfa, 0, 0, 0, 0, 0, 0x10);

    // An ICMP echo request from caddr 10.1.0.1 to VIP 10.250.0.10, checksums filled by
    // hand-checked code (rvs-wire's Repr), 28 bytes.
    fn inner4(dst: Ipv4Addr) -> Vec<u8> {
        let mut b = vec![0u8; 28];
        Ipv4Repr {
            src: Ipv4Addr::new(10, 1, 0, 1),
            dst,
            protocol: ip_proto::ICMP,
            payload_len: 8,
            ttl: 63,
            dont_frag: true,
            ident: 1,
            dscp_ecn: 0,
        }
        .emit(&mut b)
        .unwrap();
        b[20..28].copy_from_slice(&[8, 0, 0xf7, 0xfe, 0, 1, 0, 0]);
        b
    }

    fn inner6(dst: Ipv6Addr) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        Ipv6Repr {
            src: "fd00:1::1".parse().unwrap(),
            dst,
            next_header: ip_proto::NONE,
            payload_len: 8,
            hop_limit: 63,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut b)
        .unwrap();
        b
    }

    fn outer4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 20 + payload.len()];
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: proto,
            payload_len: payload.len(),
            ttl: 64,
            dont_frag: true,
            ident: 7,
            dscp_ecn: 0,
        }
        .emit(&mut b)
        .unwrap();
        b[20..].copy_from_slice(payload);
        b
    }

    fn gre(repr: GreRepr, inner: &[u8]) -> Vec<u8> {
        let hl = repr.header_len();
        let mut b = vec![0u8; hl + inner.len()];
        b[hl..].copy_from_slice(inner);
        repr.emit(&mut b, inner.len()).unwrap();
        b
    }

    fn gre_plain(protocol: u16) -> GreRepr {
        GreRepr {
            protocol,
            csum: false,
            key: None,
            seq: None,
        }
    }

    fn any() -> Decap {
        Decap::new(vec![])
    }

    fn vip_only() -> Decap {
        Decap::new(vec![VIP.into(), VIP6.into()])
    }

    const RAW4_IPIP: Source = Source::RawV4 {
        proto: ip_proto::IPIP,
    };
    const RAW4_GRE: Source = Source::RawV4 {
        proto: ip_proto::GRE,
    };

    #[test]
    fn inner_fixture_is_valid() {
        let b = inner4(VIP);
        assert!(Ipv4Packet::new_checked(&b[..]).unwrap().verify_checksum());
        assert_eq!(checksum::fold(checksum::sum(&b[20..])), 0xffff);
    }

    #[test]
    fn ipip_as_the_director_sends_it() {
        let pkt = outer4(ip_proto::IPIP, &inner4(VIP));
        assert_eq!(vip_only().decap(RAW4_IPIP, &pkt), Ok(20..48));
        // Ethernet-style padding after the outer packet is not part of it.
        let mut padded = pkt.clone();
        padded.extend_from_slice(&[0; 12]);
        assert_eq!(vip_only().decap(RAW4_IPIP, &padded), Ok(20..48));
        // The same inner packet from an IPv6 raw socket: no outer header.
        let v6 = Source::RawV6 {
            proto: ip_proto::IPIP,
        };
        assert_eq!(vip_only().decap(v6, &inner4(VIP)), Ok(0..28));
    }

    #[test]
    fn ipip_bad() {
        let pkt = outer4(ip_proto::IPIP, &inner4(VIP));
        // Every truncation of the outer or inner packet is refused, never a panic.
        for n in 0..pkt.len() {
            let r = any().decap(RAW4_IPIP, &pkt[..n]);
            assert!(r.is_err(), "len {n}: {r:?}");
        }
        assert_eq!(
            any().decap(RAW4_IPIP, &pkt[..10]),
            Err(DropReason::OuterMalformed)
        );
        // Outer intact, inner cut short: the outer total length says 48 but the inner 28
        // bytes cannot fit in 20.
        let short = outer4(ip_proto::IPIP, &inner4(VIP)[..20]);
        assert_eq!(
            any().decap(RAW4_IPIP, &short),
            Err(DropReason::InnerTruncated)
        );
        // An IPv6 packet behind proto 4.
        let wrong = outer4(ip_proto::IPIP, &inner6(VIP6));
        assert_eq!(
            any().decap(RAW4_IPIP, &wrong),
            Err(DropReason::InnerVersion)
        );
        // An IPv4 packet behind proto 41.
        let wrong = outer4(ip_proto::IPV6, &inner4(VIP));
        let s41 = Source::RawV4 {
            proto: ip_proto::IPV6,
        };
        assert_eq!(any().decap(s41, &wrong), Err(DropReason::InnerVersion));
        // Socket/packet protocol disagreement, and a non-tunnel protocol.
        assert_eq!(any().decap(RAW4_GRE, &pkt), Err(DropReason::OuterProto));
        let udp = outer4(ip_proto::UDP, &inner4(VIP));
        let s17 = Source::RawV4 {
            proto: ip_proto::UDP,
        };
        assert_eq!(any().decap(s17, &udp), Err(DropReason::OuterProto));
        // A corrupted inner header checksum.
        let mut bad = pkt.clone();
        bad[20 + 8] ^= 1; // inner TTL
        assert_eq!(any().decap(RAW4_IPIP, &bad), Err(DropReason::InnerChecksum));
        // IHL 4.
        let mut bad = pkt.clone();
        bad[20] = 0x44;
        assert_eq!(
            any().decap(RAW4_IPIP, &bad),
            Err(DropReason::InnerMalformed)
        );
    }

    #[test]
    fn vip_filter() {
        let other = Ipv4Addr::new(10, 250, 0, 11);
        let pkt = outer4(ip_proto::IPIP, &inner4(other));
        assert_eq!(vip_only().decap(RAW4_IPIP, &pkt), Err(DropReason::NotVip));
        assert_eq!(any().decap(RAW4_IPIP, &pkt), Ok(20..48));
        let s41 = Source::RawV4 {
            proto: ip_proto::IPV6,
        };
        let pkt = outer4(ip_proto::IPV6, &inner6(VIP6));
        assert_eq!(vip_only().decap(s41, &pkt), Ok(20..68));
        let pkt = outer4(ip_proto::IPV6, &inner6("fd00:fa::11".parse().unwrap()));
        assert_eq!(vip_only().decap(s41, &pkt), Err(DropReason::NotVip));
    }

    #[test]
    fn six_in_six() {
        let s = Source::RawV6 {
            proto: ip_proto::IPV6,
        };
        let mut b = inner6(VIP6);
        assert_eq!(vip_only().decap(s, &b), Ok(0..48));
        assert_eq!(
            vip_only().decap(s, &b[..47]),
            Err(DropReason::InnerTruncated)
        );
        // A jumbogram announcement cannot be delivered.
        b[4] = 0;
        b[5] = 0;
        b[6] = ip_proto::HOPOPT;
        assert_eq!(vip_only().decap(s, &b), Err(DropReason::InnerMalformed));
    }

    #[test]
    fn gre_as_the_director_sends_it() {
        // --tun-nocsum: four bytes, no flags.
        let g = gre(gre_plain(ETHERTYPE_IPV4), &inner4(VIP));
        assert_eq!(&g[..4], &[0, 0, 0x08, 0x00]);
        let pkt = outer4(ip_proto::GRE, &g);
        assert_eq!(vip_only().decap(RAW4_GRE, &pkt), Ok(24..52));
        // --tun-csum: the C bit and a checksum over GRE header and payload.
        let csum = GreRepr {
            csum: true,
            ..gre_plain(ETHERTYPE_IPV4)
        };
        let g = gre(csum, &inner4(VIP));
        assert_eq!(&g[..2], &[0x80, 0]);
        let pkt = outer4(ip_proto::GRE, &g);
        assert_eq!(vip_only().decap(RAW4_GRE, &pkt), Ok(28..56));
        // Over IPv6: only the GRE bytes.
        let s = Source::RawV6 {
            proto: ip_proto::GRE,
        };
        assert_eq!(vip_only().decap(s, &g), Ok(8..36));
    }

    #[test]
    fn gre_with_key_and_seq() {
        let r = GreRepr {
            protocol: ETHERTYPE_IPV6,
            csum: true,
            key: Some(42),
            seq: Some(7),
        };
        let pkt = outer4(ip_proto::GRE, &gre(r, &inner6(VIP6)));
        assert_eq!(vip_only().decap(RAW4_GRE, &pkt), Ok(36..84));
        let r = GreRepr { csum: false, ..r };
        let pkt = outer4(ip_proto::GRE, &gre(r, &inner6(VIP6)));
        assert_eq!(vip_only().decap(RAW4_GRE, &pkt), Ok(32..80));
    }

    #[test]
    fn gre_bad() {
        let csum = GreRepr {
            csum: true,
            ..gre_plain(ETHERTYPE_IPV4)
        };
        let g = gre(csum, &inner4(VIP));
        // One flipped payload bit breaks the checksum.
        let mut bad = g.clone();
        bad[8 + 27] ^= 0x10;
        assert_eq!(
            any().decap(RAW4_GRE, &outer4(ip_proto::GRE, &bad)),
            Err(DropReason::GreChecksum)
        );
        // Version 1 (PPTP) and routing.
        let mut bad = g.clone();
        bad[1] = 1;
        assert_eq!(
            any().decap(RAW4_GRE, &outer4(ip_proto::GRE, &bad)),
            Err(DropReason::GreMalformed)
        );
        // Header cut inside the checksum word.
        assert_eq!(
            any().decap(RAW4_GRE, &outer4(ip_proto::GRE, &g[..6])),
            Err(DropReason::GreMalformed)
        );
        // Transparent Ethernet bridging is not IP.
        let teb = gre(gre_plain(0x6558), &inner4(VIP));
        assert_eq!(
            any().decap(RAW4_GRE, &outer4(ip_proto::GRE, &teb)),
            Err(DropReason::GreProto)
        );
        // Declared IPv6, carries IPv4.
        let lie = gre(gre_plain(ETHERTYPE_IPV6), &inner4(VIP));
        assert_eq!(
            any().decap(RAW4_GRE, &outer4(ip_proto::GRE, &lie)),
            Err(DropReason::InnerVersion)
        );
        // Inner truncated behind a valid GRE header.
        let cut = gre(gre_plain(ETHERTYPE_IPV4), &inner4(VIP)[..27]);
        assert_eq!(
            any().decap(RAW4_GRE, &outer4(ip_proto::GRE, &cut)),
            Err(DropReason::InnerTruncated)
        );
        // GRE to a non-VIP.
        let miss = gre(
            gre_plain(ETHERTYPE_IPV4),
            &inner4(Ipv4Addr::new(10, 9, 9, 9)),
        );
        assert_eq!(
            vip_only().decap(RAW4_GRE, &outer4(ip_proto::GRE, &miss)),
            Err(DropReason::NotVip)
        );
    }

    fn gue0(proto: u8, inner: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 4 + inner.len()];
        GueRepr {
            proto,
            remcsum: None,
        }
        .emit(&mut b)
        .unwrap();
        b[4..].copy_from_slice(inner);
        b
    }

    #[test]
    fn gue_as_the_director_sends_it() {
        let g = gue0(ip_proto::IPIP, &inner4(VIP));
        assert_eq!(&g[..4], &[0, ip_proto::IPIP, 0, 0]);
        assert_eq!(vip_only().decap(Source::Gue, &g), Ok(4..32));
        let g = gue0(ip_proto::IPV6, &inner6(VIP6));
        assert_eq!(vip_only().decap(Source::Gue, &g), Ok(4..52));
        // Variant 1: the UDP payload is the IP packet.
        assert_eq!(vip_only().decap(Source::Gue, &inner4(VIP)), Ok(0..28));
        assert_eq!(vip_only().decap(Source::Gue, &inner6(VIP6)), Ok(0..48));
        // Spare option words (Hlen 1, no flags) are skipped.
        let mut g = vec![0x01, ip_proto::IPIP, 0, 0, 0, 0, 0, 0];
        g.extend_from_slice(&inner4(VIP));
        assert_eq!(vip_only().decap(Source::Gue, &g), Ok(8..36));
    }

    #[test]
    fn gue_bad() {
        let g = gue0(ip_proto::IPIP, &inner4(VIP));
        assert_eq!(any().decap(Source::Gue, &[]), Err(DropReason::GueMalformed));
        assert_eq!(
            any().decap(Source::Gue, &g[..3]),
            Err(DropReason::GueMalformed)
        );
        assert_eq!(
            any().decap(Source::Gue, &g[..4]),
            Err(DropReason::InnerTruncated)
        );
        assert_eq!(
            any().decap(Source::Gue, &g[..31]),
            Err(DropReason::InnerTruncated)
        );
        let mut c = g.clone();
        c[0] = 0x20;
        assert_eq!(any().decap(Source::Gue, &c), Err(DropReason::GueControl));
        let mut v2 = g.clone();
        v2[0] = 0x80;
        assert_eq!(any().decap(Source::Gue, &v2), Err(DropReason::GueMalformed));
        let tcp = gue0(ip_proto::TCP, &inner4(VIP));
        assert_eq!(any().decap(Source::Gue, &tcp), Err(DropReason::GueProto));
        let lie = gue0(ip_proto::IPV6, &inner4(VIP));
        assert_eq!(
            any().decap(Source::Gue, &lie),
            Err(DropReason::InnerVersion)
        );
        let mut rem = vec![0u8; 12];
        GueRepr {
            proto: ip_proto::IPIP,
            remcsum: Some((20, 26)),
        }
        .emit(&mut rem)
        .unwrap();
        rem.extend_from_slice(&inner4(VIP));
        assert_eq!(any().decap(Source::Gue, &rem), Err(DropReason::GueRemcsum));
        let miss = gue0(ip_proto::IPIP, &inner4(Ipv4Addr::new(10, 9, 9, 9)));
        assert_eq!(
            vip_only().decap(Source::Gue, &miss),
            Err(DropReason::NotVip)
        );
    }

    #[test]
    fn counters() {
        let c = Counters::default();
        c.received();
        c.received();
        c.delivered();
        c.dropped(DropReason::NotVip);
        assert_eq!((c.tun_error(), c.tun_error()), (1, 2));
        let s = c.snapshot();
        assert_eq!((s.received, s.delivered, s.tun_errors), (2, 1, 2));
        assert_eq!(s.drops(DropReason::NotVip), 1);
        assert_eq!(s.drops_text(), "not_vip=1");
        assert_eq!(Snapshot::default().drops_text(), "none");
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{r:?} out of order in ALL");
        }
    }
}
