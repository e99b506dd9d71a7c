//! keepalived's VRRP sections → [`rvs_vrrp::VrrpConfig`]: `vrrp_instance`, `vrrp_script`,
//! `track_file` (and its old name `vrrp_track_file`), `vrrp_sync_group`, with
//! keepalived 2.2.7's defaults, ranges and "defaulting" notes (its vrrp_parser.c and
//! `vrrp_complete_instance`), and `global_defs`' `vrrp_version` / `vrrp_garp_master_*`.
//!
//! Every keyword inside these blocks either reaches the `VrrpConfig` or is a warning.
//! Where keepalived quietly picks a default for a value that cannot be right (an unknown
//! `state`, a priority out of range, a bad address), rvs refuses the file instead: a
//! director that guesses its failover role is worse than one that does not start.

use super::Parser;
use crate::diag::Pos;
use crate::model::GlobalDefs;
use crate::tree::Node;
use rvs_vrrp::{
    Auth, GarpTiming, InitialState, InstanceConfig, Notify, NotifyScript, ScriptConfig,
    SyncGroupConfig, TrackFileConfig, Tracked, Version, Vip, VipOwner, VrrpConfig,
};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Linux's IFNAMSIZ: interface names and address labels are shorter than this.
const IFNAMSIZ: usize = 16;
/// keepalived's `advert_int` bounds: 0.01 s ..= 255 s, in microseconds.
const ADVERT_MIN_US: u64 = 10_000;
const ADVERT_MAX_US: u64 = 255_000_000;
/// v3's 12-bit centisecond field: at most 40.95 s.
const ADVERT_V3_MAX_US: u64 = 4_095 * 10_000;
/// keepalived's TIMER_MAX_SEC: `preempt_delay`'s upper bound.
const PREEMPT_DELAY_MAX_US: u64 = 1_000_000_000;
/// keepalived's bound for `garp_master_delay`, `interval` and `timeout` (UINT_MAX /
/// TIMER_HZ seconds).
const SECONDS_MAX: u64 = u32::MAX as u64 / 1_000_000;
/// The Ethernet MTU keepalived assumes when it sizes the advert (it reads the real one;
/// rvs is sans-IO here, so a larger MTU only moves fewer VIPs to the excluded list).
const MTU: usize = 1500;

/// `vrrp_instance` keywords of keepalived 2.2.7 that rvs does not act on.
const INSTANCE_UNSUPPORTED: &[&str] = &[
    "use_vmac",
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "unicast_fault_no_peer",
    "check_unicast_src",
    "old_unicast_checksum",
    "vrf",
    "dont_track_primary",
    "track_process",
    "track_bfd",
    "mcast_dst_ip",
    "track_src_ip",
    "unicast_ttl",
    "promote_secondaries",
    "linkbeat_use_polling",
    "virtual_routes",
    "virtual_rules",
    "skip_check_adv_addr",
    "strict_mode",
    "debug",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "smtp_alert",
    "notify_priority_changes",
    "lvs_sync_daemon_interface",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "down_timer_adverts",
    "garp_extra_if",
    "vmac_garp_intvl",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "kernel_rx_buf_size",
];

/// `vrrp_sync_group` keywords rvs does not act on.
const GROUP_UNSUPPORTED: &[&str] = &[
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "smtp_alert",
    "global_tracking",
    "sync_group_tracking_weight",
    "notify_priority_changes",
];

/// What was written about an instance, before keepalived's completion rules run.
struct Written {
    state: Option<InitialState>,
    priority: Option<u8>,
    version: Option<Version>,
    advert_us: Option<u64>,
    auth_type: Option<&'static str>,
    auth_pass: Option<[u8; 8]>,
    preempt_delay_us: u64,
    unicast_kw: bool,
    native_ipv6: bool,
    /// VIPs with the position of their line (for family and owner-mode messages).
    vips: Vec<(Vip, Pos)>,
    vips_excluded: Vec<(Vip, Pos)>,
    src: Option<(IpAddr, Pos)>,
    peers: Vec<(IpAddr, Pos)>,
    accept: Option<bool>,
}

impl Parser {
    /// The VRRP sections of one file (`nodes`, in file order), with `g`'s defaults.
    pub(super) fn vrrp(&mut self, nodes: &[Node], g: &GlobalDefs) -> VrrpConfig {
        let mut cfg = VrrpConfig::default();
        // Scripts and files first: an instance may name one defined further down
        // (keepalived needs them above it; rvs takes the file as a whole).
        for n in nodes {
            match n.keyword.as_str() {
                "vrrp_script" => {
                    if let Some(s) = self.vrrp_script(n) {
                        if cfg.scripts.iter().any(|o| o.name == s.name) {
                            self.err(
                                &n.pos,
                                &n.keyword,
                                format!("vrrp_script {} already defined", s.name),
                            );
                        }
                        cfg.scripts.push(s);
                    }
                }
                "track_file" | "vrrp_track_file" => {
                    if let Some(f) = self.track_file_def(n) {
                        if cfg.track_files.iter().any(|o| o.name == f.name) {
                            self.err(
                                &n.pos,
                                &n.keyword,
                                format!("track file {} already defined", f.name),
                            );
                        }
                        cfg.track_files.push(f);
                    }
                }
                _ => {}
            }
        }
        let scripts: HashSet<&str> = cfg.scripts.iter().map(|s| s.name.as_str()).collect();
        let files: HashSet<&str> = cfg.track_files.iter().map(|f| f.name.as_str()).collect();
        let mut instances = Vec::new();
        for n in nodes.iter().filter(|n| n.keyword == "vrrp_instance") {
            if let Some(i) = self.instance(n, g, &scripts, &files) {
                instances.push((i, n.pos.clone()));
            }
        }
        let mut groups = Vec::new();
        for n in nodes.iter().filter(|n| n.keyword == "vrrp_sync_group") {
            if let Some(sg) = self.sync_group(n) {
                groups.push((sg, n.pos.clone()));
            }
        }
        self.vrrp_cross_checks(&instances, &groups);
        cfg.instances = instances.into_iter().map(|(i, _)| i).collect();
        cfg.sync_groups = groups.into_iter().map(|(g, _)| g).collect();
        default_script_user(&mut cfg, g);
        cfg
    }

