//! A fluent packet builder for fixture tables, benchmarks and fuzz seeds (after Katran's
//! `PacketBuilder`). It always computes full checksums from scratch, so comparing the
//! engine's incrementally-updated output with a freshly built expected frame checks the
//! incremental maths too.

use core::net::IpAddr;
use rvs_wire::checksum;
use rvs_wire::ethernet::MacAddr;

#[derive(Clone, Debug)]
enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
        zero_csum: bool,
    },
    Sctp {
        sport: u16,
        dport: u16,
        vtag: u32,
        chunk: u8,
    },
    /// ICMP/ICMPv6 with type, code, the 4 "rest" bytes and a quoted packet.
    Icmp {
        kind: u8,
        code: u8,
        rest: u32,
        quote: Vec<u8>,
    },
    Raw {
        proto: u8,
    },
}

#[derive(Clone, Debug)]
pub struct Pkt {
    src_mac: MacAddr,
    dst_mac: MacAddr,
    vlan: Option<u16>,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    df: bool,
    ident: u16,
    tos: u8,
    l4: L4,
    payload: Vec<u8>,
}

pub const MAC_CLIENT: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
pub const MAC_DIRECTOR: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xd1]);
pub const MAC_DIRECTOR_IN: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xd2]);
pub const MAC_GW: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x99]);

impl Pkt {
    /// A TCP segment with the given flags (see `rvs_wire::tcp::flags`).
    pub fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Pkt {
        Self::new(
            src,
            dst,
            L4::Tcp {
                sport,
                dport,
                flags,
                seq: 1000,
                ack: if flags & 0x10 != 0 { 2000 } else { 0 },
            },
        )
    }

    pub fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Pkt {
        Self::new(
            src,
            dst,
            L4::Udp {
                sport,
                dport,
                zero_csum: false,
            },
        )
    }

    pub fn sctp(src: &str, sport: u16, dst: &str, dport: u16, chunk: u8) -> Pkt {
        Self::new(
            src,
            dst,
            L4::Sctp {
                sport,
                dport,
                vtag: 0x1234_5678,
                chunk,
            },
        )
    }

    /// An ICMP (or ICMPv6, by address family) message quoting `quote` (an IP packet).
    pub fn icmp(src: &str, dst: &str, kind: u8, code: u8, rest: u32, quote: Vec<u8>) -> Pkt {
        Self::new(
            src,
            dst,
            L4::Icmp {
                kind,
                code,
                rest,
                quote,
            },
        )
    }

    pub fn raw(src: &str, dst: &str, proto: u8) -> Pkt {
        Self::new(src, dst, L4::Raw { proto })
    }

    fn new(src: &str, dst: &str, l4: L4) -> Pkt {
        Pkt {
            src_mac: MAC_CLIENT,
            dst_mac: MAC_DIRECTOR,
            vlan: None,
            src: src.parse().expect("source address"),
            dst: dst.parse().expect("destination address"),
            ttl: 64,
            df: true,
            ident: 0x1111,
            tos: 0,
            l4,
            payload: Vec::new(),
        }
    }

