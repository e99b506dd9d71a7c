//! SMTP_CHECK: a 220 greeting, `HELO name` answered with 250, then QUIT (its answer is not
//! waited for).

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::ProbeResult;
use crate::spec::Endpoint;

pub async fn check(dst: SocketAddr, ep: &Endpoint, helo_name: &str) -> ProbeResult {
    match exchange(dst, ep, helo_name).await {
        Ok(()) => ProbeResult::up("250 to HELO"),
        Err(e) => ProbeResult::down(e),
    }
}

async fn exchange(dst: SocketAddr, ep: &Endpoint, helo_name: &str) -> Result<(), String> {
    let s = super::tcp::connect(dst, ep)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    expect(&mut r, 220)
        .await
        .map_err(|e| format!("greeting: {e}"))?;
    let helo = if helo_name.is_empty() {
        "localhost"
    } else {
        helo_name
    };
    w.write_all(format!("HELO {helo}\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    expect(&mut r, 250)
        .await
        .map_err(|e| format!("HELO: {e}"))?;
    let _ = w.write_all(b"QUIT\r\n").await;
    Ok(())
}

/// Reads one (possibly multi-line, `250-...`) reply and checks its code.
async fn expect<R: AsyncBufReadExt + Unpin>(r: &mut R, code: u16) -> Result<(), String> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
            return Err("connection closed".into());
        }
        let got: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad reply {:?}", line.trim_end()))?;
        if got != code {
            return Err(format!("got {}", line.trim_end()));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    async fn fake_server(greeting: &'static str, helo_reply: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    s.write_all(greeting.as_bytes()).await.unwrap();
                    let mut b = [0u8; 256];
                    let n = s.read(&mut b).await.unwrap_or(0);
                    if b[..n].starts_with(b"HELO ") {
                        let _ = s.write_all(helo_reply.as_bytes()).await;
                    }
                    let _ = s.read(&mut b).await;
                });
            }
        });
        a
    }

    #[tokio::test]
    async fn smtp() {
        let ep = Endpoint::default();
        let ok = fake_server("220-hi\r\n220 ready\r\n", "250 hello\r\n").await;
        assert!(check(ok, &ep, "checker").await.ok);
        let busy = fake_server("554 no\r\n", "250 hello\r\n").await;
        let r = check(busy, &ep, "checker").await;
        assert!(!r.ok && r.detail.contains("greeting"), "{r:?}");
        let rude = fake_server("220 ready\r\n", "500 what\r\n").await;
        assert!(!check(rude, &ep, "").await.ok);
    }
}