    fn vrrp_cross_checks(
        &mut self,
        instances: &[(InstanceConfig, Pos)],
        groups: &[(SyncGroupConfig, Pos)],
    ) {
        let mut names: HashSet<&str> = HashSet::new();
        let mut routers: HashMap<(&str, u8, bool), &str> = HashMap::new();
        for (i, pos) in instances {
            if !names.insert(&i.name) {
                self.err(
                    pos,
                    "vrrp_instance",
                    format!("vrrp instance {} already defined", i.name),
                );
            }
            if let Some(other) = routers.insert((&i.interface, i.vrid, i.ipv6), &i.name) {
                self.err(
                    pos,
                    "vrrp_instance",
                    format!(
                        "({}) interface {} virtual_router_id {} ({}) is already used by \
                         vrrp instance {other}: two routers with one VRID on one link \
                         fight each other",
                        i.name,
                        i.interface,
                        i.vrid,
                        if i.ipv6 { "IPv6" } else { "IPv4" },
                    ),
                );
            }
        }
        let mut gnames: HashSet<&str> = HashSet::new();
        let mut member_of: HashMap<&str, &str> = HashMap::new();
        for (g, pos) in groups {
            if !gnames.insert(&g.name) {
                self.err(
                    pos,
                    "vrrp_sync_group",
                    format!("vrrp sync group {} already defined", g.name),
                );
            }
            for m in &g.members {
                if !names.contains(m.as_str()) {
                    self.err(
                        pos,
                        "vrrp_sync_group",
                        format!(
                            "({}) vrrp instance {m} is not defined (a sync group may only \
                             name vrrp_instances)",
                            g.name
                        ),
                    );
                } else if let Some(other) = member_of.insert(m, &g.name) {
                    if other != g.name {
                        self.err(
                            pos,
                            "vrrp_sync_group",
                            format!(
                                "({}) vrrp instance {m} is already in sync group {other}: \
                                 an instance may be in one sync group only",
                                g.name
                            ),
                        );
                    }
                }
            }
        }
    }

