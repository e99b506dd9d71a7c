//! HTTP_GET and SSL_GET: a GET per `url`, by hand over a TCP (or TLS) stream. The client
//! is a few dozen lines because a health check needs one request per connection, the
//! status line, and the body; a full HTTP client crate would be most of our build time.
//!
//! SSL_GET does not verify the server's certificate, like keepalived (which never calls
//! `SSL_get_verify_result`): a health check asks "does the service answer", and real
//! servers behind a director commonly present the VIP's certificate, or a self-signed one,
//! for an address the checker does not connect to by name.

use std::net::SocketAddr;
use std::sync::Arc;

use md5::{Digest, Md5};
use regex::bytes::{Regex, RegexBuilder};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use super::{ProbeError, ProbeResult};
use crate::spec::{CheckKind, CheckSpec, Endpoint};

/// At most this much of a reply is read (the digest and regex see that much).
const MAX_REPLY: usize = 4 << 20;

struct UrlCheck {
    path: String,
    host: String,
    server_name: ServerName<'static>,
    digest: Option<String>,
    codes: Vec<(u16, u16)>,
    regex: Option<(Regex, bool)>,
}

pub struct HttpProbe {
    target: SocketAddr,
    tls: Option<TlsConnector>,
    version: &'static str,
    close: bool,
    urls: Vec<UrlCheck>,
}

/// Builds a regex with keepalived's PCRE2 `regex_options` mapped where the `regex` crate
/// has the same thing; the others are ignored with a warning.
pub fn build_regex(re: &str, options: &[String]) -> Result<Regex, ProbeError> {
    let mut b = RegexBuilder::new(re);
    for o in options {
        match o.as_str() {
            "caseless" => b.case_insensitive(true),
            "multiline" => b.multi_line(true),
            "dotall" => b.dot_matches_new_line(true),
            "extended" => b.ignore_whitespace(true),
            "ungreedy" => b.swap_greed(true),
            "utf" | "ucp" => b.unicode(true),
            "never_utf" | "never_ucp" => b.unicode(false),
            // Optimisation hints and PCRE-only syntax switches: no equivalent needed.
            "no_auto_capture" | "no_auto_possess" | "no_dotstar_anchor" | "no_start_optimize"
            | "auto_callout" | "use_offset_limit" | "dupnames" | "never_backslash_c" => &mut b,
            other => {
                tracing::warn!(
                    option = other,
                    regex = re,
                    "regex_options: not supported, ignored"
                );
                &mut b
            }
        };
    }
    b.build()
        .map_err(|e| ProbeError::Regex(re.to_string(), e.to_string()))
}

/// The certificate verifier of a health check: accepts any certificate (see the module
/// docs for why), but still checks the handshake signature, so the server must hold the
/// key of the certificate it shows.
#[derive(Debug)]
struct NoCertVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoCertVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_connector() -> Result<TlsConnector, ProbeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoCertVerification(provider)))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(cfg)))
}

impl HttpProbe {
    pub fn new(spec: &CheckSpec, target: SocketAddr) -> Result<HttpProbe, ProbeError> {
        let CheckKind::Http {
            tls,
            urls,
            virtualhost,
            sni,
            http_protocol,
        } = &spec.kind
        else {
            unreachable!("HttpProbe for a non-HTTP check");
        };
        let default_port = if *tls { 443 } else { 80 };
        let mut checks = Vec::new();
        for u in urls {
            let vhost = u.virtualhost.as_ref().or(virtualhost.as_ref());
            let mut host = match vhost {
                Some(v) => v.clone(),
                None if target.is_ipv6() => format!("[{}]", target.ip()),
                None => target.ip().to_string(),
            };
            if target.port() != default_port {
                host = format!("{host}:{}", target.port());
            }
            // SNI only for a virtualhost with enable_sni; an IP server name sends none.
            let server_name = match vhost {
                Some(v) if *sni => ServerName::try_from(v.clone())
                    .unwrap_or(ServerName::IpAddress(target.ip().into())),
                _ => ServerName::IpAddress(target.ip().into()),
            };
            let regex = match &u.regex {
                Some(r) => Some((build_regex(r, &u.regex_options)?, u.regex_no_match)),
                None => None,
            };
            checks.push(UrlCheck {
                path: if u.path.is_empty() {
                    "/".into()
                } else {
                    u.path.clone()
                },
                host,
                server_name,
                digest: u.digest.as_ref().map(|d| d.to_ascii_lowercase()),
                codes: u.status_codes.clone(),
                regex,
            });
        }
        let (version, close) = match http_protocol.as_str() {
            "1.1" => ("1.1", true),
            "1.0C" => ("1.0", true),
            _ => ("1.0", false),
        };
        Ok(HttpProbe {
            target,
            tls: if *tls { Some(tls_connector()?) } else { None },
            version,
            close,
            urls: checks,
        })
    }

