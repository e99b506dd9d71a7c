//! One `vrrp_instance`: RFC 5798 section 6's state machine with keepalived's FAULT state
//! and preemption rules (vrrp.c: `vrrp_state_backup`, `vrrp_state_master_rx`,
//! `vrrp_state_master_tx`, `vrrp_state_leave_master`).
//!
//! Timers (ms, `A` = our `advert_int`, `M` = Master_Adver_Interval, `P` = effective
//! priority):
//! - v3: Skew_Time = ((256 - P) × M) / 256 (RFC 5798 6.1); v2: Skew_Time = (256 - P) / 256
//!   seconds whatever `A` is (RFC 3768 6.1, keepalived's `VRRP_TIMER_SKEW`); both:
//!   Master_Down_Interval = 3 × M + Skew_Time (for v2 `M` is always `A`, whole seconds);
//! - a BACKUP's master-down deadline is reset to now + Master_Down_Interval by every advert
//!   it accepts, and set to now + Skew_Time by a priority-0 one; its expiry makes it MASTER
//!   (unless a sync group holds it back);
//! - a v3 BACKUP takes `M` from the adverts it accepts (RFC 5798 6.4.2); `M` returns to `A`
//!   whenever the instance (re)enters BACKUP;
//! - a MASTER advertises every `A` and has no master-down deadline; only BACKUP has one.
//!
//! Elections (`src` = the advert's source, ours = our primary address):
//! - MASTER: a priority-0 advert is answered with an advert at once; a higher priority, or
//!   an equal one from a higher address (RFC tie-break), makes it BACKUP; a lower one is
//!   answered with an advert at once (keepalived, "forcing new election"). Every non-zero
//!   advert seen while MASTER counts `split_brain`, whichever side wins;
//! - BACKUP accepts an advert (resets its deadline, records the master) when `nopreempt`,
//!   when its priority is at least ours, or while `preempt_delay` has not run out;
//!   otherwise the advert is ignored and the deadline runs out: preemption. As in
//!   keepalived, the delay is armed on entering BACKUP from INIT (start) or FAULT, cleared
//!   by an advert of at least our priority, and armed again by the next lower one when
//!   cleared (`vrrp_state_backup`, `vrrp_init_state`, `vrrp_leave_fault`).
//!
//! VIPs: owned exactly while MASTER. Leaving MASTER releases them before any other action;
//! entering MASTER sends an advert first (so the old master lets go), then takes them and
//! announces them (`garp_master_repeat`, again after `garp_master_delay`, and every
//! `garp_master_refresh`).

use std::collections::VecDeque;
use std::net::IpAddr;

use crate::codec::{self, Advert};
use crate::{
    Action, Auth, Counters, DropReason, InitialState, InstanceConfig, NotifyScript, State,
    TransitionRecord, Version,
};

/// Transitions kept per instance for the operator.
pub const HISTORY: usize = 16;

pub use rvs_wire::vrrp::{MCAST_V4, MCAST_V6};

/// Every [`DropReason`], in declaration order (the order of `Counters::drops`).
pub const DROP_REASONS: [DropReason; 11] = [
    DropReason::Malformed,
    DropReason::Ttl,
    DropReason::Version,
    DropReason::Type,
    DropReason::Checksum,
    DropReason::UnknownVrid,
    DropReason::Auth,
    DropReason::Interval,
    DropReason::Addresses,
    DropReason::NotPeer,
    DropReason::Own,
];

pub fn drop_index(r: DropReason) -> usize {
    DROP_REASONS.iter().position(|x| *x == r).unwrap_or(0)
}

/// v2 carries whole seconds, 1..=255.
pub fn v2_secs(advert_int_cs: u16) -> u8 {
    (advert_int_cs / 100).clamp(1, 255) as u8
}

/// The master an accepted advert tells about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Learned {
    pub addr: IpAddr,
    pub priority: u8,
    /// v3: the advert's interval; v2: ours.
    pub adver_int_ms: u64,
}

