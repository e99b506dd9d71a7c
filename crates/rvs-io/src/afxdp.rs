//! The AF_XDP worker: one per RX queue index, owning one UMEM shared by its sockets on
//! every served interface, so that a frame received on one interface is transmitted on
//! another by handing over its descriptor, never copying it.
//!
//! Lessons from ../shared/AFXDP-NOTES.md applied here: zero-copy is asked for and copy
//! mode taken when the driver refuses (veth does); the second socket on a shared UMEM binds
//! with flags 0; each interface has its own fill and completion rings; copy-mode TX is
//! kicked while anything is pending (32 descriptors per kick unless the kernel accepts a
//! larger XDP_MAX_TX_SKB_BUDGET); xdpilone's reserve calls are repeated when they return
//! fewer slots than asked, and `insert` is never handed more items than the capacity.

use crate::worker::{IoCounters, Pending, Shared};
use rvs_engine::{PacketBuf, PortId, Verdict};
use std::num::NonZeroU32;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Instant;
use xdpilone::xdp::XdpDesc;
use xdpilone::{DeviceQueue, IfInfo, RingRx, RingTx, Socket, SocketConfig, Umem, UmemConfig, User};

const FRAME: u32 = 2048;
/// Room in front of every received frame for the outer headers TUN mode pushes.
const HEADROOM: u32 = 256;
/// Ring sizes: deep enough that a burst outlasts the worker losing its CPU for a while (the
/// bench saw the RX ring overflow at 2048 on a loaded 2-core machine).
const RING: u32 = 4096;
const BATCH: u32 = 64;
const SOL_XDP: libc::c_int = 283;
/// Linux >= 6.17; not in the installed headers (AFXDP-NOTES).
const XDP_MAX_TX_SKB_BUDGET: libc::c_int = 9;

/// What the worker reports once its sockets are bound.
pub struct Bound {
    /// (port, socket fd) to register in each interface's XSKMAP at `queue`.
    pub fds: Vec<(usize, i32)>,
    pub zero_copy: bool,
}

struct Port {
    name: String,
    dev: DeviceQueue,
    rx: RingRx,
    tx: RingTx,
    user: User,
}

/// The UMEM's memory, an anonymous mapping unmapped last: every socket using it is
/// dropped before (field order in Worker).
struct Area {
    /// Where the frames are: taken once from the mapping, which never moves.
    ptr: NonNull<u8>,
    _map: memmap2::MmapMut,
}

struct Worker {
    ports: Vec<Port>,
    umem: Umem,
    free: Vec<u64>,
    txq: Vec<Vec<XdpDesc>>,
    pending: Pending,
    area: Area,
}

fn errno(e: xdpilone::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.get_raw())
}

