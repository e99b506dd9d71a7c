//! ipvsadm's listings, byte for byte, from plain data the daemon sends back. Each function
//! names the ipvsadm routine whose printf formats it reproduces.

use crate::cmd::*;
use crate::resolve::ReverseResolver;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Cumulative counters (`--stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

/// Estimated rates (`--rate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A real server as listed: its configuration plus live counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestEntry {
    pub spec: DestSpec,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
    pub rates: Rates,
}

/// A virtual service as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub spec: ServiceSpec,
    pub stats: Stats,
    pub rates: Rates,
    /// In the order the daemon holds them (the order added); sorted here unless `--nosort`.
    pub dests: Vec<DestEntry>,
}

/// The whole table, as `-L` and `-S` see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The conn table size shown in the header.
    pub size: u32,
    pub services: Vec<ServiceEntry>,
}

/// One connection, as /proc/net/ip_vs_conn reports it to ipvsadm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnEntry {
    /// `None` shows as "IP" (a fwmark persistence template).
    pub protocol: Option<Protocol>,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// The state name ("ESTABLISHED", "SYN_RECV", ...); "NONE" for persistence templates.
    pub state: String,
    /// Seconds until expiry.
    pub expires: u32,
    /// Persistence engine name and data, if any (`--persistent-conn` shows them).
    pub pe: Option<(String, String)>,
}

/// The header `list_all()` prints before a non-rule listing.
/// The persistence netmask as ipvsadm shows it (dotted quad or prefix length), when it is
/// not the default per-client mask.
fn persistence_mask(spec: &ServiceSpec) -> Option<String> {
    match spec.netmask {
        Netmask::V4(m) if !spec.key.is_ipv6() && !spec.netmask.is_host() => Some(m.to_string()),
        Netmask::V6(p) if spec.key.is_ipv6() && !spec.netmask.is_host() => Some(p.to_string()),
        _ => None,
    }
}

pub fn header(size: u32) -> String {
    format!("IP Virtual Server version 1.2.1 (size={size})\n")
}

/// `print_largenum()`: 9 columns with K/M/G/T scaling, or the exact number with `--exact`.
pub fn largenum(i: u64, exact: bool) -> String {
    if exact {
        let len = i.to_string().len();
        let width = if len <= 8 { 9 } else { len + 1 };
        return format!("{i:>width$}");
    }
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

/// glibc's `inet_ntop()`. Rust's Display agrees except for IPv4-compatible addresses
/// (`::a.b.c.d`, first 96 bits zero), which glibc writes with a dotted tail.
pub fn inet_ntop(addr: IpAddr) -> String {
    if let IpAddr::V6(a) = addr {
        let s = a.segments();
        if s[..6] == [0; 6] && s[6] != 0 {
            let [_, _, _, _, _, _, _, _, _, _, _, _, b0, b1, b2, b3] = a.octets();
            return format!("::{b0}.{b1}.{b2}.{b3}");
        }
    }
    addr.to_string()
}

fn host(addr: IpAddr, numeric: bool, names: &dyn ReverseResolver) -> String {
    if numeric {
        return inet_ntop(addr);
    }
    names.host_name(addr).unwrap_or_else(|| inet_ntop(addr))
}

/// `addrport_to_anyname()`: `addr:port` or `[v6]:port`, names unless numeric.
pub fn addrport(
    addr: IpAddr,
    port: u16,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn ReverseResolver,
) -> String {
    let h = host(addr, numeric, names);
    let p = if numeric {
        port.to_string()
    } else {
        proto
            .and_then(|pr| names.service_name(port, pr))
            .unwrap_or_else(|| port.to_string())
    };
    if addr.is_ipv4() {
        format!("{h}:{p}")
    } else {
        format!("[{h}]:{p}")
    }
}

/// `%-Ns`: C pads by bytes, where Rust's `{:<N}` counts chars; names from /etc/hosts may
/// be UTF-8, so pad by bytes to stay byte-identical.
fn pad(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(width.max(s.len()));
    out.push_str(s);
    while out.len() < width {
        out.push(' ');
    }
    out
}

/// Cuts as ipvsadm does by writing a NUL into its buffer (`svc_name[33]`, `dname[28]`).
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// ipvsadm's service order (`ipvs_cmp_services`): fwmark, family, protocol, address, port.
/// ipvsadm subtracts 32-bit words into an int, which misorders addresses more than 2^31
/// apart; rvs compares them as numbers (a consistent order is needed to sort safely).
pub fn cmp_services(a: &ServiceSpec, b: &ServiceSpec) -> Ordering {
    fn key(s: &ServiceSpec) -> (u32, bool, u8, IpAddr, u16) {
        match s.key {
            ServiceKey::Inet {
                protocol,
                addr,
                port,
            } => (0, addr.is_ipv6(), protocol.number(), addr, port),
            ServiceKey::Fwmark { mark, ipv6 } => (
                mark,
                ipv6,
                Protocol::Tcp.number(),
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                0,
            ),
        }
    }
    key(a).cmp(&key(b))
}

/// ipvsadm's real-server order (`ipvs_cmp_dests`): address, then port.
pub fn cmp_dests(a: &DestSpec, b: &DestSpec) -> Ordering {
    (a.addr, a.port).cmp(&(b.addr, b.port))
}

fn sched_flags_text(spec: &ServiceSpec) -> String {
    let f = spec.sched_flags;
    let mut names = Vec::new();
    let bit_names: [(u8, &str); 3] = match spec.scheduler.as_str() {
        "sh" => [
            (SCHED_FLAG_1, "sh-fallback"),
            (SCHED_FLAG_2, "sh-port"),
            (0, ""),
        ],
        "mh" => [
            (SCHED_FLAG_1, "mh-fallback"),
            (SCHED_FLAG_2, "mh-port"),
            (0, ""),
        ],
        _ => [
            (SCHED_FLAG_1, "flag-1"),
            (SCHED_FLAG_2, "flag-2"),
            (SCHED_FLAG_3, "flag-3"),
        ],
    };
    for (bit, name) in bit_names {
        if bit != 0 && f & bit != 0 {
            names.push(name);
        }
    }
    names.join(",")
}

fn fwd_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "Masq",
        Forward::Tunnel => "Tunnel",
        Forward::Route => "Route",
        // rvs extension; ipvsadm has no name for it.
        Forward::FullNat => "FullNat",
    }
}