/// What an input or a timer asks of the instance; the router applies it, through the
/// instance's sync group when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    Master(String),
    Backup { reason: String, learned: Learned },
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub cfg: InstanceConfig,
    /// The adverts' source: `cfg.src` or what the driver resolved.
    pub src: IpAddr,
    pub state: State,
    pub eff_prio: u8,
    /// Why tracking wants FAULT (own interface, weight-0 things), if it does.
    pub own_fault: Option<String>,
    /// Why it is in FAULT now (its own reason or its sync group's).
    pub fault: Option<String>,
    /// Why no advert of this instance can be built (no or a wrong-family source), if
    /// so: a permanent FAULT reason, checked once per config.
    pub unsendable: Option<String>,
    /// Our `interface` as last reported (up until told otherwise).
    pub link_up: bool,
    pub master: Option<IpAddr>,
    pub master_priority: Option<u8>,
    pub master_adver_int_ms: u64,
    adver_at: Option<u64>,
    down_at: Option<u64>,
    preempt_at: Option<u64>,
    garp_at: Option<u64>,
    refresh_at: Option<u64>,
    /// Its master-down deadline ran out while a sync group held it in BACKUP
    /// (keepalived's `wantstate == MASTER`); cleared by an accepted advert.
    pub want_master: bool,
    pub counters: Counters,
    pub drops: [u64; DROP_REASONS.len()],
    pub transitions: VecDeque<TransitionRecord>,
}