    /// `KEYWORD VALUE`: the value, with a warning for words after it (keepalived reads
    /// the first and ignores the rest without a word) and for a block.
    fn one<'n>(&mut self, n: &'n Node) -> Option<&'n str> {
        self.no_block(n);
        if n.args.len() > 1 {
            self.warn(
                &n.pos,
                &n.keyword,
                format!(
                    "takes one value; '{}' and what follows on the line are ignored",
                    n.args[1]
                ),
            );
        }
        self.arg(n, 0)
    }

    /// A flag keyword (`nopreempt`, `accept`, ...): words after it are ignored.
    fn flag(&mut self, n: &Node) {
        self.no_block(n);
        if let Some(a) = n.args.first() {
            self.warn(
                &n.pos,
                &n.keyword,
                format!("takes no value; '{a}' and what follows on the line are ignored"),
            );
        }
    }

    /// An integer in `lo..=hi`, else an error naming the range.
    fn int_in(&mut self, n: &Node, s: &str, lo: i64, hi: i64) -> Option<i64> {
        match s.parse::<i64>() {
            Ok(v) if (lo..=hi).contains(&v) => Some(v),
            Ok(_) => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("'{s}' is out of range: must be between {lo} and {hi}"),
                );
                None
            }
            Err(_) => {
                self.err(&n.pos, &n.keyword, format!("invalid number '{s}'"));
                None
            }
        }
    }

    /// The single value of `n` as an integer in `lo..=hi`.
    fn one_in(&mut self, n: &Node, lo: i64, hi: i64) -> Option<i64> {
        let s = self.one(n)?;
        self.int_in(n, s, lo, hi)
    }

    /// keepalived's decimal seconds (`advert_int 0.25`, `preempt_delay 1.5`) in
    /// microseconds, within `lo..=hi`.
    fn one_decimal_us(&mut self, n: &Node, lo: u64, hi: u64) -> Option<u64> {
        let s = self.one(n)?;
        match parse_decimal_us(s) {
            Some(v) if (lo..=hi).contains(&v) => Some(v),
            Some(_) => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!(
                        "'{s}' is out of range: must be between {} and {} seconds",
                        fmt_secs(lo),
                        fmt_secs(hi)
                    ),
                );
                None
            }
            None => {
                self.err(&n.pos, &n.keyword, format!("invalid time '{s}'"));
                None
            }
        }
    }

    /// A block keyword (`virtual_ipaddress { ... }`): its lines, or an error without one.
    fn block_of<'n>(&mut self, n: &'n Node) -> &'n [Node] {
        if n.block.is_none() {
            self.err(&n.pos, &n.keyword, "expects a '{ ... }' block");
        } else if let Some(a) = n.args.first() {
            self.warn(
                &n.pos,
                &n.keyword,
                format!("'{a}' before the block is ignored"),
            );
        }
        n.children()
    }

    /// `vrrp_version 2|3` (global) / `version 2|3` (instance).
    pub(super) fn vrrp_version(&mut self, n: &Node) -> Option<Version> {
        match self.one(n)? {
            "2" => Some(Version::V2),
            "3" => Some(Version::V3),
            o => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("VRRP version must be 2 or 3, not '{o}'"),
                );
                None
            }
        }
    }

    /// `[vrrp_]garp_master_delay|repeat|refresh|refresh_repeat N` into `t`.
    pub(super) fn garp(&mut self, n: &Node, t: &mut GarpTiming) {
        let what = n.keyword.trim_start_matches("vrrp_");
        match what {
            "garp_master_delay" => {
                if let Some(s) = self.one_in(n, 0, SECONDS_MAX as i64) {
                    t.delay_ms = s as u64 * 1000;
                }
            }
            "garp_master_refresh" => {
                if let Some(s) = self.one_in(n, 0, i64::from(u32::MAX)) {
                    t.refresh_ms = s as u64 * 1000;
                }
            }
            "garp_master_repeat" | "garp_master_refresh_repeat" => {
                if let Some(mut r) = self.one_in(n, 0, i64::from(u32::MAX)) {
                    if r == 0 {
                        self.warn(
                            &n.pos,
                            &n.keyword,
                            "must be greater than 0, setting to 1 (as keepalived does)",
                        );
                        r = 1;
                    }
                    if what == "garp_master_repeat" {
                        t.repeat = r as u32;
                    } else {
                        t.refresh_repeat = r as u32;
                    }
                }
            }
            _ => unreachable!("callers pass garp keywords only"),
        }
    }

    /// `notify_*`/`notify CMD [USER [GROUP]]` into its slot; a second one is ignored
    /// with a warning, as keepalived does.
    fn notify(&mut self, n: &Node, who: &str, out: &mut Notify) {
        self.no_block(n);
        let Some(command) = self.arg(n, 0) else {
            return;
        };
        if n.args.len() > 3 {
            self.warn(
                &n.pos,
                &n.keyword,
                format!(
                    "'{}' and what follows are ignored: the form is {} \"COMMAND ARGS\" \
                     [USER [GROUP]] (quote a command that has arguments)",
                    n.args[3], n.keyword
                ),
            );
        }
        let script = NotifyScript {
            command: command.to_string(),
            user: n.args.get(1).map(|u| (u.clone(), n.args.get(2).cloned())),
        };
        let slot = match n.keyword.as_str() {
            "notify_master" => &mut out.master,
            "notify_backup" => &mut out.backup,
            "notify_fault" => &mut out.fault,
            "notify_stop" => &mut out.stop,
            "notify" => &mut out.any,
            _ => unreachable!("callers pass notify keywords only"),
        };
        if slot.is_some() {
            self.warn(
                &n.pos,
                &n.keyword,
                format!(
                    "({who}) {} script already specified - ignoring this one",
                    n.keyword
                ),
            );
            return;
        }
        *slot = Some(script);
    }

    /// One line of `track_interface|track_script|track_file { NAME [weight N [reverse]] }`.
    fn tracked(&mut self, n: &Node, max: i32) -> Option<Tracked> {
        self.no_block(n);
        let mut t = Tracked {
            name: n.keyword.clone(),
            weight: None,
            reverse: false,
        };
        match n.args.first().map(String::as_str) {
            None => return Some(t),
            Some("weight") => {}
            Some(o) => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("unknown option '{o}': the form is NAME [weight N [reverse]]"),
                );
                return None;
            }
        }
        let Some(w) = n.args.get(1) else {
            self.err(&n.pos, &n.keyword, "weight without a value");
            return None;
        };
        // keepalived 2.2.7 still reads ±254 for interfaces and scripts, and makes it ±253.
        let read_max = if max == 253 { 254 } else { max };
        let mut w = self.int_in(n, w, -i64::from(read_max), i64::from(read_max))? as i32;
        if w.abs() > max {
            self.warn(
                &n.pos,
                &n.keyword,
                format!(
                    "weight cannot be {w}; setting it to {} (as keepalived does)",
                    w.signum() * max
                ),
            );
            w = w.signum() * max;
        }
        t.weight = Some(w);
        match n.args.get(2).map(String::as_str) {
            None => {}
            Some("reverse") => t.reverse = true,
            Some("noreverse") => t.reverse = false,
            Some(o) => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("unknown weight option '{o}' (reverse or noreverse)"),
                );
                return None;
            }
        }
        if let Some(o) = n.args.get(3) {
            self.warn(
                &n.pos,
                &n.keyword,
                format!("'{o}' and what follows on the line are ignored"),
            );
        }
        Some(t)
    }

    /// `weight N [reverse]` of a `vrrp_script` or `track_file` definition.
    fn def_weight(&mut self, n: &Node, max: i64) -> Option<(i32, bool)> {
        self.no_block(n);
        let w = self.arg(n, 0)?;
        let w = self.int_in(n, w, -max, max)? as i32;
        let reverse = match n.args.get(1).map(String::as_str) {
            None => false,
            Some("reverse") => true,
            Some(o) => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("unknown weight option '{o}' (only reverse)"),
                );
                return None;
            }
        };
        if let Some(o) = n.args.get(2) {
            self.warn(
                &n.pos,
                &n.keyword,
                format!("'{o}' and what follows on the line are ignored"),
            );
        }
        Some((w, reverse))
    }

    /// The name of a `KEYWORD NAME { ... }` section.
    fn section_name(&mut self, n: &Node) -> Option<String> {
        match n.args.as_slice() {
            [name] => Some(name.clone()),
            [] => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("{} must have a name", n.keyword),
                );
                None
            }
            [name, rest @ ..] => {
                self.warn(
                    &n.pos,
                    &n.keyword,
                    format!(
                        "a name is one word; '{}' and what follows are ignored",
                        rest[0]
                    ),
                );
                Some(name.clone())
            }
        }
    }

    /// `vrrp_script NAME { script; interval; timeout; weight [reverse]; rise; fall; user;
    /// init_fail }`. Without `script` it is dropped with a warning, as keepalived does.
    fn vrrp_script(&mut self, n: &Node) -> Option<ScriptConfig> {
        let name = self.section_name(n)?;
        let mut command = None;
        let mut s = ScriptConfig {
            name,
            command: String::new(),
            user: None,
            interval_ms: 1000,
            timeout_ms: 0,
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
        };
        for c in n.children() {
            match c.keyword.as_str() {
                "script" => {
                    self.no_block(c);
                    if self.arg(c, 0).is_some() {
                        // keepalived takes the whole line as the command and its words.
                        command = Some(shell_join(&c.args));
                    }
                }
                "interval" | "timeout" => {
                    if let Some(mut v) = self.one_in(c, 0, SECONDS_MAX as i64) {
                        if v == 0 {
                            self.warn(
                                &c.pos,
                                &c.keyword,
                                "must be greater than 0, setting to 1 (as keepalived does)",
                            );
                            v = 1;
                        }
                        if c.keyword == "interval" {
                            s.interval_ms = v as u64 * 1000;
                        } else {
                            s.timeout_ms = v as u64 * 1000;
                        }
                    }
                }
                "weight" => {
                    if let Some((w, r)) = self.def_weight(c, 253) {
                        (s.weight, s.reverse) = (w, r);
                    }
                }
                "rise" | "fall" => {
                    if let Some(mut v) = self.one_in(c, 0, i64::from(i32::MAX)) {
                        if v == 0 {
                            self.warn(
                                &c.pos,
                                &c.keyword,
                                "must be at least 1, defaulting to 1 (as keepalived does)",
                            );
                            v = 1;
                        }
                        if c.keyword == "rise" {
                            s.rise = v as u32;
                        } else {
                            s.fall = v as u32;
                        }
                    }
                }
                "user" => {
                    self.no_block(c);
                    if let Some(u) = self.arg(c, 0) {
                        s.user = Some((u.to_string(), c.args.get(1).cloned()));
                    }
                }
                "init_fail" => {
                    self.flag(c);
                    s.init_fail = true;
                }
                _ => self.unknown(c, "vrrp_script"),
            }
        }
        if s.timeout_ms == 0 {
            // keepalived: no timeout means the interval.
            s.timeout_ms = s.interval_ms;
        }
        match command {
            Some(c) => s.command = c,
            None => {
                self.warn(
                    &n.pos,
                    &n.keyword,
                    format!(
                        "no script set for vrrp_script {} - removing it (as keepalived does)",
                        s.name
                    ),
                );
                return None;
            }
        }
        Some(s)
    }

    /// `track_file NAME { file PATH; weight N [reverse]; init_file ... }` (and the old
    /// `vrrp_track_file`).
    fn track_file_def(&mut self, n: &Node) -> Option<TrackFileConfig> {
        if n.keyword == "vrrp_track_file" {
            self.warn(
                &n.pos,
                &n.keyword,
                "deprecated, please use 'track_file' (read the same way)",
            );
        }
        let name = self.section_name(n)?;
        let mut f = TrackFileConfig {
            name,
            path: String::new(),
            weight: 1,
            reverse: false,
        };
        let mut path = None;
        for c in n.children() {
            match c.keyword.as_str() {
                "file" => path = self.one(c).map(String::from),
                "weight" => {
                    if let Some((w, r)) = self.def_weight(c, 254) {
                        (f.weight, f.reverse) = (w, r);
                    }
                }
                "init_file" => self.warn(
                    &c.pos,
                    &c.keyword,
                    "not supported by rvs (it does not create or initialise the file); ignored",
                ),
                _ => self.unknown(c, "track_file"),
            }
        }
        match path {
            Some(p) => f.path = p,
            None => {
                self.warn(
                    &n.pos,
                    &n.keyword,
                    format!(
                        "no file set for track_file {} - ignoring it (as keepalived does)",
                        f.name
                    ),
                );
                return None;
            }
        }
        Some(f)
    }

    /// `vrrp_sync_group NAME { group { VI_1 VI_2 } notify... }`.
    fn sync_group(&mut self, n: &Node) -> Option<SyncGroupConfig> {
        let name = self.section_name(n)?;
        let mut g = SyncGroupConfig {
            name,
            members: Vec::new(),
            notify: Notify::default(),
        };
        let mut have_group = false;
        for c in n.children() {
            match c.keyword.as_str() {
                "group" => {
                    if have_group {
                        self.warn(
                            &c.pos,
                            &c.keyword,
                            format!(
                                "group list already specified for sync group {} - ignoring this one",
                                g.name
                            ),
                        );
                        continue;
                    }
                    have_group = true;
                    for m in self.block_of(c) {
                        self.no_block(m);
                        for w in std::iter::once(&m.keyword).chain(&m.args) {
                            if g.members.contains(w) {
                                self.warn(
                                    &m.pos,
                                    w,
                                    format!("named twice in sync group {}; once is enough", g.name),
                                );
                            } else {
                                g.members.push(w.clone());
                            }
                        }
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    let who = g.name.clone();
                    self.notify(c, &who, &mut g.notify)
                }
                k if GROUP_UNSUPPORTED.contains(&k) => {
                    self.unsupported(c, "vrrp_sync_group option")
                }
                _ => self.unknown(c, "vrrp_sync_group"),
            }
        }
        match g.members.len() {
            0 => {
                self.warn(
                    &n.pos,
                    &n.keyword,
                    format!(
                        "sync group {} has an empty group block - ignoring it",
                        g.name
                    ),
                );
                return None;
            }
            1 => self.warn(
                &n.pos,
                &n.keyword,
                format!(
                    "sync group {} has only 1 vrrp instance - this probably isn't what you want",
                    g.name
                ),
            ),
            _ => {}
        }
        Some(g)
    }

    /// One line of `virtual_ipaddress { ... }`:
    /// `ADDR[/PREFIX] [brd ADDR|+|-] [dev IF] [scope S] [label L] ...`.
    fn vip(&mut self, n: &Node) -> Option<Vip> {
        self.no_block(n);
        let (a, p) = match n.keyword.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (n.keyword.as_str(), None),
        };
        let Ok(addr) = a.parse::<IpAddr>() else {
            self.err(&n.pos, &n.keyword, format!("invalid IP address '{a}'"));
            return None;
        };
        let max: u8 = if addr.is_ipv6() { 128 } else { 32 };
        let prefix = match p.map(|p| p.parse::<u8>()) {
            None => max,
            Some(Ok(p)) if p <= max => p,
            Some(_) => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("invalid prefix length in '{}' (0..={max})", n.keyword),
                );
                return None;
            }
        };
        let mut v = Vip {
            addr,
            prefix,
            brd: None,
            dev: None,
            scope: None,
            label: None,
        };
        let mut i = 0;
        while i < n.args.len() {
            let opt = n.args[i].as_str();
            let takes_value = matches!(
                opt,
                "dev" | "scope" | "brd" | "broadcast" | "label" | "peer" | "preferred_lft"
            );
            let val = if takes_value {
                match n.args.get(i + 1) {
                    Some(v) => v.as_str(),
                    None => {
                        self.err(
                            &n.pos,
                            &n.keyword,
                            format!("no {opt} parameter specified for {}", n.keyword),
                        );
                        return None;
                    }
                }
            } else {
                ""
            };
            match opt {
                "dev" => {
                    if v.dev.is_some() {
                        self.err(&n.pos, &n.keyword, "dev given more than once");
                        return None;
                    }
                    if val.len() >= IFNAMSIZ {
                        self.err(
                            &n.pos,
                            &n.keyword,
                            format!("interface name '{val}' is too long"),
                        );
                        return None;
                    }
                    v.dev = Some(val.to_string());
                }
                "scope" => match parse_scope(val) {
                    Some(_) if addr.is_ipv6() => self.warn(
                        &n.pos,
                        &n.keyword,
                        "cannot specify scope for IPv6 addresses - ignoring scope",
                    ),
                    Some(s) => v.scope = Some(s),
                    None => {
                        self.err(
                            &n.pos,
                            &n.keyword,
                            format!(
                                "invalid scope '{val}' (global, site, link, host, nowhere or 0..=255)"
                            ),
                        );
                        return None;
                    }
                },
                "brd" | "broadcast" => {
                    let IpAddr::V4(a4) = addr else {
                        self.err(
                            &n.pos,
                            &n.keyword,
                            "an IPv6 address has no broadcast address",
                        );
                        return None;
                    };
                    v.brd = match val {
                        "+" | "-" if prefix > 30 => {
                            self.warn(
                                &n.pos,
                                &n.keyword,
                                format!(
                                    "prefix length {prefix} too long for a broadcast address - ignoring brd"
                                ),
                            );
                            None
                        }
                        "+" | "-" => {
                            let mask = u32::MAX >> prefix;
                            let a = u32::from(a4);
                            let b = if val == "+" { a | mask } else { a & !mask };
                            Some(IpAddr::V4(b.into()))
                        }
                        _ => match val.parse::<std::net::Ipv4Addr>() {
                            Ok(b) => Some(IpAddr::V4(b)),
                            Err(_) => {
                                self.err(
                                    &n.pos,
                                    &n.keyword,
                                    format!("invalid broadcast address '{val}'"),
                                );
                                return None;
                            }
                        },
                    };
                }
                "label" => {
                    if val.len() >= IFNAMSIZ {
                        self.err(
                            &n.pos,
                            &n.keyword,
                            format!(
                                "address label '{val}' is longer than {} characters",
                                IFNAMSIZ - 1
                            ),
                        );
                        return None;
                    }
                    if addr.is_ipv6() {
                        self.warn(
                            &n.pos,
                            &n.keyword,
                            "cannot specify label for IPv6 addresses - ignoring label",
                        );
                    } else {
                        v.label = Some(val.to_string());
                    }
                }
                "peer" | "preferred_lft" | "home" | "-nodad" | "mngtmpaddr" | "noprefixroute"
                | "autojoin" | "no_track" | "use_vmac" => self.warn(
                    &n.pos,
                    &n.keyword,
                    format!("address option '{opt}' is not supported by rvs; ignored"),
                ),
                o => self.warn(
                    &n.pos,
                    &n.keyword,
                    format!("unknown address option '{o}' - ignoring"),
                ),
            }
            i += if takes_value { 2 } else { 1 };
        }
        Some(v)
    }

    /// `vrrp_instance NAME { ... }` with keepalived's completion rules.
    fn instance(
        &mut self,
        n: &Node,
        g: &GlobalDefs,
        scripts: &HashSet<&str>,
        files: &HashSet<&str>,
    ) -> Option<InstanceConfig> {
        let name = self.section_name(n)?;
        let mut i = InstanceConfig {
            name: name.clone(),
            interface: String::new(),
            vrid: 0,
            version: Version::V2,
            ipv6: false,
            initial: InitialState::Backup,
            priority: 100,
            advert_int_cs: 100,
            auth: Auth::None,
            nopreempt: false,
            preempt_delay_ms: 0,
            vips: Vec::new(),
            vips_excluded: Vec::new(),
            vip_owner: VipOwner::Kernel,
            src: None,
            unicast_peers: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            notify: Notify::default(),
            garp: g.vrrp_garp,
            accept: true,
            pos: n.pos.to_string(),
        };
        let mut w = Written {
            state: None,
            priority: None,
            version: None,
            advert_us: None,
            auth_type: None,
            auth_pass: None,
            preempt_delay_us: 0,
            unicast_kw: false,
            native_ipv6: false,
            vips: Vec::new(),
            vips_excluded: Vec::new(),
            src: None,
            peers: Vec::new(),
            accept: None,
        };
        let mut interface = None;
        let mut vrid = None;
        for c in n.children() {
            match c.keyword.as_str() {
                "state" => match self.one(c) {
                    Some("MASTER") => w.state = Some(InitialState::Master),
                    Some("BACKUP") if w.state == Some(InitialState::Master) => self.warn(
                        &c.pos,
                        &c.keyword,
                        format!("({name}) state previously set as MASTER - ignoring BACKUP"),
                    ),
                    Some("BACKUP") => w.state = Some(InitialState::Backup),
                    Some(o) => self.err(
                        &c.pos,
                        &c.keyword,
                        format!("({name}) unknown state '{o}': MASTER or BACKUP"),
                    ),
                    None => {}
                },
                "interface" => {
                    if let Some(ifname) = self.one(c) {
                        if ifname.len() >= IFNAMSIZ {
                            self.err(
                                &c.pos,
                                &c.keyword,
                                format!("interface name '{ifname}' is too long"),
                            );
                        } else {
                            interface = Some(ifname.to_string());
                        }
                    }
                }
                "virtual_router_id" => vrid = self.one_in(c, 1, 255).map(|v| v as u8),
                "priority" => {
                    if let Some(p) = self.one_in(c, 1, 255) {
                        w.priority = Some(p as u8);
                    }
                }
                "advert_int" => {
                    if let Some(us) = self.one_decimal_us(c, ADVERT_MIN_US, ADVERT_MAX_US) {
                        w.advert_us = Some(us);
                    }
                }
                "version" => {
                    if let Some(v) = self.vrrp_version(c) {
                        w.version = Some(v);
                    }
                }
                "native_ipv6" => {
                    self.flag(c);
                    w.native_ipv6 = true;
                }
                "authentication" => {
                    for a in self.block_of(c) {
                        match a.keyword.as_str() {
                            "auth_type" => match self.one(a) {
                                Some("PASS") => w.auth_type = Some("PASS"),
                                Some("AH") => {
                                    w.auth_type = None;
                                    self.warn(
                                        &a.pos,
                                        &a.keyword,
                                        format!(
                                            "({name}) AH authentication is not supported by rvs: \
                                             refused; the instance runs without authentication"
                                        ),
                                    );
                                }
                                Some(o) => self.err(
                                    &a.pos,
                                    &a.keyword,
                                    format!(
                                        "({name}) unknown authentication type '{o}': PASS or AH"
                                    ),
                                ),
                                None => {}
                            },
                            "auth_pass" => {
                                if let Some(p) = self.one(a) {
                                    if p.len() > 8 {
                                        self.warn(
                                            &a.pos,
                                            &a.keyword,
                                            format!(
                                                "({name}) truncating auth_pass to 8 characters \
                                                 ('{}'), as keepalived does: only 8 fit the advert",
                                                truncate_at_byte(p, 8)
                                            ),
                                        );
                                    }
                                    let mut b = [0u8; 8];
                                    for (d, s) in b.iter_mut().zip(p.bytes()) {
                                        *d = s;
                                    }
                                    w.auth_pass = Some(b);
                                }
                            }
                            _ => self.unknown(a, "authentication"),
                        }
                    }
                }
                "nopreempt" => {
                    self.flag(c);
                    i.nopreempt = true;
                }
                "preempt" => {
                    self.flag(c);
                    i.nopreempt = false;
                }
                "preempt_delay" => {
                    if let Some(us) = self.one_decimal_us(c, 0, PREEMPT_DELAY_MAX_US) {
                        w.preempt_delay_us = us;
                    }
                }
                "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                    let excluded = c.keyword == "virtual_ipaddress_excluded";
                    for a in self.block_of(c) {
                        if let Some(v) = self.vip(a) {
                            let seen = w.vips.iter().chain(&w.vips_excluded);
                            if let Some((_, p)) = seen.into_iter().find(|(o, _)| o.addr == v.addr) {
                                // The runner adds each address once; a second line
                                // (another label, say) would fail or be a no-op there.
                                self.warn(
                                    &a.pos,
                                    &a.keyword,
                                    format!(
                                        "({name}) {} is already a VIP of this instance (line \
                                         {}) - ignoring this line",
                                        v.addr, p.line
                                    ),
                                );
                                continue;
                            }
                            let l = if excluded {
                                &mut w.vips_excluded
                            } else {
                                &mut w.vips
                            };
                            l.push((v, a.pos.clone()));
                        }
                    }
                }
                "unicast_src_ip" | "mcast_src_ip" => {
                    w.unicast_kw |= c.keyword == "unicast_src_ip";
                    if let Some(a) = self.one(c) {
                        match a.parse::<IpAddr>() {
                            Ok(a) => {
                                if w.src.is_some() {
                                    self.warn(
                                        &c.pos,
                                        &c.keyword,
                                        "the source address was already given; this one replaces it",
                                    );
                                }
                                w.src = Some((a, c.pos.clone()));
                            }
                            Err(_) => self.err(
                                &c.pos,
                                &c.keyword,
                                format!("({name}) malformed source address '{a}'"),
                            ),
                        }
                    }
                }
                "unicast_peer" => {
                    w.unicast_kw = true;
                    for p in self.block_of(c) {
                        self.no_block(p);
                        match p.keyword.parse::<IpAddr>() {
                            Ok(a) => {
                                if w.peers.iter().any(|(o, _)| *o == a) {
                                    self.warn(&p.pos, &p.keyword, "unicast peer listed twice");
                                } else {
                                    w.peers.push((a, p.pos.clone()));
                                }
                            }
                            Err(_) => self.err(
                                &p.pos,
                                &p.keyword,
                                format!("({name}) malformed unicast peer address '{}'", p.keyword),
                            ),
                        }
                        if let Some(o) = p.args.first() {
                            self.warn(
                                &p.pos,
                                &p.keyword,
                                format!(
                                    "unicast peer option '{o}' (min_ttl/max_ttl) is not supported \
                                     by rvs; ignored (adverts must have TTL 255 anyway)"
                                ),
                            );
                        }
                    }
                }
                "track_interface" | "track_script" | "track_file" => {
                    let kw = c.keyword.clone();
                    for t in self.block_of(c) {
                        let max = if kw == "track_file" { 254 } else { 253 };
                        let Some(tr) = self.tracked(t, max) else {
                            continue;
                        };
                        let (list, defined, what) = match kw.as_str() {
                            "track_interface" => (&mut i.track_interfaces, None, "interface"),
                            "track_script" => (&mut i.track_scripts, Some(scripts), "vrrp_script"),
                            _ => (&mut i.track_files, Some(files), "track_file"),
                        };
                        if defined.is_some_and(|d| !d.contains(tr.name.as_str())) {
                            self.warn(
                                &t.pos,
                                &t.keyword,
                                format!(
                                    "({name}) {what} {} is not defined - ignoring it (as keepalived does)",
                                    tr.name
                                ),
                            );
                            continue;
                        }
                        if list.iter().any(|o| o.name == tr.name) {
                            self.warn(
                                &t.pos,
                                &t.keyword,
                                format!("({name}) duplicate {kw} {} - ignoring", tr.name),
                            );
                            continue;
                        }
                        list.push(tr);
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    self.notify(c, &name, &mut i.notify)
                }
                "garp_master_delay"
                | "garp_master_repeat"
                | "garp_master_refresh"
                | "garp_master_refresh_repeat" => self.garp(c, &mut i.garp),
                "accept" => {
                    self.flag(c);
                    w.accept = Some(true);
                }
                "no_accept" => {
                    self.flag(c);
                    // Dropping packets to the VIPs would be a data-path filter rvs does
                    // not have; saying so beats a mode that silently does nothing.
                    self.warn(
                        &c.pos,
                        &c.keyword,
                        format!(
                            "({name}) not supported by rvs: packets to the VIPs are accepted \
                             while MASTER (status shows it)"
                        ),
                    );
                    w.accept = Some(false);
                }
                "rvs_vip_owner" => match self.one(c) {
                    Some("kernel") => i.vip_owner = VipOwner::Kernel,
                    Some("engine") => i.vip_owner = VipOwner::Engine,
                    Some(o) => self.err(
                        &c.pos,
                        &c.keyword,
                        format!("unknown VIP owner '{o}': kernel or engine"),
                    ),
                    None => {}
                },
                k if INSTANCE_UNSUPPORTED.contains(&k) => {
                    self.unsupported(c, "vrrp_instance option")
                }
                _ => self.unknown(c, "vrrp_instance"),
            }
        }
        self.complete(n, &mut i, w, interface, vrid, g)?;
        Some(i)
    }

    /// keepalived's `vrrp_complete_instance`, the parts that concern the configuration:
    /// family and version, defaults derived from each other, and the notes it prints.
    fn complete(
        &mut self,
        n: &Node,
        i: &mut InstanceConfig,
        w: Written,
        interface: Option<String>,
        vrid: Option<u8>,
        g: &GlobalDefs,
    ) -> Option<()> {
        let name = i.name.clone();
        let kw = "vrrp_instance";
        let warn = |p: &mut Parser, msg: String| p.warn(&n.pos, kw, format!("({name}) {msg}"));
        let Some(vrid) = vrid else {
            self.err(&n.pos, kw, format!("({name}) virtual_router_id is missing"));
            return None;
        };
        i.vrid = vrid;
        let Some(interface) = interface else {
            // keepalived runs a unicast instance without one (the kernel routes its
            // adverts); rvs's runner sends and listens on one interface.
            self.err(
                &n.pos,
                kw,
                format!("({name}) interface is missing: rvs needs the interface the adverts use"),
            );
            return None;
        };
        i.interface = interface;
        if i.track_interfaces.iter().any(|t| t.name == i.interface) {
            warn(
                self,
                format!(
                    "ignoring track_interface {} since it is the instance's own interface \
                     (always tracked: down means FAULT)",
                    i.interface
                ),
            );
            let own = i.interface.clone();
            i.track_interfaces.retain(|t| t.name != own);
        }

        // The family: the first VIP's, else the source's, else the first peer's.
        let ipv6 = w
            .vips
            .first()
            .map(|(v, _)| v.addr.is_ipv6())
            .or(w.src.as_ref().map(|(a, _)| a.is_ipv6()))
            .or(w.peers.first().map(|(a, _)| a.is_ipv6()))
            .unwrap_or(w.native_ipv6);
        let fam = |v6: bool| if v6 { "IPv6" } else { "IPv4" };
        if w.native_ipv6 && !ipv6 {
            self.err(
                &n.pos,
                "native_ipv6",
                format!("({name}) cannot specify native_ipv6 with IPv4 addresses"),
            );
        }
        for (v, pos) in &w.vips {
            if v.addr.is_ipv6() != ipv6 {
                self.err(
                    pos,
                    &v.addr.to_string(),
                    format!(
                        "({name}) address family must match the instance's ({}); keepalived \
                         would drop this VIP, rvs refuses it (use another instance, or \
                         virtual_ipaddress_excluded)",
                        fam(ipv6)
                    ),
                );
            }
        }
        if let Some((a, pos)) = &w.src {
            if a.is_ipv6() != ipv6 {
                self.err(
                    pos,
                    &a.to_string(),
                    format!(
                        "({name}) the source address must be {} like the instance",
                        fam(ipv6)
                    ),
                );
            }
        }
        for (a, pos) in &w.peers {
            if a.is_ipv6() != ipv6 {
                self.err(
                    pos,
                    &a.to_string(),
                    format!(
                        "({name}) unicast peer must be {} like the instance",
                        fam(ipv6)
                    ),
                );
            }
        }
        i.ipv6 = ipv6;
        i.src = w.src.as_ref().map(|(a, _)| *a);
        i.unicast_peers = w.peers.iter().map(|(a, _)| *a).collect();

        i.version = match (w.version, ipv6) {
            (Some(Version::V2), true) => {
                warn(
                    self,
                    "cannot use IPv6 with VRRP version 2 (RFC 3768 is IPv4 only); setting \
                     version 3, as keepalived's strict mode does"
                        .into(),
                );
                Version::V3
            }
            (_, true) => Version::V3,
            (Some(v), false) => v,
            (None, false) => g.vrrp_version.unwrap_or_default(),
        };

        if w.vips.is_empty() {
            if i.version == Version::V3 {
                self.err(
                    &n.pos,
                    kw,
                    format!(
                        "({name}) no VIP specified; at least one is required with VRRP version 3"
                    ),
                );
                return None;
            }
            warn(self, "no VIP specified; at least one is sensible".into());
        }

        i.priority = match (w.priority, w.state) {
            (Some(p), _) => p,
            (None, Some(InitialState::Master)) => {
                warn(
                    self,
                    "no priority: state MASTER makes it 255, the address owner (as keepalived \
                     does); give a priority below 255 to let an election decide"
                        .into(),
                );
                255
            }
            (None, _) => 100,
        };
        i.initial = match w.state {
            Some(s) => s,
            None if i.priority == 255 => InitialState::Master,
            None => InitialState::Backup,
        };
        if i.initial == InitialState::Master && i.priority < 255 {
            warn(
                self,
                format!(
                    "state MASTER with priority {} (not 255, the address owner): the instance \
                     starts as BACKUP and becomes MASTER when no higher priority router \
                     advertises, as keepalived 2 does",
                    i.priority
                ),
            );
        }
        if i.initial == InitialState::Backup && i.priority == 255 {
            warn(
                self,
                "priority 255 (the address owner) with state BACKUP: the instance starts as \
                 BACKUP and takes over after the master-down interval"
                    .into(),
            );
        }

        i.auth = match (w.auth_type, w.auth_pass) {
            (None, None) => Auth::None,
            (None, Some(_)) => {
                warn(self, "auth_pass without 'auth_type PASS' - ignored".into());
                Auth::None
            }
            (Some(_), _) if i.version == Version::V3 => {
                warn(
                    self,
                    "VRRP version 3 does not support authentication - ignoring it (as \
                     keepalived does)"
                        .into(),
                );
                Auth::None
            }
            (Some(_), None) => {
                warn(
                    self,
                    "authentication specified but no password given - ignoring it (as \
                     keepalived does)"
                        .into(),
                );
                Auth::None
            }
            (Some(_), Some(p)) => Auth::Pass(p),
        };

        let mut us = w.advert_us.unwrap_or(1_000_000);
        match i.version {
            Version::V2 if !us.is_multiple_of(1_000_000) => {
                let r = ((us + 500_000) / 1_000_000).max(1) * 1_000_000;
                warn(
                    self,
                    format!(
                        "VRRP version 2 advert_int {} must be whole seconds; rounding to {} \
                         (as keepalived does; use version 3 for sub-second adverts)",
                        fmt_secs(us),
                        fmt_secs(r)
                    ),
                );
                us = r;
            }
            Version::V3 if us > ADVERT_V3_MAX_US => {
                warn(
                    self,
                    format!(
                        "VRRP version 3 advert_int {} is out of range; setting {}",
                        fmt_secs(us),
                        fmt_secs(ADVERT_V3_MAX_US)
                    ),
                );
                us = ADVERT_V3_MAX_US;
            }
            Version::V3 if !us.is_multiple_of(10_000) => {
                let r = ((us + 5_000) / 10_000).max(1) * 10_000;
                warn(
                    self,
                    format!(
                        "VRRP version 3 advert_int {} must be in units of 10 ms; rounding to {}",
                        fmt_secs(us),
                        fmt_secs(r)
                    ),
                );
                us = r;
            }
            _ => {}
        }
        i.advert_int_cs = (us / 10_000) as u16;

        if i.priority == 255 && i.nopreempt {
            warn(
                self,
                "nopreempt is incompatible with priority 255 - resetting nopreempt".into(),
            );
            i.nopreempt = false;
        }
        let mut delay = w.preempt_delay_us;
        if i.initial == InitialState::Master {
            if i.nopreempt {
                warn(
                    self,
                    "nopreempt will not work with initial state MASTER - clearing".into(),
                );
                i.nopreempt = false;
            }
            if delay > 0 {
                warn(
                    self,
                    "preempt_delay will not work with initial state MASTER - clearing".into(),
                );
                delay = 0;
            }
        }
        if delay > 0 && i.nopreempt {
            warn(
                self,
                "preempt_delay is incompatible with nopreempt - resetting it".into(),
            );
            delay = 0;
        }
        i.preempt_delay_ms = delay / 1000;

        if w.unicast_kw && w.peers.is_empty() {
            warn(
                self,
                "a unicast keyword without unicast peers: multicast is used (keepalived's \
                 deprecated behaviour); list the peers in unicast_peer"
                    .into(),
            );
        }
        if ipv6 && w.peers.is_empty() {
            if let Some((v, pos)) = w.vips.first() {
                let link_local =
                    matches!(v.addr, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
                if !link_local {
                    self.warn(
                        pos,
                        &v.addr.to_string(),
                        format!(
                            "({name}) the first IPv6 VIP address should be link local (RFC 5798)"
                        ),
                    );
                }
            }
        }
        i.accept = w.accept.unwrap_or(true);

        if i.vip_owner == VipOwner::Engine {
            for (v, pos) in w.vips.iter().chain(&w.vips_excluded) {
                let kernel_only: Vec<&str> = [
                    ("dev", v.dev.is_some()),
                    ("brd", v.brd.is_some()),
                    ("scope", v.scope.is_some()),
                    ("label", v.label.is_some()),
                ]
                .into_iter()
                .filter_map(|(k, set)| set.then_some(k))
                .collect();
                if !kernel_only.is_empty() {
                    self.warn(
                        pos,
                        &v.addr.to_string(),
                        format!(
                            "({name}) {} ignored with rvs_vip_owner engine: the address never \
                             enters the kernel",
                            kernel_only.join(", ")
                        ),
                    );
                }
            }
        }

        // The count field is 8 bits and the advert must fit the MTU; keepalived moves
        // the rest to the excluded list (owned on MASTER, not advertised).
        let header = 14 + 8 + if ipv6 { 40 } else { 20 };
        let auth_len = if i.version == Version::V2 { 8 } else { 0 };
        let per = if ipv6 { 16 } else { 4 };
        let max = ((MTU - header - auth_len) / per).min(255);
        let mut vips: Vec<Vip> = w.vips.into_iter().map(|(v, _)| v).collect();
        let mut excluded: Vec<Vip> = w.vips_excluded.into_iter().map(|(v, _)| v).collect();
        if vips.len() > max {
            warn(
                self,
                format!(
                    "number of VIPs ({}) exceeds the space in an advert (max {max}) - the excess \
                     is moved to virtual_ipaddress_excluded",
                    vips.len()
                ),
            );
            let rest = vips.split_off(max);
            excluded.splice(0..0, rest);
        }
        i.vips = vips;
        i.vips_excluded = excluded;
        Some(())
    }
}

