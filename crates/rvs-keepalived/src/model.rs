//! What a keepalived.conf says, with keepalived's defaults filled in. Each item keeps the
//! position of its keyword so that later checks (and `to_engine`) can name file and line.

use crate::diag::{Diag, Pos};
use crate::tree::Node;
use rvs_check::spec::CheckSpec;
use rvs_engine::config::FwdMethod;
use rvs_proto::Proto;
use rvs_sched::SchedFlags;
use std::net::IpAddr;

/// Address family (`ip_family inet|inet6`, `fwmark N inet6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

/// A whole configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeepalivedConfig {
    pub global: GlobalDefs,
    pub groups: Vec<VsGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// `rvs_fwmark_rules { rule ... }`, our extension (see the crate docs).
    pub fwmark_rules: Vec<FwmarkRuleDef>,
    /// `vrrp_instance`, `vrrp_script`, `track_file` / `vrrp_track_file` and
    /// `vrrp_sync_group`, typed, with keepalived's defaults and `global_defs`' `vrrp_*`
    /// defaults filled in: what [`crate::plan()`] hands to rvsd as `Plan::vrrp`.
    pub vrrp: rvs_vrrp::VrrpConfig,
    /// Other top-level sections rvs does not act upon (`SSL`, `bfd_instance`,
    /// `static_ipaddress`, `static_routes`, ...); each was reported with a warning.
    pub other: Vec<Node>,
    /// Every warning, in file order.
    pub warnings: Vec<Diag>,
}

/// `global_defs`: the LVS-relevant keywords are typed; the rest are kept as nodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    /// `script_user USER [GROUP]`.
    pub script_user: Option<(String, Option<String>)>,
    pub enable_script_security: bool,
    pub lvs_timeouts: LvsTimeouts,
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    /// `lvs_flush`: flush any existing LVS configuration at startup.
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop [VS]`: `Some(true)` for the `VS` form.
    pub lvs_flush_on_stop: Option<bool>,
    /// `vrrp_version`: the version of instances that do not say (keepalived: 2; IPv6
    /// instances are always 3).
    pub vrrp_version: Option<rvs_vrrp::Version>,
    /// `vrrp_garp_master_delay|repeat|refresh|refresh_repeat`: the instances' defaults.
    pub vrrp_garp: rvs_vrrp::GarpTiming,
    /// Everything else in `global_defs` (notification, SNMP, other `vrrp_*`, ...), each
    /// reported with a warning, not acted on.
    pub other: Vec<Node>,
}

/// `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]`; unset values leave the current
/// ones (the engine's defaults) alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

/// `lvs_sync_daemon IFACE [[inst] VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N]
/// [group ADDR]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LvsSyncDaemon {
    pub interface: String,
    pub instance: Option<String>,
    pub id: Option<u8>,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
}

/// `virtual_server_group NAME { ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VsGroup {
    pub name: String,
    pub pos: Pos,
    pub entries: Vec<GroupEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupEntry {
    /// An address (first == last), a range `A-B` / `A.B.C.D-E`, or a prefix `A/N`
    /// (every address of it), with a port (0 if none given).
    Range {
        first: IpAddr,
        last: IpAddr,
        port: u16,
        pos: Pos,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark {
        mark: u32,
        family: Option<Family>,
        pos: Pos,
    },
}

/// What a `virtual_server` line names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VsKey {
    /// `virtual_server IP [PORT]` (port 0 when omitted: a persistent all-ports service).
    Addr { addr: IpAddr, port: u16 },
    /// `virtual_server fwmark N`.
    Fwmark { mark: u32 },
    /// `virtual_server group NAME`.
    Group(String),
}

/// A script with the user it runs as (`notify_up "cmd args" [user [group]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub command: String,
    pub user: Option<(String, Option<String>)>,
}

