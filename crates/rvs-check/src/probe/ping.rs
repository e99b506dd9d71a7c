//! PING_CHECK: an ICMP (ICMPv6) echo request answered by an echo reply. It uses an
//! unprivileged ICMP datagram socket (`socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`, allowed
//! by `net.ipv4.ping_group_range`), where the kernel picks the identifier and filters the
//! replies; when that is refused it falls back to a raw socket (root).

use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;

use super::ProbeResult;
use crate::spec::Endpoint;

/// An echo request (type 8, or 128 for ICMPv6) with its checksum (the kernel computes
/// ICMPv6's itself).
pub fn echo_request(v6: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `pkt` (ICMP header first) is the echo reply to `seq` (and `id` when `Some`).
pub fn is_reply(v6: bool, pkt: &[u8], id: Option<u16>, seq: u16) -> bool {
    pkt.len() >= 8
        && pkt[0] == if v6 { 129 } else { 0 }
        && u16::from_be_bytes([pkt[6], pkt[7]]) == seq
        && id.is_none_or(|id| u16::from_be_bytes([pkt[4], pkt[5]]) == id)
}

pub async fn check(dst: IpAddr, ep: &Endpoint) -> ProbeResult {
    use socket2::{Protocol, Type};
    let v6 = dst.is_ipv6();
    let proto = if v6 {
        Protocol::ICMPV6
    } else {
        Protocol::ICMPV4
    };
    let addr = SocketAddr::new(dst, 0);
    let (sock, raw) = match super::socket_for(addr, Type::DGRAM, Some(proto), ep) {
        Ok(s) => (s, false),
        Err(_) => match super::socket_for(addr, Type::RAW, Some(proto), ep) {
            Ok(s) => (s, true),
            Err(e) => return ProbeResult::down(format!("ICMP socket: {e}")),
        },
    };
    if let Err(e) = sock.connect(&addr.into()) {
        return ProbeResult::down(format!("connect: {e}"));
    }
    let sock = match UdpSocket::from_std(std::net::UdpSocket::from(sock)) {
        Ok(s) => s,
        Err(e) => return ProbeResult::down(format!("socket: {e}")),
    };
    let id = std::process::id() as u16;
    let seq = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        >> 8) as u16;
    if let Err(e) = sock
        .send(&echo_request(v6, id, seq, b"rvs-check-ping"))
        .await
    {
        return ProbeResult::down(format!("send: {e}"));
    }
    let mut buf = vec![0u8; 2048];
    loop {
        // The caller's timeout bounds this loop.
        let n = match sock.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) => return ProbeResult::down(format!("recv: {e}")),
        };
        let mut pkt = &buf[..n];
        if raw && !v6 {
            // A raw IPv4 socket delivers the IP header too.
            let ihl = usize::from(pkt.first().map_or(0, |b| b & 0x0f)) * 4;
            pkt = pkt.get(ihl..).unwrap_or(&[]);
        }
        // On a datagram socket the kernel rewrote the identifier: match the sequence only.
        if is_reply(v6, pkt, raw.then_some(id), seq) {
            return ProbeResult::up("echo reply");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksum() {
        let p = echo_request(false, 0x1234, 1, b"ab");
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert!(!is_reply(false, &p, None, 1));
        let mut r = p.clone();
        r[0] = 0;
        assert!(is_reply(false, &r, Some(0x1234), 1));
        assert!(!is_reply(false, &r, Some(0x1235), 1));
        assert!(!is_reply(false, &r, None, 2));
    }

    #[tokio::test]
    async fn ping_loopback() {
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            check("127.0.0.1".parse().unwrap(), &Endpoint::default()),
        )
        .await
        .unwrap();
        assert!(r.ok, "{r:?}");
    }

    #[tokio::test]
    async fn ping_loopback_v6() {
        if std::net::UdpSocket::bind("[::1]:0").is_err() {
            return; // no IPv6 here
        }
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            check("::1".parse().unwrap(), &Endpoint::default()),
        )
        .await
        .unwrap();
        assert!(r.ok, "{r:?}");
    }
}
