//! ipvsadm's command line, parsed the way ipvsadm 1.31 parses it: popt-style option
//! scanning (clusters such as `-Ln`, `-p` with an optional value, positional arguments
//! collected anywhere), the first option must be the command, options are applied in order
//! (so errors come out in ipvsadm's order), then the `commands_v_options` table, then the
//! per-command checks. Messages and exit codes are ipvsadm's.

use crate::cmd::*;
use crate::resolve::{Resolver, StdResolver};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// ipvsadm's MAX_TIMEOUT: 31 days.
pub const MAX_TIMEOUT: u32 = 86400 * 31;
/// IPVS_SVC_PERSISTENT_TIMEOUT: what `-p` without a value means.
pub const DEFAULT_PERSISTENCE: u32 = 300;
pub const DEFAULT_SCHEDULER: &str = "wlc";
pub const DEFAULT_MCAST_IFN: &str = "eth0";

/// A rejected command line: the text ipvsadm prints on stderr (without the final newline)
/// and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub exit_code: i32,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// `fail(2, ...)` in ipvsadm.
fn fail<T>(message: impl Into<String>) -> Result<T, CliError> {
    Err(CliError {
        message: message.into(),
        exit_code: 2,
    })
}

/// `tryhelp_exit(program, -1)`: exit(-1) is status 255.
fn tryhelp<T>(program: &str) -> Result<T, CliError> {
    Err(CliError {
        message: format!("Try `{program} -h' or '{program} --help' for more information."),
        exit_code: 255,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    AddService,
    EditService,
    DelService,
    Clear,
    List,
    Zero,
    AddServer,
    EditServer,
    DelServer,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Scheduler,
    Persistent,
    Netmask,
    RealServer,
    Masq,
    Ipip,
    Gatewaying,
    Weight,
    UThreshold,
    LThreshold,
    Numeric,
    Connection,
    McastInterface,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
    // rvs extensions: long options only, so they cannot clash with ipvsadm's.
    FullNat,
    Laddr,
    FwmarkRule,
    DelFwmarkRule,
    VsSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    No,
    Required,
    Optional,
}

struct OptDef {
    long: &'static str,
    short: Option<char>,
    arg: Arg,
    tag: Tag,
}

const fn o(long: &'static str, short: Option<char>, arg: Arg, tag: Tag) -> OptDef {
    OptDef {
        long,
        short,
        arg,
        tag,
    }
}

/// ipvsadm's popt table, plus the rvs extensions at the end.
static OPTIONS: &[OptDef] = &[
    o("add-service", Some('A'), Arg::No, Tag::AddService),
    o("edit-service", Some('E'), Arg::No, Tag::EditService),
    o("delete-service", Some('D'), Arg::No, Tag::DelService),
    o("clear", Some('C'), Arg::No, Tag::Clear),
    o("list", Some('L'), Arg::No, Tag::List),
    o("list", Some('l'), Arg::No, Tag::List),
    o("zero", Some('Z'), Arg::No, Tag::Zero),
    o("add-server", Some('a'), Arg::No, Tag::AddServer),
    o("edit-server", Some('e'), Arg::No, Tag::EditServer),
    o("delete-server", Some('d'), Arg::No, Tag::DelServer),
    o("set", None, Arg::No, Tag::Set),
    o("help", Some('h'), Arg::No, Tag::Help),
    o("version", Some('v'), Arg::No, Tag::Version),
    o("restore", Some('R'), Arg::No, Tag::Restore),
    o("save", Some('S'), Arg::No, Tag::Save),
    o("start-daemon", None, Arg::Required, Tag::StartDaemon),
    o("stop-daemon", None, Arg::Required, Tag::StopDaemon),
    o("tcp-service", Some('t'), Arg::Required, Tag::Tcp),
    o("udp-service", Some('u'), Arg::Required, Tag::Udp),
    o("sctp-service", None, Arg::Required, Tag::Sctp),
    o("fwmark-service", Some('f'), Arg::Required, Tag::Fwmark),
    o("scheduler", Some('s'), Arg::Required, Tag::Scheduler),
    o("persistent", Some('p'), Arg::Optional, Tag::Persistent),
    o("netmask", Some('M'), Arg::Required, Tag::Netmask),
    o("real-server", Some('r'), Arg::Required, Tag::RealServer),
    o("masquerading", Some('m'), Arg::No, Tag::Masq),
    o("ipip", Some('i'), Arg::No, Tag::Ipip),
    o("gatewaying", Some('g'), Arg::No, Tag::Gatewaying),
    o("weight", Some('w'), Arg::Required, Tag::Weight),
    o("u-threshold", Some('x'), Arg::Required, Tag::UThreshold),
    o("l-threshold", Some('y'), Arg::Required, Tag::LThreshold),
    o("numeric", Some('n'), Arg::No, Tag::Numeric),
    o("connection", Some('c'), Arg::No, Tag::Connection),
    o("mcast-interface", None, Arg::Required, Tag::McastInterface),
    o("syncid", None, Arg::Required, Tag::SyncId),
    o("timeout", None, Arg::No, Tag::Timeout),
    o("daemon", None, Arg::No, Tag::Daemon),
    o("stats", None, Arg::No, Tag::Stats),
    o("rate", None, Arg::No, Tag::Rate),
    o("thresholds", None, Arg::No, Tag::Thresholds),
    o("persistent-conn", None, Arg::No, Tag::PersistentConn),
    o("nosort", None, Arg::No, Tag::NoSort),
    o("sort", None, Arg::No, Tag::Sort),
    o("exact", Some('X'), Arg::No, Tag::Exact),
    o("ipv6", Some('6'), Arg::No, Tag::Ipv6),
    o("ops", Some('o'), Arg::No, Tag::Ops),
    o("pe", None, Arg::Required, Tag::Pe),
    o("sched-flags", Some('b'), Arg::Required, Tag::SchedFlags),
    o("mcast-group", None, Arg::Required, Tag::McastGroup),
    o("mcast-port", None, Arg::Required, Tag::McastPort),
    o("mcast-ttl", None, Arg::Required, Tag::McastTtl),
    o("sync-maxlen", None, Arg::Required, Tag::SyncMaxlen),
    o("tun-info", None, Arg::No, Tag::TunInfo),
    o("tun-type", None, Arg::Required, Tag::TunType),
    o("tun-port", None, Arg::Required, Tag::TunPort),
    o("tun-nocsum", None, Arg::No, Tag::TunNocsum),
    o("tun-csum", None, Arg::No, Tag::TunCsum),
    o("tun-remcsum", None, Arg::No, Tag::TunRemcsum),
    o("fullnat", None, Arg::No, Tag::FullNat),
    o("laddr", None, Arg::Required, Tag::Laddr),
    o("fwmark-rule", None, Arg::Required, Tag::FwmarkRule),
    o("del-fwmark-rule", None, Arg::Required, Tag::DelFwmarkRule),
    o("vs-set", None, Arg::Required, Tag::VsSet),
];

enum PoptError {
    BadOption(String),
    NoArgument(String),
    UnwantedArgument(String),
}

impl PoptError {
    /// What ipvsadm prints for an error inside the option loop: "%s: %s" with
    /// poptBadOption() and poptStrerror(); process_options() then returns -1 (status 255).
    fn into_cli(self) -> CliError {
        let message = match self {
            PoptError::BadOption(o) => format!("{o}: unknown option"),
            PoptError::NoArgument(o) => format!("{o}: missing argument"),
            PoptError::UnwantedArgument(o) => format!("{o}: option does not take an argument"),
        };
        CliError {
            message,
            exit_code: 255,
        }
    }
}

/// A small popt: yields options in order and keeps non-option arguments for later.
struct Popt<'a> {
    args: &'a [String],
    next: usize,
    /// Index of a short-option cluster being read, and the byte offset in it.
    cluster: Option<(usize, usize)>,
    only_positional: bool,
    leftovers: Vec<String>,
}

impl<'a> Popt<'a> {
    fn new(args: &'a [String]) -> Self {
        Popt {
            args,
            next: 1,
            cluster: None,
            only_positional: false,
            leftovers: Vec::new(),
        }
    }

    fn take_next(&mut self) -> Option<String> {
        let a = self.args.get(self.next)?.clone();
        self.next += 1;
        Some(a)
    }

    fn next_opt(&mut self) -> Result<Option<(Tag, Option<String>)>, PoptError> {
        loop {
            if let Some((i, off)) = self.cluster.take() {
                let s = &self.args[i];
                let Some(c) = s[off..].chars().next() else {
                    continue;
                };
                let after = off + c.len_utf8();
                let Some(def) = OPTIONS.iter().find(|d| d.short == Some(c)) else {
                    return Err(PoptError::BadOption(s.clone()));
                };
                let rest = (after < s.len()).then(|| s[after..].to_string());
                let arg = match def.arg {
                    Arg::No => {
                        if let Some(r) = rest {
                            // popt refuses "-n=x" rather than reading '=' as an option.
                            if r.starts_with('=') {
                                return Err(PoptError::UnwantedArgument(s.clone()));
                            }
                            self.cluster = Some((i, after));
                        }
                        None
                    }
                    // The rest of the cluster is the value; popt skips one '=' ("-w=1").
                    Arg::Required | Arg::Optional if rest.is_some() => {
                        rest.map(|r| r.strip_prefix('=').map(str::to_string).unwrap_or(r))
                    }
                    Arg::Required => match self.take_next() {
                        Some(a) => Some(a),
                        None => return Err(PoptError::NoArgument(s.clone())),
                    },
                    Arg::Optional => self.take_optional(),
                };
                return Ok(Some((def.tag, arg)));
            }
            let Some(s) = self.take_next() else {
                return Ok(None);
            };
            if self.only_positional {
                self.leftovers.push(s);
            } else if s == "--" {
                self.only_positional = true;
            } else if let Some(long) = s.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let Some(def) = OPTIONS.iter().find(|d| d.long == name) else {
                    return Err(PoptError::BadOption(s.clone()));
                };
                let arg = match def.arg {
                    Arg::No if inline.is_some() => {
                        return Err(PoptError::UnwantedArgument(s.clone()))
                    }
                    Arg::No => None,
                    Arg::Required => match inline.or_else(|| self.take_next()) {
                        Some(a) => Some(a),
                        None => return Err(PoptError::NoArgument(s.clone())),
                    },
                    Arg::Optional => inline.or_else(|| self.take_optional()),
                };
                return Ok(Some((def.tag, arg)));
            } else if s.len() > 1 && s.starts_with('-') {
                self.cluster = Some((self.next - 1, 1));
            } else {
                self.leftovers.push(s);
            }
        }
    }

    /// popt's optional argument: the next word, unless it looks like an option.
    fn take_optional(&mut self) -> Option<String> {
        match self.args.get(self.next) {
            Some(a) if !a.starts_with('-') => self.take_next(),
            _ => None,
        }
    }

    /// poptBadOption(): the last word popt consumed.
    fn bad_token(&self) -> String {
        self.args
            .get(self.next.saturating_sub(1))
            .cloned()
            .unwrap_or_default()
    }

    fn next_leftover(&mut self) -> Option<String> {
        if self.leftovers.is_empty() {
            None
        } else {
            Some(self.leftovers.remove(0))
        }
    }
}