/// Timer and retry settings as written at one level (virtual server, real server,
/// checker). `None` = inherit from the level above, then keepalived's default (which
/// depends on the checker type; see [`crate::defaults`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimingOverrides {
    pub delay_loop_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub retry: Option<u32>,
    pub delay_before_retry_ms: Option<u64>,
    pub warmup_ms: Option<u64>,
}

impl TimingOverrides {
    /// `self` where set, else `parent`.
    pub fn or(self, parent: TimingOverrides) -> TimingOverrides {
        TimingOverrides {
            delay_loop_ms: self.delay_loop_ms.or(parent.delay_loop_ms),
            connect_timeout_ms: self.connect_timeout_ms.or(parent.connect_timeout_ms),
            retry: self.retry.or(parent.retry),
            delay_before_retry_ms: self.delay_before_retry_ms.or(parent.delay_before_retry_ms),
            warmup_ms: self.warmup_ms.or(parent.warmup_ms),
        }
    }
}

/// `sorry_server IP [PORT]` with `sorry_server_lvs_method` and `sorry_server_inhibit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SorryServer {
    pub addr: IpAddr,
    pub port: u16,
    pub fwd: FwdMethod,
    pub inhibit: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VirtualServer {
    pub pos: Pos,
    pub key: VsKey,
    /// `protocol`; keepalived 2.2.7 defaults to UDP when it is missing (and says so).
    pub protocol: Proto,
    /// `ip_family`, for fwmark services.
    pub ip_family: Option<Family>,
    /// `lvs_sched` / `lb_algo`; default `wlc` (keepalived: "no scheduler set, setting
    /// default 'wlc'").
    pub sched: String,
    /// `flag-1..3`, `sh-port`, `sh-fallback`, `mh-port`, `mh-fallback`.
    pub sched_flags: SchedFlags,
    /// `lvs_method` / `lb_kind`; default NAT; real servers inherit it.
    pub fwd: FwdMethod,
    /// `persistence_timeout [N]` in seconds (360 when given without a value).
    pub persistence_timeout: Option<u32>,
    /// `persistence_granularity MASK` as a prefix length.
    pub persistence_granularity: Option<u8>,
    pub persistence_engine: Option<String>,
    pub ops: bool,
    /// `hashed`: the old IPVS service flag, accepted and kept; rvs has no use for it.
    pub hashed: bool,
    pub ha_suspend: bool,
    pub virtualhost: Option<String>,
    pub smtp_alert: Option<bool>,
    pub snmp_name: Option<String>,
    pub alpha: bool,
    pub omega: bool,
    /// `quorum`, default 1.
    pub quorum: u32,
    /// `hysteresis`, default 0.
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    pub sorry_server: Option<SorryServer>,
    pub inhibit_on_failure: bool,
    pub timing: TimingOverrides,
    pub real_servers: Vec<RealServer>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RealServer {
    pub pos: Pos,
    pub addr: IpAddr,
    /// 0 when omitted (fwmark services; the packet's port is kept).
    pub port: u16,
    /// `weight`, default 1.
    pub weight: u32,
    pub fwd: FwdMethod,
    /// `inhibit_on_failure`: weight 0 instead of removal when down; default the
    /// virtual server's.
    pub inhibit_on_failure: bool,
    /// `uthreshold` / `lthreshold`, 0 = none.
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub notify_up: Option<Script>,
    pub notify_down: Option<Script>,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    /// Start as failed until a check succeeds (the virtual server's `alpha` or its own).
    pub alpha: bool,
    /// This level's timing as written (already merged with the virtual server's).
    pub timing: TimingOverrides,
    /// Every checker with its effective timing and endpoint.
    pub checks: Vec<CheckSpec>,
}

/// One `rule PROTO ADDR[/PREFIX] PORT[-PORT] mark N` of `rvs_fwmark_rules`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FwmarkRuleDef {
    pub pos: Pos,
    pub rule: rvs_engine::config::FwmarkRule,
}