/// `N[.frac]` seconds in microseconds (keepalived keeps 6 decimal digits; more are
/// dropped).
/// keepalived runs a script without its own `user` as `global_defs`' `script_user`;
/// filled in here (after the loop, so wherever `global_defs` stands) so that the runner
/// never has to guess. Without `script_user` such scripts run as rvsd's user, as before.
fn default_script_user(cfg: &mut VrrpConfig, g: &GlobalDefs) {
    let Some(user) = &g.script_user else {
        return;
    };
    let fill = |u: &mut Option<(String, Option<String>)>| {
        if u.is_none() {
            *u = Some(user.clone());
        }
    };
    let notifies = cfg
        .instances
        .iter_mut()
        .map(|i| &mut i.notify)
        .chain(cfg.sync_groups.iter_mut().map(|sg| &mut sg.notify));
    for n in notifies {
        for s in [
            &mut n.master,
            &mut n.backup,
            &mut n.fault,
            &mut n.stop,
            &mut n.any,
        ]
        .into_iter()
        .flatten()
        {
            fill(&mut s.user);
        }
    }
    for s in &mut cfg.scripts {
        fill(&mut s.user);
    }
}

fn parse_decimal_us(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut us = 0u64;
    for (k, b) in frac.bytes().take(6).enumerate() {
        us += u64::from(b - b'0') * 10u64.pow(5 - k as u32);
    }
    secs.checked_mul(1_000_000)?.checked_add(us)
}