impl Instance {
    pub fn new(cfg: InstanceConfig, src: IpAddr) -> Instance {
        let a = adver_int_ms(&cfg);
        let mut i = Instance {
            eff_prio: cfg.priority,
            cfg,
            src,
            state: State::Init,
            own_fault: None,
            fault: None,
            link_up: true,
            master: None,
            master_priority: None,
            master_adver_int_ms: a,
            adver_at: None,
            down_at: None,
            preempt_at: None,
            garp_at: None,
            refresh_at: None,
            want_master: false,
            counters: Counters::default(),
            drops: [0; DROP_REASONS.len()],
            transitions: VecDeque::with_capacity(HISTORY),
            unsendable: None,
        };
        let dst = i.destinations()[0];
        i.unsendable = codec::unsendable(&i.advert(255), src, dst)
            .map(|why| format!("{why} on {}", i.cfg.interface));
        i
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn is_owner(&self) -> bool {
        self.cfg.priority == 255
    }

    pub fn adver_int_ms(&self) -> u64 {
        adver_int_ms(&self.cfg)
    }

    pub fn skew_ms(&self) -> u64 {
        // v2 follows RFC 3768 and keepalived (`VRRP_TIMER_SKEW`: `(256 - P) * TIMER_HZ /
        // 256`): the skew is a fraction of one second, not of the interval. Scaling it by a
        // v2 `advert_int` above 1 s would make an rvs backup take over later than a
        // keepalived one of the same priority, so mixed pairs could both claim MASTER.
        let m = match self.cfg.version {
            Version::V2 => 1000,
            Version::V3 => self.master_adver_int_ms,
        };
        (256 - u64::from(self.eff_prio)) * m / 256
    }

    pub fn master_down_ms(&self) -> u64 {
        3 * self.master_adver_int_ms + self.skew_ms()
    }

    /// The master-down deadline (BACKUP only).
    #[cfg(test)]
    pub fn down_at(&self) -> Option<u64> {
        self.down_at
    }

    pub fn deadline(&self) -> Option<u64> {
        [self.adver_at, self.down_at, self.garp_at, self.refresh_at]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn count_drop(&mut self, r: DropReason) {
        self.drops[drop_index(r)] += 1;
    }

    /// The status counters with the drops filled in.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        c.drops = DROP_REASONS
            .iter()
            .zip(self.drops)
            .map(|(r, n)| (*r, n))
            .collect();
        c
    }

    /// Takes over the runtime state of the same instance under an older config (a reload).
    pub fn migrate_from(&mut self, old: Instance) {
        let a = self.adver_int_ms();
        self.state = old.state;
        self.fault = old.fault;
        self.master = old.master;
        self.master_priority = old.master_priority;
        self.master_adver_int_ms = if self.state == State::Backup && self.cfg.version == Version::V3
        {
            old.master_adver_int_ms
        } else {
            a
        };
        self.adver_at = old.adver_at;
        self.down_at = old.down_at;
        self.preempt_at = old.preempt_at;
        self.garp_at = old.garp_at;
        self.refresh_at = old.refresh_at;
        self.want_master = old.want_master;
        self.counters = old.counters;
        self.drops = old.drops;
        self.transitions = old.transitions;
        if self.state == State::Master {
            self.master = Some(self.src);
        }
        if self.cfg.garp.refresh_ms == 0 {
            self.refresh_at = None;
        }
    }

    /// A reload of a MASTER: VIPs no longer configured are released, new ones taken and
    /// announced; unchanged ones are left alone (no flap).
    pub fn reload_vips(&self, old: &InstanceConfig, out: &mut Vec<Action>) {
        let all = |c: &InstanceConfig| -> Vec<crate::Vip> {
            c.vips.iter().chain(&c.vips_excluded).cloned().collect()
        };
        let (was, now) = (all(old), all(&self.cfg));
        let removed: Vec<_> = was.iter().filter(|v| !now.contains(v)).cloned().collect();
        let added: Vec<_> = now.iter().filter(|v| !was.contains(v)).cloned().collect();
        if !removed.is_empty() || old.vip_owner != self.cfg.vip_owner {
            out.push(Action::SetVips {
                instance: self.cfg.name.clone(),
                owner: old.vip_owner,
                vips: if old.vip_owner != self.cfg.vip_owner {
                    was
                } else {
                    removed
                },
                owned: false,
            });
        }
        let added = if old.vip_owner != self.cfg.vip_owner {
            now
        } else {
            added
        };
        if !added.is_empty() {
            out.push(Action::SetVips {
                instance: self.cfg.name.clone(),
                owner: self.cfg.vip_owner,
                vips: added.clone(),
                owned: true,
            });
            for v in &added {
                out.push(Action::Announce {
                    iface: v.dev.clone().unwrap_or_else(|| self.cfg.interface.clone()),
                    addrs: vec![v.addr],
                });
            }
        }
    }

    // ---- transitions -------------------------------------------------------------------

    fn transition(&mut self, to: State, now: u64, reason: String, out: &mut Vec<Action>) {
        if self.transitions.len() == HISTORY {
            self.transitions.pop_front();
        }
        self.transitions.push_back(TransitionRecord {
            at: now,
            from: self.state,
            to,
            reason: reason.clone(),
        });
        out.push(Action::Transition {
            instance: self.cfg.name.clone(),
            from: self.state,
            to,
            reason,
        });
        self.state = to;
    }

    fn set_vips(&self, owned: bool, out: &mut Vec<Action>) {
        let vips = self
            .cfg
            .vips
            .iter()
            .chain(&self.cfg.vips_excluded)
            .cloned()
            .collect();
        out.push(Action::SetVips {
            instance: self.cfg.name.clone(),
            owner: self.cfg.vip_owner,
            vips,
            owned,
        });
    }

    /// Leaving MASTER (or INIT, where the addresses may be left from a previous run):
    /// the VIPs go first, so the node is silent before anything else happens.
    fn release(&mut self, send_zero: bool, out: &mut Vec<Action>) {
        match self.state {
            State::Master => {
                self.set_vips(false, out);
                if send_zero {
                    self.send_advert(0, out);
                }
                self.counters.released_master += 1;
            }
            State::Init => self.set_vips(false, out),
            State::Backup | State::Fault => {}
        }
    }

    fn stop_timers(&mut self) {
        self.adver_at = None;
        self.down_at = None;
        self.preempt_at = None;
        self.garp_at = None;
        self.refresh_at = None;
    }

    pub fn enter_master(&mut self, now: u64, reason: String, out: &mut Vec<Action>) {
        if self.state == State::Master {
            return;
        }
        self.transition(State::Master, now, reason, out);
        self.fault = None;
        self.want_master = false;
        self.stop_timers();
        self.master = Some(self.src);
        self.master_priority = Some(self.eff_prio);
        self.master_adver_int_ms = self.adver_int_ms();
        self.counters.became_master += 1;
        self.send_advert(self.eff_prio, out);
        self.adver_at = Some(now + self.adver_int_ms());
        self.set_vips(true, out);
        self.announce(self.cfg.garp.repeat, out);
        let g = self.cfg.garp;
        self.garp_at = (g.delay_ms > 0).then_some(now + g.delay_ms);
        self.refresh_at = (g.refresh_ms > 0).then_some(now + g.refresh_ms);
        self.notify("MASTER", out);
    }

    /// `learned`: the advert that made a MASTER step down (its master and, v3, interval).
    pub fn enter_backup(
        &mut self,
        now: u64,
        reason: String,
        learned: Option<Learned>,
        out: &mut Vec<Action>,
    ) {
        if self.state == State::Backup {
            return;
        }
        let from = self.state;
        self.release(false, out);
        self.transition(State::Backup, now, reason, out);
        self.fault = None;
        self.stop_timers();
        if matches!(from, State::Init | State::Fault) && self.cfg.preempt_delay_ms > 0 {
            self.preempt_at = Some(now + self.cfg.preempt_delay_ms);
        }
        self.master = None;
        self.master_priority = None;
        self.master_adver_int_ms = self.adver_int_ms();
        self.down_at = Some(now + self.master_down_ms());
        if let Some(l) = learned {
            self.accept(l, now);
        }
        self.notify("BACKUP", out);
    }

    /// While our interface is up, a MASTER going FAULT hands over at once with a
    /// priority-0 advert (keepalived does the same when it can).
    pub fn enter_fault(&mut self, now: u64, reason: String, out: &mut Vec<Action>) {
        if self.state == State::Fault {
            self.fault = Some(reason);
            return;
        }
        self.release(self.link_up, out);
        self.transition(State::Fault, now, reason.clone(), out);
        self.fault = Some(reason);
        self.want_master = false;
        self.stop_timers();
        self.master = None;
        self.master_priority = None;
        self.master_adver_int_ms = self.adver_int_ms();
        self.notify("FAULT", out);
    }

    /// A clean stop: a MASTER sends priority 0 so that the backup takes over after its
    /// skew time; every instance ends in INIT with `notify_stop`.
    pub fn stop(&mut self, now: u64, reason: &str, out: &mut Vec<Action>) {
        if self.state == State::Init {
            return;
        }
        self.release(true, out);
        self.transition(State::Init, now, reason.to_string(), out);
        self.stop_timers();
        self.want_master = false;
        self.master = None;
        self.master_priority = None;
        self.notify("STOP", out);
    }

    /// INIT → first state, keepalived's `vrrp_init_state`: the owner becomes MASTER at
    /// once; `state MASTER` on a non-owner is a BACKUP whose first master-down deadline
    /// is one advert interval plus skew (it takes over fast when no master exists).
    pub fn start(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.is_owner() {
            self.enter_master(now, "address owner (priority 255)".into(), out);
            return;
        }
        self.enter_backup(now, "startup".into(), None, out);
        if self.cfg.initial == InitialState::Master {
            self.down_at = Some(now + self.master_adver_int_ms + self.skew_ms());
        }
    }

    /// A sync group holds a would-be MASTER back until its peers want MASTER too.
    pub fn defer_master(&mut self, now: u64) {
        self.want_master = true;
        self.down_at = Some(now + self.master_down_ms());
    }

    // ---- adverts -----------------------------------------------------------------------

    /// Where adverts go: each unicast peer, else the VRRP group of our family.
    pub fn destinations(&self) -> Vec<IpAddr> {
        if !self.cfg.unicast_peers.is_empty() {
            return self.cfg.unicast_peers.clone();
        }
        vec![if self.src.is_ipv6() {
            IpAddr::V6(MCAST_V6)
        } else {
            IpAddr::V4(MCAST_V4)
        }]
    }

    pub fn advert(&self, priority: u8) -> Advert {
        let (auth_type, auth_data) = match (self.cfg.version, &self.cfg.auth) {
            (Version::V2, Auth::Pass(p)) => (codec::AUTH_PASS, *p),
            _ => (codec::AUTH_NONE, [0; 8]),
        };
        Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            adver_int_cs: match self.cfg.version {
                Version::V2 => u16::from(v2_secs(self.cfg.advert_int_cs)) * 100,
                Version::V3 => self.cfg.advert_int_cs.clamp(1, 0x0fff),
            },
            auth_type,
            auth_data,
            addrs: self.cfg.vips.iter().map(|v| v.addr).collect(),
        }
    }

