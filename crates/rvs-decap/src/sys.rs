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

use std::fs::{File, OpenOptions};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

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
// _IOW('T', 202, int). Written out because libc only has it for some targets and
// versions; the value is part of the kernel ABI (include/uapi/linux/if_tun.h).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFNAMSIZ: usize = 16;

/// `struct ifreq` with the `short ifr_flags` member of its union: all TUNSETIFF and
/// SIOC[GS]IFFLAGS read or write. Padded to the kernel's 40 bytes.
#[repr(C)]
struct IfReqFlags {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl IfReqFlags {
    fn new(name: &str) -> Self {
        let mut r = IfReqFlags {
            name: [0; IFNAMSIZ],
            flags: 0,
            _pad: [0; 22],
        };
        r.name[..name.len()].copy_from_slice(name.as_bytes());
        r
    }
}

/// A layer-3 TUN device (`IFF_TUN | IFF_NO_PI`): each write is one IP packet, which the
/// kernel receives as if it had arrived on this interface. It disappears when dropped.
///
/// Hand-rolled with one ioctl rather than a tun crate: the maintained ones (`tun`,
/// `tun-tap`, `tokio-tun`) bring async runtimes or builders for features we do not use
/// (multiqueue, macOS utun), and we only ever write.
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

impl Tun {
    /// Creates (or attaches to) the TUN device `name`.
    pub fn create(name: &str) -> Result<Tun, SysError> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['/', ' ', '\0']) {
            return Err(SysError::Tun {
                name: name.into(),
                op: "invalid interface name",
                err: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(TUN_PATH)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SysError::TunMissing {
                    detail: format!("{TUN_PATH} does not exist"),
                })
            }
            Err(e)
                if e.raw_os_error() == Some(libc::ENODEV)
                    || e.raw_os_error() == Some(libc::ENXIO) =>
            {
                return Err(SysError::TunMissing {
                    detail: format!("{TUN_PATH}: {e}"),
                })
            }
            Err(e) if denied(&e) => {
                return Err(SysError::NotPermitted {
                    what: format!("opening {TUN_PATH}"),
                })
            }
            Err(e) => {
                return Err(SysError::Tun {
                    name: name.into(),
                    op: "open /dev/net/tun",
                    err: e,
                })
            }
        };
        let mut req = IfReqFlags::new(name);
        req.flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: `file` is an open /dev/net/tun descriptor and `req` is a live, writable
        // ifreq-sized struct for the duration of the call, as TUNSETIFF expects.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut req) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if denied(&e) {
                return Err(SysError::NotPermitted {
                    what: format!("creating TUN device {name}"),
                });
            }
            return Err(SysError::Tun {
                name: name.into(),
                op: "TUNSETIFF",
                err: e,
            });
        }
        Ok(Tun {
            file,
            name: name.into(),
        })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets IFF_UP, as `ip link set NAME up` would, without needing iproute2.
    pub fn set_up(&self) -> Result<(), SysError> {
        let err = |op, err| SysError::Tun {
            name: self.name.clone(),
            op,
            err,
        };
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(err("control socket", io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just returned by socket(2) and is owned by nothing else.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut req = IfReqFlags::new(&self.name);
        // SAFETY: `sock` is open and `req` is a valid ifreq for SIOCGIFFLAGS to fill.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) } < 0 {
            return Err(err("SIOCGIFFLAGS", io::Error::last_os_error()));
        }
        req.flags |= libc::IFF_UP as libc::c_short;
        // SAFETY: as above; SIOCSIFFLAGS only reads `req`.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &mut req) } < 0 {
            let e = io::Error::last_os_error();
            if denied(&e) {
                return Err(SysError::NotPermitted {
                    what: format!("bringing {} up", self.name),
                });
            }
            return Err(err("SIOCSIFFLAGS", e));
        }
        Ok(())
    }

    /// One IP packet the kernel routed into the device (rvsd reads the director's own
    /// traffic to its services this way). Non-blocking after [`Tun::set_nonblocking`].
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        (&self.file).read(buf)
    }

    /// Reads return `WouldBlock` instead of waiting (the caller polls the fd).
    pub fn set_nonblocking(&self) -> io::Result<()> {
        // SAFETY: F_GETFL/F_SETFL on our own open descriptor.
        unsafe {
            let fl = libc::fcntl(self.file.as_raw_fd(), libc::F_GETFL);
            if fl < 0
                || libc::fcntl(self.file.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// The device's fd, for poll(2).
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }

    /// Hands one IP packet to the kernel.
    pub fn write(&self, pkt: &[u8]) -> io::Result<()> {
        // One write(2) is one packet on a TUN fd; `&File` implements Write, so several
        // reader threads can share the device without a lock.
        use std::io::Write;
        let n = (&self.file).write(pkt)?;
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
        let af = if v6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe { libc::socket(af, libc::SOCK_RAW | libc::SOCK_CLOEXEC, i32::from(proto)) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            let what = format!("raw IPv{} protocol {proto}", if v6 { 6 } else { 4 });
            if denied(&e) {
                return Err(SysError::NotPermitted {
                    what: format!("opening a {what} socket"),
                });
            }
            return Err(SysError::Socket { what, err: e });
        }
        // SAFETY: `fd` was just returned by socket(2) and is owned by nothing else.
        Ok(RawSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Blocks for one datagram; returns its length (truncated to `buf`).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes and `fd` is open.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
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
