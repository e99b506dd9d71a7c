//! HTTP_GET and SSL_GET against real servers on 127.0.0.1.

use super::*;
use crate::spec::{HttpUrl, Timing};
use std::sync::Mutex;
use tokio::net::TcpListener;

const BODY: &[u8] = b"<html>rvs says hello, all is Well</html>\n";

/// Serves "/" with BODY (200), "/chunked" chunked, "/missing" as 404; records the Host
/// headers seen.
async fn http_server(
    hosts: Arc<Mutex<Vec<String>>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    snis: Arc<Mutex<Vec<Option<String>>>>,
) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            let hosts = hosts.clone();
            let tls = tls.clone();
            let snis = snis.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve(s, hosts).await,
                    Some(acc) => {
                        let Ok(s) = acc.accept(s).await else { return };
                        snis.lock()
                            .unwrap()
                            .push(s.get_ref().1.server_name().map(str::to_string));
                        serve(s, hosts).await
                    }
                }
            });
        }
    });
    a
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, hosts: Arc<Mutex<Vec<String>>>) {
    let mut req = Vec::new();
    let mut b = [0u8; 1024];
    while find(&req, b"\r\n\r\n").is_none() {
        let n = s.read(&mut b).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        req.extend_from_slice(&b[..n]);
    }
    let req = String::from_utf8_lossy(&req).to_string();
    if let Some(h) = req.lines().find_map(|l| l.strip_prefix("Host: ")) {
        hosts.lock().unwrap().push(h.to_string());
    }
    let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
    let resp = match path.as_str() {
        "/" => [format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", BODY.len()).into_bytes(), BODY.to_vec()].concat(),
        "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
        _ => b"HTTP/1.0 404 Not Found\r\n\r\nnope".to_vec(),
    };
    let _ = s.write_all(&resp).await;
    let _ = s.shutdown().await;
}

fn spec(tls: bool, urls: Vec<HttpUrl>, vhost: Option<&str>, sni: bool) -> CheckSpec {
    CheckSpec {
        kind: CheckKind::Http {
            tls,
            urls,
            virtualhost: vhost.map(str::to_string),
            sni,
            http_protocol: "1.0".into(),
        },
        timing: Timing {
            delay_loop_ms: 1000,
            connect_timeout_ms: 3000,
            retry: 1,
            delay_before_retry_ms: 100,
            warmup_ms: 0,
        },
        endpoint: Endpoint::default(),
    }
}

fn url(path: &str) -> HttpUrl {
    HttpUrl {
        path: path.into(),
        ..Default::default()
    }
}

async fn probe(s: &CheckSpec, rs: SocketAddr) -> ProbeResult {
    crate::probe::Prober::new(s, rs).unwrap().run().await
}

#[tokio::test]
async fn status_digest_regex_and_host() {
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let rs = http_server(hosts.clone(), None, Default::default()).await;
    assert!(
        probe(&spec(false, vec![url("/")], None, false), rs)
            .await
            .ok
    );
    assert_eq!(
        hosts.lock().unwrap().last().unwrap(),
        &format!("127.0.0.1:{}", rs.port())
    );

    let r = probe(&spec(false, vec![url("/missing")], None, false), rs).await;
    assert!(!r.ok && r.detail.contains("status 404"), "{r:?}");
    let mut u = url("/missing");
    u.status_codes = vec![(200, 299), (404, 404)];
    assert!(probe(&spec(false, vec![u], None, false), rs).await.ok);

    let mut u = url("/");
    u.digest = Some(md5_hex(BODY).to_uppercase());
    assert!(
        probe(&spec(false, vec![u.clone()], None, false), rs)
            .await
            .ok
    );
    u.digest = Some("0123456789abcdef0123456789abcdef".into());
    assert!(!probe(&spec(false, vec![u], None, false), rs).await.ok);

    let mut u = url("/");
    u.regex = Some("all is well".into());
    assert!(
        !probe(&spec(false, vec![u.clone()], None, false), rs)
            .await
            .ok,
        "case-sensitive by default"
    );
    u.regex_options = vec!["caseless".into()];
    assert!(
        probe(&spec(false, vec![u.clone()], None, false), rs)
            .await
            .ok
    );
    u.regex_no_match = true;
    assert!(!probe(&spec(false, vec![u], None, false), rs).await.ok);

    // all urls must pass; the url's virtualhost beats the checker's
    let mut u = url("/");
    u.virtualhost = Some("www.example.test".into());
    assert!(
        !probe(
            &spec(false, vec![url("/"), url("/missing")], None, false),
            rs
        )
        .await
        .ok
    );
    assert!(
        probe(
            &spec(false, vec![u, url("/chunked")], Some("other.test"), false),
            rs
        )
        .await
        .ok
    );
    let h = hosts.lock().unwrap().clone();
    assert_eq!(
        &h[h.len() - 2..],
        &[
            format!("www.example.test:{}", rs.port()),
            format!("other.test:{}", rs.port())
        ]
    );
}

#[tokio::test]
async fn refused_and_garbage() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let rs = l.local_addr().unwrap();
    drop(l);
    assert!(
        !probe(&spec(false, vec![url("/")], None, false), rs)
            .await
            .ok
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut b = [0u8; 512];
        let _ = s.read(&mut b).await;
        let _ = s.write_all(b"SSH-2.0-OpenSSH\r\n\r\n").await;
    });
    let r = probe(&spec(false, vec![url("/")], None, false), rs).await;
    assert!(!r.ok && r.detail.contains("bad status line"), "{r:?}");
}

#[test]
fn parse_and_dechunk() {
    let r = parse_response(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        r,
        Response {
            status: 200,
            body: b"abc".to_vec()
        }
    );
    let r = parse_response(b"HTTP/1.0 301 Moved\r\nContent-Length: 2\r\n\r\nabcdef").unwrap();
    assert_eq!(r.body, b"ab");
    assert!(parse_response(b"HTTP/1.0 200 OK\r\n").is_err());
    assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
}

#[tokio::test]
async fn ssl_get_with_sni() {
    let ck = rcgen::generate_simple_self_signed(vec!["www.example.test".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.key_pair.serialize_der(),
    ));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    let acc = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let snis = Arc::new(Mutex::new(Vec::new()));
    let rs = http_server(hosts.clone(), Some(acc), snis.clone()).await;

    let mut u = url("/");
    u.digest = Some(md5_hex(BODY));
    // a self-signed certificate for another name: accepted, as keepalived does
    assert!(
        probe(
            &spec(true, vec![u.clone()], Some("www.example.test"), true),
            rs
        )
        .await
        .ok
    );
    assert_eq!(
        snis.lock().unwrap().last().unwrap().as_deref(),
        Some("www.example.test")
    );
    // no enable_sni: no SNI even with a virtualhost
    assert!(
        probe(
            &spec(true, vec![u.clone()], Some("www.example.test"), false),
            rs
        )
        .await
        .ok
    );
    assert_eq!(snis.lock().unwrap().last().unwrap().as_deref(), None);
    // no virtualhost: no SNI
    assert!(probe(&spec(true, vec![u], None, true), rs).await.ok);
    assert_eq!(snis.lock().unwrap().last().unwrap().as_deref(), None);
    assert!(
        !probe(&spec(true, vec![url("/missing")], None, true), rs)
            .await
            .ok
    );
    // plain HTTP against TLS fails
    assert!(
        !probe(&spec(false, vec![url("/")], None, false), rs)
            .await
            .ok
    );
}
