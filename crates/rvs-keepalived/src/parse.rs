//! The block tree → [`KeepalivedConfig`]: every LVS keyword of keepalived.conf(5), the
//! `global_defs` keywords that concern LVS, and our `rvs_fwmark_rules` block.
//!
//! Policy, following the issue and keepalived: a keyword rvs does not know or does not
//! act on is a warning; a value that cannot be right (bad address, unknown scheduler,
//! a number that is not one) is an error, and an error refuses the whole file.

use crate::defaults as d;
use crate::diag::{Diag, Pos};
use crate::model::*;
use crate::tree::Node;
use rvs_check::spec::{CheckKind, CheckSpec, Endpoint, HttpUrl, Timing};
use rvs_engine::config::{FwdMethod, FwmarkRule, TunCsum, TunType};
use rvs_proto::Proto;
use rvs_sched::{SchedFlags, Scheduler};
use std::collections::HashSet;
use std::net::IpAddr;

mod vrrp;

/// Top-level VRRP sections, typed into `rvs_vrrp::VrrpConfig` (see [`vrrp`]).
const VRRP_SECTIONS: &[&str] = &[
    "vrrp_instance",
    "vrrp_sync_group",
    "vrrp_script",
    "vrrp_track_file",
    "track_file",
];

/// keepalived's static network setup and VRRP extras rvs does not implement: each is a
/// warning, and the host's own tools (ip(8)) are the way to set them up.
const UNSUPPORTED_NET_SECTIONS: &[&str] = &[
    "vrrp_track_process",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "static_track_group",
    "track_group",
    "linkbeat_interfaces",
    "garp_group",
    "interface_up_down_delays",
];

/// Keywords that take exactly one value (see `Parser::extra_args`).
const SINGLE_VALUE: &[&str] = &[
    "router_id",
    "lvs_sched",
    "lb_algo",
    "protocol",
    "quorum",
    "hysteresis",
    "delay_loop",
    "connect_timeout",
    "retry",
    "nb_get_retry",
    "delay_before_retry",
    "warmup",
    "weight",
    "uthreshold",
    "lthreshold",
    "persistence_timeout",
    "persistence_granularity",
    "persistence_engine",
    "ip_family",
    "virtualhost",
    "snmp_name",
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "path",
    "digest",
    "misc_path",
    "misc_timeout",
    "helo_name",
    "http_protocol",
    "min_reply_length",
    "max_reply_length",
];

pub struct Parser {
    pub diags: Vec<Diag>,
}

impl Parser {
    fn warn(&mut self, pos: &Pos, kw: &str, msg: impl Into<String>) {
        self.diags.push(Diag::warning(pos, kw, msg));
    }

    fn err(&mut self, pos: &Pos, kw: &str, msg: impl Into<String>) {
        self.diags.push(Diag::error(pos, kw, msg));
    }

    fn unknown(&mut self, n: &Node, ctx: &str) {
        self.warn(
            &n.pos,
            &n.keyword,
            format!("unknown or unsupported keyword in {ctx}; ignored"),
        );
    }

    fn unsupported(&mut self, n: &Node, what: &str) {
        self.warn(
            &n.pos,
            &n.keyword,
            format!("not supported by rvs yet ({what}); ignored"),
        );
    }

