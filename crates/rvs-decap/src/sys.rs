//! The I/O layer: the TUN device the inner packets are written to, the raw and UDP sockets
//! the tunnelled packets are read from, and the `rp_filter` sysctls.
//!
//! Raw sockets are enough on kernels without `ipip`/`gre`/`ip6_tunnel`: with no protocol
//! handler registered for 4, 41 or 47, `ip_local_deliver_finish` still hands every packet
//! of that protocol to matching raw sockets (and, because a raw socket took it, sends no
//! ICMP protocol-unreachable). Verified on the development kernel (6.18, no tunnel
//! modules) in a throwaway netns: `AF_INET` raw sockets for 4, 47 and 41 each received the
//! packets with their outer IPv4 header, an `AF_INET6` raw socket for 41 received only the
//! payload, and an IPv4 packet to a `lo` address written to a TUN device (rp_filter off)
//! was answered. So no `AF_PACKET` fallback is needed. Where the tunnel modules *are*
//! loaded, raw sockets still get a copy, but the kernel's `tunl0`/`gre0` deliver the
//! packet too: use one or the other (see `doc/rvs-decap.md`).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::num::NonZeroU32;
use std::os::fd::OwnedFd;

/// What went wrong setting up the data path, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    /// A privileged operation was refused.
    #[error("{what}: permission denied: rvs-decap must run as root (or with CAP_NET_ADMIN and CAP_NET_RAW)")]
    NotPermitted {
        /// The operation.
        what: String,
    },
    /// There is no TUN driver.
    #[error("TUN not available: {detail} (load the tun module, or create the node with `mknod /dev/net/tun c 10 200`)")]
    TunMissing {
        /// What was missing.
        detail: String,
    },
    /// Creating or configuring the TUN device failed otherwise.
    #[error("TUN device {name}: {op}: {err}")]
    Tun {
        /// The device name.
        name: String,
        /// The step that failed.
        op: &'static str,
        /// The OS error (shown in the message, so not a `source`).
        err: io::Error,
    },
    /// A socket could not be opened.
    #[error("cannot open {what} socket: {err}")]
    Socket {
        /// The socket's purpose.
        what: String,
        /// The OS error (shown in the message, so not a `source`).
        err: io::Error,
    },
    /// A GUE port could not be bound.
    #[error("cannot bind GUE port {addr}: {err}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error (shown in the message, so not a `source`).
        err: io::Error,
    },
    /// A sysctl could not be written.
    #[error("cannot write {path}: {err}")]
    Sysctl {
        /// The sysctl file.
        path: String,
        /// The OS error (shown in the message, so not a `source`).
        err: io::Error,
    },
}

fn denied(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

const TUN_PATH: &str = "/dev/net/tun";
const IFNAMSIZ: usize = 16;

/// A layer-3 TUN device (`IFF_TUN | IFF_NO_PI`): each write is one IP packet, which the
/// kernel receives as if it had arrived on this interface. It disappears when dropped.
///
/// The device itself is `tun-rs`'s, the one TUN implementation of the workspace (rvsd's
/// device for the director's own traffic is the same crate): its sync API, no runtime.
/// This wrapper only words its errors for the operator.
pub struct Tun {
    dev: tun_rs::SyncDevice,
    name: String,
}

impl std::fmt::Debug for Tun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tun").field("name", &self.name).finish()
    }
}

