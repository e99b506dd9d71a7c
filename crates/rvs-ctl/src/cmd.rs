//! The typed commands rvsadm sends to rvsd. They carry exactly what ipvsadm would hand to
//! the kernel, with ipvsadm's defaults already applied, so the daemon never re-interprets
//! command-line text.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

/// The transport protocol of a virtual service (`-t`, `-u`, `--sctp-service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IP protocol number; ipvsadm sorts services by it.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    /// The name in listings (`protocol_name()` in ipvsadm).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    /// The option that selects it in `-S` output (`option_from_protocol()`).
    pub fn option(self) -> &'static str {
        match self {
            Protocol::Tcp => "-t",
            Protocol::Udp => "-u",
            Protocol::Sctp => "--sctp-service",
        }
    }

    /// The protocol name /etc/services uses.
    pub fn services_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// How a virtual service is identified: by address, port and protocol, or by firewall mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceKey {
    Inet {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        mark: u32,
        ipv6: bool,
    },
}

impl ServiceKey {
    pub fn is_ipv6(&self) -> bool {
        match self {
            ServiceKey::Inet { addr, .. } => addr.is_ipv6(),
            ServiceKey::Fwmark { ipv6, .. } => *ipv6,
        }
    }
}

/// Persistence granularity (`-M`): a dotted mask for IPv4, a prefix length for IPv6, as
/// ipvsadm stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Netmask {
    V4(Ipv4Addr),
    V6(u8),
}

impl Netmask {
    /// The "no grouping" mask, which listings leave out.
    pub fn is_host(&self) -> bool {
        match self {
            Netmask::V4(m) => *m == Ipv4Addr::BROADCAST,
            Netmask::V6(p) => *p == 128,
        }
    }
}

/// Scheduler flag bits (`-b`): IP_VS_SVC_F_SCHED1..3. `sh-fallback`/`mh-fallback` are
/// bit 1 and `sh-port`/`mh-port` bit 2, exactly as in ipvsadm, so names depend on the
/// scheduler.
pub const SCHED_FLAG_1: u8 = 1;
pub const SCHED_FLAG_2: u8 = 2;
pub const SCHED_FLAG_3: u8 = 4;

/// Everything `-A`/`-E` set on a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    pub scheduler: String,
    /// Persistence timeout in seconds, `None` if not persistent.
    pub persistence: Option<u32>,
    pub netmask: Netmask,
    pub pe: Option<String>,
    pub one_packet: bool,
    pub sched_flags: u8,
    /// rvs extension (`--laddr`): the FULLNAT local address pool.
    pub laddrs: Vec<IpAddr>,
}

/// Forwarding method of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Forward {
    /// `-g`, direct routing (ipvsadm's default).
    Route,
    /// `-i`, tunnelling.
    Tunnel,
    /// `-m`, NAT.
    Masq,
    /// rvs extension `--fullnat`: source and destination NAT.
    FullNat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
}

impl TunnelType {
    pub fn name(self) -> &'static str {
        match self {
            TunnelType::Ipip => "ipip",
            TunnelType::Gue => "gue",
            TunnelType::Gre => "gre",
        }
    }
}

/// Tunnel checksum mode; the numbering follows IP_VS_TUNNEL_ENCAP_FLAG_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelCsum {
    NoCsum,
    Csum,
    RemCsum,
}

/// Everything `-a`/`-e` set on a real server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestSpec {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: Forward,
    pub weight: u32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: TunnelType,
    pub tun_port: u16,
    pub tun_csum: TunnelCsum,
}

/// What `-L` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListTarget {
    All,
    Service(ServiceKey),
    Connections,
    Timeout,
    Daemon,
}

/// ipvsadm's FMT_* listing flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFormat {
    pub numeric: bool,
    pub stats: bool,
    pub rate: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub tun_info: bool,
    pub exact: bool,
    pub nosort: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSpec {
    pub target: ListTarget,
    pub format: ListFormat,
}

/// The three timeouts of `--set` (seconds; 0 leaves a value unchanged, as in IPVS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SyncState {
    Master,
    Backup,
}

