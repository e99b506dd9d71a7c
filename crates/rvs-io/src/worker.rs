//! What the AF_XDP and AF_PACKET workers share: counters, the bounded queue of frames
//! waiting for a neighbour, and frames injected by the control plane (gratuitous ARP).

use crate::kernel::KernelNet;
use rvs_engine::{NetView, PortId};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What every worker holds: the engine (one conn table for all queues and interfaces), the
/// kernel view, the daemon's clock, and the shared counters and queues.
pub struct Shared {
    pub engine: Arc<Mutex<rvs_engine::Engine>>,
    pub net: Arc<KernelNet>,
    pub clock: Instant,
    pub counters: Arc<IoCounters>,
    pub inject: Arc<Inject>,
    pub stop: Arc<AtomicBool>,
    /// AF_XDP socket statistics, refreshed by the workers (empty under AF_PACKET).
    pub xsk_stats: Arc<Mutex<Vec<(String, xdpilone::xdp::XdpStatisticsV2)>>>,
    /// rvs's TUN device and its port: the director's own traffic to the services comes in
    /// here, replies to it go out here (see [`crate::local`]).
    pub tun: Option<(Arc<tun_rs::SyncDevice>, PortId)>,
    pub lconns: Option<Arc<crate::local::LconnSink>>,
}

/// Ethernet header the engine expects in front of a packet read from the TUN device.
pub const ETH: usize = 14;

impl Shared {
    pub fn tun_port(&self) -> Option<PortId> {
        self.tun.as_ref().map(|(_, p)| *p)
    }

    /// The TUN device's fd, to poll along with the sockets.
    pub fn tun_fd(&self) -> Option<BorrowedFd<'_>> {
        self.tun.as_ref().map(|(t, _)| t.as_fd())
    }

    /// Read one packet from the TUN device into `buf` after `headroom` + a made-up
    /// Ethernet header; returns the frame length.
    pub fn tun_read(&self, buf: &mut [u8], headroom: usize) -> Option<usize> {
        let (tun, _) = self.tun.as_ref()?;
        let n = tun.recv(&mut buf[headroom + ETH..]).ok()?;
        if n == 0 {
            return None;
        }
        let ty: u16 = match buf[headroom + ETH] >> 4 {
            4 => 0x0800,
            6 => 0x86dd,
            _ => return Some(0),
        };
        let h = &mut buf[headroom..headroom + ETH];
        h[..6].copy_from_slice(&crate::kernel::LOCAL_MAC.0);
        h[6..12].copy_from_slice(&crate::kernel::LOCAL_MAC.0);
        h[12..14].copy_from_slice(&ty.to_be_bytes());
        Some(ETH + n)
    }

    /// Hand a frame's IP packet to the kernel through the TUN device (a reply to one of
    /// its own connections, or a frame the engine passed that AF_XDP took from the kernel).
    pub fn tun_write(&self, frame: &[u8]) -> bool {
        let Some((tun, _)) = self.tun.as_ref() else {
            return false;
        };
        let Ok(fi) = rvs_wire::frame::parse_frame(frame) else {
            return false;
        };
        if !matches!(fi.l3, rvs_wire::frame::L3::Ipv4 | rvs_wire::frame::L3::Ipv6) {
            return false;
        }
        let end = (fi.l3_offset + fi.ip_len).min(frame.len());
        let pkt = &frame[fi.l3_offset..end];
        // One write is one packet: a short write would be a truncated one.
        tun.send(pkt).is_ok_and(|n| n == pkt.len())
    }

    /// A frame the engine forwarded for a connection the director opened: tell the
    /// steering which reply to hand to rvs (first packet of the conn; cheap to repeat).
    pub fn note_local_conn(&self, out: &[u8]) {
        let Some(sink) = self.lconns.as_ref() else {
            return;
        };
        let Ok(fi) = rvs_wire::frame::parse_frame(out) else {
            return;
        };
        let first = match fi.protocol {
            6 => fi.tcp_flags & 0x12 == 0x02,
            17 | 132 => true,
            _ => false,
        };
        if first {
            sink.add(&crate::local::Lconn {
                proto: fi.protocol,
                saddr: fi.dst,
                sport: fi.dport,
                daddr: fi.src,
                dport: fi.sport,
            });
        }
    }
}

