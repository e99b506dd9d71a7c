//! The AF_PACKET fallback worker: for kernels or drivers without AF_XDP. Raw sockets see a
//! copy of every frame while the kernel processes the original, so the nftables table from
//! [`crate::steer::nft_ruleset`] drops, at ingress, what rvs handles. One thread serves
//! every interface; frames are copied in and out (the price of the fallback).

use crate::worker::{IoCounters, Pending, Shared};
use rvs_engine::{PacketBuf, PortId, Verdict};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;

const HEADROOM: usize = 256;
const BUF: usize = HEADROOM + 9216 + 64;
const BATCH: usize = 64;
/// Linux ≥ 4.20: do not hand our own transmissions back to us.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// A raw socket bound to one interface, non-blocking.
pub fn open(ifindex: u32) -> std::io::Result<OwnedFd> {
    use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(
        AddressFamily::PACKET,
        SocketType::RAW,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        Some(rustix::net::eth::ALL),
    )?;
    // Neither rustix nor std knows the AF_PACKET options and addresses: the setsockopt,
    // bind, getsockopt and recvfrom calls of this file stay libc's.
    let one: libc::c_int = 1;
    // SAFETY: an int option on our socket.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
    // Bursts outrun one thread's reads: a deep receive queue absorbs them (FORCE: root may
    // exceed net.core.rmem_max).
    let buf = 16 << 20;
    let _ = sockopt::set_socket_recv_buffer_size_force(&fd, buf);
    let _ = sockopt::set_socket_send_buffer_size_force(&fd, buf);
    bind(&fd, ifindex, libc::ETH_P_ALL as u16)?;
    Ok(fd)
}

/// Binds a packet socket to interface `ifindex` and ethertype `protocol` (0: none, a
/// socket that only sends).
pub fn bind(fd: &OwnedFd, ifindex: u32, protocol: u16) -> std::io::Result<()> {
    // SAFETY: zeroed sockaddr_ll is a valid starting value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a valid sockaddr_ll of the given size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn send(fd: &OwnedFd, f: &[u8], counters: &IoCounters) {
    // The socket is bound, so no address is needed.
    match rustix::net::send(fd, f, rustix::net::SendFlags::DONTWAIT) {
        Ok(_) => IoCounters::add(&counters.tx_frames, 1),
        Err(rustix::io::Errno::WOULDBLOCK) => IoCounters::add(&counters.tx_ring_full, 1),
        Err(_) => IoCounters::add(&counters.tx_errors, 1),
    }
}

/// PACKET_STATISTICS (struct tpacket_stats): frames the socket dropped because its receive
/// queue was full, since the last read (the kernel resets them on each read).
fn socket_drops(fd: &OwnedFd) -> u64 {
    #[repr(C)]
    struct TpacketStats {
        packets: u32,
        drops: u32,
    }
    let mut st = TpacketStats {
        packets: 0,
        drops: 0,
    };
    let mut len = std::mem::size_of::<TpacketStats>() as libc::socklen_t;
    const PACKET_STATISTICS: libc::c_int = 6;
    // SAFETY: st and len describe a valid buffer of the size the kernel writes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_STATISTICS,
            (&mut st as *mut TpacketStats).cast(),
            &mut len,
        )
    };
    if r == 0 {
        st.drops as u64
    } else {
        0
    }
}