    pub fn send_advert(&mut self, priority: u8, out: &mut Vec<Action>) {
        let adv = self.advert(priority);
        for dst in self.destinations() {
            // `unsendable` keeps an instance whose adverts cannot be built in FAULT, so
            // this never skips one that was meant to go.
            let Some(payload) = codec::emit(&adv, self.src, dst) else {
                continue;
            };
            out.push(Action::Send {
                instance: self.cfg.name.clone(),
                iface: self.cfg.interface.clone(),
                src: self.src,
                dst,
                payload,
            });
            self.counters.adverts_tx += 1;
            if priority == 0 {
                self.counters.priority_zero_tx += 1;
            }
        }
    }

    fn announce(&self, repeat: u32, out: &mut Vec<Action>) {
        let mut by_iface: Vec<(String, Vec<IpAddr>)> = Vec::new();
        for v in self.cfg.vips.iter().chain(&self.cfg.vips_excluded) {
            let iface = v.dev.as_ref().unwrap_or(&self.cfg.interface);
            match by_iface.iter_mut().find(|(i, _)| i == iface) {
                Some((_, addrs)) => addrs.push(v.addr),
                None => by_iface.push((iface.clone(), vec![v.addr])),
            }
        }
        for _ in 0..repeat {
            for (iface, addrs) in &by_iface {
                out.push(Action::Announce {
                    iface: iface.clone(),
                    addrs: addrs.clone(),
                });
            }
        }
    }