/// ipvsadm's commands, in the order of its `cmdnames` table, then rvs's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
    AddFwmarkRule,
    DelFwmarkRule,
    VsSet,
}

const CMD_NAMES: [&str; 17] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
    "add-fwmark-rule",
    "del-fwmark-rule",
    "vs-set",
];

// Option columns, in ipvsadm's OPTC_* order; rvs's `laddr` is appended last.
const OPT_NUMERIC: usize = 0;
const OPT_CONNECTION: usize = 1;
const OPT_SERVICE: usize = 2;
const OPT_SCHEDULER: usize = 3;
const OPT_PERSISTENT: usize = 4;
const OPT_NETMASK: usize = 5;
const OPT_SERVER: usize = 6;
const OPT_FORWARD: usize = 7;
const OPT_WEIGHT: usize = 8;
const OPT_UTHRESHOLD: usize = 9;
const OPT_LTHRESHOLD: usize = 10;
const OPT_MCAST: usize = 11;
const OPT_TIMEOUT: usize = 12;
const OPT_DAEMON: usize = 13;
const OPT_STATS: usize = 14;
const OPT_RATE: usize = 15;
const OPT_THRESHOLDS: usize = 16;
const OPT_PERSISTENTCONN: usize = 17;
const OPT_NOSORT: usize = 18;
const OPT_SYNCID: usize = 19;
const OPT_EXACT: usize = 20;
const OPT_ONEPACKET: usize = 21;
const OPT_PE: usize = 22;
const OPT_SCHED_FLAGS: usize = 23;
const OPT_MCAST_GROUP: usize = 24;
const OPT_MCAST_PORT: usize = 25;
const OPT_MCAST_TTL: usize = 26;
const OPT_SYNC_MAXLEN: usize = 27;
const OPT_TUN_INFO: usize = 28;
const OPT_TUN_TYPE: usize = 29;
const OPT_TUN_PORT: usize = 30;
const OPT_TUN_NOCSUM: usize = 31;
const OPT_TUN_CSUM: usize = 32;
const OPT_TUN_REMCSUM: usize = 33;
const OPT_LADDR: usize = 34;
const NUMBER_OF_OPT: usize = 35;

