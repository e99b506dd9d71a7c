//! `rvs-udp`: the UDP traffic tool of the end-to-end tests and benchmarks.
//!
//! - `sink`  counts datagrams, bytes and distinct senders; prints one JSON line when idle,
//!   after `--duration-ms`, or on SIGTERM/SIGINT.
//! - `echo`  answers each datagram with `NAME ` + the datagram, so a client can tell which
//!   real server answered.
//! - `flood` sends N datagrams from K source ports, optionally paced.
//! - `ask`   sends one request from each of N fresh sockets and counts the replies per
//!   server name.
//!
//! The hot loops call `sendmmsg`/`recvmmsg` through libc by hand: std's `UdpSocket` has one
//! syscall per datagram, which caps a sender at a few hundred kpps, while the small-packet
//! benchmark needs more than 1 Mpps from one core; rustix, which makes the other socket
//! calls here safe, has `sendmmsg` but no `recvmmsg`, and the crates that wrap both (nix,
//! quinn-udp) would add a dependency for two functions. So this crate keeps its `unsafe`.
//!
//! "Listening" lines go to stderr so a harness can wait for them; results go to stdout.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use rustix::event::{PollFd, PollFlags, Timespec};

/// Datagrams per recvmmsg/sendmmsg call: enough to amortise the syscall, small enough that
/// the buffers stay in L2.
const BATCH: usize = 64;
/// Receive buffer per datagram in `sink`: it only counts, and MSG_TRUNC reports the real
/// length of longer datagrams.
const SINK_BUF: usize = 2048;
/// Largest datagram `echo` answers in full.
const ECHO_BUF: usize = 65536;
const ECHO_BATCH: usize = 16;

#[derive(Parser)]
#[command(
    name = "rvs-udp",
    about = "UDP sink, echo, flood and ask for the rvs e2e tests and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Count datagrams; print {"received":N,"bytes":B,"sources":S}.
    Sink {
        #[arg(long)]
        bind: SocketAddr,
        /// Stop after this long (from start), instead of when idle.
        #[arg(long, conflicts_with = "idle_ms")]
        duration_ms: Option<u64>,
        /// Stop when nothing arrived for this long after the first datagram.
        #[arg(long, default_value_t = 1000)]
        idle_ms: u64,
    },
    /// Answer each datagram with "NAME " followed by the datagram.
    ///
    /// Replies leave from the address the kernel picks for the route back, so a DR or TUN
    /// real server must bind the VIP itself (not 0.0.0.0) for `ask`'s connected sockets
    /// to accept its replies.
    Echo {
        #[arg(long)]
        bind: SocketAddr,
        #[arg(long)]
        name: String,
    },
    /// Send COUNT datagrams of SIZE bytes; print {"sent":N,"seconds":T,"pps":P}.
    Flood {
        #[arg(long)]
        to: SocketAddr,
        #[arg(long)]
        count: u64,
        /// Payload bytes per datagram; the first 8 carry the sequence number when they fit.
        #[arg(long, default_value_t = 18)]
        size: usize,
        /// Datagrams per second (unpaced if absent).
        #[arg(long)]
        rate: Option<u64>,
        /// Distinct source ports, used round robin a batch at a time.
        #[arg(long, default_value_t = 1)]
        sources: usize,
        /// Hand the kernel up to 64 datagrams per send as one UDP GSO super-packet
        /// (UDP_SEGMENT). Several times faster where the kernel segments them (loopback,
        /// a kernel router), but whatever captures packets before segmentation (AF_PACKET
        /// on a veth) sees super-packets, so it is only for kernel-path benchmarks.
        #[arg(long)]
        gso: bool,
    },
    /// Send COUNT requests from COUNT fresh sockets; print
    /// {"replies":{"NAME":n,...},"lost":L}.
    Ask {
        #[arg(long)]
        to: SocketAddr,
        #[arg(long)]
        count: u64,
        /// How long to wait for the replies of each window of sockets.
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Sink {
            bind,
            duration_ms,
            idle_ms,
        } => sink(
            bind,
            duration_ms.map(Duration::from_millis),
            Duration::from_millis(idle_ms),
        ),
        Cmd::Echo { bind, name } => echo(bind, &name),
        Cmd::Flood {
            to,
            count,
            size,
            rate,
            sources,
            gso,
        } => flood(to, count, size, rate, sources, gso),
        Cmd::Ask {
            to,
            count,
            timeout_ms,
        } => ask(to, count, Duration::from_millis(timeout_ms)),
    }
}