fn setup(ifaces: &[u32], names: &[String], queue: u32, zero_copy: bool) -> std::io::Result<Worker> {
    let frames = (RING * 4 * ifaces.len() as u32).next_power_of_two();
    let len = (frames * FRAME) as usize;
    let mut map = memmap2::MmapOptions::new().len(len).populate().map_anon()?;
    let area = Area {
        ptr: NonNull::from(&mut map[..]).cast(),
        _map: map,
    };
    let slice = NonNull::slice_from_raw_parts(area.ptr, len);
    let cfg = UmemConfig {
        fill_size: RING,
        complete_size: RING,
        frame_size: FRAME,
        headroom: HEADROOM,
        flags: 0,
    };
    // SAFETY: page-aligned (mmap), valid for `len`, and kept alive by `area` for as long
    // as the Umem (Worker drops `ports` and `umem` before `area`).
    let umem = unsafe { Umem::new(cfg, slice) }.map_err(errno)?;
    let mut ports = Vec::new();
    for (i, &ifindex) in ifaces.iter().enumerate() {
        let mut info = IfInfo::invalid();
        info.from_ifindex(ifindex).map_err(errno)?;
        info.set_queue(queue);
        let sock = if i == 0 {
            Socket::with_shared(&info, &umem).map_err(errno)?
        } else {
            Socket::new(&info).map_err(errno)?
        };
        let dev = umem.fq_cq(&sock).map_err(errno)?;
        // The kernel refuses mode flags on a socket sharing another's UMEM: it inherits them.
        let bind_flags = if i > 0 {
            0
        } else if zero_copy {
            SocketConfig::XDP_BIND_ZEROCOPY | SocketConfig::XDP_BIND_NEED_WAKEUP
        } else {
            SocketConfig::XDP_BIND_COPY | SocketConfig::XDP_BIND_NEED_WAKEUP
        };
        let user = umem
            .rx_tx(
                &sock,
                &SocketConfig {
                    rx_size: NonZeroU32::new(RING),
                    tx_size: NonZeroU32::new(RING),
                    bind_flags,
                },
            )
            .map_err(errno)?;
        let rx = user.map_rx().map_err(errno)?;
        let tx = user.map_tx().map_err(errno)?;
        umem.bind(&user).map_err(|e| {
            let e = errno(e);
            std::io::Error::new(e.kind(), format!("bind {}: {e}", names[i]))
        })?;
        let budget: u32 = 256;
        // SAFETY: a u32 option on our socket; failure (older kernels) is harmless.
        unsafe {
            libc::setsockopt(
                user.as_raw_fd(),
                SOL_XDP,
                XDP_MAX_TX_SKB_BUDGET,
                (&budget as *const u32).cast(),
                4,
            )
        };
        ports.push(Port {
            name: names[i].clone(),
            dev,
            rx,
            tx,
            user,
        });
    }
    let free = (0..frames as u64).rev().map(|i| i * FRAME as u64).collect();
    Ok(Worker {
        txq: vec![Vec::new(); ports.len()],
        ports,
        umem,
        free,
        pending: Pending::default(),
        area,
    })
}