    fn notify(&self, word: &str, out: &mut Vec<Action>) {
        let n = &self.cfg.notify;
        let specific = match word {
            "MASTER" => &n.master,
            "BACKUP" => &n.backup,
            "FAULT" => &n.fault,
            _ => &n.stop,
        };
        notify_pair(
            specific,
            &n.any,
            "INSTANCE",
            &self.cfg.name,
            word,
            self.eff_prio,
            out,
        );
    }

    // ---- rx ----------------------------------------------------------------------------

    fn accept(&mut self, l: Learned, now: u64) {
        if self.cfg.version == Version::V3 {
            self.master_adver_int_ms = l.adver_int_ms;
        }
        self.master = Some(l.addr);
        self.master_priority = Some(l.priority);
        self.down_at = Some(now + self.master_down_ms());
    }

    /// A validated advert from `src`.
    pub fn rx(
        &mut self,
        adv: &Advert,
        src: IpAddr,
        now: u64,
        out: &mut Vec<Action>,
    ) -> Option<Want> {
        let learned = Learned {
            addr: src,
            priority: adv.priority,
            adver_int_ms: match adv.version {
                Version::V3 => u64::from(adv.adver_int_cs.max(1)) * 10,
                Version::V2 => self.adver_int_ms(),
            },
        };
        match self.state {
            State::Init | State::Fault => None,
            State::Backup => {
                if adv.priority == 0 {
                    // RFC 5798 6.4.2: the master is stopping; take over after skew time.
                    // Remembered, so the takeover says why (operators and the e2e
                    // tests tell a clean handover from a master that died).
                    self.down_at = Some(now + self.skew_ms());
                    self.master_priority = Some(0);
                    return None;
                }
                let delaying =
                    self.cfg.preempt_delay_ms > 0 && self.preempt_at.is_none_or(|t| now < t);
                if self.cfg.nopreempt || adv.priority >= self.eff_prio || delaying {
                    self.accept(learned, now);
                    self.want_master = false;
                    if adv.priority >= self.eff_prio {
                        self.preempt_at = None;
                    } else if self.preempt_at.is_none() {
                        self.preempt_at = Some(now + self.cfg.preempt_delay_ms);
                    }
                } else {
                    // Preempting: ignored, so the deadline runs out.
                    self.master = Some(src);
                    self.master_priority = Some(adv.priority);
                }
                None
            }
            State::Master => {
                if adv.priority == 0 {
                    self.send_advert(self.eff_prio, out);
                    self.adver_at = Some(now + self.adver_int_ms());
                    return None;
                }
                self.counters.split_brain += 1;
                if adv.priority > self.eff_prio {
                    let reason = format!("higher priority {} from {src}", adv.priority);
                    Some(Want::Backup { reason, learned })
                } else if adv.priority == self.eff_prio && src > self.src {
                    let reason =
                        format!("equal priority {} from higher address {src}", adv.priority);
                    Some(Want::Backup { reason, learned })
                } else {
                    self.send_advert(self.eff_prio, out);
                    None
                }
            }
        }
    }