    /// The `i`th argument, or an error naming the keyword.
    fn arg<'n>(&mut self, n: &'n Node, i: usize) -> Option<&'n str> {
        match n.args.get(i) {
            Some(a) => Some(a),
            None => {
                self.err(&n.pos, &n.keyword, "missing value");
                None
            }
        }
    }

    fn num<T: std::str::FromStr>(&mut self, n: &Node, i: usize) -> Option<T> {
        let a = self.arg(n, i)?;
        match a.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.err(&n.pos, &n.keyword, format!("invalid number '{a}'"));
                None
            }
        }
    }

    /// keepalived `<TIMER>`: seconds with an optional fraction, kept in milliseconds.
    fn timer(&mut self, n: &Node, i: usize) -> Option<u64> {
        let a = self.arg(n, i)?;
        match parse_timer_ms(a) {
            Some(v) => Some(v),
            None => {
                self.err(&n.pos, &n.keyword, format!("invalid time '{a}'"));
                None
            }
        }
    }

    fn addr(&mut self, n: &Node, i: usize) -> Option<IpAddr> {
        let a = self.arg(n, i)?;
        match a.parse::<IpAddr>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.err(&n.pos, &n.keyword, format!("invalid IP address '{a}'"));
                None
            }
        }
    }

    fn port_opt(&mut self, n: &Node, i: usize) -> Option<u16> {
        match n.args.get(i) {
            None => Some(0),
            Some(_) => self.num::<u16>(n, i),
        }
    }

    /// `<BOOL>` that may be left out (then true): on|off|true|false|yes|no.
    fn bool_opt(&mut self, n: &Node, i: usize) -> Option<bool> {
        match n.args.get(i).map(|s| s.to_ascii_lowercase()) {
            None => Some(true),
            Some(s) => match s.as_str() {
                "on" | "true" | "yes" => Some(true),
                "off" | "false" | "no" => Some(false),
                _ => {
                    self.err(&n.pos, &n.keyword, format!("invalid boolean '{s}'"));
                    None
                }
            },
        }
    }

    fn script(&mut self, n: &Node) -> Option<Script> {
        let command = self.arg(n, 0)?.to_string();
        let user = n.args.get(1).map(|u| (u.clone(), n.args.get(2).cloned()));
        Some(Script { command, user })
    }

    fn no_block(&mut self, n: &Node) {
        if n.block.is_some() {
            self.warn(
                &n.pos,
                &n.keyword,
                "unexpected block after this keyword; ignored",
            );
        }
    }

    /// keepalived reads a line as one keyword and its values; words after a single
    /// value (`weight 4 uthreshold 100` on one line) are ignored by keepalived without a
    /// word. rvs ignores them too, but says so.
    fn extra_args(&mut self, nodes: &[Node]) {
        for n in nodes {
            if n.args.len() > 1 && SINGLE_VALUE.contains(&n.keyword.as_str()) {
                self.warn(
                    &n.pos,
                    &n.keyword,
                    format!(
                        "takes one value; '{}' and what follows on the line are ignored, as keepalived ignores them",
                        n.args[1]
                    ),
                );
            }
            self.extra_args(n.children());
        }
    }

    pub fn config(&mut self, nodes: Vec<Node>) -> KeepalivedConfig {
        let mut cfg = KeepalivedConfig::default();
        let lvs: Vec<Node> = nodes
            .iter()
            .filter(|n| {
                matches!(
                    n.keyword.as_str(),
                    "global_defs" | "virtual_server" | "virtual_server_group"
                )
            })
            .cloned()
            .collect();
        self.extra_args(&lvs);
        let mut vrrp = Vec::new();
        for n in nodes {
            match n.keyword.as_str() {
                "global_defs" => self.global_defs(&n, &mut cfg.global),
                "virtual_server_group" => {
                    if let Some(g) = self.vs_group(&n) {
                        cfg.groups.push(g);
                    }
                }
                "virtual_server" => {
                    if let Some(vs) = self.virtual_server(&n) {
                        cfg.virtual_servers.push(vs);
                    }
                }
                "rvs_fwmark_rules" => self.fwmark_rules(&n, &mut cfg.fwmark_rules),
                k if VRRP_SECTIONS.contains(&k) => vrrp.push(n),
                k if UNSUPPORTED_NET_SECTIONS.contains(&k) => {
                    self.warn(
                        &n.pos,
                        &n.keyword,
                        "not supported by rvs (keepalived's static network setup and VRRP \
                         extras); the whole block is ignored: set it up with ip(8)",
                    );
                    cfg.other.push(n);
                }
                "SSL"
                | "bfd_instance"
                | "net_namespace"
                | "net_namespace_ipvs"
                | "namespace_with_ipsets"
                | "instance"
                | "use_pid_dir"
                | "child_wait_time"
                | "use_instance_name"
                | "linkbeat_use_polling" => {
                    self.unsupported(&n, "top-level keepalived option");
                    cfg.other.push(n);
                }
                _ => {
                    self.unknown(&n, "the top level");
                    cfg.other.push(n);
                }
            }
        }
        // After the loop: global_defs' vrrp_* defaults apply wherever global_defs is.
        cfg.vrrp = self.vrrp(&vrrp, &cfg.global);
        self.cross_checks(&cfg);
        cfg
    }

    fn cross_checks(&mut self, cfg: &KeepalivedConfig) {
        let names: HashSet<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
        let marks: HashSet<u32> = cfg.fwmark_rules.iter().map(|r| r.rule.mark).collect();
        for vs in &cfg.virtual_servers {
            match &vs.key {
                VsKey::Group(g) if !names.contains(g.as_str()) => {
                    self.err(
                        &vs.pos,
                        "virtual_server",
                        format!("virtual_server_group '{g}' is not defined"),
                    );
                }
                VsKey::Fwmark { mark } if !marks.contains(mark) => self.warn(
                    &vs.pos,
                    "virtual_server",
                    format!(
                        "no rvs_fwmark_rules rule sets mark {mark}: rvs sees packets before \
                         iptables can mark them, so this service gets no traffic until one does"
                    ),
                ),
                _ => {}
            }
        }
    }

    fn global_defs(&mut self, n: &Node, g: &mut GlobalDefs) {
        for c in n.children() {
            match c.keyword.as_str() {
                "router_id" => g.router_id = self.arg(c, 0).map(String::from),
                "script_user" => {
                    if let Some(u) = self.arg(c, 0) {
                        g.script_user = Some((u.to_string(), c.args.get(1).cloned()));
                    }
                }
                "enable_script_security" => {
                    // keepalived then refuses scripts run as root from a path a non-root
                    // user can write; rvs checks no path, for MISC_CHECK and VRRP scripts
                    // alike, and must not let the keyword look like protection.
                    self.warn(
                        &c.pos,
                        &c.keyword,
                        "not enforced by rvs: script paths are not checked for \
                         non-root write access (set script_user to run scripts unprivileged)",
                    );
                    g.enable_script_security = true;
                }
                "lvs_flush" => g.lvs_flush = true,
                "lvs_flush_on_stop" => {
                    g.lvs_flush_on_stop = Some(c.args.first().is_some_and(|a| a == "VS"))
                }
                "lvs_timeouts" => self.lvs_timeouts(c, &mut g.lvs_timeouts),
                "vrrp_version" => g.vrrp_version = self.vrrp_version(c).or(g.vrrp_version),
                "vrrp_garp_master_delay"
                | "vrrp_garp_master_repeat"
                | "vrrp_garp_master_refresh"
                | "vrrp_garp_master_refresh_repeat" => self.garp(c, &mut g.vrrp_garp),
                "lvs_sync_daemon" => g.lvs_sync_daemon = self.lvs_sync_daemon(c),
                "lvs_sync_daemon_interface" => {
                    self.warn(
                        &c.pos,
                        &c.keyword,
                        "deprecated; use 'lvs_sync_daemon INTERFACE'",
                    );
                    if let Some(i) = self.arg(c, 0) {
                        g.lvs_sync_daemon = Some(LvsSyncDaemon {
                            interface: i.to_string(),
                            instance: None,
                            id: None,
                            maxlen: None,
                            port: None,
                            ttl: None,
                            group: None,
                        });
                    }
                }
                _ => {
                    self.unsupported(c, "global_defs option outside LVS");
                    g.other.push(c.clone());
                }
            }
        }
    }

    fn lvs_timeouts(&mut self, n: &Node, t: &mut LvsTimeouts) {
        if n.args.is_empty() {
            self.err(
                &n.pos,
                &n.keyword,
                "at least one of tcp, tcpfin, udp is needed",
            );
        }
        let mut i = 0;
        while i < n.args.len() {
            let which = n.args[i].clone();
            let Some(v) = self.num::<u32>(n, i + 1) else {
                return;
            };
            match which.as_str() {
                "tcp" => t.tcp = Some(v),
                "tcpfin" => t.tcpfin = Some(v),
                "udp" => t.udp = Some(v),
                o => {
                    self.err(&n.pos, &n.keyword, format!("unknown timeout '{o}'"));
                    return;
                }
            }
            i += 2;
        }
    }

    fn lvs_sync_daemon(&mut self, n: &Node) -> Option<LvsSyncDaemon> {
        let mut s = LvsSyncDaemon {
            interface: self.arg(n, 0)?.to_string(),
            instance: None,
            id: None,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
        let mut i = 1;
        while i < n.args.len() {
            match n.args[i].as_str() {
                "inst" => s.instance = Some(self.arg(n, i + 1)?.to_string()),
                "id" => s.id = Some(self.num(n, i + 1)?),
                "maxlen" => s.maxlen = Some(self.num(n, i + 1)?),
                "port" => s.port = Some(self.num(n, i + 1)?),
                "ttl" => s.ttl = Some(self.num(n, i + 1)?),
                "group" => s.group = Some(self.addr(n, i + 1)?),
                inst if s.instance.is_none() && i == 1 => {
                    s.instance = Some(inst.to_string());
                    i += 1;
                    continue;
                }
                o => {
                    self.err(&n.pos, &n.keyword, format!("unknown option '{o}'"));
                    return None;
                }
            }
            i += 2;
        }
        Some(s)
    }

    fn vs_group(&mut self, n: &Node) -> Option<VsGroup> {
        let name = self.arg(n, 0)?.to_string();
        let mut g = VsGroup {
            name,
            pos: n.pos.clone(),
            entries: Vec::new(),
        };
        for c in n.children() {
            if c.keyword == "fwmark" {
                let Some(mark) = self.num::<u32>(c, 0) else {
                    continue;
                };
                let family = match c.args.get(1).map(String::as_str) {
                    None => None,
                    Some("inet") => Some(Family::Inet),
                    Some("inet6") => Some(Family::Inet6),
                    Some(o) => {
                        self.err(&c.pos, "fwmark", format!("unknown address family '{o}'"));
                        continue;
                    }
                };
                g.entries.push(GroupEntry::Fwmark {
                    mark,
                    family,
                    pos: c.pos.clone(),
                });
                continue;
            }
            let Some((first, last)) = parse_range(&c.keyword) else {
                self.err(
                    &c.pos,
                    &c.keyword,
                    format!(
                        "invalid virtual server group address or range '{}'",
                        c.keyword
                    ),
                );
                continue;
            };
            let port = match c.args.first() {
                None => 0,
                Some(p) => match p.parse::<u16>() {
                    Ok(p) => p,
                    Err(_) => {
                        self.err(&c.pos, &c.keyword, format!("invalid port '{p}'"));
                        continue;
                    }
                },
            };
            g.entries.push(GroupEntry::Range {
                first,
                last,
                port,
                pos: c.pos.clone(),
            });
        }
        Some(g)
    }

    fn fwmark_rules(&mut self, n: &Node, out: &mut Vec<FwmarkRuleDef>) {
        for c in n.children() {
            if c.keyword != "rule" {
                self.unknown(c, "rvs_fwmark_rules");
                continue;
            }
            // rule PROTO ADDR[/PREFIX] PORT[-PORT] mark N
            if c.args.len() != 5 || c.args[3] != "mark" {
                self.err(
                    &c.pos,
                    "rule",
                    "expected 'rule tcp|udp|sctp|any ADDR[/PREFIX] PORT[-PORT] mark N'",
                );
                continue;
            }
            let proto = match c.args[0].to_ascii_lowercase().as_str() {
                "tcp" => Some(Proto::Tcp),
                "udp" => Some(Proto::Udp),
                "sctp" => Some(Proto::Sctp),
                "any" | "all" => None,
                o => {
                    self.err(&c.pos, "rule", format!("unknown protocol '{o}'"));
                    continue;
                }
            };
            let (a, p) = match c.args[1].split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (c.args[1].as_str(), None),
            };
            let Ok(daddr) = a.parse::<IpAddr>() else {
                self.err(&c.pos, "rule", format!("invalid IP address '{a}'"));
                continue;
            };
            let max = if daddr.is_ipv6() { 128 } else { 32 };
            let prefix = match p.map(|p| p.parse::<u8>()) {
                None => max,
                Some(Ok(p)) if p <= max => p,
                Some(_) => {
                    self.err(&c.pos, "rule", format!("invalid prefix in '{}'", c.args[1]));
                    continue;
                }
            };
            let (lo, hi) = match c.args[2].split_once('-') {
                Some((l, h)) => (l.parse::<u16>(), h.parse::<u16>()),
                None => (c.args[2].parse::<u16>(), c.args[2].parse::<u16>()),
            };
            let (Ok(dport_lo), Ok(dport_hi)) = (lo, hi) else {
                self.err(
                    &c.pos,
                    "rule",
                    format!("invalid port range '{}'", c.args[2]),
                );
                continue;
            };
            if dport_lo > dport_hi {
                self.err(&c.pos, "rule", format!("empty port range '{}'", c.args[2]));
                continue;
            }
            let Ok(mark) = c.args[4].parse::<u32>() else {
                self.err(&c.pos, "rule", format!("invalid mark '{}'", c.args[4]));
                continue;
            };
            out.push(FwmarkRuleDef {
                pos: c.pos.clone(),
                rule: FwmarkRule {
                    proto,
                    daddr,
                    prefix,
                    dport_lo,
                    dport_hi,
                    mark,
                },
            });
        }
    }

    /// `lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
    fn fwd(&mut self, n: &Node) -> Option<FwdMethod> {
        let m = self.arg(n, 0)?.to_ascii_uppercase();
        let rest = &n.args[1..];
        match m.as_str() {
            "NAT" | "DR" if !rest.is_empty() => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("unexpected '{}' after {m}", rest[0]),
                );
                None
            }
            "NAT" => Some(FwdMethod::Masq),
            "DR" => Some(FwdMethod::Route),
            "TUN" => {
                let mut tun = TunType::Ipip;
                let mut csum = TunCsum::NoCsum;
                let mut i = 0;
                while i < rest.len() {
                    match rest[i].as_str() {
                        "type" => {
                            match rest.get(i + 1).map(String::as_str) {
                                Some("ipip") => tun = TunType::Ipip,
                                Some("gre") => tun = TunType::Gre,
                                Some("gue") => {
                                    if rest.get(i + 2).map(String::as_str) != Some("port") {
                                        self.err(&n.pos, &n.keyword, "GUE needs 'port NUM'");
                                        return None;
                                    }
                                    match rest.get(i + 3).and_then(|p| p.parse::<u16>().ok()) {
                                        Some(p) if p != 0 => tun = TunType::Gue { port: p },
                                        _ => {
                                            self.err(&n.pos, &n.keyword, "invalid GUE port");
                                            return None;
                                        }
                                    }
                                    i += 2;
                                }
                                o => {
                                    self.err(
                                        &n.pos,
                                        &n.keyword,
                                        format!("unknown tunnel type '{}'", o.unwrap_or("")),
                                    );
                                    return None;
                                }
                            }
                            i += 2;
                        }
                        "nocsum" => {
                            csum = TunCsum::NoCsum;
                            i += 1
                        }
                        "csum" => {
                            csum = TunCsum::Csum;
                            i += 1
                        }
                        "remcsum" => {
                            csum = TunCsum::RemCsum;
                            i += 1
                        }
                        o => {
                            self.err(&n.pos, &n.keyword, format!("unexpected '{o}'"));
                            return None;
                        }
                    }
                }
                // keepalived.conf(5): checksum options need GUE (GRE without remcsum).
                let ok = matches!(
                    (tun, csum),
                    (_, TunCsum::NoCsum) | (TunType::Gue { .. }, _) | (TunType::Gre, TunCsum::Csum)
                );
                if !ok {
                    self.err(
                        &n.pos,
                        &n.keyword,
                        "checksum options need tunnel type gue (gre: csum only)",
                    );
                    return None;
                }
                Some(FwdMethod::Tunnel { tun, csum })
            }
            _ => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    format!("unknown forwarding method '{m}'"),
                );
                None
            }
        }
    }

    /// The timing keywords shared by virtual server, real server and checker levels;
    /// returns false if `n` is not one of them.
    fn timing_kw(&mut self, n: &Node, t: &mut TimingOverrides) -> bool {
        match n.keyword.as_str() {
            "delay_loop" => t.delay_loop_ms = self.timer(n, 0).or(t.delay_loop_ms),
            "connect_timeout" => t.connect_timeout_ms = self.timer(n, 0).or(t.connect_timeout_ms),
            "retry" => t.retry = self.num(n, 0).or(t.retry),
            "nb_get_retry" => {
                // keepalived: "nb_get_retry is deprecated - please use 'retry'".
                self.warn(&n.pos, &n.keyword, "deprecated - please use 'retry'");
                t.retry = self.num(n, 0).or(t.retry);
            }
            "delay_before_retry" => {
                t.delay_before_retry_ms = self.timer(n, 0).or(t.delay_before_retry_ms)
            }
            "warmup" => t.warmup_ms = self.timer(n, 0).or(t.warmup_ms),
            _ => return false,
        }
        self.no_block(n);
        true
    }

    fn virtual_server(&mut self, n: &Node) -> Option<VirtualServer> {
        let key = match n.args.first().map(String::as_str) {
            Some("fwmark") => VsKey::Fwmark {
                mark: self.num(n, 1)?,
            },
            Some("group") => VsKey::Group(self.arg(n, 1)?.to_string()),
            Some(_) => {
                let addr = self.addr(n, 0)?;
                VsKey::Addr {
                    addr,
                    port: self.port_opt(n, 1)?,
                }
            }
            None => {
                self.err(
                    &n.pos,
                    &n.keyword,
                    "missing address, 'fwmark N' or 'group NAME'",
                );
                return None;
            }
        };
        let mut vs = VirtualServer {
            pos: n.pos.clone(),
            key,
            protocol: Proto::Udp,
            ip_family: None,
            sched: d::SCHED.to_string(),
            sched_flags: SchedFlags::default(),
            fwd: FwdMethod::Masq,
            persistence_timeout: None,
            persistence_granularity: None,
            persistence_engine: None,
            ops: false,
            hashed: false,
            ha_suspend: false,
            virtualhost: None,
            smtp_alert: None,
            snmp_name: None,
            alpha: false,
            omega: false,
            quorum: d::QUORUM,
            hysteresis: d::HYSTERESIS,
            quorum_up: None,
            quorum_down: None,
            sorry_server: None,
            inhibit_on_failure: false,
            timing: TimingOverrides::default(),
            real_servers: Vec::new(),
        };
        let (mut have_proto, mut have_sched, mut have_fwd) = (false, false, false);
        let mut sorry: Option<(IpAddr, u16)> = None;
        let mut sorry_fwd: Option<FwdMethod> = None;
        let mut sorry_inhibit = false;
        let mut granularity: Option<(Pos, String)> = None;
        // Real servers inherit the virtual server's settings wherever in the block those
        // are written, so they are read after the rest.
        let mut rs_nodes = Vec::new();
        for c in n.children() {
            if self.timing_kw(c, &mut vs.timing) {
                continue;
            }
            match c.keyword.as_str() {
                "lvs_sched" | "lb_algo" => {
                    if let Some(s) = self.arg(c, 0) {
                        if !Scheduler::NAMES.contains(&s) {
                            self.err(&c.pos, &c.keyword, format!("unknown scheduler '{s}'"));
                        } else {
                            vs.sched = s.to_string();
                            have_sched = true;
                        }
                    }
                }
                "lvs_method" | "lb_kind" => {
                    if let Some(f) = self.fwd(c) {
                        vs.fwd = f;
                        have_fwd = true;
                    }
                }
                "flag-1" | "sh-fallback" | "mh-fallback" => vs.sched_flags.0 |= SchedFlags::SCHED1,
                "flag-2" | "sh-port" | "mh-port" => vs.sched_flags.0 |= SchedFlags::SCHED2,
                "flag-3" => vs.sched_flags.0 |= SchedFlags::SCHED3,
                "ops" => vs.ops = true,
                "hashed" => vs.hashed = true,
                "ha_suspend" => vs.ha_suspend = true,
                "alpha" => vs.alpha = true,
                "omega" => vs.omega = true,
                "persistence_timeout" => {
                    vs.persistence_timeout = if c.args.is_empty() {
                        Some(d::PERSISTENCE_TIMEOUT_S)
                    } else {
                        self.num(c, 0)
                    }
                }
                "persistence_granularity" => {
                    if let Some(a) = self.arg(c, 0) {
                        granularity = Some((c.pos.clone(), a.to_string()));
                    }
                }
                "persistence_engine" => vs.persistence_engine = self.arg(c, 0).map(String::from),
                "protocol" => match self.arg(c, 0).map(|s| s.to_ascii_uppercase()).as_deref() {
                    Some("TCP") => (vs.protocol, have_proto) = (Proto::Tcp, true),
                    Some("UDP") => (vs.protocol, have_proto) = (Proto::Udp, true),
                    Some("SCTP") => (vs.protocol, have_proto) = (Proto::Sctp, true),
                    Some(o) => self.err(&c.pos, &c.keyword, format!("unknown protocol '{o}'")),
                    None => {}
                },
                "ip_family" => match self.arg(c, 0) {
                    Some("inet") => vs.ip_family = Some(Family::Inet),
                    Some("inet6") => vs.ip_family = Some(Family::Inet6),
                    Some(o) => {
                        let o = o.to_string();
                        self.err(&c.pos, &c.keyword, format!("unknown address family '{o}'"))
                    }
                    None => {}
                },
                "virtualhost" => vs.virtualhost = self.arg(c, 0).map(String::from),
                "smtp_alert" => vs.smtp_alert = self.bool_opt(c, 0),
                "snmp_name" => vs.snmp_name = self.arg(c, 0).map(String::from),
                "quorum" => vs.quorum = self.num(c, 0).unwrap_or(vs.quorum),
                "hysteresis" => vs.hysteresis = self.num(c, 0).unwrap_or(vs.hysteresis),
                "quorum_up" => vs.quorum_up = self.script(c),
                "quorum_down" => vs.quorum_down = self.script(c),
                "sorry_server" => {
                    if let Some(a) = self.addr(c, 0) {
                        if let Some(p) = self.port_opt(c, 1) {
                            sorry = Some((a, p));
                        }
                    }
                }
                "sorry_server_inhibit" => sorry_inhibit = self.bool_opt(c, 0).unwrap_or(true),
                "sorry_server_lvs_method" => sorry_fwd = self.fwd(c),
                "inhibit_on_failure" => vs.inhibit_on_failure = self.bool_opt(c, 0).unwrap_or(true),
                "real_server" => rs_nodes.push(c),
                _ => self.unknown(c, "virtual_server"),
            }
        }
        let is_fwmark = matches!(vs.key, VsKey::Fwmark { .. });
        if let Some((pos, g)) = granularity {
            let v6 = match &vs.key {
                VsKey::Addr { addr, .. } => addr.is_ipv6(),
                _ => vs.ip_family == Some(Family::Inet6),
            };
            match parse_granularity(&g, v6) {
                Some(p) => vs.persistence_granularity = Some(p),
                None => self.err(
                    &pos,
                    "persistence_granularity",
                    format!("invalid netmask '{g}'"),
                ),
            }
        }
        // keepalived -t's messages for what was left out.
        let what = vs_name(&vs.key);
        if is_fwmark && have_proto {
            self.warn(
                &n.pos,
                "protocol",
                format!("virtual server {what}: protocol specified for fwmark - protocol will be ignored"),
            );
        } else if !is_fwmark && !have_proto {
            self.warn(
                &n.pos,
                "protocol",
                format!("virtual server {what}: no protocol set - defaulting to UDP (as keepalived 2.2.7 does)"),
            );
        }
        if !have_sched {
            self.warn(
                &n.pos,
                "lvs_sched",
                format!("virtual server {what}: no scheduler set, setting default 'wlc'"),
            );
        }
        if !have_fwd {
            self.warn(
                &n.pos,
                "lvs_method",
                format!("virtual server {what}: no forwarding method set, setting default NAT"),
            );
        }
        if let Some((addr, port)) = sorry {
            vs.sorry_server = Some(SorryServer {
                addr,
                port,
                fwd: sorry_fwd.unwrap_or(vs.fwd),
                inhibit: sorry_inhibit,
            });
        }
        for c in rs_nodes {
            if let Some(rs) = self.real_server(c, &vs) {
                vs.real_servers.push(rs);
            }
        }
        if vs.real_servers.is_empty() && vs.sorry_server.is_none() {
            self.warn(
                &n.pos,
                "virtual_server",
                format!("virtual server {what} has no real servers - ignoring"),
            );
        }
        Some(vs)
    }

    fn real_server(&mut self, n: &Node, vs: &VirtualServer) -> Option<RealServer> {
        let addr = self.addr(n, 0)?;
        let port = self.port_opt(n, 1)?;
        let mut rs = RealServer {
            pos: n.pos.clone(),
            addr,
            port,
            weight: d::WEIGHT,
            fwd: vs.fwd,
            inhibit_on_failure: vs.inhibit_on_failure,
            uthreshold: 0,
            lthreshold: 0,
            notify_up: None,
            notify_down: None,
            smtp_alert: None,
            virtualhost: None,
            snmp_name: None,
            alpha: vs.alpha,
            timing: TimingOverrides::default(),
            checks: Vec::new(),
        };
        let mut checkers = Vec::new();
        for c in n.children() {
            if self.timing_kw(c, &mut rs.timing) {
                continue;
            }
            match c.keyword.as_str() {
                "weight" => {
                    if let Some(w) = self.num::<u32>(c, 0) {
                        if w > 65535 {
                            self.err(
                                &c.pos,
                                "weight",
                                format!("weight {w} out of range 0..65535"),
                            );
                        } else {
                            rs.weight = w;
                        }
                    }
                }
                "lvs_method" | "lb_kind" => {
                    if let Some(f) = self.fwd(c) {
                        rs.fwd = f;
                    }
                }
                "inhibit_on_failure" => rs.inhibit_on_failure = self.bool_opt(c, 0).unwrap_or(true),
                "uthreshold" => rs.uthreshold = self.num(c, 0).unwrap_or(0),
                "lthreshold" => rs.lthreshold = self.num(c, 0).unwrap_or(0),
                "notify_up" => rs.notify_up = self.script(c),
                "notify_down" => rs.notify_down = self.script(c),
                "smtp_alert" => rs.smtp_alert = self.bool_opt(c, 0),
                "virtualhost" => rs.virtualhost = self.arg(c, 0).map(String::from),
                "snmp_name" => rs.snmp_name = self.arg(c, 0).map(String::from),
                "alpha" => rs.alpha = self.bool_opt(c, 0).unwrap_or(true),
                "HTTP_GET" | "SSL_GET" | "TCP_CHECK" | "SMTP_CHECK" | "DNS_CHECK"
                | "MISC_CHECK" | "UDP_CHECK" | "PING_CHECK" => checkers.push(c),
                "BFD_CHECK" | "FILE_CHECK" => self.unsupported(c, "checker type"),
                _ => self.unknown(c, "real_server"),
            }
        }
        if rs.lthreshold > rs.uthreshold && rs.uthreshold != 0 {
            self.err(&n.pos, "lthreshold", "lthreshold is above uthreshold");
        }
        rs.timing = rs.timing.or(vs.timing);
        for c in checkers {
            let vhost = rs.virtualhost.clone().or_else(|| vs.virtualhost.clone());
            self.checker(c, rs.timing, vhost, &mut rs.checks);
        }
        Some(rs)
    }

    fn checker(
        &mut self,
        n: &Node,
        inherited: TimingOverrides,
        vhost: Option<String>,
        out: &mut Vec<CheckSpec>,
    ) {
        let kw = n.keyword.as_str();
        let mut t = TimingOverrides::default();
        let mut ep = Endpoint::default();
        let mut hosts: Vec<Endpoint> = Vec::new();
        let mut urls: Vec<HttpUrl> = Vec::new();
        let mut checker_vhost: Option<String> = None;
        let mut sni = false;
        let mut http_protocol = d::HTTP_PROTOCOL.to_string();
        let mut helo = d::SMTP_HELO.to_string();
        let (mut qtype, mut qname) = (d::DNS_TYPE.to_string(), d::DNS_NAME.to_string());
        let mut misc_path: Option<String> = None;
        let mut misc_timeout: Option<u64> = None;
        let mut misc_dynamic = false;
        let mut misc_user = None;
        let mut payload: Vec<u8> = Vec::new();
        let mut require_reply: Option<Vec<u8>> = None;
        let (mut min_len, mut max_len) = (d::UDP_MIN_REPLY, d::UDP_MAX_REPLY);
        for c in n.children() {
            if self.timing_kw(c, &mut t) || self.endpoint_kw(c, &mut ep) {
                continue;
            }
            match (kw, c.keyword.as_str()) {
                (_, "alpha" | "log_all_failures") => {
                    self.bool_opt(c, 0);
                    self.unsupported(c, "checker option");
                }
                ("HTTP_GET" | "SSL_GET", "url") => {
                    if let Some(u) = self.url(c) {
                        urls.push(u);
                    }
                }
                ("HTTP_GET" | "SSL_GET", "virtualhost") => {
                    checker_vhost = self.arg(c, 0).map(String::from)
                }
                ("HTTP_GET" | "SSL_GET", "http_protocol") => match self.arg(c, 0) {
                    Some(p @ ("1.0" | "1.0C" | "1.1")) => http_protocol = p.to_string(),
                    Some(p) => {
                        let p = p.to_string();
                        self.err(&c.pos, &c.keyword, format!("unknown HTTP protocol '{p}'"))
                    }
                    None => {}
                },
                ("SSL_GET", "enable_sni") => sni = true,
                ("HTTP_GET" | "SSL_GET", "fast_recovery") => self.unsupported(c, "checker option"),
                ("SMTP_CHECK", "helo_name") => {
                    if let Some(h) = self.arg(c, 0) {
                        helo = h.to_string()
                    }
                }
                ("SMTP_CHECK", "host") => {
                    let mut h = Endpoint::default();
                    for hc in c.children() {
                        if !self.endpoint_kw(hc, &mut h) {
                            self.unknown(hc, "host");
                        }
                    }
                    hosts.push(h);
                }
                ("DNS_CHECK", "type") => {
                    if let Some(q) = self.arg(c, 0) {
                        let q = q.to_ascii_uppercase();
                        if ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"].contains(&q.as_str()) {
                            qtype = q;
                        } else {
                            self.err(&c.pos, &c.keyword, format!("unknown DNS type '{q}'"));
                        }
                    }
                }
                ("DNS_CHECK", "name") => {
                    if let Some(q) = self.arg(c, 0) {
                        qname = q.to_string()
                    }
                }
                ("MISC_CHECK", "misc_path") => misc_path = self.arg(c, 0).map(String::from),
                ("MISC_CHECK", "misc_timeout") => {
                    misc_timeout = self.num::<u64>(c, 0).map(|s| s.saturating_mul(1000))
                }
                ("MISC_CHECK", "misc_dynamic") => misc_dynamic = true,
                ("MISC_CHECK", "user") => {
                    if let Some(u) = self.arg(c, 0) {
                        misc_user = Some((u.to_string(), c.args.get(1).cloned()));
                    }
                }
                ("UDP_CHECK", "payload") => match parse_hex(&c.args.join(" "), false) {
                    Some((b, _)) => payload = b,
                    None => self.err(&c.pos, &c.keyword, "invalid hex string"),
                },
                ("UDP_CHECK", "require_reply") => match parse_hex(&c.args.join(" "), true) {
                    Some((b, wild)) => {
                        if wild {
                            self.warn(
                                &c.pos,
                                &c.keyword,
                                "'X' (ignored nibble) is not supported by rvs yet; it must be 0",
                            );
                        }
                        require_reply = Some(b);
                    }
                    None => self.err(&c.pos, &c.keyword, "invalid hex string"),
                },
                ("UDP_CHECK", "min_reply_length") => min_len = self.num(c, 0).unwrap_or(min_len),
                ("UDP_CHECK", "max_reply_length") => max_len = self.num(c, 0).unwrap_or(max_len),
                _ => self.unknown(c, kw),
            }
        }
        let t = t.or(inherited);
        let delay_loop_ms = t.delay_loop_ms.unwrap_or(d::DELAY_LOOP_MS);
        let timing = Timing {
            delay_loop_ms,
            connect_timeout_ms: if kw == "MISC_CHECK" {
                misc_timeout.unwrap_or(delay_loop_ms)
            } else {
                t.connect_timeout_ms.unwrap_or(d::CONNECT_TIMEOUT_MS)
            },
            retry: t.retry.unwrap_or(match kw {
                "DNS_CHECK" => d::RETRY_DNS,
                "MISC_CHECK" => d::RETRY_MISC,
                _ => d::RETRY,
            }),
            delay_before_retry_ms: t.delay_before_retry_ms.unwrap_or(match kw {
                "HTTP_GET" | "SSL_GET" => d::DELAY_BEFORE_RETRY_HTTP_MS,
                "DNS_CHECK" => delay_loop_ms,
                _ => d::DELAY_BEFORE_RETRY_MS,
            }),
            warmup_ms: t.warmup_ms.unwrap_or(delay_loop_ms),
        };
        let kind = match kw {
            "TCP_CHECK" => CheckKind::Tcp,
            "PING_CHECK" => CheckKind::Ping,
            "HTTP_GET" | "SSL_GET" => {
                if urls.is_empty() {
                    // keepalived: "HTTP/SSL_GET checker has no urls specified - ignoring".
                    self.warn(
                        &n.pos,
                        kw,
                        "HTTP/SSL_GET checker has no urls specified - ignoring",
                    );
                    return;
                }
                CheckKind::Http {
                    tls: kw == "SSL_GET",
                    urls,
                    virtualhost: checker_vhost.or(vhost),
                    sni,
                    http_protocol,
                }
            }
            "SMTP_CHECK" => CheckKind::Smtp { helo_name: helo },
            "DNS_CHECK" => CheckKind::Dns { qtype, name: qname },
            "MISC_CHECK" => {
                let Some(path) = misc_path else {
                    self.err(&n.pos, kw, "misc_path is missing");
                    return;
                };
                CheckKind::Misc {
                    path,
                    dynamic: misc_dynamic,
                    user: misc_user,
                }
            }
            "UDP_CHECK" => {
                if min_len > max_len {
                    self.err(&n.pos, kw, "min_reply_length is above max_reply_length");
                }
                CheckKind::Udp {
                    payload,
                    require_reply,
                    min_reply_length: min_len,
                    max_reply_length: max_len,
                }
            }
            _ => unreachable!("checker keywords are filtered by the caller"),
        };
        if hosts.is_empty() {
            out.push(CheckSpec {
                kind,
                timing,
                endpoint: ep,
            });
        } else {
            // SMTP_CHECK `host { }`: one probe per host, the checker's own connect
            // options filling what a host leaves out.
            for h in hosts {
                out.push(CheckSpec {
                    kind: kind.clone(),
                    timing: timing.clone(),
                    endpoint: Endpoint {
                        connect_ip: h.connect_ip.or(ep.connect_ip),
                        connect_port: h.connect_port.or(ep.connect_port),
                        bindto: h.bindto.or(ep.bindto),
                        bind_port: h.bind_port.or(ep.bind_port),
                        bind_if: h.bind_if.or(ep.bind_if.clone()),
                        fwmark: h.fwmark.or(ep.fwmark),
                    },
                });
            }
        }
    }

    fn endpoint_kw(&mut self, n: &Node, ep: &mut Endpoint) -> bool {
        match n.keyword.as_str() {
            "connect_ip" => ep.connect_ip = self.addr(n, 0),
            "connect_port" => ep.connect_port = self.num(n, 0),
            "bindto" | "bind_to" => ep.bindto = self.addr(n, 0),
            "bind_port" => ep.bind_port = self.num(n, 0),
            "bind_if" => ep.bind_if = self.arg(n, 0).map(String::from),
            "fwmark" => ep.fwmark = self.num(n, 0),
            _ => return false,
        }
        true
    }

    fn url(&mut self, n: &Node) -> Option<HttpUrl> {
        let mut u = HttpUrl::default();
        let mut have_path = false;
        for c in n.children() {
            match c.keyword.as_str() {
                "path" => {
                    u.path = self.arg(c, 0)?.to_string();
                    have_path = true;
                }
                "digest" => {
                    let dg = self.arg(c, 0)?.to_ascii_lowercase();
                    if dg.len() != 32 || !dg.bytes().all(|b| b.is_ascii_hexdigit()) {
                        self.err(&c.pos, "digest", format!("invalid MD5 digest '{dg}'"));
                    } else {
                        u.digest = Some(dg);
                    }
                }
                "status_code" => {
                    for a in &c.args {
                        let r = match a.split_once('-') {
                            Some((l, h)) => l.parse::<u16>().ok().zip(h.parse::<u16>().ok()),
                            None => a.parse::<u16>().ok().map(|v| (v, v)),
                        };
                        match r {
                            Some((l, h)) if (100..=999).contains(&l) && l <= h && h <= 999 => {
                                u.status_codes.push((l, h))
                            }
                            _ => self.err(
                                &c.pos,
                                "status_code",
                                format!("invalid status code '{a}'"),
                            ),
                        }
                    }
                }
                "virtualhost" => u.virtualhost = self.arg(c, 0).map(String::from),
                "regex" => u.regex = self.arg(c, 0).map(String::from),
                "regex_no_match" => u.regex_no_match = true,
                "regex_options" => u.regex_options = c.args.clone(),
                "regex_stack" | "regex_min_offset" | "regex_max_offset" => {
                    self.unsupported(c, "url option")
                }
                _ => self.unknown(c, "url"),
            }
        }
        if !have_path {
            self.warn(&n.pos, "url", "url without a path - ignoring");
            return None;
        }
        Some(u)
    }
}

