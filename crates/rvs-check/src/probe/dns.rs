//! DNS_CHECK: one query over UDP, answered with the same id, NOERROR and at least one
//! answer. Hand-rolled: a query is a 12-byte header plus one question, and the check reads
//! three header fields, so a resolver crate would bring much and be used for little.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use super::ProbeResult;
use crate::spec::Endpoint;

pub struct DnsProbe {
    qtype: u16,
    name: String,
}

/// keepalived's `type` names and their codes.
pub fn qtype_code(name: &str) -> Option<u16> {
    Some(match name.to_ascii_uppercase().as_str() {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        _ => return None,
    })
}

/// A recursion-desired query for `name` (`.` or empty is the root).
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    q.extend_from_slice(&[0; 6]); // AN, NS, AR
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        q.push(l.len() as u8);
        q.extend_from_slice(l);
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    q
}

/// Checks a reply's header: our id, a response, NOERROR, an answer.
pub fn check_reply(id: u16, reply: &[u8]) -> Result<u16, String> {
    if reply.len() < 12 {
        return Err(format!("short reply ({} bytes)", reply.len()));
    }
    let rid = u16::from_be_bytes([reply[0], reply[1]]);
    let flags = u16::from_be_bytes([reply[2], reply[3]]);
    let ancount = u16::from_be_bytes([reply[6], reply[7]]);
    if rid != id {
        return Err(format!("id {rid} != {id}"));
    }
    if flags & 0x8000 == 0 {
        return Err("not a response".into());
    }
    let rcode = flags & 0x000f;
    if rcode != 0 {
        return Err(format!("rcode {rcode}"));
    }
    if ancount == 0 {
        return Err("no answer".into());
    }
    Ok(ancount)
}

impl DnsProbe {
    pub fn new(qtype: &str, name: &str) -> DnsProbe {
        let code = qtype_code(qtype).unwrap_or_else(|| {
            tracing::warn!(qtype, "DNS_CHECK: unknown type, using SOA");
            6
        });
        DnsProbe {
            qtype: code,
            name: name.to_string(),
        }
    }

    pub async fn run(&self, dst: SocketAddr, ep: &Endpoint) -> ProbeResult {
        let id = random_id();
        let sock =
            match super::socket_for(dst, socket2::Type::DGRAM, Some(socket2::Protocol::UDP), ep)
                .and_then(|s| {
                    s.connect(&dst.into())?;
                    UdpSocket::from_std(std::net::UdpSocket::from(s))
                }) {
                Ok(s) => s,
                Err(e) => return ProbeResult::down(format!("socket: {e}")),
            };
        if let Err(e) = sock.send(&build_query(id, &self.name, self.qtype)).await {
            return ProbeResult::down(format!("send: {e}"));
        }
        let mut buf = vec![0u8; 4096];
        loop {
            // The caller's timeout bounds this loop.
            let n = match sock.recv(&mut buf).await {
                Ok(n) => n,
                Err(e) => return ProbeResult::down(format!("recv: {e}")),
            };
            match check_reply(id, &buf[..n]) {
                Ok(an) => return ProbeResult::up(format!("{an} answers")),
                // A stray datagram with another id: keep waiting for ours.
                Err(e) if e.starts_with("id ") => continue,
                Err(e) => return ProbeResult::down(e),
            }
        }
    }
}

fn random_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bytes() {
        let q = build_query(0x1234, "example.com.", 1);
        assert_eq!(&q[..12], &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..], b"\x07example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(&build_query(1, ".", 6)[12..], &[0, 0, 6, 0, 1]);
    }

    #[test]
    fn reply_checks() {
        let mut r = build_query(7, "a", 1);
        assert!(check_reply(7, &r).unwrap_err().contains("not a response"));
        r[2] |= 0x80;
        assert!(check_reply(7, &r).unwrap_err().contains("no answer"));
        r[7] = 1;
        assert_eq!(check_reply(7, &r), Ok(1));
        assert!(check_reply(8, &r).is_err());
        r[3] |= 3; // NXDOMAIN
        assert!(check_reply(7, &r).unwrap_err().contains("rcode 3"));
        assert!(check_reply(7, &r[..5]).is_err());
    }

    /// A tiny responder: answers A queries for "ok.test" with one record, others NXDOMAIN.
    #[tokio::test]
    async fn against_a_responder() {
        let srv = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let dst = srv.local_addr().unwrap();
        tokio::spawn(async move {
            let mut b = [0u8; 512];
            loop {
                let (n, from) = srv.recv_from(&mut b).await.unwrap();
                let mut r = b[..n].to_vec();
                r[2] |= 0x80;
                if r[12..].starts_with(b"\x02ok\x04test\x00") {
                    r[7] = 1;
                    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
                } else {
                    r[3] |= 3;
                }
                srv.send_to(&r, from).await.unwrap();
            }
        });
        let ep = Endpoint::default();
        let r = DnsProbe::new("A", "ok.test").run(dst, &ep).await;
        assert!(r.ok, "{r:?}");
        let r = DnsProbe::new("A", "missing.test").run(dst, &ep).await;
        assert!(!r.ok);
        assert!(r.detail.contains("rcode 3"));
    }
}