impl Tun {
    /// Creates (or attaches to) the TUN device `name`, down until [`Tun::set_up`].
    pub fn create(name: &str) -> Result<Tun, SysError> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['/', ' ', '\0']) {
            return Err(SysError::Tun {
                name: name.into(),
                op: "invalid interface name",
                err: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        let dev = tun_rs::DeviceBuilder::new()
            .name(name)
            .layer(tun_rs::Layer::L3)
            .packet_information(false)
            .enable(false)
            .build_sync()
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT | libc::ENODEV | libc::ENXIO) => SysError::TunMissing {
                    detail: format!("{TUN_PATH}: {e}"),
                },
                _ if denied(&e) => SysError::NotPermitted {
                    what: format!("creating TUN device {name}"),
                },
                _ => SysError::Tun {
                    name: name.into(),
                    op: "create",
                    err: e,
                },
            })?;
        Ok(Tun {
            dev,
            name: name.into(),
        })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets IFF_UP, as `ip link set NAME up` would, without needing iproute2.
    pub fn set_up(&self) -> Result<(), SysError> {
        self.dev.enabled(true).map_err(|e| {
            if denied(&e) {
                SysError::NotPermitted {
                    what: format!("bringing {} up", self.name),
                }
            } else {
                SysError::Tun {
                    name: self.name.clone(),
                    op: "set up",
                    err: e,
                }
            }
        })
    }

    /// Hands one IP packet to the kernel.
    pub fn write(&self, pkt: &[u8]) -> io::Result<()> {
        // One write(2) is one packet on a TUN fd, and `send` takes `&self`, so several
        // reader threads share the device without a lock.
        let n = self.dev.send(pkt)?;
        if n != pkt.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short TUN write"));
        }
        Ok(())
    }
}

/// A raw IP socket for one tunnel protocol.
#[derive(Debug)]
pub struct RawSocket {
    fd: OwnedFd,
}

impl RawSocket {
    /// Opens an `AF_INET` (or with `v6`, `AF_INET6`) `SOCK_RAW` socket for `proto`.
    pub fn open(v6: bool, proto: u8) -> Result<RawSocket, SysError> {
        use rustix::net::{AddressFamily, Protocol, SocketFlags, SocketType};
        let af = if v6 {
            AddressFamily::INET6
        } else {
            AddressFamily::INET
        };
        let what = format!("raw IPv{} protocol {proto}", if v6 { 6 } else { 4 });
        // Protocol 0 is "any" for other socket types, never a tunnel.
        let protocol = NonZeroU32::new(u32::from(proto))
            .map(Protocol::from_raw)
            .ok_or_else(|| SysError::Socket {
                what: what.clone(),
                err: io::Error::from_raw_os_error(libc::EPROTONOSUPPORT),
            })?;
        let fd =
            rustix::net::socket_with(af, SocketType::RAW, SocketFlags::CLOEXEC, Some(protocol))
                .map_err(|e| {
                    let e = io::Error::from(e);
                    if denied(&e) {
                        SysError::NotPermitted {
                            what: format!("opening a {what} socket"),
                        }
                    } else {
                        SysError::Socket {
                            what: what.clone(),
                            err: e,
                        }
                    }
                })?;
        Ok(RawSocket { fd })
    }

    /// Blocks for one datagram; returns its length (truncated to `buf`).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match rustix::net::recv(&self.fd, &mut *buf, rustix::net::RecvFlags::empty()) {
                Ok((n, _)) => return Ok(n),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Binds the GUE UDP port on all addresses: `[::]` (dual-stack, Linux's default
/// `bindv6only=0`) with `v6`, else `0.0.0.0`.
pub fn bind_gue(port: u16, v6: bool) -> Result<UdpSocket, SysError> {
    let addr: SocketAddr = if v6 {
        (Ipv6Addr::UNSPECIFIED, port).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, port).into()
    };
    UdpSocket::bind(addr).map_err(|err| SysError::Bind { addr, err })
}

/// Sets `net.ipv4.conf.{all,DEV}.rp_filter` to 0 and returns the previous `all` value.
///
/// The inner packet's saddr is a remote client, reachable through some other interface,
/// so strict reverse-path filtering on the TUN device would drop every packet; the
/// effective value is the maximum of `all` and the device's, so both must be 0.
pub fn disable_rp_filter(dev: &str) -> Result<Option<String>, SysError> {
    let all = "/proc/sys/net/ipv4/conf/all/rp_filter";
    let old = std::fs::read_to_string(all)
        .ok()
        .map(|s| s.trim().to_string());
    for path in [
        all.to_string(),
        format!("/proc/sys/net/ipv4/conf/{dev}/rp_filter"),
    ] {
        std::fs::write(&path, "0").map_err(|err| {
            if denied(&err) {
                SysError::NotPermitted {
                    what: format!("writing {path}"),
                }
            } else {
                SysError::Sysctl { path, err }
            }
        })?;
    }
    Ok(old)
}
