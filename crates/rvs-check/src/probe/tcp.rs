//! TCP_CHECK: a connect that completes. Also the connection every TCP-based probe
//! (HTTP_GET, SSL_GET, SMTP_CHECK) starts with.

use std::net::SocketAddr;

use tokio::net::{TcpSocket, TcpStream};

use crate::spec::Endpoint;

/// Connects to `dst` from the endpoint's source (`bindto`, `bind_port`, `bind_if`,
/// `fwmark`). The caller bounds the time.
pub async fn connect(dst: SocketAddr, ep: &Endpoint) -> std::io::Result<TcpStream> {
    let s = super::socket_for(dst, socket2::Type::STREAM, Some(socket2::Protocol::TCP), ep)?;
    let sock = TcpSocket::from_std_stream(std::net::TcpStream::from(s));
    sock.connect(dst).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connects_and_binds() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dst = l.local_addr().unwrap();
        let ep = Endpoint {
            bindto: Some("127.0.0.2".parse().unwrap()),
            ..Default::default()
        };
        let (c, accepted) = tokio::join!(connect(dst, &ep), l.accept());
        c.unwrap();
        let (_, peer) = accepted.unwrap();
        assert_eq!(peer.ip().to_string(), "127.0.0.2");
    }

    #[tokio::test]
    async fn refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dst = l.local_addr().unwrap();
        drop(l);
        let e = connect(dst, &Endpoint::default()).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