    pub fn macs(mut self, src: MacAddr, dst: MacAddr) -> Self {
        self.src_mac = src;
        self.dst_mac = dst;
        self
    }
    pub fn vlan(mut self, tci: u16) -> Self {
        self.vlan = Some(tci);
        self
    }
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }
    pub fn df(mut self, df: bool) -> Self {
        self.df = df;
        self
    }
    pub fn tos(mut self, tos: u8) -> Self {
        self.tos = tos;
        self
    }
    pub fn ident(mut self, ident: u16) -> Self {
        self.ident = ident;
        self
    }
    pub fn payload(mut self, p: &[u8]) -> Self {
        self.payload = p.to_vec();
        self
    }
    pub fn payload_len(mut self, n: usize) -> Self {
        self.payload = (0..n).map(|i| (i * 7 + 3) as u8).collect();
        self
    }
    /// A UDP datagram sent without a checksum (legal over IPv4).
    pub fn no_udp_csum(mut self) -> Self {
        if let L4::Udp { zero_csum, .. } = &mut self.l4 {
            *zero_csum = true;
        }
        self
    }
    pub fn src(mut self, a: &str) -> Self {
        self.src = a.parse().unwrap();
        self
    }
    pub fn dst(mut self, a: &str) -> Self {
        self.dst = a.parse().unwrap();
        self
    }
    pub fn sport(mut self, p: u16) -> Self {
        match &mut self.l4 {
            L4::Tcp { sport, .. } | L4::Udp { sport, .. } | L4::Sctp { sport, .. } => *sport = p,
            _ => {}
        }
        self
    }
    pub fn dport(mut self, p: u16) -> Self {
        match &mut self.l4 {
            L4::Tcp { dport, .. } | L4::Udp { dport, .. } | L4::Sctp { dport, .. } => *dport = p,
            _ => {}
        }
        self
    }

    fn proto(&self) -> u8 {
        match &self.l4 {
            L4::Tcp { .. } => 6,
            L4::Udp { .. } => 17,
            L4::Sctp { .. } => 132,
            L4::Icmp { .. } => {
                if self.src.is_ipv6() {
                    58
                } else {
                    1
                }
            }
            L4::Raw { proto } => *proto,
        }
    }

    /// The transport header and payload, checksummed.
    fn l4_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match &self.l4 {
            L4::Tcp {
                sport,
                dport,
                flags,
                seq,
                ack,
            } => {
                b.extend_from_slice(&sport.to_be_bytes());
                b.extend_from_slice(&dport.to_be_bytes());
                b.extend_from_slice(&seq.to_be_bytes());
                b.extend_from_slice(&ack.to_be_bytes());
                b.push(5 << 4);
                b.push(*flags);
                b.extend_from_slice(&64240u16.to_be_bytes());
                b.extend_from_slice(&[0, 0, 0, 0]);
                b.extend_from_slice(&self.payload);
                let c = self.l4_csum(&b);
                b[16..18].copy_from_slice(&c.to_be_bytes());
            }
            L4::Udp {
                sport,
                dport,
                zero_csum,
            } => {
                b.extend_from_slice(&sport.to_be_bytes());
                b.extend_from_slice(&dport.to_be_bytes());
                b.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
                b.extend_from_slice(&[0, 0]);
                b.extend_from_slice(&self.payload);
                if !zero_csum {
                    let mut c = self.l4_csum(&b);
                    if c == 0 {
                        c = 0xffff;
                    }
                    b[6..8].copy_from_slice(&c.to_be_bytes());
                }
            }
            L4::Sctp {
                sport,
                dport,
                vtag,
                chunk,
            } => {
                b.extend_from_slice(&sport.to_be_bytes());
                b.extend_from_slice(&dport.to_be_bytes());
                b.extend_from_slice(&vtag.to_be_bytes());
                b.extend_from_slice(&[0; 4]);
                // One chunk: type, flags, length, and a 4-byte value (padded payload follows).
                let value = if self.payload.is_empty() {
                    vec![0u8; 4]
                } else {
                    self.payload.clone()
                };
                let len = 4 + value.len();
                b.push(*chunk);
                b.push(0);
                b.extend_from_slice(&(len as u16).to_be_bytes());
                b.extend_from_slice(&value);
                while b.len() % 4 != 0 {
                    b.push(0);
                }
                let mut p = rvs_wire::sctp::SctpPacket::new_unchecked(&mut b[..]);
                p.fill_checksum();
            }
            L4::Icmp {
                kind,
                code,
                rest,
                quote,
            } => {
                b.push(*kind);
                b.push(*code);
                b.extend_from_slice(&[0, 0]);
                b.extend_from_slice(&rest.to_be_bytes());
                b.extend_from_slice(quote);
                b.extend_from_slice(&self.payload);
                let c = if self.src.is_ipv6() {
                    self.l4_csum(&b)
                } else {
                    checksum::finish(checksum::sum(&b))
                };
                b[2..4].copy_from_slice(&c.to_be_bytes());
            }
            L4::Raw { .. } => b.extend_from_slice(&self.payload),
        }
        b
    }

    fn l4_csum(&self, b: &[u8]) -> u16 {
        let ps = checksum::pseudo(&self.src, &self.dst, self.proto(), b.len() as u32);
        checksum::finish(ps.wrapping_add(checksum::sum(b)))
    }

    /// The IP packet (no link-layer header).
    pub fn ip_bytes(&self) -> Vec<u8> {
        let l4 = self.l4_bytes();
        let mut b = Vec::with_capacity(40 + l4.len());
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                b.push(0x45);
                b.push(self.tos);
                b.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
                b.extend_from_slice(&self.ident.to_be_bytes());
                b.extend_from_slice(&(if self.df { 0x4000u16 } else { 0 }).to_be_bytes());
                b.push(self.ttl);
                b.push(self.proto());
                b.extend_from_slice(&[0, 0]);
                b.extend_from_slice(&s.octets());
                b.extend_from_slice(&d.octets());
                let c = checksum::finish(checksum::sum(&b));
                b[10..12].copy_from_slice(&c.to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                b.extend_from_slice(&((6u32 << 28) | ((self.tos as u32) << 20)).to_be_bytes());
                b.extend_from_slice(&(l4.len() as u16).to_be_bytes());
                b.push(self.proto());
                b.push(self.ttl);
                b.extend_from_slice(&s.octets());
                b.extend_from_slice(&d.octets());
            }
            _ => panic!("mixed address families in one packet"),
        }
        b.extend_from_slice(&l4);
        b
    }

    /// The whole Ethernet frame.
    pub fn build(&self) -> Vec<u8> {
        let mut f = Vec::with_capacity(64);
        f.extend_from_slice(&self.dst_mac.0);
        f.extend_from_slice(&self.src_mac.0);
        if let Some(tci) = self.vlan {
            f.extend_from_slice(&0x8100u16.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(
            &(if self.src.is_ipv6() {
                0x86ddu16
            } else {
                0x0800
            })
            .to_be_bytes(),
        );
        f.extend_from_slice(&self.ip_bytes());
        f
    }
}

/// Wrap an IP packet in an outer IP header (+ optional encapsulation header bytes) and an
/// Ethernet header: the expected output of a tunnel, built independently of the engine.
#[allow(clippy::too_many_arguments)]
pub fn encap(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    outer_src: &str,
    outer_dst: &str,
    proto: u8,
    ident: u16,
    df: bool,
    tos: u8,
    encap_hdr: &[u8],
    inner: &[u8],
) -> Vec<u8> {
    let s: IpAddr = outer_src.parse().unwrap();
    let d: IpAddr = outer_dst.parse().unwrap();
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac.0);
    f.extend_from_slice(&src_mac.0);
    let payload_len = encap_hdr.len() + inner.len();
    match (s, d) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            let mut h = vec![0x45, tos];
            h.extend_from_slice(&((20 + payload_len) as u16).to_be_bytes());
            h.extend_from_slice(&ident.to_be_bytes());
            h.extend_from_slice(&(if df { 0x4000u16 } else { 0 }).to_be_bytes());
            h.push(64);
            h.push(proto);
            h.extend_from_slice(&[0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = checksum::finish(checksum::sum(&h));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&h);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&0x86ddu16.to_be_bytes());
            f.extend_from_slice(&((6u32 << 28) | ((tos as u32) << 20)).to_be_bytes());
            f.extend_from_slice(&(payload_len as u16).to_be_bytes());
            f.push(proto);
            f.push(64);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        _ => panic!("mixed outer families"),
    }
    f.extend_from_slice(encap_hdr);
    f.extend_from_slice(inner);
    f
}
