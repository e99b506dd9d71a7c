//! What the VRRP machines run from: keepalived's `vrrp_instance`, `vrrp_script`,
//! `vrrp_track_file` and `vrrp_sync_group`, typed and with keepalived's defaults filled
//! in. rvs-keepalived's plan builds a [`VrrpConfig`] once per load; nothing here reads
//! files or interfaces.

use std::net::IpAddr;

/// VRRP protocol version (`version` / `vrrp_version`; keepalived's default is 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Version {
    #[default]
    V2,
    V3,
}

/// The initial state keepalived's `state` asks for. A non-owner asking for MASTER still
/// starts as BACKUP and wins the election by priority (keepalived 2.x does the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InitialState {
    #[default]
    Backup,
    Master,
}

/// `authentication { auth_type PASS; auth_pass ... }` (v2 only; RFC 5798 removed it).
/// AH is refused with a warning by the parser and never reaches here.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    /// Simple text password, at most 8 bytes on the wire (keepalived truncates longer
    /// ones, with a warning from the parser); zero-padded.
    Pass([u8; 8]),
}

/// Who makes a VIP reachable while MASTER.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VipOwner {
    /// keepalived's way: the address is added to the interface (`ip addr`) on MASTER and
    /// removed on BACKUP, FAULT and stop; the kernel answers ARP/NS for it.
    #[default]
    Kernel,
    /// rvs's extension (`rvs_vip_owner engine`): the address never enters the kernel; the
    /// engine answers ARP/NS/ping for it only while MASTER (`rvs_engine::VipOwnership`).
    Engine,
}

/// One `virtual_ipaddress` / `virtual_ipaddress_excluded` line:
/// `ADDR[/PREFIX] [brd ADDR] [dev IFACE] [scope SCOPE] [label LABEL]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    pub addr: IpAddr,
    /// keepalived's default is /32 (/128).
    pub prefix: u8,
    pub brd: Option<IpAddr>,
    /// `dev`: the interface the address goes on; default the instance's `interface`.
    pub dev: Option<String>,
    /// `scope`: `global` (default), `site`, `link`, `host`, `nowhere` or a number.
    pub scope: Option<u8>,
    pub label: Option<String>,
}

/// A tracked thing's weight (`track_interface`, `track_script`, `track_file` entries).
/// `weight 0` (the default for interfaces and scripts without one in `vrrp_script`)
/// means a failure puts the instance in FAULT; otherwise a positive weight is added to
/// the priority while the thing is up/succeeding and a negative one while it is down/
/// failing (keepalived's rules, RFC 3768 owners (255) are never changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub name: String,
    /// `None`: the entry gave no weight (the script's/file's own weight applies; an
    /// interface's is 0).
    pub weight: Option<i32>,
    /// `weight N reverse`: the sign is inverted.
    pub reverse: bool,
}

/// A `notify*` script: the command line as written (keepalived runs it with `sh -c`-like
/// word splitting and appends its argument words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyScript {
    pub command: String,
    pub user: Option<(String, Option<String>)>,
}

/// The notify scripts of an instance or sync group (keepalived's argument words:
/// `notify_master` etc. get none; `notify` gets `INSTANCE|GROUP NAME STATE PRIORITY`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Notify {
    pub master: Option<NotifyScript>,
    pub backup: Option<NotifyScript>,
    pub fault: Option<NotifyScript>,
    pub stop: Option<NotifyScript>,
    pub any: Option<NotifyScript>,
}

/// gratuitous ARP / unsolicited NA after becoming MASTER (keepalived's defaults:
/// delay 5 s, repeat 5, refresh 0 = never, refresh_repeat 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GarpTiming {
    /// `garp_master_delay`: a second burst this long after the first (0 = none).
    pub delay_ms: u64,
    /// `garp_master_repeat`: announcements per burst.
    pub repeat: u32,
    /// `garp_master_refresh`: while MASTER, a burst every this long (0 = never).
    pub refresh_ms: u64,
    /// `garp_master_refresh_repeat`: announcements per refresh burst.
    pub refresh_repeat: u32,
}