/// Start the worker for RX queue `queue` of every interface; returns once its sockets are
/// bound (or failed), with their fds for the XSKMAPs.
pub fn spawn(
    queue: u32,
    ifaces: Vec<u32>,
    names: Vec<String>,
    shared: Shared,
) -> std::io::Result<(std::thread::JoinHandle<()>, Bound)> {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bound>>();
    let h = std::thread::Builder::new()
        .name(format!("rvs-xdp-q{queue}"))
        .spawn(move || {
            let (mut w, zc) = match setup(&ifaces, &names, queue, true) {
                Ok(w) => (w, true),
                Err(zc_err) => match setup(&ifaces, &names, queue, false) {
                    Ok(w) => {
                        tracing::info!(queue, "AF_XDP in copy mode (zero-copy refused: {zc_err})");
                        (w, false)
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                },
            };
            if zc {
                tracing::info!(queue, "AF_XDP in zero-copy mode");
            }
            let fds = w
                .ports
                .iter()
                .enumerate()
                .map(|(i, p)| (i, p.user.as_raw_fd()))
                .collect();
            if tx.send(Ok(Bound { fds, zero_copy: zc })).is_err() {
                return;
            }
            w.run(&shared);
        })?;
    let bound = rx
        .recv()
        .map_err(|_| std::io::Error::other("AF_XDP worker died during setup"))??;
    Ok((h, bound))
}

impl Worker {
    fn base(addr: u64) -> u64 {
        addr & !(FRAME as u64 - 1)
    }

    /// The frame at UMEM offset `base`, as a mutable slice.
    ///
    /// # Safety
    /// The frame must be ours: received from an RX ring or taken from `free`, and in no
    /// ring the kernel reads or writes.
    unsafe fn frame(&self, base: u64) -> &'static mut [u8] {
        std::slice::from_raw_parts_mut(self.area.ptr.as_ptr().add(base as usize), FRAME as usize)
    }

    fn run(&mut self, sh: &Shared) {
        let mut last_stats = Instant::now();
        while !sh.stop.load(Ordering::Relaxed) {
            let now = sh.clock.elapsed().as_millis() as u64 + 1;
            let mut work = 0u32;
            for i in 0..self.ports.len() {
                work += self.complete(i);
                self.refill(i, &sh.counters);
            }
            for i in 0..self.ports.len() {
                work += self.receive(i, sh, now);
            }
            work += self.local(sh, now);
            for (port, f) in sh.inject.take() {
                self.send_copy(port, &f, &sh.counters);
                IoCounters::add(&sh.counters.injected, 1);
                work += 1;
            }
            if !self.pending.is_empty() {
                let mut out = Vec::new();
                self.pending.ready(&*sh.net, now, &sh.counters, |p, f| {
                    out.push((p, f.to_vec()))
                });
                for (p, f) in out {
                    self.send_copy(p, &f, &sh.counters);
                }
            }
            for i in 0..self.ports.len() {
                self.flush(i, &sh.counters);
            }
            if last_stats.elapsed().as_millis() >= 500 {
                last_stats = Instant::now();
                if let Ok(mut s) = sh.xsk_stats.lock() {
                    s.clear();
                    for p in &self.ports {
                        if let Ok(st) = p.user.statistics_v2() {
                            s.push((p.name.clone(), st));
                        }
                    }
                }
            }
            if work == 0 {
                let tun = sh.tun_fd().map(|fd| fd.as_raw_fd());
                self.idle(if self.pending.is_empty() { 10 } else { 1 }, tun);
            }
        }
    }

    fn complete(&mut self, i: usize) -> u32 {
        let p = &mut self.ports[i];
        let mut c = p.dev.complete(RING);
        let mut n = 0;
        while let Some(addr) = c.read() {
            self.free.push(Self::base(addr));
            n += 1;
        }
        c.release();
        n
    }

    fn refill(&mut self, i: usize, counters: &IoCounters) {
        // Keep every fill ring as full as the free frames allow; ask twice, as xdpilone may
        // report fewer free slots than there are.
        for _ in 0..2 {
            if self.free.is_empty() {
                IoCounters::add(&counters.fill_empty, 1);
                return;
            }
            let p = &mut self.ports[i];
            let mut w = p.dev.fill(RING);
            let k = (w.capacity() as usize).min(self.free.len());
            if k == 0 {
                return;
            }
            let at = self.free.len() - k;
            w.insert(self.free.drain(at..));
            w.commit();
        }
    }

    fn receive(&mut self, i: usize, sh: &Shared, now: u64) -> u32 {
        let mut descs = [XdpDesc {
            addr: 0,
            len: 0,
            options: 0,
        }; BATCH as usize];
        let mut n = 0usize;
        {
            let mut r = self.ports[i].rx.receive(BATCH);
            while let Some(d) = r.read() {
                descs[n] = d;
                n += 1;
            }
            r.release();
        }
        if n == 0 {
            return 0;
        }
        IoCounters::add(&sh.counters.rx_frames, n as u64);
        let mut eng = sh.engine.lock().unwrap_or_else(|p| p.into_inner());
        for d in &descs[..n] {
            let base = Self::base(d.addr);
            let head = (d.addr - base) as usize;
            // SAFETY: just received: the kernel handed this frame to us.
            let buf = unsafe { self.frame(base) };
            let mut pkt = PacketBuf::new(buf, head, d.len as usize);
            match eng.process(&mut pkt, PortId(i as u16), now) {
                Verdict::Tx(port) if Some(port) == sh.tun_port() => {
                    sh.tun_write(pkt.data());
                    self.free.push(base);
                }
                Verdict::Tx(port) if (port.0 as usize) < self.txq.len() => {
                    self.txq[port.0 as usize].push(XdpDesc {
                        addr: base + pkt.head() as u64,
                        len: pkt.len() as u32,
                        options: 0,
                    });
                }
                Verdict::TxPending { port, next_hop } => {
                    if self.pending.push(port, next_hop, pkt.data(), now) {
                        IoCounters::add(&sh.counters.neigh_queued, 1);
                        sh.net.resolve(port, next_hop);
                    } else {
                        IoCounters::add(&sh.counters.neigh_overflow, 1);
                    }
                    self.free.push(base);
                }
                Verdict::Pass => {
                    // Steered by XDP but not rvs's after all: the kernel gets it back,
                    // through the TUN device.
                    if !sh.tun_write(pkt.data()) {
                        IoCounters::add(&sh.counters.pass_unhandled, 1);
                    }
                    self.free.push(base);
                }
                Verdict::Tx(_) | Verdict::Drop(_) => self.free.push(base),
            }
        }
        n as u32
    }

    /// The director's own packets to its services, from the TUN device.
    fn local(&mut self, sh: &Shared, now: u64) -> u32 {
        let Some(tun_port) = sh.tun_port() else {
            return 0;
        };
        let mut buf = [0u8; 256 + 9216];
        let mut n = 0;
        while n < BATCH {
            let Some(len) = sh.tun_read(&mut buf, 256) else {
                break;
            };
            n += 1;
            if len == 0 {
                continue;
            }
            let mut pkt = PacketBuf::new(&mut buf, 256, len);
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
                    self.send_copy(port, pkt.data(), &sh.counters);
                }
                Verdict::TxPending { port, next_hop } => {
                    sh.note_local_conn(pkt.data());
                    if self.pending.push(port, next_hop, pkt.data(), now) {
                        sh.net.resolve(port, next_hop);
                    }
                }
                Verdict::Pass | Verdict::Drop(_) => {}
            }
        }
        n
    }

    /// Send bytes that are not in a UMEM frame yet (queued or injected frames).
    fn send_copy(&mut self, port: PortId, f: &[u8], counters: &IoCounters) {
        let Some(base) = self.free.pop() else {
            IoCounters::add(&counters.tx_ring_full, 1);
            return;
        };
        if port.0 as usize >= self.txq.len() || f.len() > (FRAME - HEADROOM) as usize {
            self.free.push(base);
            return;
        }
        // SAFETY: taken from the free list.
        let buf = unsafe { self.frame(base) };
        let h = HEADROOM as usize;
        buf[h..h + f.len()].copy_from_slice(f);
        self.txq[port.0 as usize].push(XdpDesc {
            addr: base + h as u64,
            len: f.len() as u32,
            options: 0,
        });
    }

    fn flush(&mut self, i: usize, counters: &IoCounters) {
        let q = &mut self.txq[i];
        let p = &mut self.ports[i];
        let mut sent = 0u64;
        for _ in 0..2 {
            if q.is_empty() {
                break;
            }
            let mut w = p.tx.transmit(q.len() as u32);
            let cap = (w.capacity() as usize).min(q.len());
            if cap == 0 {
                continue;
            }
            sent += w.insert(q.drain(..cap)) as u64;
            w.commit();
        }
        IoCounters::add(&counters.tx_frames, sent);
        // What did not fit is dropped: holding frames back would stall the fill rings.
        if !q.is_empty() {
            IoCounters::add(&counters.tx_ring_full, q.len() as u64);
            for d in q.drain(..) {
                self.free.push(Self::base(d.addr));
            }
        }
        // Copy mode sends at most a budget per kick and keeps need_wakeup set: kick while
        // anything is pending, a few times per round.
        for _ in 0..8 {
            if p.tx.pending() == 0 {
                break;
            }
            p.tx.wake();
            IoCounters::add(&counters.wakeups, 1);
        }
    }

    fn idle(&mut self, ms: i32, tun: Option<i32>) {
        let mut fds: Vec<libc::pollfd> = self
            .ports
            .iter()
            .map(|p| p.user.as_raw_fd())
            .chain(tun)
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // libc's poll: xdpilone hands out raw fds only, which rustix would want borrowed
        // (unsafe either way).
        // SAFETY: a valid array of pollfd for its length.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        let _ = &self.umem;
    }
}