const OPT_NAMES: [&str; NUMBER_OF_OPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "laddr",
];

/// Which options each command takes, column for column as ipvsadm's `commands_v_options`
/// ('+' compulsory, 'x' illegal, '1' at most one of the '1's, ' ' optional), with the
/// `laddr` column added and rows for rvs's own commands, which take no options.
const COMMANDS_V_OPTIONS: [&[u8; NUMBER_OF_OPT]; 17] = [
    //-n-c svc -s -p -M -r fwd -w -x -y mc tot dmn st rt thr pc srt sid ex ops pe -b grp port ttl size tinf type tprt nocs csum remc laddr
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx ", // add-service
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx ", // edit-service
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-service
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // flush
    b" 11xxxxxxxxx11       xxxxxxx xxxxxx", // list
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     x", // add-server
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-server
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     x", // edit-server
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // set
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxxx", // start-daemon
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxxx", // stop-daemon
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // restore
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // save
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // zero
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // add-fwmark-rule
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // del-fwmark-rule
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // vs-set
];

/// `generic_opt_check()`: walks the columns in order, so the first offending column names
/// the error, as in ipvsadm.
fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), CliError> {
    let i = cmd as usize;
    let row = COMMANDS_V_OPTIONS[i];
    let mut last: Option<usize> = None;
    for (j, &rule) in row.iter().enumerate() {
        if options & (1 << j) == 0 {
            if rule == b'+' {
                return fail(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPT_NAMES[j], CMD_NAMES[i]
                ));
            }
        } else {
            if rule == b'x' {
                return fail(format!(
                    "Illegal '{}' option with the '{}' command",
                    OPT_NAMES[j], CMD_NAMES[i]
                ));
            }
            if rule == b'1' {
                match last {
                    None => last = Some(j),
                    Some(l) => {
                        return fail(format!(
                            "The option '{}' conflicts with the '{}' option in the '{}' command",
                            OPT_NAMES[j], OPT_NAMES[l], CMD_NAMES[i]
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

/// `tunnel_types_v_options`: columns tun-port, tun-nocsum, tun-csum, tun-remcsum.
const TUNNEL_OPTS: [usize; 4] = [OPT_TUN_PORT, OPT_TUN_NOCSUM, OPT_TUN_CSUM, OPT_TUN_REMCSUM];

fn tunnel_opt_check(tun: TunnelType, options: u64) -> Result<(), CliError> {
    let row: &[u8; 4] = match tun {
        TunnelType::Ipip => b"xxxx",
        TunnelType::Gue => b"+111",
        TunnelType::Gre => b"x11x",
    };
    let mut last: Option<usize> = None;
    for (j, &rule) in row.iter().enumerate() {
        let k = TUNNEL_OPTS[j];
        if options & (1 << k) == 0 {
            if rule == b'+' {
                return fail(format!(
                    "You need to supply the '{}' option for the '{}' tunnel type",
                    OPT_NAMES[k],
                    tun.name()
                ));
            }
        } else {
            if rule == b'x' {
                return fail(format!(
                    "Illegal '{}' option with the '{}' tunnel type",
                    OPT_NAMES[k],
                    tun.name()
                ));
            }
            if rule == b'1' {
                match last {
                    None => last = Some(k),
                    Some(l) => {
                        return fail(format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                        OPT_NAMES[k],
                        OPT_NAMES[l],
                        tun.name()
                    ))
                    }
                }
            }
        }
    }
    Ok(())
}

/// C's `strtol(s, &end, 10)` followed by ipvsadm's "whole string, in range" test
/// (`string_to_number()`); `None` is its -1.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let n = strtol_full(s)?;
    (min <= n && n <= max).then_some(n)
}

/// strtol over the whole string: leading C whitespace, a sign, decimal digits, nothing
/// after; out-of-range (ERANGE) counts as failure.
fn strtol_full(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = v * 10 + i128::from(b - b'0');
        if v > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// C's `atoi()`: leading whitespace, a sign, as many digits as there are; 0 otherwise.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for b in rest.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// glibc's `inet_aton()`: one to four parts in C notation (0x hex, 0 octal), the last part
/// filling the remaining bytes; trailing whitespace ends the address.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let s = s
        .split([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
        .next()
        .unwrap_or("");
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(4);
    for p in &parts {
        if !p.as_bytes().first()?.is_ascii_digit() {
            return None;
        }
        let v = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        vals.push(v);
    }
    let (last, head) = vals.split_last()?;
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let last_max: u64 = match head.len() {
        0 => 0xffff_ffff,
        1 => 0xff_ffff,
        2 => 0xffff,
        _ => 0xff,
    };
    if *last > last_max {
        return None;
    }
    let mut addr: u64 = *last;
    for (i, v) in head.iter().enumerate() {
        addr |= v << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(addr as u32))
}

/// What `parse_service()` found: an address and, if one was written, a port.
struct HostPort {
    addr: IpAddr,
    port: Option<u16>,
}

/// `parse_service()`: `host[:port]`, `[v6]:port` or a bare IPv6 address. `None` is
/// SERVICE_NONE. Host names are IPv4-only, as with gethostbyname in ipvsadm.
fn parse_service(buf: &str, proto: Option<Protocol>, resolver: &dyn Resolver) -> Option<HostPort> {
    // str_is_digit() is true for the empty string too.
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut host = buf;
    let mut port_str: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let (h, after) = inner.split_once(']')?;
        port_str = Some(after.strip_prefix(':')?);
        host = h;
    }
    let addr = if let Ok(a6) = host.parse::<Ipv6Addr>() {
        IpAddr::V6(a6)
    } else {
        // ipvsadm looks for the port again from here: for "[1.2.3.4]:80" the string is
        // already cut at ']', so no port is found, and that is what ipvsadm does.
        port_str = None;
        if let Some((h, p)) = host.rsplit_once(':') {
            host = h;
            port_str = Some(p);
        }
        if let Some(a) = inet_aton(host) {
            IpAddr::V4(a)
        } else {
            match resolver.resolve_host(host) {
                Some(a @ IpAddr::V4(_)) => a,
                _ => return None,
            }
        }
    };
    let port = match port_str {
        None => None,
        Some(p) => Some(match string_to_number(p, 0, 65535) {
            Some(n) => n as u16,
            None => resolver.resolve_service(p, proto?)?,
        }),
    };
    Some(HostPort { addr, port })
}

/// `parse_timeout()`.
fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, CliError> {
    match buf {
        None => Ok(DEFAULT_PERSISTENCE),
        Some(b) => match string_to_number(b, min, max) {
            Some(n) => Ok(n as u32),
            None => fail(format!("invalid timeout value `{b}' specified")),
        },
    }
}

/// `parse_fwmark()`.
fn parse_fwmark(buf: &str) -> Result<u32, CliError> {
    match strtol_full(buf) {
        Some(l) if l > 0 && l <= i64::from(u32::MAX) => Ok(l as u32),
        _ => fail(format!("invalid fwmark value `{buf}' specified")),
    }
}

/// `parse_sched_flags()`: names depend on the scheduler, as in ipvsadm.
fn parse_sched_flags(sched: &str, arg: &str) -> Result<u8, CliError> {
    let sched = if sched.is_empty() {
        DEFAULT_SCHEDULER
    } else {
        sched
    };
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let (bit, needs) = match flag {
            "flag-1" => (SCHED_FLAG_1, None),
            "flag-2" => (SCHED_FLAG_2, None),
            "flag-3" => (SCHED_FLAG_3, None),
            "sh-fallback" => (SCHED_FLAG_1, Some("sh")),
            "sh-port" => (SCHED_FLAG_2, Some("sh")),
            "mh-fallback" => (SCHED_FLAG_1, Some("mh")),
            "mh-port" => (SCHED_FLAG_2, Some("mh")),
            _ => return fail(format!("invalid scheduler flag `{flag}'")),
        };
        if needs.is_some_and(|n| n != sched) {
            return fail(format!("incompatible scheduler flag `{flag}'"));
        }
        flags |= bit;
    }
    if !any {
        // ipvsadm dereferences a NULL strtok() result here and crashes; say why instead.
        return fail(format!("invalid scheduler flag `{arg}'"));
    }
    Ok(flags)
}

/// rvs extension: `proto,addr[/prefix],port[-port],mark`.
pub fn parse_fwmark_rule(spec: &str) -> Result<FwmarkRule, CliError> {
    let bad = || fail(format!("illegal fwmark rule `{spec}' specified"));
    let fields: Vec<&str> = spec.split(',').collect();
    let [proto, addr, ports, mark] = fields[..] else {
        return bad();
    };
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => return bad(),
    };
    let (a, prefix) = match addr.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (addr, None),
    };
    let Ok(addr) = a.parse::<IpAddr>() else {
        return bad();
    };
    let max_prefix = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max_prefix,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max_prefix => p,
            _ => return bad(),
        },
    };
    let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
    let (Ok(port_lo), Ok(port_hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
        return bad();
    };
    if port_lo > port_hi {
        return bad();
    }
    let Ok(mark) = mark.parse::<u32>() else {
        return bad();
    };
    if mark == 0 {
        return bad();
    }
    Ok(FwmarkRule {
        protocol,
        addr,
        prefix,
        port_lo,
        port_hi,
        mark,
    })
}

/// rvs extension: `name=value`.
fn parse_vs_set(spec: &str) -> Result<(VsSetting, u32), CliError> {
    let Some((name, value)) = spec.split_once('=') else {
        return fail(format!("illegal vs-set `{spec}' specified, use name=value"));
    };
    let Some(setting) = VsSetting::from_name(name) else {
        return fail(format!("unknown vs setting `{name}'"));
    };
    match string_to_number(value, 0, i64::from(setting.max())) {
        Some(v) => Ok((setting, v as u32)),
        None => fail(format!("illegal value `{value}' for {name}")),
    }
}

/// Truncates as strncpy into a fixed C buffer would, on a char boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// ipvsadm's `struct ipvs_command_entry`, filled as options arrive.
struct Entry {
    cmd: Option<Cmd>,
    protocol: Option<Protocol>,
    ipv6: bool,
    svc_addr: Option<IpAddr>,
    svc_port: u16,
    fwmark: u32,
    scheduler: String,
    persistence: Option<u32>,
    netmask_v4: Ipv4Addr,
    netmask_v6: u8,
    pe: Option<String>,
    one_packet: bool,
    laddrs: Vec<IpAddr>,
    dest_addr: Option<IpAddr>,
    dest_port: u16,
    forward: Forward,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: TunnelType,
    tun_port: u16,
    tun_flags: u8,
    sync_state: SyncState,
    mcast_ifn: String,
    syncid: u8,
    sync_maxlen: u16,
    mcast_group: Option<IpAddr>,
    mcast_port: u16,
    mcast_ttl: u8,
    fwmark_rule: Option<FwmarkRule>,
    vs_set: Option<(VsSetting, u32)>,
}

impl Entry {
    fn new() -> Self {
        Entry {
            cmd: None,
            protocol: None,
            ipv6: false,
            svc_addr: None,
            svc_port: 0,
            fwmark: 0,
            scheduler: String::new(),
            persistence: None,
            netmask_v4: Ipv4Addr::BROADCAST,
            netmask_v6: 128,
            pe: None,
            one_packet: false,
            laddrs: Vec::new(),
            dest_addr: None,
            dest_port: 0,
            forward: Forward::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunnelType::Ipip,
            tun_port: 0,
            tun_flags: 0,
            sync_state: SyncState::Master,
            mcast_ifn: String::new(),
            syncid: 0,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0,
            fwmark_rule: None,
            vs_set: None,
        }
    }

    fn service_key(&self) -> Option<ServiceKey> {
        if self.fwmark != 0 {
            return Some(ServiceKey::Fwmark {
                mark: self.fwmark,
                ipv6: self.ipv6,
            });
        }
        Some(ServiceKey::Inet {
            protocol: self.protocol?,
            addr: self.svc_addr?,
            port: self.svc_port,
        })
    }

    fn netmask(&self) -> Netmask {
        if self.ipv6 {
            Netmask::V6(self.netmask_v6)
        } else {
            Netmask::V4(self.netmask_v4)
        }
    }
}

/// `set_option()`: each option once (rvs's repeatable `--laddr` excepted).
fn set_option(options: &mut u64, optc: usize) -> Result<(), CliError> {
    let bit = 1u64 << optc;
    if *options & bit != 0 && optc != OPT_LADDR {
        return fail(format!("multiple '{}' options specified", OPT_NAMES[optc]));
    }
    *options |= bit;
    Ok(())
}

/// Parses an ipvsadm command line (`args[0]` is the program name, used in messages) with
/// the system resolver.
pub fn parse(args: &[String]) -> Result<Command, CliError> {
    parse_with(args, &StdResolver)
}

/// Parses an ipvsadm command line with the given resolver.
pub fn parse_with(args: &[String], resolver: &dyn Resolver) -> Result<Command, CliError> {
    let program = args.first().map(String::as_str).unwrap_or("ipvsadm");
    // ipvsadm with no argument lists the table.
    if args.len() <= 1 {
        return Ok(Command::List(ListSpec {
            target: ListTarget::All,
            format: ListFormat::default(),
        }));
    }
    let mut popt = Popt::new(args);
    let mut ce = Entry::new();
    let mut options: u64 = 0;
    let mut format = ListFormat::default();
    let mut sched_flags_arg: Option<String> = None;

    // The first option must be the command.
    let (tag, optarg) = match popt.next_opt() {
        Ok(Some(x)) => x,
        _ => return tryhelp(program),
    };
    let optarg_s = optarg.clone().unwrap_or_default();
    ce.cmd = Some(match tag {
        Tag::AddService => Cmd::Add,
        Tag::EditService => Cmd::Edit,
        Tag::DelService => Cmd::Del,
        Tag::AddServer => Cmd::AddDest,
        Tag::EditServer => Cmd::EditDest,
        Tag::DelServer => Cmd::DelDest,
        Tag::Clear => Cmd::Flush,
        Tag::List => Cmd::List,
        Tag::Zero => Cmd::Zero,
        Tag::Set => Cmd::Timeout,
        Tag::Restore => Cmd::Restore,
        Tag::Save => Cmd::Save,
        Tag::StartDaemon | Tag::StopDaemon => {
            ce.sync_state = match optarg_s.as_str() {
                "master" => SyncState::Master,
                "backup" => SyncState::Backup,
                // ipvsadm's two messages differ; keep both.
                _ if tag == Tag::StartDaemon => {
                    return fail("illegal start-daemon parameter specified")
                }
                _ => return fail("illegal start_daemon specified"),
            };
            if tag == Tag::StartDaemon {
                Cmd::StartDaemon
            } else {
                Cmd::StopDaemon
            }
        }
        Tag::Help => return Ok(Command::Help),
        Tag::Version => return Ok(Command::Version),
        Tag::FwmarkRule | Tag::DelFwmarkRule => {
            ce.fwmark_rule = Some(parse_fwmark_rule(&optarg_s)?);
            if tag == Tag::FwmarkRule {
                Cmd::AddFwmarkRule
            } else {
                Cmd::DelFwmarkRule
            }
        }
        Tag::VsSet => {
            ce.vs_set = Some(parse_vs_set(&optarg_s)?);
            Cmd::VsSet
        }
        _ => return tryhelp(program),
    });

    loop {
        let (tag, optarg) = match popt.next_opt() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => return Err(e.into_cli()),
        };
        let arg = optarg.clone().unwrap_or_default();
        match tag {
            Tag::Tcp | Tag::Udp | Tag::Sctp => {
                set_option(&mut options, OPT_SERVICE)?;
                let protocol = match tag {
                    Tag::Tcp => Protocol::Tcp,
                    Tag::Udp => Protocol::Udp,
                    _ => Protocol::Sctp,
                };
                ce.protocol = Some(protocol);
                let Some(hp) = parse_service(&arg, Some(protocol), resolver) else {
                    return fail("illegal virtual server address[:port] specified");
                };
                ce.ipv6 = hp.addr.is_ipv6();
                if ce.ipv6 {
                    ce.netmask_v6 = 128;
                }
                ce.svc_addr = Some(hp.addr);
                if let Some(p) = hp.port {
                    ce.svc_port = p;
                }
            }
            Tag::Fwmark => {
                set_option(&mut options, OPT_SERVICE)?;
                // ipvsadm sets a sane protocol even though fwmark services do not use it.
                ce.ipv6 = false;
                ce.protocol = Some(Protocol::Tcp);
                ce.fwmark = parse_fwmark(&arg)?;
            }
            Tag::Scheduler => {
                set_option(&mut options, OPT_SCHEDULER)?;
                ce.scheduler = truncate(&arg, 15);
            }
            Tag::Persistent => {
                set_option(&mut options, OPT_PERSISTENT)?;
                // No value means IPVS_SVC_PERSISTENT_TIMEOUT; `-p ''` is an invalid value.
                let value = optarg.as_deref();
                ce.persistence = Some(parse_timeout(value, 1, i64::from(MAX_TIMEOUT))?);
            }
            Tag::Netmask => {
                set_option(&mut options, OPT_NETMASK)?;
                if !ce.ipv6 {
                    match inet_aton(&arg).or_else(|| match resolver.resolve_host(&arg) {
                        Some(IpAddr::V4(a)) => Some(a),
                        _ => None,
                    }) {
                        Some(m) => ce.netmask_v4 = m,
                        None => return fail("illegal virtual server persistent mask specified"),
                    }
                } else {
                    let m = atoi(&arg);
                    if !(1..=128).contains(&m) {
                        return fail("illegal ipv6 netmask specified");
                    }
                    ce.netmask_v6 = m as u8;
                }
            }
            Tag::RealServer => {
                set_option(&mut options, OPT_SERVER)?;
                let Some(hp) = parse_service(&arg, ce.protocol, resolver) else {
                    return fail("illegal real server address[:port] specified");
                };
                ce.dest_addr = Some(hp.addr);
                // The real port defaults to the virtual port.
                ce.dest_port = hp.port.unwrap_or(ce.svc_port);
            }
            Tag::Ipip | Tag::Gatewaying | Tag::Masq | Tag::FullNat => {
                set_option(&mut options, OPT_FORWARD)?;
                ce.forward = match tag {
                    Tag::Ipip => Forward::Tunnel,
                    Tag::Gatewaying => Forward::Route,
                    Tag::Masq => Forward::Masq,
                    _ => Forward::FullNat,
                };
            }
            Tag::Weight => {
                set_option(&mut options, OPT_WEIGHT)?;
                match string_to_number(&arg, 0, 65535) {
                    Some(w) => ce.weight = w as u32,
                    None => return fail("illegal weight specified"),
                }
            }
            Tag::UThreshold => {
                set_option(&mut options, OPT_UTHRESHOLD)?;
                match string_to_number(&arg, 0, i64::from(i32::MAX)) {
                    Some(w) => ce.u_threshold = w as u32,
                    None => return fail("illegal u_threshold specified"),
                }
            }
            Tag::LThreshold => {
                set_option(&mut options, OPT_LTHRESHOLD)?;
                match string_to_number(&arg, 0, i64::from(i32::MAX)) {
                    Some(w) => ce.l_threshold = w as u32,
                    None => return fail("illegal l_threshold specified"),
                }
            }
            Tag::Connection => set_option(&mut options, OPT_CONNECTION)?,
            Tag::Numeric => {
                set_option(&mut options, OPT_NUMERIC)?;
                format.numeric = true;
            }
            Tag::McastInterface => {
                set_option(&mut options, OPT_MCAST)?;
                ce.mcast_ifn = truncate(&arg, 15);
            }
            Tag::SyncId => {
                set_option(&mut options, OPT_SYNCID)?;
                match string_to_number(&arg, 0, 255) {
                    Some(v) => ce.syncid = v as u8,
                    None => return fail("illegal syncid specified"),
                }
            }
            Tag::Timeout => set_option(&mut options, OPT_TIMEOUT)?,
            Tag::Daemon => set_option(&mut options, OPT_DAEMON)?,
            Tag::Stats => {
                set_option(&mut options, OPT_STATS)?;
                format.stats = true;
            }
            Tag::Rate => {
                set_option(&mut options, OPT_RATE)?;
                format.rate = true;
            }
            Tag::Thresholds => {
                set_option(&mut options, OPT_THRESHOLDS)?;
                format.thresholds = true;
            }
            Tag::PersistentConn => {
                set_option(&mut options, OPT_PERSISTENTCONN)?;
                format.persistent_conn = true;
            }
            Tag::NoSort => {
                set_option(&mut options, OPT_NOSORT)?;
                format.nosort = true;
            }
            // Sorting is the default; --sort is accepted for compatibility.
            Tag::Sort => {}
            Tag::Exact => {
                set_option(&mut options, OPT_EXACT)?;
                format.exact = true;
            }
            Tag::Ipv6 => {
                if ce.fwmark != 0 {
                    ce.ipv6 = true;
                    ce.netmask_v6 = 128;
                } else {
                    // ipvsadm's message carries its own newline before fail() adds one.
                    return fail("-6 used before -f\n");
                }
            }
            Tag::Ops => {
                set_option(&mut options, OPT_ONEPACKET)?;
                ce.one_packet = true;
            }
            Tag::Pe => {
                set_option(&mut options, OPT_PE)?;
                let pe = truncate(&arg, 16);
                ce.pe = (!pe.is_empty()).then_some(pe);
            }
            Tag::SchedFlags => {
                set_option(&mut options, OPT_SCHED_FLAGS)?;
                sched_flags_arg = Some(truncate(&arg, 127));
            }
            Tag::McastGroup => {
                set_option(&mut options, OPT_MCAST_GROUP)?;
                if arg.contains(':') {
                    match arg.parse::<Ipv6Addr>() {
                        Ok(a) if a.is_multicast() => ce.mcast_group = Some(IpAddr::V6(a)),
                        _ => return fail(format!("invalid IPv6 mcast-group `{arg}'")),
                    }
                } else {
                    match arg.parse::<Ipv4Addr>() {
                        Ok(a) if a.is_multicast() => ce.mcast_group = Some(IpAddr::V4(a)),
                        _ => return fail(format!("invalid IPv4 mcast-group `{arg}'")),
                    }
                }
            }
            Tag::McastPort => {
                set_option(&mut options, OPT_MCAST_PORT)?;
                match string_to_number(&arg, 1, 65535) {
                    Some(v) => ce.mcast_port = v as u16,
                    None => return fail("illegal mcast-port specified"),
                }
            }
            Tag::McastTtl => {
                set_option(&mut options, OPT_MCAST_TTL)?;
                match string_to_number(&arg, 1, 255) {
                    Some(v) => ce.mcast_ttl = v as u8,
                    None => return fail("illegal mcast-ttl specified"),
                }
            }
            Tag::SyncMaxlen => {
                set_option(&mut options, OPT_SYNC_MAXLEN)?;
                // 65535 minus the IPv4 and UDP headers.
                match string_to_number(&arg, 1, 65535 - 20 - 8) {
                    Some(v) => ce.sync_maxlen = v as u16,
                    None => return fail("illegal sync-maxlen specified"),
                }
            }
            Tag::TunInfo => {
                set_option(&mut options, OPT_TUN_INFO)?;
                format.tun_info = true;
            }
            Tag::TunType => {
                set_option(&mut options, OPT_TUN_TYPE)?;
                ce.tun_type = match arg.as_str() {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue,
                    "gre" => TunnelType::Gre,
                    _ => return fail("illegal tunnel type specified"),
                };
            }
            Tag::TunPort => {
                set_option(&mut options, OPT_TUN_PORT)?;
                match string_to_number(&arg, 1, 65535) {
                    Some(v) => ce.tun_port = v as u16,
                    None => return fail("illegal tunnel port specified"),
                }
            }
            Tag::TunNocsum => set_option(&mut options, OPT_TUN_NOCSUM)?,
            Tag::TunCsum => {
                set_option(&mut options, OPT_TUN_CSUM)?;
                ce.tun_flags |= 1;
            }
            Tag::TunRemcsum => {
                set_option(&mut options, OPT_TUN_REMCSUM)?;
                ce.tun_flags |= 2;
            }
            Tag::Laddr => {
                set_option(&mut options, OPT_LADDR)?;
                match arg.parse::<IpAddr>() {
                    Ok(a) => ce.laddrs.push(a),
                    Err(_) => return fail(format!("illegal local address `{arg}' specified")),
                }
            }
            // A command after the first option.
            _ => return fail(format!("invalid option `{}'", popt.bad_token())),
        }
    }

    // Always set above (every other first option returned); the default keeps this total.
    let cmd = ce.cmd.unwrap_or(Cmd::Flush);
    let mut timeouts = Timeouts {
        tcp: 0,
        tcp_fin: 0,
        udp: 0,
    };
    if cmd == Cmd::Timeout {
        let (Some(a), Some(b), Some(c)) = (
            popt.next_leftover(),
            popt.next_leftover(),
            popt.next_leftover(),
        ) else {
            return fail("--set option requires 3 timeout values");
        };
        let max = i64::from(MAX_TIMEOUT);
        timeouts.tcp = parse_timeout(Some(&a), 0, max)?;
        timeouts.tcp_fin = parse_timeout(Some(&b), 0, max)?;
        timeouts.udp = parse_timeout(Some(&c), 0, max)?;
    }
    if let Some(extra) = popt.next_leftover() {
        return fail(format!("unexpected argument {extra}"));
    }
    let mut sched_flags = 0;
    if let Some(arg) = sched_flags_arg.filter(|a| !a.is_empty()) {
        sched_flags = parse_sched_flags(&ce.scheduler, &arg)?;
    }

    generic_opt_check(cmd, options)?;

    if matches!(cmd, Cmd::Add | Cmd::Edit) {
        if ce.fwmark == 0 && ce.svc_port == 0 && ce.persistence.is_none() {
            return fail("Zero port specified for non-persistent service");
        }
        if ce.one_packet && ce.fwmark == 0 && ce.protocol != Some(Protocol::Udp) {
            return fail("One-Packet Scheduling is only for UDP virtual services");
        }
        if ce.scheduler.is_empty() {
            ce.scheduler = DEFAULT_SCHEDULER.to_string();
        }
    }
    if cmd == Cmd::StartDaemon && ce.mcast_ifn.is_empty() {
        ce.mcast_ifn = DEFAULT_MCAST_IFN.to_string();
    }
    if matches!(cmd, Cmd::AddDest | Cmd::EditDest) {
        // Direct routing and tunnelling cannot change the port; fwmark services have none.
        if ce.fwmark == 0 && matches!(ce.forward, Forward::Tunnel | Forward::Route) {
            ce.dest_port = ce.svc_port;
        }
        let dest_v6 = ce.dest_addr.is_some_and(|a| a.is_ipv6());
        if dest_v6 != ce.ipv6 && ce.forward != Forward::Tunnel {
            return fail("Different address family is allowed only for tunneling servers");
        }
        let tun_opts = (1 << OPT_TUN_TYPE)
            | (1 << OPT_TUN_PORT)
            | (1 << OPT_TUN_NOCSUM)
            | (1 << OPT_TUN_CSUM)
            | (1 << OPT_TUN_REMCSUM);
        if options & tun_opts != 0 && ce.forward != Forward::Tunnel {
            return fail("Tunnel options conflict with forward method");
        }
        tunnel_opt_check(ce.tun_type, options)?;
    }
    if cmd == Cmd::List {
        let has = |o: usize| options & (1 << o) != 0;
        if ((has(OPT_CONNECTION) || has(OPT_TIMEOUT) || has(OPT_DAEMON))
            && (has(OPT_STATS) || has(OPT_RATE) || has(OPT_THRESHOLDS)))
            || ((has(OPT_TIMEOUT) || has(OPT_DAEMON)) && has(OPT_PERSISTENTCONN))
        {
            return fail("options conflicts in the list command");
        }
    }

    let key = ce.service_key();
    // generic_opt_check() guarantees the compulsory parts below; the fallbacks only keep
    // this function total.
    let need_key = || -> Result<ServiceKey, CliError> {
        match key {
            Some(k) => Ok(k),
            None => fail("You need to supply the 'service-address' option"),
        }
    };
    let dest = |ce: &Entry| -> Result<DestSpec, CliError> {
        let Some(addr) = ce.dest_addr else {
            return fail("You need to supply the 'real-server' option");
        };
        Ok(DestSpec {
            addr,
            port: ce.dest_port,
            forward: ce.forward,
            weight: ce.weight,
            u_threshold: ce.u_threshold,
            l_threshold: ce.l_threshold,
            tun_type: ce.tun_type,
            tun_port: ce.tun_port,
            tun_csum: match ce.tun_flags {
                0 => TunnelCsum::NoCsum,
                1 => TunnelCsum::Csum,
                _ => TunnelCsum::RemCsum,
            },
        })
    };
    let service_spec = |ce: &Entry, key: ServiceKey| ServiceSpec {
        key,
        scheduler: ce.scheduler.clone(),
        persistence: ce.persistence,
        netmask: ce.netmask(),
        pe: ce.pe.clone(),
        one_packet: ce.one_packet,
        sched_flags,
        laddrs: ce.laddrs.clone(),
    };
    Ok(match cmd {
        Cmd::Add => Command::AddService(service_spec(&ce, need_key()?)),
        Cmd::Edit => Command::EditService(service_spec(&ce, need_key()?)),
        Cmd::Del => Command::DelService(need_key()?),
        Cmd::Flush => Command::Flush,
        Cmd::List => {
            let has = |o: usize| options & (1 << o) != 0;
            let target = if has(OPT_CONNECTION) {
                ListTarget::Connections
            } else if has(OPT_SERVICE) {
                ListTarget::Service(need_key()?)
            } else if has(OPT_TIMEOUT) {
                ListTarget::Timeout
            } else if has(OPT_DAEMON) {
                ListTarget::Daemon
            } else {
                ListTarget::All
            };
            Command::List(ListSpec { target, format })
        }
        Cmd::AddDest => Command::AddDest {
            service: need_key()?,
            dest: dest(&ce)?,
        },
        Cmd::EditDest => Command::EditDest {
            service: need_key()?,
            dest: dest(&ce)?,
        },
        Cmd::DelDest => {
            let d = dest(&ce)?;
            Command::DelDest {
                service: need_key()?,
                addr: d.addr,
                port: d.port,
            }
        }
        Cmd::Timeout => Command::SetTimeout(timeouts),
        Cmd::StartDaemon => Command::StartDaemon(DaemonSpec {
            state: ce.sync_state,
            mcast_ifn: ce.mcast_ifn.clone(),
            syncid: ce.syncid,
            sync_maxlen: ce.sync_maxlen,
            mcast_group: ce.mcast_group,
            mcast_port: ce.mcast_port,
            mcast_ttl: ce.mcast_ttl,
        }),
        Cmd::StopDaemon => Command::StopDaemon(ce.sync_state),
        Cmd::Restore => Command::Restore,
        Cmd::Save => Command::Save {
            numeric: format.numeric,
        },
        Cmd::Zero => Command::Zero(key.filter(|_| options & (1 << OPT_SERVICE) != 0)),
        Cmd::AddFwmarkRule | Cmd::DelFwmarkRule => {
            let Some(rule) = ce.fwmark_rule else {
                return fail("illegal fwmark rule specified");
            };
            if cmd == Cmd::AddFwmarkRule {
                Command::AddFwmarkRule(rule)
            } else {
                Command::DelFwmarkRule(rule)
            }
        }
        Cmd::VsSet => {
            let Some((setting, value)) = ce.vs_set else {
                return fail("illegal vs-set specified");
            };
            Command::VsSet { setting, value }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_forms() {
        let a = |s| inet_aton(s).map(|a| a.to_string());
        assert_eq!(a("1.2.3.4"), Some("1.2.3.4".into()));
        assert_eq!(a("10.1"), Some("10.0.0.1".into()));
        assert_eq!(a("10.1.258"), Some("10.1.1.2".into()));
        assert_eq!(a("16909060"), Some("1.2.3.4".into()));
        assert_eq!(a("0x7f.1"), Some("127.0.0.1".into()));
        assert_eq!(a("010.0.0.1"), Some("8.0.0.1".into()));
        assert_eq!(a("1.2.3.4 trailing"), Some("1.2.3.4".into()));
        assert_eq!(a("1.2.3.256"), None);
        assert_eq!(a("1.2.3.4.5"), None);
        assert_eq!(a("1..3"), None);
        assert_eq!(a("09.1.1.1"), None);
        assert_eq!(a(""), None);
        assert_eq!(a("host"), None);
    }

    #[test]
    fn string_to_number_is_strtol() {
        assert_eq!(string_to_number(" 42", 0, 100), Some(42));
        assert_eq!(string_to_number("+42", 0, 100), Some(42));
        assert_eq!(string_to_number("-0", 0, 100), Some(0));
        assert_eq!(string_to_number("42 ", 0, 100), None);
        assert_eq!(string_to_number("", 0, 100), None);
        assert_eq!(string_to_number("-", 0, 100), None);
        assert_eq!(string_to_number("101", 0, 100), None);
        assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn option_table_shape() {
        // Each row has one rule per option column.
        for row in COMMANDS_V_OPTIONS {
            assert!(row.iter().all(|c| b" +x1".contains(c)));
        }
        // Spot checks against ipvsadm's table.
        assert_eq!(
            COMMANDS_V_OPTIONS[Cmd::AddDest as usize][OPT_PERSISTENT],
            b'x'
        );
        assert_eq!(
            COMMANDS_V_OPTIONS[Cmd::AddDest as usize][OPT_TUN_REMCSUM],
            b' '
        );
        assert_eq!(COMMANDS_V_OPTIONS[Cmd::List as usize][OPT_TUN_INFO], b' ');
        assert_eq!(COMMANDS_V_OPTIONS[Cmd::List as usize][OPT_DAEMON], b'1');
        assert_eq!(
            COMMANDS_V_OPTIONS[Cmd::StartDaemon as usize][OPT_SYNC_MAXLEN],
            b' '
        );
        assert_eq!(
            COMMANDS_V_OPTIONS[Cmd::StartDaemon as usize][OPT_TUN_INFO],
            b'x'
        );
        assert_eq!(COMMANDS_V_OPTIONS[Cmd::Zero as usize][OPT_SERVICE], b' ');
        assert_eq!(COMMANDS_V_OPTIONS[Cmd::Add as usize][OPT_LADDR], b' ');
    }
}