    /// Every url must pass.
    pub async fn run(&self, ep: &Endpoint) -> ProbeResult {
        if self.urls.is_empty() {
            return ProbeResult::down("no url");
        }
        for u in &self.urls {
            if let Err(why) = self.check_url(u, ep).await {
                return ProbeResult::down(format!("{}: {why}", u.path));
            }
        }
        ProbeResult::up("all urls ok")
    }

    async fn check_url(&self, u: &UrlCheck, ep: &Endpoint) -> Result<(), String> {
        let req = format!(
            "GET {} HTTP/{}\r\nUser-Agent: KeepAliveClient\r\nHost: {}\r\n{}\r\n",
            u.path,
            self.version,
            u.host,
            if self.close {
                "Connection: close\r\n"
            } else {
                ""
            }
        );
        let tcp = super::tcp::connect(self.target, ep)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let reply = match &self.tls {
            None => exchange(tcp, req.as_bytes()).await,
            Some(c) => {
                let s = c
                    .connect(u.server_name.clone(), tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                exchange(s, req.as_bytes()).await
            }
        }
        .map_err(|e| format!("read: {e}"))?;
        let resp = parse_response(&reply)?;
        check_response(
            &resp,
            &u.codes,
            u.digest.as_deref(),
            u.regex.as_ref().map(|(r, n)| (r, *n)),
        )
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    req: &[u8],
) -> std::io::Result<Vec<u8>> {
    s.write_all(req).await?;
    s.flush().await?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16384];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(n) => n,
            // A TLS peer closing without close_notify: what we have is the reply.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() >= MAX_REPLY || complete(&buf) {
            break;
        }
    }
    Ok(buf)
}

/// Whether a reply with a Content-Length is all there (so a keep-alive server need not
/// close first).
fn complete(buf: &[u8]) -> bool {
    let Some(h) = find(buf, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..h]);
    head.lines()
        .skip(1)
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .is_some_and(|len| buf.len() >= h + 4 + len)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A parsed reply: status code and (de-chunked) body.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

pub fn parse_response(buf: &[u8]) -> Result<Response, String> {
    let h = find(buf, b"\r\n\r\n").ok_or("no end of headers")?;
    let head = std::str::from_utf8(&buf[..h]).map_err(|_| "headers not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let proto = parts.next().unwrap_or("");
    if !proto.starts_with("HTTP/") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            }
        }
    }
    let raw = &buf[h + 4..];
    let body = if chunked {
        dechunk(raw)?
    } else if let Some(n) = length {
        raw[..n.min(raw.len())].to_vec()
    } else {
        raw.to_vec()
    };
    Ok(Response { status, body })
}

fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let e = find(raw, b"\r\n").ok_or("truncated chunk size")?;
        let line = std::str::from_utf8(&raw[..e]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        raw = &raw[e + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or(&[]);
    }
}

/// MD5 of `body`, lower-case hex, as keepalived's `genhash` prints it.
pub fn md5_hex(body: &[u8]) -> String {
    Md5::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// keepalived's order: status code (200-299 by default), then digest, then regex.
pub fn check_response(
    r: &Response,
    codes: &[(u16, u16)],
    digest: Option<&str>,
    regex: Option<(&Regex, bool)>,
) -> Result<(), String> {
    let code_ok = if codes.is_empty() {
        (200..=299).contains(&r.status)
    } else {
        codes.iter().any(|&(lo, hi)| (lo..=hi).contains(&r.status))
    };
    if !code_ok {
        return Err(format!("status {}", r.status));
    }
    if let Some(d) = digest {
        let got = md5_hex(&r.body);
        if !got.eq_ignore_ascii_case(d) {
            return Err(format!("digest {got} != {d}"));
        }
    }
    if let Some((re, no_match)) = regex {
        let matched = re.is_match(&r.body);
        if matched == no_match {
            return Err(if no_match {
                "regex matched".into()
            } else {
                "regex did not match".into()
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
