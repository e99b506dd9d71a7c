//! UDP_CHECK: send the payload on a connected UDP socket. An ICMP port (or host, net)
//! unreachable comes back as an error on the next receive (ECONNREFUSED, EHOSTUNREACH...),
//! which fails the check. With `require_reply`, a reply must arrive in time, with a length
//! in `min_reply_length..=max_reply_length` and, when bytes are given, matching them over
//! the shorter of the two lengths. Without it, silence until the deadline is success.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;

use super::ProbeResult;
use crate::spec::Endpoint;

pub async fn check(
    dst: SocketAddr,
    ep: &Endpoint,
    payload: &[u8],
    require_reply: Option<&[u8]>,
    min_len: usize,
    max_len: usize,
    deadline: Instant,
) -> ProbeResult {
    let sock = match open(dst, ep) {
        Ok(s) => s,
        Err(e) => return ProbeResult::down(format!("socket: {e}")),
    };
    // keepalived sends random bytes when no payload is configured; any datagram will do.
    let data: &[u8] = if payload.is_empty() {
        b"rvs-check"
    } else {
        payload
    };
    if let Err(e) = sock.send(data).await {
        return ProbeResult::down(format!("send: {e}"));
    }
    let mut buf = vec![0u8; 65536];
    // Leave a little of the probe's time for the verdict.
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .saturating_sub(std::time::Duration::from_millis(20));
    match tokio::time::timeout(wait, sock.recv(&mut buf)).await {
        Err(_) => match require_reply {
            Some(_) => ProbeResult::down("no reply"),
            None => ProbeResult::up("no ICMP error"),
        },
        Ok(Err(e)) => ProbeResult::down(format!("ICMP error: {e}")),
        Ok(Ok(n)) => match require_reply {
            None => ProbeResult::up("reply"),
            Some(want) => match reply_matches(&buf[..n], want, min_len, max_len) {
                Ok(()) => ProbeResult::up("reply matched"),
                Err(why) => ProbeResult::down(why),
            },
        },
    }
}

fn open(dst: SocketAddr, ep: &Endpoint) -> std::io::Result<UdpSocket> {
    let s = super::socket_for(dst, socket2::Type::DGRAM, Some(socket2::Protocol::UDP), ep)?;
    s.connect(&dst.into())?;
    UdpSocket::from_std(std::net::UdpSocket::from(s))
}

/// keepalived's rule: the length within bounds, and the bytes equal over the shorter of the
/// reply and the pattern.
pub fn reply_matches(
    reply: &[u8],
    want: &[u8],
    min_len: usize,
    max_len: usize,
) -> Result<(), String> {
    if reply.len() < min_len || (max_len > 0 && reply.len() > max_len) {
        return Err(format!(
            "reply length {} not in {min_len}..={max_len}",
            reply.len()
        ));
    }
    let n = reply.len().min(want.len());
    if reply[..n] != want[..n] {
        return Err("reply does not match".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn no_listener_is_port_unreachable() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dst = s.local_addr().unwrap();
        drop(s);
        let r = check(dst, &Endpoint::default(), b"x", None, 0, 255, soon(500)).await;
        assert!(!r.ok, "{r:?}");
        assert!(r.detail.contains("refused"), "{}", r.detail);
    }

    #[tokio::test]
    async fn echo_and_require_reply() {
        let srv = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let dst = srv.local_addr().unwrap();
        tokio::spawn(async move {
            let mut b = [0u8; 1500];
            loop {
                let (n, from) = srv.recv_from(&mut b).await.unwrap();
                // echo, except "mute" which gets no answer
                if &b[..n] != b"mute" {
                    srv.send_to(&b[..n], from).await.unwrap();
                }
            }
        });
        let ep = Endpoint::default();
        assert!(
            check(dst, &ep, b"hello", Some(b"hel"), 0, 255, soon(500))
                .await
                .ok
        );
        assert!(
            check(dst, &ep, b"hello", Some(b""), 0, 255, soon(500))
                .await
                .ok
        );
        assert!(
            !check(dst, &ep, b"hello", Some(b"help"), 0, 255, soon(500))
                .await
                .ok
        );
        assert!(
            !check(dst, &ep, b"hello", Some(b""), 6, 255, soon(500))
                .await
                .ok
        );
        assert!(
            !check(dst, &ep, b"mute", Some(b""), 0, 255, soon(300))
                .await
                .ok
        );
        assert!(
            check(dst, &ep, b"mute", None, 0, 255, soon(300)).await.ok,
            "silence is fine without require_reply"
        );
    }
}
