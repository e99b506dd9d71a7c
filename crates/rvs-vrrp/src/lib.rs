//! rvs's VRRP (RFC 3768 v2, RFC 5798 v3), keepalived's `vrrp_instance` semantics, as a
//! sans-IO core: no sockets, no clock, no threads. Time is `now: u64` milliseconds on any
//! monotonic scale the driver picks; packets come in as bytes with the facts only the
//! socket knows (source, destination, TTL/hop limit, interface); everything to do goes out
//! as [`Action`]s. rvs-io's VRRP runner drives it on a thread of its own; the `Pair`
//! harness in the tests drives two or three routers on a simulated link.
//!
//! ```text
//!  Input::Packet ─▶ rx::validate (rvs-wire view, TTL, VRID, auth, interval, addresses)
//!                     │ drop: counted by DropReason, no state change
//!                     ▼
//!  Input::{Link,Script,File} ─▶ Router ─▶ Instance (INIT/BACKUP/MASTER/FAULT) ◀─ poll(now)
//!                                   │         sync groups, tracking, priority
//!                                   ▼
//!  Action::{Send, SetVips, Announce, Notify, RunTrackScript, Transition}
//! ```
//!
//! API contract (drivers rely on it):
//! - [`Router::new`] builds every instance in INIT; [`Router::start`] moves them to their
//!   first state (owner 255 → MASTER, others → BACKUP) and returns the first actions.
//! - [`Router::handle`] takes one [`Input`] and returns what to do, in order.
//! - [`Router::poll_timeout`] is the earliest deadline (absolute ms), `None` if nothing is
//!   scheduled; call [`Router::poll`] at or after it.
//! - [`Router::shutdown`] is a clean stop: MASTERs send priority 0 and give up their VIPs.
//! - [`Router::status`] is the operator's view (`rvsadm --vrrp-status`).

#![forbid(unsafe_code)]

mod codec;
pub mod config;
mod group;
mod instance;
mod rx;
mod status;
mod track;

pub use config::*;
pub use instance::{HISTORY, MCAST_V4, MCAST_V6};
pub use track::TRACK_FILE_POLL_MS;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use group::Group;
use instance::{Instance, Want};
use track::{FileState, ScriptState};

/// RFC 5798's states, with keepalived's FAULT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
}