/// Scatter/gather state for one `recvmmsg`/`sendmmsg` call over `n` equal buffers.
struct MmsgBatch {
    bufs: Vec<u8>,
    buf_len: usize,
    iovs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    hdrs: Vec<libc::mmsghdr>,
}

impl MmsgBatch {
    fn new(n: usize, buf_len: usize) -> Self {
        MmsgBatch {
            bufs: vec![0; n * buf_len],
            buf_len,
            // SAFETY: iovec, sockaddr_storage and mmsghdr are plain C structs for which all
            // zero bytes is a valid value (null pointers, zero lengths).
            iovs: vec![unsafe { zeroed() }; n],
            // SAFETY: as above.
            addrs: vec![unsafe { zeroed() }; n],
            // SAFETY: as above.
            hdrs: vec![unsafe { zeroed() }; n],
        }
    }

    /// Points header `i` at buffer `i` (first `len` bytes) and, if `with_addr`, at
    /// address slot `i`. Done before each call, so the pointers never outlive a move.
    fn prepare(&mut self, i: usize, len: usize, with_addr: bool) {
        self.iovs[i] = libc::iovec {
            iov_base: self.bufs[i * self.buf_len..].as_mut_ptr().cast(),
            iov_len: len,
        };
        let h = &mut self.hdrs[i].msg_hdr;
        h.msg_iov = &mut self.iovs[i];
        h.msg_iovlen = 1;
        if with_addr {
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        } else {
            h.msg_name = std::ptr::null_mut();
            h.msg_namelen = 0;
        }
        h.msg_control = std::ptr::null_mut();
        h.msg_controllen = 0;
        h.msg_flags = 0;
        self.hdrs[i].msg_len = 0;
    }

    fn buf(&mut self, i: usize) -> &mut [u8] {
        &mut self.bufs[i * self.buf_len..(i + 1) * self.buf_len]
    }

    /// Receives up to `n` datagrams, blocking (up to the socket's SO_RCVTIMEO) only for the
    /// first. Returns how many arrived; 0 on timeout or signal.
    fn recv(&mut self, fd: i32, n: usize, flags: i32) -> io::Result<usize> {
        for i in 0..n {
            self.prepare(i, self.buf_len, true);
        }
        // SAFETY: hdrs[..n] point at live iovecs, buffers and address slots of `self`,
        // each buffer `buf_len` long, and nothing moves them during the call.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                n as u32,
                flags | libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(0),
                _ => Err(e),
            };
        }
        Ok(r as usize)
    }

    /// Sends headers `0..n`, already prepared; returns how many went out.
    fn send(&mut self, fd: i32, n: usize) -> io::Result<usize> {
        // SAFETY: the caller prepared hdrs[..n], which point into `self`'s buffers.
        let r = unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr(), n as u32, 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
    }
}

