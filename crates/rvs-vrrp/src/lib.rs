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

pub mod config;

pub use config::*;

use std::net::IpAddr;

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
    pub vips: Vec<IpAddr>,
    /// Why it is in FAULT, if it is.
    pub fault: Option<String>,
    pub counters: Counters,
    /// The last transitions, oldest first (bounded).
    pub transitions: Vec<TransitionRecord>,
}

/// Every instance of one configuration, with its tracking and sync groups.
/// (Skeleton: the bodies are the VRRP engineer's; the signatures are the contract.)
pub struct Router {
    _cfg: VrrpConfig,
}

impl Router {
    /// Every instance in INIT. `cfg` is already validated by the parser; `resolved_src`
    /// gives, per instance name, the advert source the driver resolved when the config
    /// left it to the interface (`InstanceConfig::src == None`).
    pub fn new(cfg: VrrpConfig, resolved_src: &[(String, IpAddr)]) -> Router {
        let _ = resolved_src;
        Router { _cfg: cfg }
    }

    /// Leave INIT: the first actions (owner → MASTER with adverts, VIPs and announcements;
    /// others → BACKUP, their VIPs not owned).
    pub fn start(&mut self, now: u64) -> Vec<Action> {
        let _ = now;
        unimplemented!()
    }

    /// One observation.
    pub fn handle(&mut self, input: Input<'_>, now: u64) -> Vec<Action> {
        let _ = (input, now);
        unimplemented!()
    }

    /// The earliest deadline, absolute ms.
    pub fn poll_timeout(&self) -> Option<u64> {
        unimplemented!()
    }

    /// Timers due at `now`: adverts, master-down, preempt delay, announcements, track
    /// scripts.
    pub fn poll(&mut self, now: u64) -> Vec<Action> {
        let _ = now;
        unimplemented!()
    }

    /// A clean stop: MASTERs send one advert with priority 0 and release their VIPs;
    /// every instance ends in INIT (notify_stop).
    pub fn shutdown(&mut self, now: u64) -> Vec<Action> {
        let _ = now;
        unimplemented!()
    }

    /// A reload: instances whose identity (name, interface, VRID, family) is unchanged
    /// keep their state; the others start or stop.
    pub fn reconfigure(
        &mut self,
        cfg: VrrpConfig,
        resolved_src: &[(String, IpAddr)],
        now: u64,
    ) -> Vec<Action> {
        let _ = (cfg, resolved_src, now);
        unimplemented!()
    }

    pub fn status(&self) -> Vec<InstanceStatus> {
        unimplemented!()
    }
}

/// `rvsadm --vrrp-status`'s text, keepalived's data-dump shape (`keepalived
/// --signum=DATA`): per instance a ` VRRP Instance = NAME` line, then `   Key = value`
/// lines (State, Interface, Virtual Router ID, Version, Priority, Effective priority,
/// Master router, Master priority, Advert interval, Master advert interval, Virtual IP
/// (one line each), Fault, Adverts received, Adverts sent, Became master, Released
/// master, Priority zero received, Priority zero sent, Split brain, `Dropped (REASON)`
/// per reason, and `Transition = ...` lines, oldest first). `now` is on the router's
/// clock, for the transitions' ages.
pub fn status_lines(status: &[InstanceStatus], now: u64) -> Vec<String> {
    let _ = (status, now);
    unimplemented!()
}