/// Something the driver observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// A VRRP packet (IP protocol 112) received on `iface`: `payload` is the VRRP header
    /// and what follows (the IP header stripped by the driver, which reports its fields).
    Packet {
        iface: &'a str,
        src: IpAddr,
        dst: IpAddr,
        /// IPv4 TTL or IPv6 hop limit as received.
        ttl: u8,
        payload: &'a [u8],
    },
    /// An interface went up or down (carrier and admin state together), or was looked at
    /// for the first time.
    Link { iface: &'a str, up: bool },
    /// A `vrrp_script` run finished (`ok`: exit status 0 within its timeout).
    Script { name: &'a str, ok: bool },
    /// A `vrrp_track_file`'s value (the integer in the file; unreadable = 0 is keepalived's
    /// rule, the driver reports what it read).
    File { name: &'a str, value: i64 },
}

/// Why a received packet was dropped. Every drop is counted; none changes state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than its header or address list, or malformed (rvs-wire said so).
    Malformed,
    /// TTL / hop limit not 255 (RFC 5798 7.1: it may come from off-link).
    Ttl,
    /// Version field neither 2 nor 3, or not the instance's version.
    Version,
    /// Type not 1 (ADVERTISEMENT).
    Type,
    Checksum,
    /// No instance has this VRID on this interface and family.
    UnknownVrid,
    /// v2 authentication type or password does not match.
    Auth,
    /// v2: the advert interval differs from ours (RFC 3768 7.1 says drop).
    Interval,
    /// The address list differs from ours (RFC: log; keepalived drops unless it is from
    /// the address owner).
    Addresses,
    /// Unicast mode: the source is not one of `unicast_peer`.
    NotPeer,
    /// Our own advert looped back.
    Own,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `payload` (a complete VRRP packet, checksum filled) on `iface` from `src` to
    /// `dst` with TTL/hop limit 255 and IP protocol 112.
    Send {
        instance: String,
        iface: String,
        src: IpAddr,
        dst: IpAddr,
        payload: Vec<u8>,
    },
    /// Make the instance's VIPs (`virtual_ipaddress` and `_excluded`) owned or not:
    /// `VipOwner::Kernel` adds/removes them on their interfaces, `VipOwner::Engine` flips
    /// `rvs_engine::VipOwnership`. On `owned: false` the driver does it before anything
    /// else so the node goes silent at once.
    SetVips {
        instance: String,
        owner: VipOwner,
        vips: Vec<Vip>,
        owned: bool,
    },
    /// Send one gratuitous ARP (IPv4) / unsolicited NA (IPv6) for each address on its
    /// interface (the machine schedules the repeats per `garp_*`).
    Announce { iface: String, addrs: Vec<IpAddr> },
    /// Run a notify script with these argument words, without waiting.
    Notify {
        command: String,
        user: Option<(String, Option<String>)>,
        args: Vec<String>,
    },
    /// Run a `vrrp_script` (answer with `Input::Script`), killing it after `timeout_ms`.
    RunTrackScript {
        name: String,
        command: String,
        user: Option<(String, Option<String>)>,
        timeout_ms: u64,
    },
    /// Read a `vrrp_track_file` (answer with `Input::File`).
    ReadTrackFile { name: String, path: String },
    /// For logs and the daemon: an instance changed state.
    Transition {
        instance: String,
        from: State,
        to: State,
        reason: String,
    },
}

/// One instance's counters (keepalived's `vrrp_stats`, plus rvs's drop reasons).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub adverts_rx: u64,
    pub adverts_tx: u64,
    pub became_master: u64,
    pub released_master: u64,
    pub priority_zero_rx: u64,
    pub priority_zero_tx: u64,
    /// Adverts from another MASTER while we were MASTER (split brain seen), whichever won
    /// the RFC tie-break.
    pub split_brain: u64,
    /// Drops by reason, in [`DropReason`] order.
    pub drops: Vec<(DropReason, u64)>,
}

/// One state change kept for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransitionRecord {
    pub at: u64,
    pub from: State,
    pub to: State,
    pub reason: String,
}

/// One instance as `rvsadm --vrrp-status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: Version,
    pub state: State,
    pub priority: u8,
    pub effective_priority: u8,
    /// The current master's address (ours while MASTER), if known.
    pub master: Option<IpAddr>,
    pub master_priority: Option<u8>,
    pub advert_int_cs: u16,
    /// v3: the master's advert interval learned from its adverts.
    pub master_advert_int_cs: u16,
    /// Every VIP, `virtual_ipaddress` then `virtual_ipaddress_excluded`.
    pub vips: Vec<IpAddr>,
    /// Those of `vips` that are `virtual_ipaddress_excluded` (owned, not advertised).
    pub vips_excluded: Vec<IpAddr>,
    /// Why it is in FAULT, if it is.
    pub fault: Option<String>,
    pub counters: Counters,
    /// The last transitions, oldest first (bounded).
    pub transitions: Vec<TransitionRecord>,
    /// `accept` as configured (`false`: `no_accept`, which rvs does not enforce: packets to
    /// the VIPs are accepted either way).
    pub accept: bool,
    /// The `vrrp_sync_group` it belongs to and that group's state, if any.
    pub sync_group: Option<(String, State)>,
}

/// Every instance of one configuration, with its tracking and sync groups.
///
/// Invariants:
/// - no input makes memory grow: instances, scripts, files and groups come from the
///   config, links are recorded only for interfaces the config names, transitions are
///   kept [`instance::HISTORY`] deep, counters are integers;
/// - a dropped packet changes nothing but one counter;
/// - after [`Router::shutdown`] every instance is in INIT and nothing is scheduled until
///   [`Router::start`] again.
pub struct Router {
    instances: Vec<Instance>,
    member_of: Vec<Option<usize>>,
    groups: Vec<Group>,
    scripts: Vec<ScriptState>,
    files: Vec<FileState>,
    links: HashMap<String, bool>,
    known_links: HashSet<String>,
    /// Drops of packets on an interface where no instance of the packet's family is
    /// (those with one are counted by every such instance).
    unclaimed: [u64; instance::DROP_REASONS.len()],
    running: bool,
}