fn fwd_switch(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "-m",
        Forward::Tunnel => "-i",
        Forward::Route => "-g",
        Forward::FullNat => "--fullnat",
    }
}

fn tun_flag_name(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "-c",
        TunnelCsum::Csum => "+c",
        TunnelCsum::RemCsum => "r+c",
    }
}

fn tun_flag_opt(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "--tun-nocsum",
        TunnelCsum::Csum => "--tun-csum",
        TunnelCsum::RemCsum => "--tun-remcsum",
    }
}

/// `fwd_tun_info()`: only tunnel servers have one; ipvsadm's buffer holds 15 characters.
fn tun_info(d: &DestSpec) -> Option<String> {
    if d.forward != Forward::Tunnel {
        return None;
    }
    let s = match d.tun_type {
        TunnelType::Ipip => "ipip".to_string(),
        TunnelType::Gue => format!("gue:{}:{}", d.tun_port, tun_flag_name(d.tun_csum)),
        TunnelType::Gre => format!("gre:{}", tun_flag_name(d.tun_csum)),
    };
    Some(cut(s, 15))
}

fn service_proto(spec: &ServiceSpec) -> Option<Protocol> {
    match spec.key {
        ServiceKey::Inet { protocol, .. } => Some(protocol),
        ServiceKey::Fwmark { .. } => None,
    }
}

/// `print_title()`.
pub fn title(f: &ListFormat) -> &'static str {
    if f.stats {
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n"
    } else if f.rate {
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  -> RemoteAddress:Port\n"
    } else if f.thresholds {
        "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n  -> RemoteAddress:Port\n"
    } else if f.persistent_conn {
        "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n  -> RemoteAddress:Port\n"
    } else if f.tun_info {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
    } else {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    }
}