/// `virtual_server` in keepalived's message style.
pub(crate) fn vs_name(k: &VsKey) -> String {
    match k {
        VsKey::Addr {
            addr: IpAddr::V6(a),
            port,
        } => format!("[{a}]:{port}"),
        VsKey::Addr { addr, port } => format!("{addr}:{port}"),
        VsKey::Fwmark { mark } => format!("FWM {mark}"),
        VsKey::Group(g) => format!("group {g}"),
    }
}

/// `N[.frac]` seconds → milliseconds (keepalived keeps microseconds; rvs-check works in
/// milliseconds, so anything finer is rounded down).
pub fn parse_timer_ms(s: &str) -> Option<u64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut ms = 0u64;
    for (k, b) in frac.bytes().take(3).enumerate() {
        ms += u64::from(b - b'0') * 10u64.pow(2 - k as u32);
    }
    secs.checked_mul(1000)?.checked_add(ms)
}

/// `A`, `A-B` (full addresses), `A.B.C.D-E` / `X::Y-Z` (last part), `A/N` (the whole
/// prefix). Returns (first, last), both the same family, first <= last.
pub fn parse_range(s: &str) -> Option<(IpAddr, IpAddr)> {
    if let Some((a, n)) = s.split_once('/') {
        let a: IpAddr = a.parse().ok()?;
        let n: u32 = n.parse().ok()?;
        return match a {
            IpAddr::V4(v) if n <= 32 => {
                let m = if n == 0 { 0 } else { u32::MAX << (32 - n) };
                let base = u32::from(v) & m;
                Some((IpAddr::V4(base.into()), IpAddr::V4((base | !m).into())))
            }
            IpAddr::V6(v) if n <= 128 => {
                let m = if n == 0 { 0 } else { u128::MAX << (128 - n) };
                let base = u128::from(v) & m;
                Some((IpAddr::V6(base.into()), IpAddr::V6((base | !m).into())))
            }
            _ => None,
        };
    }
    let Some((a, b)) = s.rsplit_once('-') else {
        let a: IpAddr = s.parse().ok()?;
        return Some((a, a));
    };
    let first: IpAddr = a.parse().ok()?;
    let last: IpAddr = match (first, b.parse::<IpAddr>()) {
        (_, Ok(l)) => l,
        (IpAddr::V4(f), Err(_)) => {
            let e: u8 = b.parse().ok()?;
            let mut o = f.octets();
            o[3] = e;
            IpAddr::V4(o.into())
        }
        (IpAddr::V6(f), Err(_)) => {
            let e = u16::from_str_radix(b, 16).ok()?;
            let mut s = f.segments();
            s[7] = e;
            IpAddr::V6(s.into())
        }
    };
    let ok = match (first, last) {
        (IpAddr::V4(f), IpAddr::V4(l)) => f <= l,
        (IpAddr::V6(f), IpAddr::V6(l)) => f <= l,
        _ => false,
    };
    ok.then_some((first, last))
}