impl Router {
    /// Every instance in INIT. `cfg` is already validated by the parser; `resolved_src`
    /// gives, per instance name, the advert source the driver resolved when the config
    /// left it to the interface (`InstanceConfig::src == None`). An instance with neither
    /// advertises from the unspecified address (the driver must resolve it).
    pub fn new(cfg: VrrpConfig, resolved_src: &[(String, IpAddr)]) -> Router {
        let instances: Vec<Instance> = cfg
            .instances
            .iter()
            .map(|c| Instance::new(c.clone(), src_of(c, resolved_src)))
            .collect();
        let (groups, member_of) = group::build(&cfg.sync_groups, &instances);
        let tracks = |name: &str, f: fn(&InstanceConfig) -> &Vec<Tracked>| {
            cfg.instances
                .iter()
                .any(|i| f(i).iter().any(|t| t.name == name))
        };
        let scripts = cfg
            .scripts
            .iter()
            .map(|s| ScriptState::new(s.clone(), tracks(&s.name, |i| &i.track_scripts)))
            .collect();
        let files = cfg
            .track_files
            .iter()
            .map(|f| FileState::new(f.clone(), tracks(&f.name, |i| &i.track_files)))
            .collect();
        let mut known_links = HashSet::new();
        for i in &cfg.instances {
            known_links.insert(i.interface.clone());
            known_links.extend(i.track_interfaces.iter().map(|t| t.name.clone()));
        }
        Router {
            instances,
            member_of,
            groups,
            scripts,
            files,
            links: HashMap::new(),
            known_links,
            unclaimed: [0; instance::DROP_REASONS.len()],
            running: false,
        }
    }

    /// Leave INIT: the first actions (owner → MASTER with adverts, VIPs and announcements;
    /// others → BACKUP, their VIPs not owned; a failing tracked thing → FAULT).
    pub fn start(&mut self, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        self.running = true;
        for s in &mut self.scripts {
            s.start(now);
        }
        for f in &mut self.files {
            f.start(now);
        }
        self.evaluate_tracking();
        for g in &mut self.groups {
            g.start(&mut self.instances, now, &mut out);
        }
        for (i, inst) in self.instances.iter_mut().enumerate() {
            if self.member_of[i].is_some() || inst.state != State::Init {
                continue;
            }
            match inst.own_fault.clone() {
                Some(why) => inst.enter_fault(now, why, &mut out),
                None => inst.start(now, &mut out),
            }
        }
        out.extend(self.poll(now));
        out
    }

