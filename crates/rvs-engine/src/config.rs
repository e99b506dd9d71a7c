//! The virtual server table as an immutable snapshot (IPVS `ip_vs_ctl.c` state).
//!
//! The control side builds a new [`Config`] for every change and swaps it in whole
//! (`arc_swap`); the data path never waits for a lock. Services and dests carry stable ids so
//! the engine can carry scheduler state and counters across snapshots, touching only what
//! changed.

use crate::conn::MAX_TIMEOUT_MS;
use core::net::IpAddr;
use rustc_hash::{FxHashMap, FxHashSet};
use rvs_proto::{timeouts::Timeouts, Proto};
use rvs_sched::SchedFlags;
use std::sync::Arc;

/// Stable identity of a real server across snapshots; allocated by the control plane and
/// never reused while the engine may still hold conns to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestId(pub u32);

/// How a virtual service is addressed (ipvsadm `-t/-u/--sctp-service` or `-f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SvcKey {
    Addr {
        proto: Proto,
        addr: IpAddr,
        port: u16,
    },
    /// A firewall mark, per address family (`-f N` or `-f N -6`).
    Fwmark { mark: u32, v6: bool },
}

impl SvcKey {
    pub fn is_v6(&self) -> bool {
        match self {
            SvcKey::Addr { addr, .. } => addr.is_ipv6(),
            SvcKey::Fwmark { v6, .. } => *v6,
        }
    }
}

/// Tunnel encapsulation (`--tun-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunType {
    Ipip,
    Gue { port: u16 },
    Gre,
}

/// Tunnel checksum option (`--tun-nocsum`, `--tun-csum`, `--tun-remcsum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TunCsum {
    #[default]
    NoCsum,
    Csum,
    RemCsum,
}

/// Forwarding method of a real server (`-m`, `-g`, `-i`, and our FULLNAT extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FwdMethod {
    Masq,
    Route,
    Tunnel { tun: TunType, csum: TunCsum },
    FullNat,
}

impl FwdMethod {
    pub fn kind(&self) -> crate::conn::FwdKind {
        use crate::conn::FwdKind;
        match self {
            FwdMethod::Masq => FwdKind::Masq,
            FwdMethod::Route => FwdKind::Route,
            FwdMethod::Tunnel { .. } => FwdKind::Tunnel,
            FwdMethod::FullNat => FwdKind::FullNat,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestConfig {
    pub id: DestId,
    pub addr: IpAddr,
    /// 0 keeps the packet's port (port-0 services and fwmark services).
    pub port: u16,
    pub fwd: FwdMethod,
    /// 0..=65535; 0 is quiescent: no new conns, existing ones go on.
    pub weight: u32,
    /// `-x`: upper connection threshold, 0 = none.
    pub u_threshold: u32,
    /// `-y`: lower connection threshold, 0 = none.
    pub l_threshold: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persistence {
    /// `-p` seconds.
    pub timeout_s: u32,
    /// `-M`: prefix length of the client-address mask (32/128 = per client).
    pub prefix: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub key: SvcKey,
    pub sched: String,
    pub sched_flags: SchedFlags,
    pub persistence: Option<Persistence>,
    /// `-o`: one-packet scheduling (UDP only, as in IPVS).
    pub ops: bool,
    /// `--pe NAME`, stored and shown; rvs implements no persistence engine module yet.
    pub pe: Option<String>,
    /// FULLNAT local-address pool of this service; empty uses the global pool.
    pub laddrs: Vec<IpAddr>,
    pub dests: Vec<DestConfig>,
}

/// One firewall-mark rule: rvs's stand-in for the iptables `-j MARK` rules that keepalived
/// fwmark setups rely on, since netfilter marks do not exist before XDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FwmarkRule {
    pub proto: Option<Proto>,
    pub daddr: IpAddr,
    pub prefix: u8,
    pub dport_lo: u16,
    pub dport_hi: u16,
    pub mark: u32,
}

impl FwmarkRule {
    pub fn matches(&self, proto: u8, daddr: IpAddr, dport: u16) -> bool {
        if let Some(p) = self.proto {
            if p.number() != proto {
                return false;
            }
        }
        dport >= self.dport_lo
            && dport <= self.dport_hi
            && prefix_match(self.daddr, daddr, self.prefix)
    }
}

pub fn prefix_match(net: IpAddr, addr: IpAddr, prefix: u8) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let p = prefix.min(32) as u32;
            let m = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            u32::from(n) & m == u32::from(a) & m
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let p = prefix.min(128) as u32;
            let m = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            u128::from(n) & m == u128::from(a) & m
        }
        _ => false,
    }
}