impl Default for GarpTiming {
    fn default() -> Self {
        GarpTiming {
            delay_ms: 5_000,
            repeat: 5,
            refresh_ms: 0,
            refresh_repeat: 1,
        }
    }
}

/// One `vrrp_instance NAME { ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    pub name: String,
    /// `interface`: where adverts are sent and received.
    pub interface: String,
    pub vrid: u8,
    pub version: Version,
    /// IPv4 or IPv6 instance: the family of its VIPs (keepalived refuses a mix).
    pub ipv6: bool,
    pub initial: InitialState,
    /// `priority` (1..=255, default 100). 255 = address owner: MASTER at once.
    pub priority: u8,
    /// `advert_int` in centiseconds (v2: whole seconds only; default 100).
    pub advert_int_cs: u16,
    pub auth: Auth,
    /// `nopreempt`: a higher-priority BACKUP does not take over a live MASTER.
    pub nopreempt: bool,
    /// `preempt_delay` in ms (0..=1000 s): a BACKUP that would preempt waits this long
    /// before doing so, counted (as keepalived) from its start or its leaving FAULT, or
    /// else from the first lower-priority advert after one of at least its priority.
    pub preempt_delay_ms: u64,
    /// `virtual_ipaddress`: the addresses carried in the advert (and owned on MASTER).
    pub vips: Vec<Vip>,
    /// `virtual_ipaddress_excluded`: owned on MASTER but not in the advert.
    pub vips_excluded: Vec<Vip>,
    pub vip_owner: VipOwner,
    /// `mcast_src_ip` / `unicast_src_ip`: the adverts' source; `None` = the interface's
    /// primary address (IPv4) or link-local address (IPv6), resolved by the I/O layer.
    pub src: Option<IpAddr>,
    /// `unicast_peer { ... }`: when not empty, adverts go to each peer (and only adverts
    /// from them are accepted) instead of 224.0.0.18 / ff02::12.
    pub unicast_peers: Vec<IpAddr>,
    pub track_interfaces: Vec<Tracked>,
    pub track_scripts: Vec<Tracked>,
    pub track_files: Vec<Tracked>,
    pub notify: Notify,
    pub garp: GarpTiming,
    /// `accept` / `no_accept` as written (default on, as keepalived without
    /// `vrrp_strict`). rvs does not implement `no_accept`: packets to the VIPs are
    /// accepted either way (the parser warns); status shows both.
    pub accept: bool,
    /// Where the keyword block starts (`FILE:LINE`), for messages.
    pub pos: String,
}

/// `vrrp_script NAME { script ...; interval; timeout; weight; rise; fall }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptConfig {
    pub name: String,
    pub command: String,
    pub user: Option<(String, Option<String>)>,
    /// default 1 s.
    pub interval_ms: u64,
    /// default: `interval`.
    pub timeout_ms: u64,
    /// -253..=253, default 0 (a failing script means FAULT).
    pub weight: i32,
    /// `weight N reverse`.
    pub reverse: bool,
    /// consecutive successes before OK / failures before KO (default 1 / 1).
    pub rise: u32,
    pub fall: u32,
    /// `init_fail`: starts failed rather than OK.
    pub init_fail: bool,
}

/// `vrrp_track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackFileConfig {
    pub name: String,
    pub path: String,
    /// default 1.
    pub weight: i32,
    pub reverse: bool,
}

/// `vrrp_sync_group NAME { group { VI_1 VI_2 } notify... }`: the members change state
/// together (one in FAULT puts all in FAULT; one MASTER takes the others along).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroupConfig {
    pub name: String,
    pub members: Vec<String>,
    pub notify: Notify,
}

/// Everything VRRP of one configuration load.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VrrpConfig {
    pub instances: Vec<InstanceConfig>,
    pub scripts: Vec<ScriptConfig>,
    pub track_files: Vec<TrackFileConfig>,
    pub sync_groups: Vec<SyncGroupConfig>,
}

impl VrrpConfig {
    /// No instance: rvsd behaves as without VRRP (every VIP owned).
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }
}
