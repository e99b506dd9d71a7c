//! The data path as rvsd runs it: the kernel view, the steering (XDP maps or nftables),
//! the workers, and the announcements of addresses rvs takes over.

use crate::kernel::KernelNet;
use crate::steer::{self, EpKey, SteerSet, XdpSteer};
use crate::worker::{Inject, IoCounters};
use crate::IoError;
use rvs_engine::{Config, Engine, NetView, PortId, VipOwnership};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoMode {
    AfXdp,
    AfPacket,
}

impl std::str::FromStr for IoMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "afxdp" | "af_xdp" | "xdp" => Ok(IoMode::AfXdp),
            "afpacket" | "af_packet" | "packet" => Ok(IoMode::AfPacket),
            _ => Err(format!("unknown I/O mode {s:?} (afxdp or afpacket)")),
        }
    }
}

/// How long a removed NAT/FULLNAT real server's replies keep being steered to rvs, so that
/// its draining conns finish (the default TCP established timeout).
const DRAIN_LINGER: Duration = Duration::from_secs(900);

pub struct DataPath {
    mode: IoMode,
    ifaces: Vec<String>,
    net: Arc<KernelNet>,
    xdp: Mutex<Vec<XdpSteer>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    stop: Arc<AtomicBool>,
    counters: Arc<IoCounters>,
    inject: Arc<Inject>,
    xsk_stats: Arc<Mutex<Vec<(String, xdpilone::xdp::XdpStatisticsV2)>>>,
    state: Mutex<SyncState>,
    modes: Vec<String>,
    /// Whether the director's own traffic is routed through the TUN device.
    local: bool,
    /// The engine's VIP-ownership overlay: an address marked not owned is neither steered
    /// for ARP/NS nor announced (the daemon marks it, then calls `sync`).
    vips: VipOwnership,
}

#[derive(Default)]
struct SyncState {
    current: SteerSet,
    cfg_dests: BTreeSet<EpKey>,
    lingering: HashMap<EpKey, Instant>,
}

fn rx_queues(ifname: &str) -> u32 {
    std::fs::read_dir(format!("/sys/class/net/{ifname}/queues"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count() as u32
        })
        .unwrap_or(1)
        .max(1)
}