/// The switches IPVS exposes as `net.ipv4.vs.*` sysctls, plus rvs's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub timeouts: Timeouts,
    /// `conn_reuse_mode`: bit 0 reschedules a SYN that reuses a TIME_WAIT/closed conn's
    /// tuple; bit 1 also a FIN_WAIT one of a DR/TUN conn. rvs never drops that SYN.
    pub conn_reuse_mode: u8,
    /// Expire a conn whose dest was removed on its next packet and reschedule the packet.
    pub expire_nodest_conn: bool,
    /// A template whose dest is quiescent (weight 0) is dropped and the client rescheduled.
    pub expire_quiescent_template: bool,
    /// Accept a mid-stream TCP packet (or a non-INIT SCTP chunk) as a new conn, as after a
    /// failover to a director that has no sync state for it.
    pub sloppy_tcp: bool,
    pub sloppy_sctp: bool,
    /// Defences against floods (IPVS semantics: 0 off, 1/2 automatic under table pressure,
    /// 3 always on). secure_tcp switches to the stricter TCP table; drop_entry evicts
    /// half-open conns; drop_packet refuses a share of new conns.
    pub secure_tcp: u8,
    pub drop_entry: u8,
    pub drop_packet: u8,
    /// The table fill (percent) that counts as pressure for the automatic defences — our
    /// analogue of IPVS `amemthresh`, since a bounded table runs out before memory does.
    pub pressure_pct: u8,
    /// Seconds a UDP conn whose dest was removed or quiesced keeps flowing before it is
    /// expired and its next datagram rescheduled.
    pub udp_nodest_grace_s: u32,
    /// Global FULLNAT local-address pool.
    pub laddrs: Vec<IpAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeouts: Timeouts::default(),
            conn_reuse_mode: 1,
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            sloppy_tcp: false,
            sloppy_sctp: false,
            secure_tcp: 0,
            drop_entry: 0,
            drop_packet: 0,
            pressure_pct: 90,
            udp_nodest_grace_s: 5,
            laddrs: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("service already exists")]
    DuplicateService,
    #[error("destination already exists")]
    DuplicateDest,
    #[error("duplicate destination id {0:?}")]
    DuplicateDestId(DestId),
    #[error("unknown scheduler {0:?}")]
    UnknownScheduler(String),
    #[error("zero port specified for non-persistent service")]
    ZeroPortNonPersistent,
    #[error("address family of the real server does not match the service (only tunnels may mix)")]
    FamilyMismatch,
    #[error("invalid weight {0} (0..=65535)")]
    BadWeight(u32),
    #[error("persistence timeout out of range")]
    BadTimeout,
    #[error("invalid persistence netmask")]
    BadNetmask,
    #[error("one-packet scheduling is only for UDP services")]
    OpsNotUdp,
    #[error("FULLNAT real server needs a local address of its family")]
    NoLocalAddress,
    /// IPVS relies on netfilter conntrack to translate replies of one-packet NAT conns;
    /// rvs has no conntrack, so it refuses the combination rather than leak replies.
    #[error("one-packet scheduling (-o) works with DR and tunnel real servers only")]
    OpsNeedsDirectReplies,
}

/// One immutable snapshot of everything the data path needs.
#[derive(Clone, Debug, Default)]
pub struct Config {
    // Private so that every snapshot the engine sees went through `Config::new`.
    services: Vec<Arc<ServiceConfig>>,
    fwmark_rules: Vec<FwmarkRule>,
    settings: Settings,
    // Fx hashing: these maps sit on the new-connection path, and their keys come from the
    // operator's config, not from packets an attacker could shape into collisions.
    by_addr: FxHashMap<(u8, IpAddr, u16), usize>,
    by_mark: FxHashMap<(u32, bool), usize>,
    /// Every address some service listens on: malformed or fragmented packets to these are
    /// dropped here rather than handed to a kernel that would answer with RSTs.
    vaddrs: FxHashSet<IpAddr>,
    /// FULLNAT local addresses (the global pool and every service's own).
    laddrs: FxHashSet<IpAddr>,
    /// Set by the control plane; lets observers tell snapshots apart.
    generation: u64,
}

impl Config {
    /// Validate and index. Nothing is half-applied: an error leaves the caller's current
    /// snapshot in place.
    pub fn new(
        services: Vec<Arc<ServiceConfig>>,
        fwmark_rules: Vec<FwmarkRule>,
        settings: Settings,
        generation: u64,
    ) -> Result<Config, ConfigError> {
        let mut by_addr = FxHashMap::default();
        let mut by_mark = FxHashMap::default();
        let mut vaddrs = FxHashSet::default();
        let mut ids = std::collections::HashSet::new();
        for (i, s) in services.iter().enumerate() {
            validate_service(s, &settings)?;
            let dup = match s.key {
                SvcKey::Addr { proto, addr, port } => {
                    vaddrs.insert(addr);
                    by_addr.insert((proto.number(), addr, port), i).is_some()
                }
                SvcKey::Fwmark { mark, v6 } => by_mark.insert((mark, v6), i).is_some(),
            };
            if dup {
                return Err(ConfigError::DuplicateService);
            }
            for d in &s.dests {
                if !ids.insert(d.id) {
                    return Err(ConfigError::DuplicateDestId(d.id));
                }
            }
        }
        for r in &fwmark_rules {
            if by_mark.contains_key(&(r.mark, r.daddr.is_ipv6())) {
                vaddrs.insert(r.daddr);
            }
        }
        let laddrs = settings
            .laddrs
            .iter()
            .chain(services.iter().flat_map(|s| s.laddrs.iter()))
            .copied()
            .collect();
        Ok(Config {
            services,
            fwmark_rules,
            settings,
            by_addr,
            by_mark,
            vaddrs,
            laddrs,
            generation,
        })
    }