    // ---- timers ------------------------------------------------------------------------

    pub fn poll(&mut self, now: u64, out: &mut Vec<Action>) -> Option<Want> {
        match self.state {
            State::Master => {
                if let Some(t) = self.adver_at.filter(|t| *t <= now) {
                    self.send_advert(self.eff_prio, out);
                    // Keep the cadence; a driver that woke up late does not get a burst.
                    let a = self.adver_int_ms();
                    self.adver_at = Some(if t + a > now { t + a } else { now + a });
                }
                if self.garp_at.is_some_and(|t| t <= now) {
                    self.garp_at = None;
                    self.announce(self.cfg.garp.repeat, out);
                }
                if let Some(t) = self.refresh_at.filter(|t| *t <= now) {
                    let r = self.cfg.garp.refresh_ms.max(1);
                    self.refresh_at = Some(if t + r > now { t + r } else { now + r });
                    self.announce(self.cfg.garp.refresh_repeat, out);
                }
                None
            }
            State::Backup => {
                if self.down_at.is_some_and(|t| t <= now) {
                    self.down_at = None;
                    return Some(Want::Master(match self.master_priority {
                        Some(0) => "master sent priority 0 (skew time expired)".into(),
                        _ => "master down timer expired".into(),
                    }));
                }
                None
            }
            State::Init | State::Fault => None,
        }
    }

    /// Tracking changed the effective priority (a BACKUP's skew changes with it from
    /// the next accepted advert on; a MASTER advertises it from its next advert on).
    pub fn set_eff_prio(&mut self, p: u8) {
        self.eff_prio = p;
        if self.state == State::Master {
            self.master_priority = Some(p);
        }
    }

    /// Whether a received advert carries our address list (keepalived compares the
    /// count, then every VIP of ours against the advert's).
    pub fn same_addrs(&self, addrs: &[IpAddr]) -> bool {
        addrs.len() == self.cfg.vips.len() && self.cfg.vips.iter().all(|v| addrs.contains(&v.addr))
    }
}

fn adver_int_ms(cfg: &InstanceConfig) -> u64 {
    match cfg.version {
        Version::V2 => u64::from(v2_secs(cfg.advert_int_cs)) * 1000,
        Version::V3 => u64::from(cfg.advert_int_cs.clamp(1, 0x0fff)) * 10,
    }
}

/// The state's own script (no arguments) and `notify` with keepalived's argument words
/// `INSTANCE|GROUP NAME STATE PRIORITY` (each one word; keepalived passes them as argv).
pub fn notify_pair(
    specific: &Option<NotifyScript>,
    any: &Option<NotifyScript>,
    kind: &str,
    name: &str,
    word: &str,
    priority: u8,
    out: &mut Vec<Action>,
) {
    if let Some(s) = specific {
        out.push(Action::Notify {
            command: s.command.clone(),
            user: s.user.clone(),
            args: Vec::new(),
        });
    }
    if let Some(s) = any {
        out.push(Action::Notify {
            command: s.command.clone(),
            user: s.user.clone(),
            args: vec![kind.into(), name.into(), word.into(), priority.to_string()],
        });
    }
}