macro_rules! counters {
    ($($name:ident: $doc:literal,)*) => {
        /// I/O-layer counters, shared by all workers (relaxed atomics: read for display only).
        #[derive(Debug, Default)]
        pub struct IoCounters { $(#[doc = $doc] pub $name: AtomicU64,)* }

        impl IoCounters {
            /// (name, value) pairs in a fixed order, for `rvsadm --io-stats`.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }
        }
    };
}

counters! {
    rx_frames: "Frames received from the interfaces.",
    rx_socket_drops: "Frames an AF_PACKET socket dropped before rvs read them (its queue was full).",
    tx_frames: "Frames handed to the interfaces.",
    tx_ring_full: "Frames dropped because a TX ring (or socket buffer) was full.",
    tx_errors: "Frames the kernel refused to send.",
    pass_unhandled: "Frames the engine passed to the kernel that AF_XDP could not re-inject (dropped).",
    neigh_queued: "Frames queued while their next hop's MAC was resolved.",
    neigh_sent: "Queued frames sent once the neighbour resolved.",
    neigh_timeout: "Queued frames dropped: the neighbour did not resolve in time.",
    neigh_overflow: "Frames dropped: the resolution queue was full.",
    injected: "Frames the control plane sent (gratuitous ARP, unsolicited NA).",
    fill_empty: "Times a fill ring could not be refilled for lack of free frames.",
    wakeups: "TX kicks (sendto) issued.",
}

impl IoCounters {
    #[inline]
    pub fn add(c: &AtomicU64, n: u64) {
        if n != 0 {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
}

const PER_HOP: usize = 64;
const TOTAL: usize = 4096;
const WAIT_MS: u64 = 3000;

/// Queued frames with their deadline (ms).
type HopQueue = VecDeque<(Vec<u8>, u64)>;

/// Frames fully rewritten but for their destination MAC, per (port, next hop).
#[derive(Default)]
pub struct Pending {
    q: HashMap<(PortId, IpAddr), HopQueue>,
    total: usize,
}

impl Pending {
    /// Queue a copy of `frame`; returns false (and the caller counts a drop) when full.
    pub fn push(&mut self, port: PortId, hop: IpAddr, frame: &[u8], now_ms: u64) -> bool {
        if self.total >= TOTAL {
            return false;
        }
        let q = self.q.entry((port, hop)).or_default();
        if q.len() >= PER_HOP {
            return false;
        }
        q.push_back((frame.to_vec(), now_ms + WAIT_MS));
        self.total += 1;
        true
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Frames whose neighbour resolved, with the MAC written in; expired ones are counted.
    pub fn ready(
        &mut self,
        net: &dyn NetView,
        now_ms: u64,
        counters: &IoCounters,
        mut send: impl FnMut(PortId, &[u8]),
    ) {
        let mut done = Vec::new();
        for (&(port, hop), q) in self.q.iter_mut() {
            if let Some(mac) = net.neighbour(port, hop) {
                for (mut f, _) in q.drain(..) {
                    f[..6].copy_from_slice(&mac.0);
                    send(port, &f);
                    IoCounters::add(&counters.neigh_sent, 1);
                    self.total -= 1;
                }
            } else {
                while q.front().is_some_and(|(_, dl)| *dl <= now_ms) {
                    q.pop_front();
                    self.total -= 1;
                    IoCounters::add(&counters.neigh_timeout, 1);
                }
            }
            if q.is_empty() {
                done.push((port, hop));
            }
        }
        for k in done {
            self.q.remove(&k);
        }
    }
}

/// Frames to send that did not come from a receive ring.
#[derive(Default)]
pub struct Inject {
    q: Mutex<Vec<(PortId, Vec<u8>)>>,
}

impl Inject {
    pub fn push(&self, port: PortId, frame: Vec<u8>) {
        if let Ok(mut q) = self.q.lock() {
            q.push((port, frame));
        }
    }

    pub fn take(&self) -> Vec<(PortId, Vec<u8>)> {
        self.q
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_engine::StaticNet;
    use rvs_wire::ethernet::MacAddr;

    #[test]
    fn queued_frames_leave_once_resolved_and_expire_otherwise() {
        let counters = IoCounters::default();
        let mut p = Pending::default();
        let (port, hop): (PortId, IpAddr) = (PortId(1), "172.16.0.2".parse().unwrap());
        let other: IpAddr = "172.16.0.3".parse().unwrap();
        for i in 0..PER_HOP {
            assert!(p.push(port, hop, &[i as u8; 60], 0));
        }
        assert!(!p.push(port, hop, &[0; 60], 0), "bounded per next hop");
        assert!(p.push(port, other, &[9; 60], 0));
        let mut net = StaticNet::default();
        let mut sent = Vec::new();
        p.ready(&net, 10, &counters, |_, f| sent.push(f.to_vec()));
        assert!(sent.is_empty(), "nothing resolved yet");
        net.add_neighbour(port, hop, MacAddr([2, 0, 0, 0, 0, 2]));
        p.ready(&net, 20, &counters, |pt, f| {
            assert_eq!(pt, port);
            sent.push(f.to_vec())
        });
        assert_eq!(sent.len(), PER_HOP);
        assert!(sent
            .iter()
            .enumerate()
            .all(|(i, f)| f[..6] == [2, 0, 0, 0, 0, 2] && f[6] == i as u8));
        // The other hop never resolves: dropped and counted after the wait.
        p.ready(&net, WAIT_MS + 1, &counters, |_, _| {
            panic!("unresolved frame sent")
        });
        assert!(p.is_empty());
        assert_eq!(counters.neigh_timeout.load(Ordering::Relaxed), 1);
        assert_eq!(counters.neigh_sent.load(Ordering::Relaxed), PER_HOP as u64);
    }
}