impl SyncState {
    pub fn name(self) -> &'static str {
        match self {
            SyncState::Master => "master",
            SyncState::Backup => "backup",
        }
    }
}

/// `--start-daemon` settings. `None`/0 means "kernel default", as ipvsadm leaves them 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonSpec {
    pub state: SyncState,
    pub mcast_ifn: String,
    pub syncid: u8,
    pub sync_maxlen: u16,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
}

/// rvs extension: a firewall-mark rule, `proto,addr[/prefix],port[-port],mark`, standing in
/// for the iptables MARK rule that `-f` services rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FwmarkRule {
    pub protocol: Protocol,
    pub addr: IpAddr,
    pub prefix: u8,
    pub port_lo: u16,
    pub port_hi: u16,
    pub mark: u32,
}

/// rvs extension: the `net.ipv4.vs.*`-style engine switches `--vs-set` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VsSetting {
    ConnReuseMode,
    ExpireNodestConn,
    ExpireQuiescentTemplate,
    SloppyTcp,
    SloppySctp,
    SecureTcp,
    DropEntry,
    DropPacket,
    UdpNodestGrace,
}

impl VsSetting {
    pub const ALL: [VsSetting; 9] = [
        VsSetting::ConnReuseMode,
        VsSetting::ExpireNodestConn,
        VsSetting::ExpireQuiescentTemplate,
        VsSetting::SloppyTcp,
        VsSetting::SloppySctp,
        VsSetting::SecureTcp,
        VsSetting::DropEntry,
        VsSetting::DropPacket,
        VsSetting::UdpNodestGrace,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VsSetting::ConnReuseMode => "conn_reuse_mode",
            VsSetting::ExpireNodestConn => "expire_nodest_conn",
            VsSetting::ExpireQuiescentTemplate => "expire_quiescent_template",
            VsSetting::SloppyTcp => "sloppy_tcp",
            VsSetting::SloppySctp => "sloppy_sctp",
            VsSetting::SecureTcp => "secure_tcp",
            VsSetting::DropEntry => "drop_entry",
            VsSetting::DropPacket => "drop_packet",
            VsSetting::UdpNodestGrace => "udp_nodest_grace",
        }
    }

    /// The largest value the sysctl accepts: booleans are 0/1, conn_reuse_mode is a
    /// two-bit mask, the defences take modes 0..3, the grace is seconds.
    pub fn max(self) -> u32 {
        match self {
            VsSetting::ExpireNodestConn
            | VsSetting::ExpireQuiescentTemplate
            | VsSetting::SloppyTcp
            | VsSetting::SloppySctp => 1,
            VsSetting::ConnReuseMode
            | VsSetting::SecureTcp
            | VsSetting::DropEntry
            | VsSetting::DropPacket => 3,
            VsSetting::UdpNodestGrace => 86400,
        }
    }

    pub fn from_name(name: &str) -> Option<VsSetting> {
        VsSetting::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One ipvsadm invocation (or one `-R` line), parsed and defaulted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    AddService(ServiceSpec),
    EditService(ServiceSpec),
    DelService(ServiceKey),
    Flush,
    List(ListSpec),
    AddDest {
        service: ServiceKey,
        dest: DestSpec,
    },
    EditDest {
        service: ServiceKey,
        dest: DestSpec,
    },
    DelDest {
        service: ServiceKey,
        addr: IpAddr,
        port: u16,
    },
    SetTimeout(Timeouts),
    StartDaemon(DaemonSpec),
    StopDaemon(SyncState),
    /// `-R`: the caller reads stdin and hands it to [`crate::restore::parse_restore`].
    Restore,
    Save {
        numeric: bool,
    },
    Zero(Option<ServiceKey>),
    /// `-h`: print [`crate::help::usage`] to stdout, exit 0.
    Help,
    /// `-v`: print [`crate::help::version`] to stdout, exit 0.
    Version,
    AddFwmarkRule(FwmarkRule),
    DelFwmarkRule(FwmarkRule),
    VsSet {
        setting: VsSetting,
        value: u32,
    },
}