/// `persistence_granularity`: a dotted netmask (IPv4) or a prefix length.
fn parse_granularity(s: &str, v6: bool) -> Option<u8> {
    let max = if v6 { 128 } else { 32 };
    if let Ok(p) = s.parse::<u8>() {
        return (p <= max).then_some(p);
    }
    if v6 {
        return None;
    }
    let m: std::net::Ipv4Addr = s.parse().ok()?;
    let m = u32::from(m);
    let p = m.leading_ones();
    // A netmask must be contiguous ones.
    (m.checked_shl(p).unwrap_or(0) == 0).then_some(p as u8)
}

/// keepalived's free-form hex (man, UDP_CHECK): each whitespace-separated group is read
/// two digits at a time, an odd last digit being a byte of its own ("Ab12f 3" → AB 12 0F
/// 03). With `wild`, `X`/`x` digits are accepted (and read as 0); the bool says whether
/// any were seen.
fn parse_hex(s: &str, wild: bool) -> Option<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut saw = false;
    for group in s.split_whitespace() {
        let digits: Vec<u8> = group
            .chars()
            .map(|c| match c {
                'x' | 'X' if wild => {
                    saw = true;
                    Some(0)
                }
                c => c.to_digit(16).map(|d| d as u8),
            })
            .collect::<Option<_>>()?;
        for pair in digits.chunks(2) {
            out.push(match pair {
                [h, l] => h << 4 | l,
                [l] => *l,
                _ => unreachable!("chunks of 2"),
            });
        }
    }
    Some((out, saw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_in_milliseconds() {
        assert_eq!(parse_timer_ms("3"), Some(3000));
        assert_eq!(parse_timer_ms("2.71828"), Some(2718));
        assert_eq!(parse_timer_ms(".5"), Some(500));
        assert_eq!(parse_timer_ms("1."), Some(1000));
        for bad in ["", ".", "-1", "1e3", "abc", "99999999999999999999"] {
            assert_eq!(parse_timer_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn group_ranges() {
        let r = |s: &str| parse_range(s).map(|(a, b)| format!("{a} {b}"));
        assert_eq!(
            r("192.168.200.3-10").as_deref(),
            Some("192.168.200.3 192.168.200.10")
        );
        assert_eq!(
            r("192.168.200.250-192.168.201.10").as_deref(),
            Some("192.168.200.250 192.168.201.10")
        );
        assert_eq!(
            r("192.168.202.8/29").as_deref(),
            Some("192.168.202.8 192.168.202.15")
        );
        assert_eq!(r("ae00::2-9").as_deref(), Some("ae00::2 ae00::9"));
        assert_eq!(r("10.0.0.1").as_deref(), Some("10.0.0.1 10.0.0.1"));
        for bad in [
            "10.0.0.9-3",
            "10.0.0.1-256",
            "10.0.0.1/33",
            "10.0.0.1-ae00::1",
            "x",
        ] {
            assert_eq!(r(bad), None, "{bad}");
        }
    }

    #[test]
    fn granularity_masks() {
        assert_eq!(parse_granularity("255.255.255.0", false), Some(24));
        assert_eq!(parse_granularity("255.255.255.255", false), Some(32));
        assert_eq!(parse_granularity("0.0.0.0", false), Some(0));
        assert_eq!(parse_granularity("255.0.255.0", false), None);
        assert_eq!(parse_granularity("64", true), Some(64));
        assert_eq!(parse_granularity("129", true), None);
    }

    #[test]
    fn free_form_hex_as_the_man_page_reads_it() {
        let (b, w) = parse_hex("Ab12f 3 456 546443123", false).unwrap();
        assert_eq!(
            b,
            [0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03]
        );
        assert!(!w);
        assert_eq!(parse_hex("1x", true), Some((vec![0x10], true)));
        assert_eq!(parse_hex("1x", false), None);
    }
}