fn sockaddr_to_std(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family says the storage holds a sockaddr_in, and sockaddr_storage
            // is large and aligned enough for it.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// UDP_SEGMENT (--gso) is the one option neither std nor rustix has.
fn setsockopt_int(fd: i32, level: i32, opt: i32, val: i32) -> io::Result<()> {
    // SAFETY: passes a pointer to a live i32 with its exact size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&val as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Big socket buffers absorb bursts; the FORCE variants (root) ignore net.core.*mem_max.
fn grow_buffers(fd: impl AsFd) {
    use rustix::net::sockopt;
    const SIZE: usize = 32 << 20;
    if sockopt::set_socket_recv_buffer_size_force(&fd, SIZE).is_err() {
        let _ = sockopt::set_socket_recv_buffer_size(&fd, SIZE);
    }
    if sockopt::set_socket_send_buffer_size_force(&fd, SIZE).is_err() {
        let _ = sockopt::set_socket_send_buffer_size(&fd, SIZE);
    }
}

fn bind(addr: SocketAddr) -> Result<UdpSocket> {
    let sock = UdpSocket::bind(addr).with_context(|| format!("binding {addr}"))?;
    grow_buffers(&sock);
    Ok(sock)
}

fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    Ok(stop)
}

fn sink(bind_addr: SocketAddr, duration: Option<Duration>, idle: Duration) -> Result<()> {
    let sock = bind(bind_addr)?;
    // Wake up regularly to check the clock and the stop flag.
    sock.set_read_timeout(Some(Duration::from_millis(20)))?;
    let stop = stop_flag()?;
    let fd = sock.as_raw_fd();
    eprintln!("listening {}", sock.local_addr()?);
    let mut batch = MmsgBatch::new(BATCH, SINK_BUF);
    let (mut received, mut bytes) = (0u64, 0u64);
    let mut sources = HashSet::new();
    let start = Instant::now();
    let mut last: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match duration {
            Some(d) if start.elapsed() >= d => break,
            None if last.is_some_and(|l| l.elapsed() >= idle) => break,
            _ => {}
        }
        let n = batch.recv(fd, BATCH, libc::MSG_TRUNC).context("recvmmsg")?;
        if n == 0 {
            continue;
        }
        for i in 0..n {
            received += 1;
            bytes += u64::from(batch.hdrs[i].msg_len);
            if let Some(a) = sockaddr_to_std(&batch.addrs[i]) {
                sources.insert(a);
            }
        }
        last = Some(Instant::now());
    }
    println!(
        "{}",
        serde_json::json!({"received": received, "bytes": bytes, "sources": sources.len()})
    );
    Ok(())
}

fn echo(bind_addr: SocketAddr, name: &str) -> Result<()> {
    if name.is_empty() || name.contains(' ') {
        bail!("--name must be non-empty and without spaces (replies are \"NAME payload\")");
    }
    let sock = bind(bind_addr)?;
    let fd = sock.as_raw_fd();
    eprintln!("listening {}", sock.local_addr()?);
    let prefix = format!("{name} ");
    let mut rx = MmsgBatch::new(ECHO_BATCH, ECHO_BUF);
    let mut tx = MmsgBatch::new(ECHO_BATCH, ECHO_BUF + prefix.len());
    loop {
        let n = rx.recv(fd, ECHO_BATCH, 0).context("recvmmsg")?;
        for i in 0..n {
            let len = rx.hdrs[i].msg_len as usize;
            let out = tx.buf(i);
            out[..prefix.len()].copy_from_slice(prefix.as_bytes());
            out[prefix.len()..prefix.len() + len]
                .copy_from_slice(&rx.bufs[i * ECHO_BUF..i * ECHO_BUF + len]);
            tx.prepare(i, prefix.len() + len, true);
            tx.addrs[i] = rx.addrs[i];
            tx.hdrs[i].msg_hdr.msg_namelen = rx.hdrs[i].msg_hdr.msg_namelen;
        }
        let mut done = 0;
        while done < n {
            // Replies that cannot go out (a client that vanished) are dropped, as a real
            // UDP server would.
            // SAFETY: hdrs[done..n] were prepared above and point into `tx`.
            let r =
                unsafe { libc::sendmmsg(fd, tx.hdrs.as_mut_ptr().add(done), (n - done) as u32, 0) };
            if r <= 0 {
                done += 1;
            } else {
                done += r as usize;
            }
        }
    }
}

fn connected_socket(to: SocketAddr) -> Result<UdpSocket> {
    let any: SocketAddr = if to.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(any)?;
    // Connected: the kernel skips the route lookup per datagram, and a reply from any
    // other source than `to` is not taken for an answer.
    sock.connect(to)
        .with_context(|| format!("connecting to {to}"))?;
    Ok(sock)
}

