//! The probes: one real check over the kernel's stack, each in its own file, named as
//! keepalived names the checker. [`Prober`] is built once per distinct check (regexes
//! compiled, TLS configured, user resolved) and run every cycle.

pub mod dns;
pub mod http;
pub mod misc;
pub mod ping;
pub mod smtp;
pub mod tcp;
pub mod udp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::machine::DynWeight;
use crate::spec::{CheckKind, CheckSpec, Endpoint};

/// Why a probe could not be set up (configuration problems, found once).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A `regex` that does not compile.
    #[error("bad regex {0:?}: {1}")]
    Regex(String, String),
    /// `user` names an unknown user or group.
    #[error("unknown user or group {0:?}")]
    User(String),
    /// TLS client setup failed.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// One probe's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    pub ok: bool,
    /// MISC_CHECK with `misc_dynamic`: the weight the exit status asks for.
    pub weight: Option<DynWeight>,
    /// Why it failed (or what it saw), for logs and status.
    pub detail: String,
}

impl ProbeResult {
    pub fn up(detail: impl Into<String>) -> Self {
        ProbeResult {
            ok: true,
            weight: None,
            detail: detail.into(),
        }
    }
    pub fn down(detail: impl Into<String>) -> Self {
        ProbeResult {
            ok: false,
            weight: None,
            detail: detail.into(),
        }
    }
}

enum Kind {
    Tcp,
    Http(http::HttpProbe),
    Misc(misc::MiscProbe),
    Udp,
    Dns(dns::DnsProbe),
    Smtp,
    Ping,
}

/// A ready-to-run check of one target.
pub struct Prober {
    spec: CheckSpec,
    target: SocketAddr,
    kind: Kind,
}

impl Prober {
    /// Prepares the check `spec` of the real server `rs`.
    pub fn new(spec: &CheckSpec, rs: SocketAddr) -> Result<Prober, ProbeError> {
        let target = spec.target(rs);
        let kind = match &spec.kind {
            CheckKind::Tcp => Kind::Tcp,
            CheckKind::Http { .. } => Kind::Http(http::HttpProbe::new(spec, target)?),
            CheckKind::Misc {
                path,
                dynamic,
                user,
            } => Kind::Misc(misc::MiscProbe::new(path, *dynamic, user.as_ref())?),
            CheckKind::Udp { .. } => Kind::Udp,
            CheckKind::Dns { qtype, name } => Kind::Dns(dns::DnsProbe::new(qtype, name)),
            CheckKind::Smtp { .. } => Kind::Smtp,
            CheckKind::Ping => Kind::Ping,
        };
        Ok(Prober {
            spec: spec.clone(),
            target,
            kind,
        })
    }

    pub fn target(&self) -> SocketAddr {
        self.target
    }

    pub fn spec(&self) -> &CheckSpec {
        &self.spec
    }

    /// The time one run may take: `connect_timeout` (`misc_timeout`) for the whole probe,
    /// stricter than keepalived, which restarts it on every read.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.spec.timing.connect_timeout_ms.max(1))
    }

    /// Runs the probe once; never takes (much) longer than [`Prober::timeout`].
    pub async fn run(&self) -> ProbeResult {
        let timeout = self.timeout();
        let deadline = Instant::now() + timeout;
        let ep = &self.spec.endpoint;
        let fut = async {
            match (&self.kind, &self.spec.kind) {
                (Kind::Tcp, _) => match tcp::connect(self.target, ep).await {
                    Ok(_) => ProbeResult::up("connected"),
                    Err(e) => ProbeResult::down(format!("connect: {e}")),
                },
                (Kind::Http(h), _) => h.run(ep).await,
                (Kind::Misc(m), _) => m.run(timeout).await,
                (
                    Kind::Udp,
                    CheckKind::Udp {
                        payload,
                        require_reply,
                        min_reply_length,
                        max_reply_length,
                    },
                ) => {
                    udp::check(
                        self.target,
                        ep,
                        payload,
                        require_reply.as_deref(),
                        *min_reply_length,
                        *max_reply_length,
                        deadline,
                    )
                    .await
                }
                (Kind::Dns(d), _) => d.run(self.target, ep).await,
                (Kind::Smtp, CheckKind::Smtp { helo_name }) => {
                    smtp::check(self.target, ep, helo_name).await
                }
                (Kind::Ping, _) => ping::check(self.target.ip(), ep).await,
                _ => ProbeResult::down("internal: kind mismatch"),
            }
        };
        // MISC enforces its own timeout (it must kill the script); give it a little slack.
        let outer = if matches!(self.kind, Kind::Misc(_)) {
            timeout + Duration::from_millis(500)
        } else {
            timeout
        };
        match tokio::time::timeout(outer, fut).await {
            Ok(r) => r,
            Err(_) => ProbeResult::down(format!("timeout after {} ms", timeout.as_millis())),
        }
    }
}

/// A socket of `ty` bound and marked as the endpoint asks (`bindto`, `bind_port`,
/// `bind_if`, `fwmark`), non-blocking, for `dst`'s family.
pub(crate) fn socket_for(
    dst: SocketAddr,
    ty: socket2::Type,
    proto: Option<socket2::Protocol>,
    ep: &Endpoint,
) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, SockAddr, Socket};
    let domain = if dst.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, ty, proto)?;
    s.set_nonblocking(true)?;
    if let Some(ifname) = &ep.bind_if {
        s.bind_device(Some(ifname.as_bytes()))?;
    }
    if let Some(mark) = ep.fwmark {
        s.set_mark(mark)?;
    }
    if ep.bindto.is_some() || ep.bind_port.is_some() {
        let ip = ep.bindto.unwrap_or(if dst.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        });
        if ep.bind_port.is_some() {
            s.set_reuse_address(true)?;
        }
        s.bind(&SockAddr::from(SocketAddr::new(
            ip,
            ep.bind_port.unwrap_or(0),
        )))?;
    }
    Ok(s)
}