/// `print_service_entry()` for a listing (not `-S`).
pub fn service_entry(
    out: &mut String,
    se: &ServiceEntry,
    f: &ListFormat,
    names: &dyn ReverseResolver,
) {
    let spec = &se.spec;
    let proto = service_proto(spec);
    let svc_name = match spec.key {
        ServiceKey::Fwmark { mark, ipv6: true } => format!("FWM  {mark} IPv6"),
        ServiceKey::Fwmark { mark, ipv6: false } => format!("FWM  {mark}"),
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            let vname = addrport(addr, port, Some(protocol), f.numeric, names);
            let s = format!("{:<4} {}", protocol.name(), vname);
            if addr.is_ipv4() {
                cut(s, 33)
            } else {
                s
            }
        }
    };
    let num = |v: u64| largenum(v, f.exact);
    if f.stats {
        let s = &se.stats;
        let _ = write!(
            out,
            "{}{}{}{}{}{}",
            pad(&svc_name, 33),
            num(s.conns),
            num(s.inpkts),
            num(s.outpkts),
            num(s.inbytes),
            num(s.outbytes)
        );
    } else if f.rate {
        let r = &se.rates;
        let _ = write!(
            out,
            "{}{}{}{}{}{}",
            pad(&svc_name, 33),
            num(r.cps),
            num(r.inpps),
            num(r.outpps),
            num(r.inbps),
            num(r.outbps)
        );
    } else {
        let _ = write!(out, "{svc_name} {}", spec.scheduler);
        if spec.sched_flags & (SCHED_FLAG_1 | SCHED_FLAG_2 | SCHED_FLAG_3) != 0 {
            let _ = write!(out, " ({})", sched_flags_text(spec));
        }
        if let Some(timeout) = spec.persistence {
            let _ = write!(out, " persistent {timeout}");
            if let Some(m) = persistence_mask(spec) {
                let _ = write!(out, " mask {m}");
            }
            if let Some(pe) = &spec.pe {
                let _ = write!(out, " pe {pe}");
            }
        }
        if spec.one_packet {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    for d in sorted_dests(se, f.nosort) {
        let ds = &d.spec;
        let dname = addrport(ds.addr, ds.port, proto, f.numeric, names);
        let dname = pad(
            &if ds.addr.is_ipv4() {
                cut(dname, 28)
            } else {
                dname
            },
            28,
        );
        if f.stats {
            let s = &d.stats;
            let _ = writeln!(
                out,
                "  -> {dname}{}{}{}{}{}",
                num(s.conns),
                num(s.inpkts),
                num(s.outpkts),
                num(s.inbytes),
                num(s.outbytes)
            );
        } else if f.rate {
            let r = &d.rates;
            // ipvsadm prints the packet rates plainly and scales only the byte rates.
            let _ = writeln!(
                out,
                "  -> {dname} {:>8} {:>8} {:>8}{}{}",
                r.cps,
                r.inpps,
                r.outpps,
                num(r.inbps),
                num(r.outbps)
            );
        } else if f.thresholds {
            let _ = writeln!(
                out,
                "  -> {dname} {:<10} {:<10} {:<10} {:<10}",
                ds.u_threshold, ds.l_threshold, d.active_conns, d.inact_conns
            );
        } else if f.persistent_conn {
            let _ = writeln!(
                out,
                "  -> {dname} {:<9} {:<11} {:<10} {:<10}",
                ds.weight, d.persist_conns, d.active_conns, d.inact_conns
            );
        } else if f.tun_info {
            let ti = tun_info(ds).unwrap_or_else(|| "n/a".to_string());
            let _ = writeln!(
                out,
                "  -> {dname} {:<7} {:<13} {:<6} {:<10} {:<10}",
                fwd_name(ds.forward),
                ti,
                ds.weight,
                d.active_conns,
                d.inact_conns
            );
        } else {
            let _ = writeln!(
                out,
                "  -> {dname} {:<7} {:<6} {:<10} {:<10}",
                fwd_name(ds.forward),
                ds.weight,
                d.active_conns,
                d.inact_conns
            );
        }
    }
}

fn sorted_dests(se: &ServiceEntry, nosort: bool) -> Vec<&DestEntry> {
    let mut v: Vec<&DestEntry> = se.dests.iter().collect();
    if !nosort {
        v.sort_by(|a, b| cmp_dests(&a.spec, &b.spec));
    }
    v
}

fn sorted_services(t: &Table, nosort: bool) -> Vec<&ServiceEntry> {
    let mut v: Vec<&ServiceEntry> = t.services.iter().collect();
    if !nosort {
        v.sort_by(|a, b| cmp_services(&a.spec, &b.spec));
    }
    v
}

/// `list_all()` for `-L`: header, title, every service.
pub fn list_all(t: &Table, f: &ListFormat, names: &dyn ReverseResolver) -> String {
    let mut out = header(t.size);
    out.push_str(title(f));
    for se in sorted_services(t, f.nosort) {
        service_entry(&mut out, se, f, names);
    }
    out
}

/// `list_service()` for `-L -t ...`: title and the one service, no header.
pub fn list_service(se: &ServiceEntry, f: &ListFormat, names: &dyn ReverseResolver) -> String {
    let mut out = title(f).to_string();
    service_entry(&mut out, se, f, names);
    out
}

/// The `-S` spelling of a service selector.
fn rule_service(spec: &ServiceSpec, numeric: bool, names: &dyn ReverseResolver) -> String {
    match spec.key {
        ServiceKey::Fwmark { mark, ipv6: true } => format!("-f {mark} -6"),
        ServiceKey::Fwmark { mark, ipv6: false } => format!("-f {mark}"),
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => format!(
            "{} {}",
            protocol.option(),
            addrport(addr, port, Some(protocol), numeric, names)
        ),
    }
}

/// `list_all(FMT_RULE)` for `-S [-n]`: one `-A` line per service, one `-a` per server.
pub fn save(t: &Table, numeric: bool, names: &dyn ReverseResolver) -> String {
    let mut out = String::new();
    for se in sorted_services(t, false) {
        let spec = &se.spec;
        let svc = rule_service(spec, numeric, names);
        let _ = write!(out, "-A {svc} -s {}", spec.scheduler);
        if let Some(timeout) = spec.persistence {
            let _ = write!(out, " -p {timeout}");
            if let Some(m) = persistence_mask(spec) {
                let _ = write!(out, " -M {m}");
            }
        }
        if let Some(pe) = &spec.pe {
            let _ = write!(out, " --pe {pe}");
        }
        if spec.one_packet {
            out.push_str(" -o");
        }
        if spec.sched_flags & (SCHED_FLAG_1 | SCHED_FLAG_2 | SCHED_FLAG_3) != 0 {
            let _ = write!(out, " -b {}", sched_flags_text(spec));
        }
        // rvs extension, after everything ipvsadm prints so its part stays identical.
        for l in &spec.laddrs {
            let _ = write!(out, " --laddr {}", inet_ntop(*l));
        }
        out.push('\n');
        let proto = service_proto(spec);
        for d in sorted_dests(se, false) {
            let ds = &d.spec;
            let dname = addrport(ds.addr, ds.port, proto, numeric, names);
            // ipvsadm saves neither -x nor -y; neither does rvs, to stay byte-identical.
            let _ = write!(
                out,
                "-a {svc} -r {dname} {} -w {}",
                fwd_switch(ds.forward),
                ds.weight
            );
            if ds.forward == Forward::Tunnel {
                let _ = write!(out, " --tun-type {}", ds.tun_type.name());
                match ds.tun_type {
                    TunnelType::Ipip => {}
                    TunnelType::Gue => {
                        let _ = write!(
                            out,
                            " --tun-port {} {}",
                            ds.tun_port,
                            tun_flag_opt(ds.tun_csum)
                        );
                    }
                    TunnelType::Gre => {
                        let _ = write!(out, " {}", tun_flag_opt(ds.tun_csum));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

/// `list_conn()` / `print_conn()` for `-Lc [-n] [--persistent-conn]`.
pub fn list_conns(conns: &[ConnEntry], f: &ListFormat, names: &dyn ReverseResolver) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if f.persistent_conn {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for c in conns {
        let proto_name = c.protocol.map_or("IP", Protocol::name);
        let cname = pad(
            &addrport(c.caddr, c.cport, c.protocol, f.numeric, names),
            18,
        );
        let vname = pad(
            &addrport(c.vaddr, c.vport, c.protocol, f.numeric, names),
            18,
        );
        let dname = addrport(c.daddr, c.dport, c.protocol, f.numeric, names);
        let state = pad(&c.state, 11);
        let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
        match (&c.pe, f.persistent_conn) {
            (Some((pe_name, pe_data)), true) => {
                let _ = writeln!(
                    out,
                    "{proto_name:<3} {expire:<6} {state} {cname} {vname} {} {} {pe_data}",
                    pad(&dname, 16),
                    pad(pe_name, 18)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{proto_name:<3} {expire:<6} {state} {cname} {vname} {dname}"
                );
            }
        }
    }
    out
}

/// `list_timeout()`.
pub fn list_timeout(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp, t.tcp_fin, t.udp
    )
}

/// `list_daemon()`: one line per running sync daemon; zero fields are left out as the
/// kernel's "unset".
pub fn list_daemon(daemons: &[DaemonSpec]) -> String {
    let mut out = String::new();
    for d in daemons {
        let _ = write!(
            out,
            "{} sync daemon (mcast={}, syncid={}",
            d.state.name(),
            d.mcast_ifn,
            d.syncid
        );
        if d.sync_maxlen != 0 {
            let _ = write!(out, ", maxlen={}", d.sync_maxlen);
        }
        if let Some(g) = d.mcast_group {
            let _ = write!(out, ", group={}", inet_ntop(g));
        }
        if d.mcast_port != 0 {
            let _ = write!(out, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(out, ", ttl={}", d.mcast_ttl);
        }
        out.push_str(")\n");
    }
    out
}
