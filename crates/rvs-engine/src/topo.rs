//! A standard test topology: the director between clients and real servers, as fixtures,
//! benches and the engine fuzz target use it. Private ranges only.
//!
//! - port 0 (outside): director 10.0.0.1 / fd00::1, clients 10.9.0.0/16 and fd09::/64
//!   behind the gateway 10.0.0.254 / fd00::fe;
//! - port 1 (inside): director 172.16.0.1 / fd16::1, real servers 172.16.0.2-9 and
//!   fd16::2-9 on-link, MTU 1500.

use crate::config::*;
use crate::net::{PortId, StaticNet};
use crate::testkit::{MAC_DIRECTOR, MAC_DIRECTOR_IN, MAC_GW};
use rvs_proto::Proto;
use rvs_sched::SchedFlags;
use rvs_wire::ethernet::MacAddr;
use std::sync::Arc;

pub const OUT: PortId = PortId(0);
pub const IN: PortId = PortId(1);

/// MAC of real server 172.16.0.N / fd16::N.
pub fn rs_mac(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0x16, n])
}

pub fn net() -> StaticNet {
    let mut n = StaticNet::default();
    let ip = |s: &str| s.parse().unwrap();
    n.add_link(ip("10.0.0.0"), 24, OUT, ip("10.0.0.1"), MAC_DIRECTOR, 1500);
    n.add_via(
        ip("10.9.0.0"),
        16,
        ip("10.0.0.254"),
        OUT,
        ip("10.0.0.1"),
        MAC_DIRECTOR,
        1500,
    );
    n.add_link(
        ip("172.16.0.0"),
        24,
        IN,
        ip("172.16.0.1"),
        MAC_DIRECTOR_IN,
        1500,
    );
    n.add_link(ip("fd00::"), 64, OUT, ip("fd00::1"), MAC_DIRECTOR, 1500);
    n.add_via(
        ip("fd09::"),
        64,
        ip("fd00::fe"),
        OUT,
        ip("fd00::1"),
        MAC_DIRECTOR,
        1500,
    );
    n.add_link(ip("fd16::"), 64, IN, ip("fd16::1"), MAC_DIRECTOR_IN, 1500);
    n.add_neighbour(OUT, ip("10.0.0.254"), MAC_GW);
    n.add_neighbour(OUT, ip("fd00::fe"), MAC_GW);
    for i in 2..10u8 {
        n.add_neighbour(IN, format!("172.16.0.{i}").parse().unwrap(), rs_mac(i));
        n.add_neighbour(IN, format!("fd16::{i}").parse().unwrap(), rs_mac(i));
    }
    n
}

/// A service builder for tests.
pub struct Svc(pub ServiceConfig);

static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

impl Svc {
    pub fn new(proto: Proto, addr: &str, port: u16, sched: &str) -> Svc {
        Svc(ServiceConfig {
            key: SvcKey::Addr {
                proto,
                addr: addr.parse().unwrap(),
                port,
            },
            sched: sched.into(),
            sched_flags: SchedFlags::default(),
            persistence: None,
            ops: false,
            pe: None,
            laddrs: vec![],
            dests: vec![],
        })
    }

    pub fn fwmark(mark: u32, v6: bool, sched: &str) -> Svc {
        let mut s = Svc::new(Proto::Tcp, "0.0.0.0", 0, sched);
        s.0.key = SvcKey::Fwmark { mark, v6 };
        s
    }

    pub fn tcp(addr: &str, port: u16, sched: &str) -> Svc {
        Self::new(Proto::Tcp, addr, port, sched)
    }

    pub fn persist(mut self, timeout_s: u32, prefix: u8) -> Svc {
        self.0.persistence = Some(Persistence { timeout_s, prefix });
        self
    }

    pub fn ops(mut self) -> Svc {
        self.0.ops = true;
        self
    }

    pub fn laddr(mut self, a: &str) -> Svc {
        self.0.laddrs.push(a.parse().unwrap());
        self
    }

    pub fn flags(mut self, f: u32) -> Svc {
        self.0.sched_flags = SchedFlags(f);
        self
    }

    /// Add a real server with a fresh id.
    pub fn dest(mut self, addr: &str, port: u16, fwd: FwdMethod, weight: u32) -> Svc {
        let id = DestId(NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        self.0.dests.push(DestConfig {
            id,
            addr: addr.parse().unwrap(),
            port,
            fwd,
            weight,
            u_threshold: 0,
            l_threshold: 0,
        });
        self
    }

    pub fn thresholds(mut self, upper: u32, lower: u32) -> Svc {
        let d = self.0.dests.last_mut().expect("a dest first");
        d.u_threshold = upper;
        d.l_threshold = lower;
        self
    }

    pub fn build(self) -> Arc<ServiceConfig> {
        Arc::new(self.0)
    }
}

pub fn tun(t: TunType, csum: TunCsum) -> FwdMethod {
    FwdMethod::Tunnel { tun: t, csum }
}

/// A config of these services with default settings.
pub fn config(svcs: Vec<Arc<ServiceConfig>>) -> Config {
    config_with(svcs, Settings::default())
}

pub fn config_with(svcs: Vec<Arc<ServiceConfig>>, settings: Settings) -> Config {
    Config::new(svcs, vec![], settings, 1).expect("valid test config")
}

/// An engine on [`net`] with a swappable config, and a clock.
pub struct Harness {
    pub engine: crate::Engine,
    pub shared: Arc<arc_swap::ArcSwap<Config>>,
    pub now: u64,
}

/// Headroom given to every frame, as an AF_XDP UMEM chunk would.
pub const HEADROOM: usize = 256;

impl Harness {
    pub fn new(svcs: Vec<Arc<ServiceConfig>>) -> Harness {
        Self::with(config(svcs), 4096)
    }

    pub fn with(cfg: Config, capacity: u32) -> Harness {
        let shared = Arc::new(arc_swap::ArcSwap::from_pointee(cfg));
        let opts = crate::EngineOptions {
            conn_capacity_v4: capacity,
            conn_capacity_v6: capacity,
            seed: 7,
        };
        let engine = crate::Engine::new(shared.clone(), Arc::new(net()), opts);
        Harness {
            engine,
            shared,
            now: 1_000_000,
        }
    }

    /// Process one frame at the current time; returns the verdict and the frame as it left.
    pub fn send(&mut self, frame: &[u8], port: PortId) -> (crate::Verdict, Vec<u8>) {
        let mut buf = vec![0u8; HEADROOM + frame.len().max(1600) + 64];
        buf[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
        let mut pkt = crate::PacketBuf::new(&mut buf, HEADROOM, frame.len());
        let v = self.engine.process(&mut pkt, port, self.now);
        let out = pkt.data().to_vec();
        (v, out)
    }

    pub fn advance_ms(&mut self, ms: u64) {
        self.now += ms;
    }

    /// Run the timers as a daemon does: poll until nothing more is due now.
    pub fn poll(&mut self) {
        self.engine.poll(self.now);
        while self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
            self.engine.poll(self.now);
        }
    }

    /// Swap in a new virtual server table (what the control plane does).
    pub fn swap(&self, cfg: Config) {
        self.shared.store(Arc::new(cfg));
    }

    /// The ids of the current services' dests, in order.
    pub fn dest_counts(&self, svc: usize) -> Vec<(u32, u32, u32)> {
        self.engine.services()[svc]
            .dests
            .iter()
            .map(|d| (d.activeconns, d.inactconns, d.persistconns))
            .collect()
    }
}