pub fn run(socks: Vec<OwnedFd>, sh: Shared) {
    let mut last_stats = std::time::Instant::now();
    let mut bufs = vec![vec![0u8; BUF]; BATCH];
    let mut pending = Pending::default();
    let mut lens = [0usize; BATCH];
    while !sh.stop.load(Ordering::Relaxed) {
        let now = sh.clock.elapsed().as_millis() as u64 + 1;
        let mut work = 0;
        for (i, s) in socks.iter().enumerate() {
            // Read a batch first, then take the engine lock once for all of it.
            let mut n = 0;
            while n < BATCH {
                // SAFETY: zeroed sockaddr_ll is valid; recvfrom fills at most its size.
                let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                let mut flen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                let b = &mut bufs[n][HEADROOM..];
                // SAFETY: b is a valid writable slice; from/flen describe a valid buffer.
                let r = unsafe {
                    libc::recvfrom(
                        s.as_raw_fd(),
                        b.as_mut_ptr().cast(),
                        b.len(),
                        libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                        (&mut from as *mut libc::sockaddr_ll).cast(),
                        &mut flen,
                    )
                };
                if r < 0 {
                    break;
                }
                // Frames for other hosts (a bridge flooding) or too big to hold are not ours.
                if from.sll_pkttype == libc::PACKET_OTHERHOST
                    || from.sll_pkttype == libc::PACKET_OUTGOING
                    || r as usize > b.len()
                {
                    continue;
                }
                lens[n] = r as usize;
                n += 1;
            }
            if n == 0 {
                continue;
            }
            work += n;
            IoCounters::add(&sh.counters.rx_frames, n as u64);
            let mut eng = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
            for (k, buf) in bufs.iter_mut().enumerate().take(n) {
                let mut pkt = PacketBuf::new(buf, HEADROOM, lens[k]);
                match eng.process(&mut pkt, PortId(i as u16), now) {
                    Verdict::Tx(port) if Some(port) == sh.tun_port() => {
                        sh.tun_write(pkt.data());
                    }
                    Verdict::Tx(port) => {
                        if let Some(out) = socks.get(port.0 as usize) {
                            send(out, pkt.data(), &sh.counters);
                        }
                    }
                    Verdict::TxPending { port, next_hop } => {
                        if pending.push(port, next_hop, pkt.data(), now) {
                            IoCounters::add(&sh.counters.neigh_queued, 1);
                            sh.net.resolve(port, next_hop);
                        } else {
                            IoCounters::add(&sh.counters.neigh_overflow, 1);
                        }
                    }
                    // The kernel has its own copy of a passed frame.
                    Verdict::Pass | Verdict::Drop(_) => {}
                }
            }
        }
        if let Some(tun_port) = sh.tun_port() {
            let buf = &mut bufs[0];
            for _ in 0..BATCH {
                let Some(len) = sh.tun_read(buf, HEADROOM) else {
                    break;
                };
                work += 1;
                if len == 0 {
                    continue;
                }
                let mut pkt = PacketBuf::new(buf, HEADROOM, len);
                let v = sh
                    .engine
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .process(&mut pkt, tun_port, now);
                match v {
                    Verdict::Tx(port) if port == tun_port => {
                        sh.tun_write(pkt.data());
                    }
                    Verdict::Tx(port) => {
                        sh.note_local_conn(pkt.data());
                        if let Some(out) = socks.get(port.0 as usize) {
                            send(out, pkt.data(), &sh.counters);
                        }
                    }
                    Verdict::TxPending { port, next_hop } => {
                        sh.note_local_conn(pkt.data());
                        if pending.push(port, next_hop, pkt.data(), now) {
                            sh.net.resolve(port, next_hop);
                        }
                    }
                    Verdict::Pass | Verdict::Drop(_) => {}
                }
            }
        }
        for (port, f) in sh.inject.take() {
            if let Some(out) = socks.get(port.0 as usize) {
                send(out, &f, &sh.counters);
                IoCounters::add(&sh.counters.injected, 1);
            }
        }
        if !pending.is_empty() {
            pending.ready(&*sh.net, now, &sh.counters, |p, f| {
                if let Some(out) = socks.get(p.0 as usize) {
                    send(out, f, &sh.counters);
                }
            });
        }
        if last_stats.elapsed().as_millis() >= 500 {
            last_stats = std::time::Instant::now();
            for s in &socks {
                IoCounters::add(&sh.counters.rx_socket_drops, socket_drops(s));
            }
        }
        if work == 0 {
            use rustix::event::{PollFd, PollFlags, Timespec};
            let mut fds: Vec<PollFd> = socks
                .iter()
                .map(|s| s.as_fd())
                .chain(sh.tun_fd())
                .map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN))
                .collect();
            let ms = if pending.is_empty() { 10 } else { 1 };
            let _ = rustix::event::poll(
                &mut fds,
                Some(&Timespec {
                    tv_sec: 0,
                    tv_nsec: ms * 1_000_000,
                }),
            );
        }
    }
}
