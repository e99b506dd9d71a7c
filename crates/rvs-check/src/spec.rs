//! What a health check is, as keepalived.conf describes it (keepalived.conf(5), the
//! `real_server` checker blocks). Durations are milliseconds; keepalived's defaults are
//! filled in by the parser, so every field here is the effective value.

use std::net::{IpAddr, SocketAddr};

/// The timing and retry rules every checker shares.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Timing {
    /// `delay_loop`: interval between checks while the state is stable.
    pub delay_loop_ms: u64,
    /// `connect_timeout` (`misc_timeout` for MISC_CHECK).
    pub connect_timeout_ms: u64,
    /// `retry` (deprecated `nb_get_retry`): extra attempts before a failure counts.
    pub retry: u32,
    /// `delay_before_retry`.
    pub delay_before_retry_ms: u64,
    /// `warmup`: a random delay up to this before the first check.
    pub warmup_ms: u64,
}

/// Where a probe connects from and to (`connect_ip`, `connect_port`, `bindto`, `bind_port`,
/// `bind_if`); unset fields default to the real server's address and port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    /// `fwmark` to set on the probe's socket.
    pub fwmark: Option<u32>,
}

/// One `url { }` of HTTP_GET / SSL_GET.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpUrl {
    pub path: String,
    /// `digest`: MD5 of the body, lower-case hex.
    pub digest: Option<String>,
    /// `status_code`: accepted codes and ranges; empty means 200-299.
    pub status_codes: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    /// `regex`, and whether a match means failure (`regex_no_match`).
    pub regex: Option<String>,
    pub regex_no_match: bool,
    /// `regex_options`: keepalived's PCRE2 option names, as given.
    pub regex_options: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// TCP_CHECK: a connect that completes.
    Tcp,
    /// HTTP_GET, or SSL_GET with `tls: true`.
    Http {
        tls: bool,
        urls: Vec<HttpUrl>,
        /// The checker-level `virtualhost` (a url's own overrides it).
        virtualhost: Option<String>,
        /// `enable_sni` (SSL_GET); keepalived sends SNI by default when a virtualhost is set.
        sni: bool,
        /// `http_protocol`: "1.0", "1.1", "1.0C" (1.0 with Connection: close).
        http_protocol: String,
    },
    /// MISC_CHECK: run a script; exit 0 is up. With `dynamic`, exit codes 2-255 set the
    /// weight to code - 2 while up.
    Misc {
        path: String,
        dynamic: bool,
        /// `user USERNAME [GROUPNAME]`.
        user: Option<(String, Option<String>)>,
    },
    /// UDP_CHECK: send `payload`; with `require_reply`, a reply (matching the bytes if
    /// given) is needed; an ICMP port unreachable always fails.
    Udp {
        payload: Vec<u8>,
        require_reply: Option<Vec<u8>>,
        min_reply_length: usize,
        max_reply_length: usize,
    },
    /// DNS_CHECK: a query of `qtype` for `name` that gets an answer.
    Dns { qtype: String, name: String },
    /// SMTP_CHECK: a 220 greeting, a HELO answered with 250, QUIT.
    Smtp { helo_name: String },
    /// PING_CHECK: an ICMP/ICMPv6 echo answered.
    Ping,
}

/// A checker of one real server.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    pub kind: CheckKind,
    pub timing: Timing,
    pub endpoint: Endpoint,
}

impl CheckSpec {
    /// Where the probe goes: the checker's connect_ip/connect_port, else the real server.
    pub fn target(&self, rs: SocketAddr) -> SocketAddr {
        SocketAddr::new(
            self.endpoint.connect_ip.unwrap_or(rs.ip()),
            self.endpoint.connect_port.unwrap_or(rs.port()),
        )
    }

    /// Two checks that would send the same probe: a real server in ten services is
    /// probed once per distinct check, not ten times.
    pub fn dedup_key(&self, rs: SocketAddr) -> (SocketAddr, CheckKind, Endpoint, Timing) {
        (
            self.target(rs),
            self.kind.clone(),
            self.endpoint.clone(),
            self.timing.clone(),
        )
    }
}