    /// IPVS `ip_vs_service_find`: a fwmark service first (the mark comes from our rules),
    /// then the exact address, then the port-0 (all ports) service of a persistent setup.
    pub fn find_service(&self, proto: u8, daddr: IpAddr, dport: u16) -> Option<usize> {
        if !self.by_mark.is_empty() {
            if let Some(mark) = self.mark_of(proto, daddr, dport) {
                if let Some(&i) = self.by_mark.get(&(mark, daddr.is_ipv6())) {
                    return Some(i);
                }
            }
        }
        if let Some(&i) = self.by_addr.get(&(proto, daddr, dport)) {
            return Some(i);
        }
        self.by_addr.get(&(proto, daddr, 0)).copied()
    }

    pub fn services(&self) -> &[Arc<ServiceConfig>] {
        &self.services
    }

    pub fn fwmark_rules(&self) -> &[FwmarkRule] {
        &self.fwmark_rules
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn mark_of(&self, proto: u8, daddr: IpAddr, dport: u16) -> Option<u32> {
        self.fwmark_rules
            .iter()
            .find(|r| r.matches(proto, daddr, dport))
            .map(|r| r.mark)
    }

    #[inline]
    pub fn is_vaddr(&self, addr: IpAddr) -> bool {
        self.vaddrs.contains(&addr)
    }

    /// Every address a service listens on (fwmark rules give their network address).
    pub fn vaddrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.vaddrs.iter().copied()
    }

    pub fn is_laddr(&self, addr: IpAddr) -> bool {
        self.laddrs.contains(&addr)
    }

    pub fn laddrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.laddrs.iter().copied()
    }

    pub fn find_by_key(&self, key: &SvcKey) -> Option<usize> {
        match *key {
            SvcKey::Addr { proto, addr, port } => {
                self.by_addr.get(&(proto.number(), addr, port)).copied()
            }
            SvcKey::Fwmark { mark, v6 } => self.by_mark.get(&(mark, v6)).copied(),
        }
    }
}

fn validate_service(s: &ServiceConfig, settings: &Settings) -> Result<(), ConfigError> {
    rvs_sched::Scheduler::new(&s.sched, s.sched_flags)
        .map_err(|_| ConfigError::UnknownScheduler(s.sched.clone()))?;
    if let SvcKey::Addr { port: 0, .. } = s.key {
        if s.persistence.is_none() {
            return Err(ConfigError::ZeroPortNonPersistent);
        }
    }
    if let Some(p) = s.persistence {
        if p.timeout_s == 0 || p.timeout_s as u64 * 1000 > MAX_TIMEOUT_MS as u64 {
            return Err(ConfigError::BadTimeout);
        }
        if p.prefix > if s.key.is_v6() { 128 } else { 32 } {
            return Err(ConfigError::BadNetmask);
        }
    }
    if s.ops {
        match s.key {
            SvcKey::Addr {
                proto: Proto::Udp, ..
            }
            | SvcKey::Fwmark { .. } => {}
            _ => return Err(ConfigError::OpsNotUdp),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for d in &s.dests {
        if !seen.insert((d.addr, d.port)) {
            return Err(ConfigError::DuplicateDest);
        }
        if d.weight > 65535 {
            return Err(ConfigError::BadWeight(d.weight));
        }
        let tunnel = matches!(d.fwd, FwdMethod::Tunnel { .. });
        if d.addr.is_ipv6() != s.key.is_v6() && !tunnel {
            return Err(ConfigError::FamilyMismatch);
        }
        if s.ops && matches!(d.fwd, FwdMethod::Masq | FwdMethod::FullNat) {
            return Err(ConfigError::OpsNeedsDirectReplies);
        }
        if d.fwd == FwdMethod::FullNat {
            let pool = if s.laddrs.is_empty() {
                &settings.laddrs
            } else {
                &s.laddrs
            };
            if !pool.iter().any(|a| a.is_ipv6() == s.key.is_v6()) {
                return Err(ConfigError::NoLocalAddress);
            }
        }
    }
    Ok(())
}
