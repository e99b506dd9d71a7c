//! The virtual server table as the operator sees it (ipvsadm's vocabulary), the rules for
//! changing it (IPVS's `ip_vs_ctl.c` answers), and its translation into an engine snapshot.
//!
//! The model is what the state directory stores, so a restart restores exactly what the
//! operator configured; dest ids are kept with it so they stay stable across restarts.

use rvs_ctl::cmd::{
    self, Command, DestSpec, Forward, Netmask, ServiceKey, ServiceSpec, TunnelCsum, TunnelType,
    VsSetting,
};
use rvs_ctl::reply::Errno;
use rvs_engine::config::{self as ec, Config, ConfigError};
use rvs_proto::Proto;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Model {
    pub services: Vec<SvcModel>,
    pub fwmark_rules: Vec<cmd::FwmarkRule>,
    /// `--set tcp tcpfin udp`; None until set, meaning the IPVS defaults.
    pub timeouts: Option<cmd::Timeouts>,
    /// `--vs-set NAME=VALUE`, by name.
    pub vs: BTreeMap<String, u32>,
    pub daemons: Vec<cmd::DaemonSpec>,
    pub next_dest_id: u32,
    /// Service positions by key: a -R of 10,000 services with 10 real servers each is
    /// 110,000 lookups, too many for a linear scan. Rebuilt when it goes stale.
    #[serde(skip)]
    index: std::collections::HashMap<ServiceKey, usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SvcModel {
    pub spec: ServiceSpec,
    pub dests: Vec<DestModel>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestModel {
    pub id: u32,
    pub spec: DestSpec,
}

impl PartialEq for Model {
    fn eq(&self, o: &Self) -> bool {
        self.services == o.services
            && self.fwmark_rules == o.fwmark_rules
            && self.timeouts == o.timeouts
            && self.vs == o.vs
            && self.daemons == o.daemons
            && self.next_dest_id == o.next_dest_id
    }
}

/// Why a command was refused: ipvsadm's errno (for its wording) or a message of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub errno: Option<Errno>,
    pub message: String,
}

impl Refusal {
    fn errno(e: Errno) -> Self {
        Refusal {
            errno: Some(e),
            message: format!("{e:?}"),
        }
    }
    fn config(e: ConfigError) -> Self {
        let errno = match e {
            ConfigError::UnknownScheduler(_) => Some(Errno::NotFound),
            ConfigError::DuplicateService => Some(Errno::Exists),
            ConfigError::DuplicateDest => Some(Errno::Exists),
            _ => Some(Errno::Invalid),
        };
        Refusal {
            errno,
            message: e.to_string(),
        }
    }
}

impl Model {
    fn find(&mut self, key: &ServiceKey) -> Option<usize> {
        if self.index.len() != self.services.len() {
            self.index = self
                .services
                .iter()
                .enumerate()
                .map(|(i, s)| (s.spec.key, i))
                .collect();
        }
        self.index.get(key).copied()
    }

    fn remove_service(&mut self, i: usize) {
        self.services.remove(i);
        // Positions after `i` moved; the next lookup rebuilds.
        self.index.clear();
    }

    /// Apply one command as IPVS would, or say why not. Listing commands change nothing.
    pub fn apply(&mut self, c: &Command) -> Result<(), Refusal> {
        match c {
            Command::AddService(spec) => {
                if self.find(&spec.key).is_some() {
                    return Err(Refusal::errno(Errno::Exists));
                }
                check_scheduler(&spec.scheduler)?;
                self.services.push(SvcModel {
                    spec: spec.clone(),
                    dests: vec![],
                });
                if self.index.len() + 1 == self.services.len() {
                    self.index.insert(spec.key, self.services.len() - 1);
                }
            }
            Command::EditService(spec) => {
                let i = self
                    .find(&spec.key)
                    .ok_or(Refusal::errno(Errno::NoSuchService))?;
                check_scheduler(&spec.scheduler)?;
                self.services[i].spec = spec.clone();
            }
            Command::DelService(key) => {
                let i = self.find(key).ok_or(Refusal::errno(Errno::NoSuchService))?;
                self.remove_service(i);
            }
            Command::Flush => {
                self.services.clear();
                self.index.clear();
            }
            Command::AddDest { service, dest } => {
                let i = self
                    .find(service)
                    .ok_or(Refusal::errno(Errno::NoSuchService))?;
                let s = &mut self.services[i];
                if s.dests
                    .iter()
                    .any(|d| d.spec.addr == dest.addr && d.spec.port == dest.port)
                {
                    return Err(Refusal::errno(Errno::Exists));
                }
                self.next_dest_id += 1;
                s.dests.push(DestModel {
                    id: self.next_dest_id,
                    spec: dest.clone(),
                });
            }
            Command::EditDest { service, dest } => {
                let i = self
                    .find(service)
                    .ok_or(Refusal::errno(Errno::NoSuchService))?;
                let d = self.services[i]
                    .dests
                    .iter_mut()
                    .find(|d| d.spec.addr == dest.addr && d.spec.port == dest.port)
                    .ok_or(Refusal::errno(Errno::NotFound))?;
                d.spec = dest.clone();
            }
            Command::DelDest {
                service,
                addr,
                port,
            } => {
                let i = self
                    .find(service)
                    .ok_or(Refusal::errno(Errno::NoSuchService))?;
                let s = &mut self.services[i];
                let j = s
                    .dests
                    .iter()
                    .position(|d| d.spec.addr == *addr && d.spec.port == *port)
                    .ok_or(Refusal::errno(Errno::NotFound))?;
                s.dests.remove(j);
            }
            Command::SetTimeout(t) => {
                // ipvsadm --set: 0 leaves a value as it was.
                let cur = self.timeouts.unwrap_or(cmd::Timeouts {
                    tcp: 900,
                    tcp_fin: 120,
                    udp: 300,
                });
                let pick = |new: u32, old: u32| if new == 0 { old } else { new };
                self.timeouts = Some(cmd::Timeouts {
                    tcp: pick(t.tcp, cur.tcp),
                    tcp_fin: pick(t.tcp_fin, cur.tcp_fin),
                    udp: pick(t.udp, cur.udp),
                });
            }
            Command::StartDaemon(d) => {
                if self.daemons.iter().any(|x| x.state == d.state) {
                    return Err(Refusal::errno(Errno::Exists));
                }
                let mtu = std::fs::read_to_string(format!("/sys/class/net/{}/mtu", d.mcast_ifn))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(Refusal {
                        errno: None,
                        message: "No such device".into(),
                    })?;
                self.daemons.push(daemon_defaults(d, mtu));
            }
            Command::StopDaemon(state) => {
                let n = self.daemons.len();
                self.daemons.retain(|d| d.state != *state);
                if self.daemons.len() == n {
                    return Err(Refusal::errno(Errno::NoSuchService));
                }
            }
            Command::AddFwmarkRule(r) => {
                if self.fwmark_rules.contains(r) {
                    return Err(Refusal::errno(Errno::Exists));
                }
                self.fwmark_rules.push(*r);
            }
            Command::DelFwmarkRule(r) => {
                let n = self.fwmark_rules.len();
                self.fwmark_rules.retain(|x| x != r);
                if self.fwmark_rules.len() == n {
                    return Err(Refusal::errno(Errno::NotFound));
                }
            }
            Command::VsSet { setting, value } => {
                if *value > setting.max() {
                    return Err(Refusal {
                        errno: Some(Errno::Invalid),
                        message: format!("{} accepts 0..={}", setting.name(), setting.max()),
                    });
                }
                self.vs.insert(setting.name().to_string(), *value);
            }
            // Counters live in the engine; zeroing is done there (after checking the key).
            Command::Zero(Some(key)) => {
                self.find(key).ok_or(Refusal::errno(Errno::NoSuchService))?;
            }
            Command::Zero(None)
            | Command::List(_)
            | Command::Restore
            | Command::Save { .. }
            | Command::Help
            | Command::Version => {}
        }
        Ok(())
    }

    /// The engine snapshot of this table, validated as a whole.
    pub fn to_config(&self, generation: u64) -> Result<Config, Refusal> {
        let services = self
            .services
            .iter()
            .map(|s| Arc::new(service_config(s)))
            .collect();
        let rules = self.fwmark_rules.iter().map(fwmark_rule).collect();
        Config::new(services, rules, self.settings(), generation).map_err(Refusal::config)
    }

    pub fn settings(&self) -> ec::Settings {
        let mut s = ec::Settings::default();
        if let Some(t) = self.timeouts {
            s.timeouts.set(t.tcp, t.tcp_fin, t.udp);
        }
        for (name, &v) in &self.vs {
            match VsSetting::from_name(name) {
                Some(VsSetting::ConnReuseMode) => s.conn_reuse_mode = v as u8,
                Some(VsSetting::ExpireNodestConn) => s.expire_nodest_conn = v != 0,
                Some(VsSetting::ExpireQuiescentTemplate) => s.expire_quiescent_template = v != 0,
                Some(VsSetting::SloppyTcp) => s.sloppy_tcp = v != 0,
                Some(VsSetting::SloppySctp) => s.sloppy_sctp = v != 0,
                Some(VsSetting::SecureTcp) => s.secure_tcp = v as u8,
                Some(VsSetting::DropEntry) => s.drop_entry = v as u8,
                Some(VsSetting::DropPacket) => s.drop_packet = v as u8,
                Some(VsSetting::UdpNodestGrace) => s.udp_nodest_grace_s = v,
                None => {}
            }
        }
        s
    }

    /// The current `--set` triple, as `-L --timeout` shows it.
    pub fn timeouts(&self) -> cmd::Timeouts {
        let (tcp, tcp_fin, udp) = self.settings().timeouts.get();
        cmd::Timeouts { tcp, tcp_fin, udp }
    }
}

/// What keepalived's translation looks at when it diffs a configuration against the table.
impl rvs_keepalived::plan::Table for Model {
    fn services(&self) -> impl Iterator<Item = &ServiceSpec> {
        self.services.iter().map(|s| &s.spec)
    }

    fn dests(&self, key: &ServiceKey) -> Vec<std::net::SocketAddr> {
        self.services
            .iter()
            .find(|s| s.spec.key == *key)
            .map(|s| {
                s.dests
                    .iter()
                    .map(|d| std::net::SocketAddr::new(d.spec.addr, d.spec.port))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn fwmark_rules(&self) -> &[cmd::FwmarkRule] {
        &self.fwmark_rules
    }
}

/// What the kernel's `start_sync_thread` fills in, so that `-L --daemon` prints what
/// ipvsadm prints against a kernel: group 224.0.0.81 (or ff02::81 for an IPv6 group
/// family), port 8848, TTL 1, and a message size from the MTU (1500 for a master; the
/// interface's, within 1500..=65535, for a backup) less the IP and UDP headers.
pub fn daemon_defaults(d: &cmd::DaemonSpec, dev_mtu: u32) -> cmd::DaemonSpec {
    let mut d = d.clone();
    let v6 = d.mcast_group.is_some_and(|g| g.is_ipv6());
    if d.mcast_group.is_none() {
        d.mcast_group = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(224, 0, 0, 81)));
    }
    if d.mcast_port == 0 {
        d.mcast_port = 8848;
    }
    if d.mcast_ttl == 0 {
        d.mcast_ttl = 1;
    }
    let hlen: u32 = if v6 { 40 + 8 } else { 20 + 8 };
    let backup = d.state == cmd::SyncState::Backup;
    let mtu = if backup {
        dev_mtu.clamp(1500, 65535)
    } else {
        1500
    };
    let min_mtu = if backup { 1024 } else { 1 };
    d.sync_maxlen = if d.sync_maxlen != 0 {
        (d.sync_maxlen as u32).clamp(min_mtu, 65535 - hlen) as u16
    } else {
        (mtu - hlen) as u16
    };
    d
}

fn check_scheduler(name: &str) -> Result<(), Refusal> {
    rvs_sched::Scheduler::new(name, rvs_sched::SchedFlags::default())
        .map(|_| ())
        .map_err(|_| Refusal::errno(Errno::NotFound))
}

fn proto(p: cmd::Protocol) -> Proto {
    match p {
        cmd::Protocol::Tcp => Proto::Tcp,
        cmd::Protocol::Udp => Proto::Udp,
        cmd::Protocol::Sctp => Proto::Sctp,
    }
}

/// ipvsadm's protocol of an engine one (the inverse of `proto`).
pub fn protocol(p: Proto) -> cmd::Protocol {
    match p {
        Proto::Tcp => cmd::Protocol::Tcp,
        Proto::Udp => cmd::Protocol::Udp,
        Proto::Sctp => cmd::Protocol::Sctp,
    }
}

fn prefix(m: Netmask) -> u8 {
    match m {
        Netmask::V4(a) => u32::from(a).leading_ones() as u8,
        Netmask::V6(p) => p,
    }
}

fn service_config(s: &SvcModel) -> ec::ServiceConfig {
    let spec = &s.spec;
    let key = engine_key(&spec.key);
    // ipvsadm's flag-1/2/3 bits, shifted into the kernel's IP_VS_SVC_F_SCHED1..3.
    let flags = ((spec.sched_flags & cmd::SCHED_FLAG_1 != 0) as u32
        * rvs_sched::SchedFlags::SCHED1)
        | ((spec.sched_flags & cmd::SCHED_FLAG_2 != 0) as u32 * rvs_sched::SchedFlags::SCHED2)
        | ((spec.sched_flags & cmd::SCHED_FLAG_3 != 0) as u32 * rvs_sched::SchedFlags::SCHED3);
    ec::ServiceConfig {
        key,
        sched: spec.scheduler.clone(),
        sched_flags: rvs_sched::SchedFlags(flags),
        persistence: spec.persistence.map(|t| ec::Persistence {
            timeout_s: t,
            prefix: prefix(spec.netmask),
        }),
        ops: spec.one_packet,
        pe: spec.pe.clone(),
        laddrs: spec.laddrs.clone(),
        dests: s.dests.iter().map(dest_config).collect(),
    }
}

fn dest_config(d: &DestModel) -> ec::DestConfig {
    let s = &d.spec;
    let fwd = match s.forward {
        Forward::Masq => ec::FwdMethod::Masq,
        Forward::Route => ec::FwdMethod::Route,
        Forward::FullNat => ec::FwdMethod::FullNat,
        Forward::Tunnel => ec::FwdMethod::Tunnel {
            tun: match s.tun_type {
                TunnelType::Ipip => ec::TunType::Ipip,
                TunnelType::Gue => ec::TunType::Gue { port: s.tun_port },
                TunnelType::Gre => ec::TunType::Gre,
            },
            csum: match s.tun_csum {
                TunnelCsum::NoCsum => ec::TunCsum::NoCsum,
                TunnelCsum::Csum => ec::TunCsum::Csum,
                TunnelCsum::RemCsum => ec::TunCsum::RemCsum,
            },
        },
    };
    ec::DestConfig {
        id: ec::DestId(d.id),
        addr: s.addr,
        port: s.port,
        fwd,
        weight: s.weight,
        u_threshold: s.u_threshold,
        l_threshold: s.l_threshold,
    }
}

fn fwmark_rule(r: &cmd::FwmarkRule) -> ec::FwmarkRule {
    ec::FwmarkRule {
        proto: Some(proto(r.protocol)),
        daddr: r.addr,
        prefix: r.prefix,
        dport_lo: r.port_lo,
        dport_hi: r.port_hi,
        mark: r.mark,
    }
}

/// The engine's key for a service key of the CLI.
pub fn engine_key(k: &ServiceKey) -> ec::SvcKey {
    match *k {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => ec::SvcKey::Addr {
            proto: proto(protocol),
            addr,
            port,
        },
        ServiceKey::Fwmark { mark, ipv6 } => ec::SvcKey::Fwmark { mark, v6: ipv6 },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rvs_ctl::parse::parse_with;
    use rvs_ctl::resolve::NoResolver;

    /// The command of an ipvsadm command line (without the program name).
    pub(crate) fn cmd(line: &str) -> Command {
        let args: Vec<String> = std::iter::once("ipvsadm")
            .chain(line.split_whitespace())
            .map(String::from)
            .collect();
        parse_with(&args, &NoResolver).unwrap_or_else(|e| panic!("{line}: {e:?}"))
    }

    #[test]
    fn ipvs_answers_for_conflicting_changes() {
        let mut m = Model::default();
        m.apply(&cmd("-A -t 10.0.0.1:80 -s rr")).unwrap();
        assert_eq!(
            m.apply(&cmd("-A -t 10.0.0.1:80 -s rr")).unwrap_err().errno,
            Some(Errno::Exists)
        );
        assert_eq!(
            m.apply(&cmd("-E -t 10.0.0.2:80 -s rr")).unwrap_err().errno,
            Some(Errno::NoSuchService)
        );
        m.apply(&cmd("-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m"))
            .unwrap();
        assert_eq!(
            m.apply(&cmd("-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m"))
                .unwrap_err()
                .errno,
            Some(Errno::Exists)
        );
        assert_eq!(
            m.apply(&cmd("-a -t 10.0.0.9:80 -r 10.1.0.1:80 -m"))
                .unwrap_err()
                .errno,
            Some(Errno::NoSuchService)
        );
        assert_eq!(
            m.apply(&cmd("-d -t 10.0.0.1:80 -r 10.1.0.2:80"))
                .unwrap_err()
                .errno,
            Some(Errno::NotFound)
        );
        m.apply(&cmd("-e -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 0"))
            .unwrap();
        assert_eq!(m.services[0].dests[0].spec.weight, 0);
        m.apply(&cmd("-D -t 10.0.0.1:80")).unwrap();
        assert!(m.services.is_empty());
        assert_eq!(
            m.apply(&cmd("-D -t 10.0.0.1:80")).unwrap_err().errno,
            Some(Errno::NoSuchService)
        );
    }

    #[test]
    fn a_new_dest_gets_a_new_id_and_an_edit_keeps_it() {
        let mut m = Model::default();
        m.apply(&cmd("-A -t 10.0.0.1:80")).unwrap();
        m.apply(&cmd("-a -t 10.0.0.1:80 -r 10.1.0.1")).unwrap();
        m.apply(&cmd("-a -t 10.0.0.1:80 -r 10.1.0.2")).unwrap();
        let ids: Vec<u32> = m.services[0].dests.iter().map(|d| d.id).collect();
        m.apply(&cmd("-e -t 10.0.0.1:80 -r 10.1.0.1 -w 7")).unwrap();
        assert_eq!(
            m.services[0].dests.iter().map(|d| d.id).collect::<Vec<_>>(),
            ids
        );
        assert_ne!(ids[0], ids[1]);
        let cfg = m.to_config(2).unwrap();
        assert_eq!(cfg.services()[0].dests[0].weight, 7);
    }

    #[test]
    fn set_keeps_zero_fields_and_settings_reach_the_engine() {
        let mut m = Model::default();
        m.apply(&cmd("--set 30 0 7")).unwrap();
        assert_eq!(
            m.timeouts(),
            cmd::Timeouts {
                tcp: 30,
                tcp_fin: 120,
                udp: 7
            }
        );
        m.apply(&Command::VsSet {
            setting: VsSetting::SloppyTcp,
            value: 1,
        })
        .unwrap();
        assert!(m.settings().sloppy_tcp);
        assert!(m
            .apply(&Command::VsSet {
                setting: VsSetting::SloppyTcp,
                value: 2
            })
            .is_err());
    }

    #[test]
    fn sync_daemon_settings_get_the_kernels_defaults() {
        let spec = |line: &str| match cmd(line) {
            Command::StartDaemon(d) => d,
            c => panic!("{c:?}"),
        };
        let m = daemon_defaults(
            &spec("--start-daemon master --mcast-interface lo --syncid 7"),
            65536,
        );
        assert_eq!((m.sync_maxlen, m.mcast_port, m.mcast_ttl), (1472, 8848, 1));
        assert_eq!(m.mcast_group.unwrap().to_string(), "224.0.0.81");
        let b = daemon_defaults(&spec("--start-daemon backup --mcast-interface lo"), 65536);
        assert_eq!(b.sync_maxlen, 65535 - 28);
        let b = daemon_defaults(
            &spec("--start-daemon backup --mcast-interface lo --sync-maxlen 100"),
            1500,
        );
        assert_eq!(b.sync_maxlen, 1024, "a backup's maxlen is at least 1024");
    }

    #[test]
    fn the_index_survives_removals_and_flushes() {
        let mut m = Model::default();
        for i in 0..50 {
            m.apply(&cmd(&format!("-A -t 10.0.0.{i}:80"))).unwrap();
        }
        m.apply(&cmd("-D -t 10.0.0.10:80")).unwrap();
        m.apply(&cmd("-a -t 10.0.0.49:80 -r 10.1.0.1")).unwrap();
        assert_eq!(m.services.last().unwrap().dests.len(), 1);
        m.apply(&Command::Flush).unwrap();
        assert_eq!(
            m.apply(&cmd("-a -t 10.0.0.49:80 -r 10.1.0.1"))
                .unwrap_err()
                .errno,
            Some(Errno::NoSuchService)
        );
    }
}