fn check_af_xdp() -> Result<(), IoError> {
    // Opened and closed (dropped) at once: only whether the kernel has the family matters.
    rustix::net::socket_with(
        rustix::net::AddressFamily::XDP,
        rustix::net::SocketType::RAW,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map(drop)
    .map_err(|e| IoError::NoAfXdp(std::io::Error::from(e).to_string()))
}

impl DataPath {
    pub fn start(
        mode: IoMode,
        ifaces: &[String],
        engine: Arc<Mutex<Engine>>,
        net: Arc<KernelNet>,
        clock: Instant,
        cfg: &Config,
        bpffs: &std::path::Path,
    ) -> Result<DataPath, IoError> {
        if !rustix::process::geteuid().is_root() {
            return Err(IoError::NotRoot);
        }
        if ifaces.is_empty() {
            return Err(IoError::Setup("no interface to serve (--iface)".into()));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(IoCounters::default());
        let inject = Arc::new(Inject::default());
        let xsk_stats = Arc::new(Mutex::new(Vec::new()));
        let snap = net.snapshot();
        let vips = engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .vip_ownership();
        let set = SteerSet::compute(cfg, &snap.locals, []).only_owned(&vips);
        // The director's own traffic to its services: a TUN device as one more port. Not
        // fatal without it; forwarding for others does not need it.
        let tun = match crate::local::open_tun() {
            Ok(t) => {
                let port = PortId(ifaces.len() as u16);
                net.set_local_port(port);
                Some((Arc::new(t), port))
            }
            Err(e) => {
                tracing::warn!(
                    "TUN device {}: {e}; the director's own traffic to the services is not served",
                    crate::local::TUN_NAME
                );
                None
            }
        };
        let mut dp = DataPath {
            mode,
            ifaces: ifaces.to_vec(),
            net: net.clone(),
            xdp: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
            stop: stop.clone(),
            counters: counters.clone(),
            inject: inject.clone(),
            xsk_stats: xsk_stats.clone(),
            state: Mutex::new(SyncState::default()),
            modes: Vec::new(),
            local: tun.is_some(),
            vips,
        };
        match mode {
            IoMode::AfXdp => {
                check_af_xdp()?;
                steer::ensure_bpffs(bpffs).map_err(IoError::Steer)?;
                let mut progs = Vec::new();
                for name in ifaces {
                    let mut p = XdpSteer::load(name, bpffs).map_err(IoError::Steer)?;
                    p.sync(&set).map_err(IoError::Steer)?;
                    progs.push(p);
                }
                let queues = ifaces.iter().map(|i| rx_queues(i)).min().unwrap_or(1);
                let mut fds = Vec::new();
                for p in &progs {
                    fds.push(
                        p.lconns_fd()
                            .map_err(|e| IoError::Setup(format!("lconns map: {e}")))?,
                    );
                }
                let lconns = Arc::new(crate::local::LconnSink::new(crate::local::SinkKind::Xdp(
                    fds,
                )));
                let mut workers = Vec::new();
                for q in 0..queues {
                    let shared = crate::worker::Shared {
                        engine: engine.clone(),
                        net: net.clone(),
                        clock,
                        counters: counters.clone(),
                        inject: inject.clone(),
                        stop: stop.clone(),
                        xsk_stats: xsk_stats.clone(),
                        // One TUN reader: the first queue's worker.
                        tun: if q == 0 { tun.clone() } else { None },
                        lconns: Some(lconns.clone()),
                    };
                    let (h, bound) =
                        crate::afxdp::spawn(q, net.ports().to_vec(), ifaces.to_vec(), shared)
                            .map_err(|e| IoError::Setup(format!("AF_XDP queue {q}: {e}")))?;
                    for (port, fd) in bound.fds {
                        progs[port].register(q, fd).map_err(IoError::Steer)?;
                    }
                    dp.modes.push(format!(
                        "queue {q}: {}",
                        if bound.zero_copy { "zero-copy" } else { "copy" }
                    ));
                    workers.push(h);
                }
                for p in progs.iter_mut() {
                    let how = match p.attach() {
                        Ok(h) => h,
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            return Err(IoError::Steer(e));
                        }
                    };
                    tracing::info!(ifname = p.ifname(), attach = ?how, "XDP steering program attached");
                    dp.modes.push(format!("{}: XDP {how:?}", p.ifname()));
                }
                *dp.xdp.lock().unwrap_or_else(|p| p.into_inner()) = progs;
                *dp.workers.lock().unwrap_or_else(|p| p.into_inner()) = workers;
            }
            IoMode::AfPacket => {
                let mut socks = Vec::new();
                for (i, name) in ifaces.iter().enumerate() {
                    let fd = crate::afpacket::open(net.ports()[i])
                        .map_err(|e| IoError::Setup(format!("AF_PACKET socket on {name}: {e}")))?;
                    socks.push(fd);
                }
                let mut tables = Vec::new();
                for name in ifaces {
                    steer::nft_apply(&steer::nft_ruleset(name, &set)).map_err(IoError::Steer)?;
                    let (t, script) = crate::local::nft_lconn_table(name);
                    steer::nft_apply(&script).map_err(IoError::Steer)?;
                    tables.push(t);
                }
                let lconns = Arc::new(crate::local::LconnSink::new(crate::local::SinkKind::Nft(
                    tables,
                )));
                let shared = crate::worker::Shared {
                    engine,
                    net: net.clone(),
                    clock,
                    counters: counters.clone(),
                    inject: inject.clone(),
                    stop: stop.clone(),
                    xsk_stats: xsk_stats.clone(),
                    tun: tun.clone(),
                    lconns: Some(lconns),
                };
                let h = std::thread::Builder::new()
                    .name("rvs-afpacket".into())
                    .spawn(move || crate::afpacket::run(socks, shared))
                    .map_err(|e| IoError::Setup(e.to_string()))?;
                dp.workers.lock().unwrap_or_else(|p| p.into_inner()).push(h);
                dp.modes
                    .push("AF_PACKET with nftables ingress drops".into());
            }
        }
        if dp.local {
            let routed = crate::local::install_routing()
                .and_then(|()| steer::nft_apply(&crate::local::nft_output(&set)));
            if let Err(e) = routed {
                tracing::warn!(
                    "routing the director's own traffic into {}: {e}",
                    crate::local::TUN_NAME
                );
            } else {
                dp.modes.push(format!(
                    "the director's own traffic via {}",
                    crate::local::TUN_NAME
                ));
            }
        }
        {
            let mut st = dp.state.lock().unwrap_or_else(|p| p.into_inner());
            st.cfg_dests = set.dests.clone();
        }
        dp.announce(&SteerSet::default(), &set);
        dp.state.lock().unwrap_or_else(|p| p.into_inner()).current = set;
        Ok(dp)
    }

    pub fn modes(&self) -> &[String] {
        &self.modes
    }

    /// Bring the steering in line with `cfg`, the kernel's current addresses and the VIP
    /// ownership overlay; call after every config change and ownership change
    /// (`Engine::vip_ownership().set_owned`), and once a second for address changes and
    /// draining dests. An address that became owned is announced (gratuitous ARP /
    /// unsolicited NA); one marked not owned goes silent.
    pub fn sync(&self, cfg: &Config) -> Result<(), IoError> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut *guard;
        let now = Instant::now();
        let snap = self.net.snapshot();
        let fresh = SteerSet::compute(cfg, &snap.locals, []);
        for gone in st.cfg_dests.difference(&fresh.dests) {
            st.lingering.insert(*gone, now + DRAIN_LINGER);
        }
        for back in &fresh.dests {
            st.lingering.remove(back);
        }
        st.lingering.retain(|_, until| *until > now);
        st.cfg_dests = fresh.dests.clone();
        let want = SteerSet::compute(cfg, &snap.locals, st.lingering.keys().copied())
            .only_owned(&self.vips);
        if want == st.current {
            return Ok(());
        }
        match self.mode {
            IoMode::AfXdp => {
                let mut progs = self.xdp.lock().unwrap_or_else(|p| p.into_inner());
                for p in progs.iter_mut() {
                    p.sync(&want).map_err(IoError::Steer)?;
                }
            }
            IoMode::AfPacket => {
                for name in &self.ifaces {
                    steer::nft_apply(&steer::nft_ruleset(name, &want)).map_err(IoError::Steer)?;
                }
            }
        }
        if self.local && want.svcs != st.current.svcs {
            steer::nft_apply(&crate::local::nft_output(&want)).map_err(IoError::Steer)?;
        }
        self.announce(&st.current, &want);
        st.current = want;
        Ok(())
    }

    /// Gratuitous ARP / unsolicited NA for every address rvs newly answers for.
    fn announce(&self, old: &SteerSet, new: &SteerSet) {
        for addr in new.owned.difference(&old.owned) {
            for port in 0..self.ifaces.len() {
                let port = PortId(port as u16);
                let Some(mac) = self.net.port_mac(port) else {
                    continue;
                };
                let f = match addr {
                    IpAddr::V4(a) => rvs_engine::local::garp(mac, *a),
                    IpAddr::V6(a) => rvs_engine::local::unsolicited_na(mac, *a),
                };
                self.inject.push(port, f);
            }
        }
    }

    /// Stop the workers; a clean stop detaches the XDP program (or removes the nftables
    /// table), so that the interfaces are left as they were found.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for h in workers {
            let _ = h.join();
        }
        match self.mode {
            IoMode::AfXdp => {
                let progs =
                    std::mem::take(&mut *self.xdp.lock().unwrap_or_else(|p| p.into_inner()));
                for p in progs {
                    p.detach();
                }
            }
            IoMode::AfPacket => {
                for name in &self.ifaces {
                    steer::nft_remove(name);
                    let (t, _) = crate::local::nft_lconn_table(name);
                    let _ =
                        steer::nft_apply(&format!("table netdev {t}\ndelete table netdev {t}\n"));
                }
            }
        }
        if self.local {
            crate::local::remove_routing();
        }
    }

    /// Counters for `rvsadm --io-stats`: (section, name, value).
    pub fn io_stats(&self) -> Vec<(String, String, u64)> {
        let mut out: Vec<(String, String, u64)> = self
            .counters
            .snapshot()
            .into_iter()
            .map(|(n, v)| ("io".to_string(), n.to_string(), v))
            .collect();
        if let Ok(progs) = self.xdp.lock() {
            for p in progs.iter() {
                let c = p.counters();
                for (n, v) in [
                    ("passed", c.passed),
                    ("steered", c.steered),
                    ("dropped_no_socket", c.dropped_no_socket),
                    ("arp_steered", c.arp),
                    ("ndp_steered", c.ndp),
                ] {
                    out.push((format!("xdp {}", p.ifname()), n.into(), v));
                }
            }
        }
        if let Ok(s) = self.xsk_stats.lock() {
            for (name, st) in s.iter() {
                for (n, v) in [
                    ("rx_dropped", st.rx_dropped),
                    ("rx_invalid_descs", st.rx_invalid_descs),
                    ("tx_invalid_descs", st.tx_invalid_descs),
                    ("rx_ring_full", st.rx_ring_full),
                    ("rx_fill_ring_empty_descs", st.rx_fill_ring_empty_descs),
                    ("tx_ring_empty_descs", st.tx_ring_empty_descs),
                ] {
                    out.push((format!("xsk {name}"), n.into(), v));
                }
            }
        }
        out
    }
}