    /// One observation.
    pub fn handle(&mut self, input: Input<'_>, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Packet {
                iface,
                src,
                dst,
                ttl,
                payload,
            } => {
                let p = rx::Packet {
                    iface,
                    src,
                    dst,
                    ttl,
                    payload,
                };
                self.rx(&p, now, &mut out);
            }
            Input::Link { iface, up } => {
                if self.known_links.contains(iface) {
                    self.links.insert(iface.to_string(), up);
                    self.retrack(now, &mut out);
                }
            }
            Input::Script { name, ok } => {
                if let Some(s) = self.scripts.iter_mut().find(|s| s.cfg.name == name) {
                    if s.on_result(ok) {
                        self.retrack(now, &mut out);
                    }
                }
            }
            Input::File { name, value } => {
                if let Some(f) = self.files.iter_mut().find(|f| f.cfg.name == name) {
                    if f.value != value {
                        f.value = value;
                        self.retrack(now, &mut out);
                    }
                }
            }
        }
        out
    }

    /// The earliest deadline, absolute ms.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.running {
            return None;
        }
        let inst = self.instances.iter().filter_map(Instance::deadline);
        let scripts = self.scripts.iter().filter_map(ScriptState::deadline);
        let files = self.files.iter().filter_map(FileState::deadline);
        inst.chain(scripts).chain(files).min()
    }

    /// Timers due at `now`: adverts, master-down, announcements, track scripts and files.
    pub fn poll(&mut self, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.running {
            return out;
        }
        for s in &mut self.scripts {
            s.poll(now, &mut out);
        }
        for f in &mut self.files {
            f.poll(now, &mut out);
        }
        for i in 0..self.instances.len() {
            if let Some(want) = self.instances[i].poll(now, &mut out) {
                self.apply(i, want, now, &mut out);
            }
        }
        out
    }

    /// A clean stop: MASTERs release their VIPs and send one advert with priority 0;
    /// every instance ends in INIT (notify_stop).
    pub fn shutdown(&mut self, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        for i in &mut self.instances {
            i.stop(now, "shutdown", &mut out);
        }
        for g in &mut self.groups {
            g.stop(&mut out);
        }
        self.running = false;
        out
    }

    /// A reload: instances whose identity (name, interface, VRID, family) is unchanged
    /// keep their state, timers, counters and history (a MASTER whose VIP list changed
    /// releases the removed ones and takes the new ones); the others start or stop.
    /// Scripts and files of the same name and command/path keep their results.
    pub fn reconfigure(
        &mut self,
        cfg: VrrpConfig,
        resolved_src: &[(String, IpAddr)],
        now: u64,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let mut next = Router::new(cfg, resolved_src);
        let mut old: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        for inst in &mut next.instances {
            let same = old.iter().position(|o| {
                o.as_ref().is_some_and(|o| {
                    o.cfg.name == inst.cfg.name
                        && o.cfg.interface == inst.cfg.interface
                        && o.cfg.vrid == inst.cfg.vrid
                        && o.cfg.ipv6 == inst.cfg.ipv6
                })
            });
            if let Some(o) = same.and_then(|k| old[k].take()) {
                if o.state == State::Master {
                    inst.reload_vips(&o.cfg, &mut out);
                }
                inst.migrate_from(o);
            }
        }
        for mut o in old.into_iter().flatten() {
            o.stop(now, "removed by reload", &mut out);
        }
        for s in &mut next.scripts {
            if let Some(o) = self
                .scripts
                .iter()
                .find(|o| o.cfg.name == s.cfg.name && o.cfg.command == s.cfg.command)
            {
                s.migrate_from(o);
            } else {
                s.start(now);
            }
        }
        for f in &mut next.files {
            if let Some(o) = self
                .files
                .iter()
                .find(|o| o.cfg.name == f.cfg.name && o.cfg.path == f.cfg.path)
            {
                f.migrate_from(o);
            } else {
                f.start(now);
            }
        }
        for g in &mut next.groups {
            if let Some(o) = self.groups.iter().find(|o| o.cfg.name == g.cfg.name) {
                g.state = o.state;
            }
        }
        next.links = std::mem::take(&mut self.links);
        next.links.retain(|k, _| next.known_links.contains(k));
        next.unclaimed = self.unclaimed;
        next.running = self.running;
        *self = next;
        if self.running {
            self.evaluate_tracking();
            for g in &mut self.groups {
                if g.state == State::Init {
                    g.start(&mut self.instances, now, &mut out);
                }
            }
            for i in 0..self.instances.len() {
                if self.instances[i].state == State::Init && self.member_of[i].is_none() {
                    self.instances[i].start(now, &mut out);
                }
            }
            self.retrack(now, &mut out);
        }
        out
    }

    pub fn status(&self) -> Vec<InstanceStatus> {
        self.instances
            .iter()
            .zip(&self.member_of)
            .map(|(i, g)| {
                let mut s = status::of(i);
                s.sync_group = g.map(|g| (self.groups[g].cfg.name.clone(), self.groups[g].state));
                s
            })
            .collect()
    }

    /// Drops of packets no instance could be found for on an interface without any
    /// instance of the packet's family, by reason (zeros included).
    pub fn unclaimed_drops(&self) -> Vec<(DropReason, u64)> {
        instance::DROP_REASONS
            .iter()
            .zip(self.unclaimed)
            .map(|(r, n)| (*r, n))
            .collect()
    }

    // ---- internals ---------------------------------------------------------------------

    fn rx(&mut self, p: &rx::Packet<'_>, now: u64, out: &mut Vec<Action>) {
        match rx::validate(&self.instances, p) {
            Ok((i, adv)) => {
                let inst = &mut self.instances[i];
                inst.counters.adverts_rx += 1;
                if adv.priority == 0 {
                    inst.counters.priority_zero_rx += 1;
                }
                if let Some(want) = inst.rx(&adv, p.src, now, out) {
                    self.apply(i, want, now, out);
                }
            }
            Err((Some(i), reason)) => self.instances[i].count_drop(reason),
            Err((None, reason)) => {
                let mut claimed = false;
                for inst in &mut self.instances {
                    if inst.cfg.interface == p.iface && inst.cfg.ipv6 == p.src.is_ipv6() {
                        inst.count_drop(reason);
                        claimed = true;
                    }
                }
                if !claimed {
                    self.unclaimed[instance::drop_index(reason)] += 1;
                }
            }
        }
    }

    fn apply(&mut self, i: usize, want: Want, now: u64, out: &mut Vec<Action>) {
        if let Some(g) = self.member_of[i] {
            self.groups[g].apply(&mut self.instances, i, want, now, out);
            return;
        }
        let inst = &mut self.instances[i];
        match want {
            Want::Master(reason) => inst.enter_master(now, reason, out),
            Want::Backup { reason, learned } => inst.enter_backup(now, reason, Some(learned), out),
        }
    }

    /// Effective priorities and own faults from what the tracked things say now.
    fn evaluate_tracking(&mut self) {
        let t = track::Tracking {
            links: &self.links,
            scripts: &self.scripts,
            files: &self.files,
        };
        for inst in &mut self.instances {
            let (eff, fault) = track::evaluate(&inst.cfg, &t);
            inst.set_eff_prio(eff);
            inst.own_fault = inst.unsendable.clone().or(fault);
            inst.link_up = self.links.get(&inst.cfg.interface).copied().unwrap_or(true);
        }
    }

    /// A tracked thing changed: new priorities, and FAULT entered or left.
    fn retrack(&mut self, now: u64, out: &mut Vec<Action>) {
        if !self.running {
            return;
        }
        self.evaluate_tracking();
        for g in &mut self.groups {
            g.sync_faults(&mut self.instances, now, out);
        }
        for (i, inst) in self.instances.iter_mut().enumerate() {
            if self.member_of[i].is_some() || inst.state == State::Init {
                continue;
            }
            match (inst.own_fault.clone(), inst.state) {
                (Some(why), _) => inst.enter_fault(now, why, out),
                (None, State::Fault) => {
                    let why = format!("fault cleared ({})", inst.fault.clone().unwrap_or_default());
                    if inst.is_owner() {
                        inst.enter_master(now, why, out);
                    } else {
                        inst.enter_backup(now, why, None, out);
                    }
                }
                (None, _) => {}
            }
        }
    }
}