/// Microseconds as keepalived writes seconds: `1`, `0.25`.
fn fmt_secs(us: u64) -> String {
    let (s, f) = (us / 1_000_000, us % 1_000_000);
    if f == 0 {
        return s.to_string();
    }
    let f = format!("{f:06}");
    format!("{s}.{}", f.trim_end_matches('0'))
}

/// `scope` as ip(8) reads it (/etc/iproute2/rt_scopes' names, or a number).
fn parse_scope(s: &str) -> Option<u8> {
    match s {
        "global" | "universe" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        n => n.parse().ok(),
    }
}

/// The first `n` bytes of `s`, cut back to a character boundary.
fn truncate_at_byte(s: &str, mut n: usize) -> &str {
    while !s.is_char_boundary(n.min(s.len())) {
        n -= 1;
    }
    &s[..n.min(s.len())]
}

/// The words of a `script` line as one command line for `sh -c`: the lexer removed the
/// quotes, so a word with spaces or shell characters is quoted again (single quotes,
/// which the shell takes literally).
fn shell_join(words: &[String]) -> String {
    if let [one] = words {
        // `script "/bin/check arg"`: the one quoted word is the command line as written.
        return one.clone();
    }
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds_in_microseconds() {
        assert_eq!(parse_decimal_us("1"), Some(1_000_000));
        assert_eq!(parse_decimal_us("0.25"), Some(250_000));
        assert_eq!(parse_decimal_us(".01"), Some(10_000));
        assert_eq!(parse_decimal_us("1.0000009"), Some(1_000_000));
        for bad in ["", ".", "-1", "1e3", "x", "99999999999999999999"] {
            assert_eq!(parse_decimal_us(bad), None, "{bad}");
        }
        assert_eq!(fmt_secs(250_000), "0.25");
        assert_eq!(fmt_secs(3_000_000), "3");
    }

    #[test]
    fn script_words_are_quoted_again() {
        let w = |v: &[&str]| shell_join(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(w(&["/bin/check arg"]), "/bin/check arg");
        assert_eq!(
            w(&["/bin/check", "a b", "it's"]),
            r"/bin/check 'a b' 'it'\''s'"
        );
        assert_eq!(w(&["killall", "-0", "haproxy"]), "killall -0 haproxy");
    }

    #[test]
    fn scopes_and_truncation() {
        assert_eq!(parse_scope("link"), Some(253));
        assert_eq!(parse_scope("42"), Some(42));
        assert_eq!(parse_scope("256"), None);
        assert_eq!(truncate_at_byte("abcdefghij", 8), "abcdefgh");
        assert_eq!(truncate_at_byte("abcdefgé", 8), "abcdefg");
        assert_eq!(truncate_at_byte("ab", 8), "ab");
    }
}