fn flood(
    to: SocketAddr,
    count: u64,
    size: usize,
    rate: Option<u64>,
    sources: usize,
    gso: bool,
) -> Result<()> {
    if sources == 0 || rate == Some(0) || size == 0 {
        bail!("--sources, --rate and --size must be positive");
    }
    let socks = (0..sources)
        .map(|_| connected_socket(to))
        .collect::<Result<Vec<_>>>()?;
    // Datagrams per message: 1, or up to 64 segments of `size` within one 64 KiB datagram.
    let segs = if gso { (65_000 / size).clamp(1, 64) } else { 1 };
    for s in &socks {
        grow_buffers(s);
        if segs > 1 {
            setsockopt_int(s.as_raw_fd(), libc::SOL_UDP, libc::UDP_SEGMENT, size as i32)
                .context("UDP_SEGMENT (--gso)")?;
        }
    }
    // Paced sends go in smaller batches so the rate holds at sub-millisecond scale.
    let per_call = match rate {
        Some(r) => (r / 2000).clamp(1, (BATCH * segs) as u64) as usize,
        None => BATCH * segs,
    };
    let msgs = per_call.div_ceil(segs);
    let mut batch = MmsgBatch::new(msgs, size * segs);
    let mut in_msg = vec![0usize; msgs];
    let start = Instant::now();
    let (mut sent, mut turn) = (0u64, 0usize);
    while sent < count {
        if let Some(r) = rate {
            let due = start + Duration::from_secs_f64(sent as f64 / r as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let mut left = (count - sent).min(per_call as u64) as usize;
        let mut seq = sent;
        let mut n = 0;
        while left > 0 {
            let k = left.min(segs);
            let buf = batch.buf(n);
            if size >= 8 {
                for j in 0..k {
                    buf[j * size..j * size + 8].copy_from_slice(&(seq + j as u64).to_le_bytes());
                }
            }
            batch.prepare(n, k * size, false);
            in_msg[n] = k;
            seq += k as u64;
            left -= k;
            n += 1;
        }
        match batch.send(socks[turn].as_raw_fd(), n) {
            Ok(m) => sent += in_msg[..m].iter().sum::<usize>() as u64,
            // An ICMP port unreachable for an earlier datagram surfaces here, once; slow
            // receivers show up as ENOBUFS. Both: try again.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ECONNREFUSED | libc::ENOBUFS | libc::EAGAIN | libc::EINTR)
                ) =>
            {
                continue
            }
            Err(e) => return Err(e).context("sendmmsg"),
        }
        turn = (turn + 1) % socks.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"sent": sent, "seconds": secs, "pps": (sent as f64 / secs).round()})
    );
    Ok(())
}

fn ask(to: SocketAddr, count: u64, timeout: Duration) -> Result<()> {
    // Fresh sockets in windows, so a large count stays below the fd limit while each
    // request still comes from its own source port (a new conn for the director).
    const WINDOW: u64 = 256;
    let mut replies: BTreeMap<String, u64> = BTreeMap::new();
    let mut lost = 0u64;
    let mut asked = 0u64;
    while asked < count {
        let w = (count - asked).min(WINDOW);
        let mut socks = Vec::with_capacity(w as usize);
        for i in 0..w {
            let s = connected_socket(to)?;
            s.set_nonblocking(true)?;
            // An ICMP error for this send shows up as a failed recv below and counts lost.
            let _ = s.send(format!("ask {}", asked + i).as_bytes());
            socks.push(Some(s));
        }
        asked += w;
        let deadline = Instant::now() + timeout;
        let mut pending = w;
        let mut buf = vec![0u8; ECHO_BUF];
        while pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let timeout =
                Timespec::try_from(left.max(Duration::from_millis(1))).context("poll timeout")?;
            let mut fds: Vec<PollFd> = socks
                .iter()
                .flatten()
                .map(|s| PollFd::new(s, PollFlags::IN))
                .collect();
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(io::Error::from(e)).context("poll"),
            }
            let ready: HashSet<i32> = fds
                .iter()
                .filter(|p| !p.revents().is_empty())
                .map(|p| p.as_fd().as_raw_fd())
                .collect();
            for slot in socks.iter_mut() {
                let Some(s) = slot else { continue };
                if !ready.contains(&s.as_raw_fd()) {
                    continue;
                }
                match s.recv(&mut buf) {
                    Ok(n) => {
                        let reply = &buf[..n];
                        let name = reply.split(|b| *b == b' ').next().unwrap_or_default();
                        *replies
                            .entry(String::from_utf8_lossy(name).into_owned())
                            .or_default() += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    // ECONNREFUSED and friends: no answer is coming on this socket.
                    Err(_) => lost += 1,
                }
                *slot = None;
                pending -= 1;
            }
        }
        lost += pending;
    }
    println!("{}", serde_json::json!({"replies": replies, "lost": lost}));
    Ok(())
}