fn src_of(c: &InstanceConfig, resolved: &[(String, IpAddr)]) -> IpAddr {
    c.src
        .or_else(|| resolved.iter().find(|(n, _)| *n == c.name).map(|(_, a)| *a))
        .unwrap_or(if c.ipv6 {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        })
}

/// `rvsadm --vrrp-status`'s text, keepalived's data-dump shape (`keepalived
/// --signum=DATA`): per instance a ` VRRP Instance = NAME` line, then `   Key = value`
/// lines (State, Interface, Virtual Router ID, Version, Priority, Effective priority,
/// Master router, Master priority, Advert interval, Master advert interval, Virtual IP
/// (one line each, excluded ones too), Excluded virtual IP (one line each, repeating
/// the excluded ones: owned but not advertised), Accept, Sync group (`NAME STATE` or
/// `none`), Fault, Adverts received, Adverts sent, Became master, Released master,
/// Priority zero received, Priority zero sent, Split brain, `Dropped (REASON)` per
/// reason, and `Transition = ...` lines, oldest first). Lines are only ever added to
/// this shape (tests and scripts parse it). `now` is on the router's clock, for the
/// transitions' ages.
pub fn status_lines(status: &[InstanceStatus], now: u64) -> Vec<String> {
    status::lines(status, now)
}

#[cfg(test)]
mod tests;
