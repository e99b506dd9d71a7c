//! [`KeepalivedConfig`] → the engine's tables: groups and ranges expanded into one
//! service per address (or mark), real servers into dests with stable ids, and the
//! table keepalived would install at startup (before any check has run).

use crate::diag::{Diag, Pos};
use crate::model::*;
use crate::parse::vs_name;
use rvs_engine::config::{
    Config, DestConfig, DestId, FwmarkRule, Persistence, ServiceConfig, Settings, SvcKey,
};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

/// How many services a whole configuration may expand to (a `/8` range in a group would
/// otherwise make sixteen million).
pub const MAX_EXPANSION: usize = 65_536;

/// What the engine needs from a keepalived configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineTables {
    pub services: Vec<ServiceConfig>,
    pub fwmark_rules: Vec<FwmarkRule>,
    /// `Settings::default()` with `lvs_timeouts` applied.
    pub settings: Settings,
}

/// Expand and validate. The result passes `rvs_engine::config::Config::new`; anything
/// that would not is reported here with the file and line of the virtual server.
///
/// The initial state follows keepalived at startup: a real server in `alpha` mode starts
/// failed (kept at weight 0 with `inhibit_on_failure`, else left out), and if the live
/// weight is below `quorum`, a configured sorry server replaces the real servers.
/// Virtual servers with neither real servers nor a sorry server are skipped, as keepalived
/// skips them.
pub fn to_engine(cfg: &KeepalivedConfig) -> Result<EngineTables, Diag> {
    to_engine_limited(cfg, MAX_EXPANSION)
}

/// [`to_engine`] with another limit on the number of services (the fuzzer's is small).
pub fn to_engine_limited(
    cfg: &KeepalivedConfig,
    max_services: usize,
) -> Result<EngineTables, Diag> {
    expand(cfg, max_services).map(|x| x.tables)
}

/// The engine tables with, per virtual server (in file order), the keys it expanded to
/// (none for a skipped one): the plan's services come from the same, single expansion.
pub(crate) struct Expansion {
    pub tables: EngineTables,
    pub keys: Vec<Vec<SvcKey>>,
}

/// Expand and validate once; see [`to_engine`].
pub(crate) fn expand(cfg: &KeepalivedConfig, max_services: usize) -> Result<Expansion, Diag> {
    let mut settings = Settings::default();
    let t = cfg.global.lvs_timeouts;
    settings.timeouts.set(
        t.tcp.unwrap_or(0),
        t.tcpfin.unwrap_or(0),
        t.udp.unwrap_or(0),
    );
    let groups: HashMap<&str, &VsGroup> = cfg.groups.iter().map(|g| (g.name.as_str(), g)).collect();
    let fwmark_rules: Vec<FwmarkRule> = cfg.fwmark_rules.iter().map(|r| r.rule).collect();
    let mut services = Vec::new();
    let mut seen: HashMap<SvcKey, Pos> = HashMap::new();
    let mut ids = HashSet::new();
    let mut keys = Vec::with_capacity(cfg.virtual_servers.len());
    for vs in &cfg.virtual_servers {
        let mut mine = Vec::new();
        if vs.real_servers.is_empty() && vs.sorry_server.is_none() {
            keys.push(mine);
            continue;
        }
        for key in expand_keys(vs, &groups, max_services)? {
            if services.len() >= max_services {
                return Err(Diag::error(
                    &vs.pos,
                    "virtual_server",
                    format!("the configuration expands to more than {max_services} services"),
                ));
            }
            if let Some(prev) = seen.get(&key) {
                return Err(Diag::error(
                    &vs.pos,
                    "virtual_server",
                    format!(
                        "virtual server {} expands to a service already defined at {prev}",
                        vs_name(&vs.key)
                    ),
                ));
            }
            seen.insert(key, vs.pos.clone());
            let svc = service(vs, key, &mut ids);
            // Validate one service at a time so the message can name this virtual server.
            Config::new(vec![Arc::new(svc.clone())], vec![], settings.clone(), 0).map_err(|e| {
                Diag::error(
                    &vs.pos,
                    "virtual_server",
                    format!("{}: {e}", vs_name(&vs.key)),
                )
            })?;
            services.push(svc);
            mine.push(key);
        }
        keys.push(mine);
    }
    let all = services.iter().cloned().map(Arc::new).collect();
    Config::new(all, fwmark_rules.clone(), settings.clone(), 0).map_err(|e| {
        let pos = cfg
            .virtual_servers
            .first()
            .map(|v| v.pos.clone())
            .unwrap_or_else(|| Pos::new("", 0));
        Diag::error(&pos, "", e.to_string())
    })?;
    Ok(Expansion {
        tables: EngineTables {
            services,
            fwmark_rules,
            settings,
        },
        keys,
    })
}

fn v6_of(vs: &VirtualServer, entry_family: Option<Family>) -> bool {
    if let Some(f) = entry_family.or(vs.ip_family) {
        return f == Family::Inet6;
    }
    // keepalived.conf(5): a fwmark service takes the family of its real servers,
    // IPv4 when there are none to go by.
    vs.real_servers
        .first()
        .map(|r| r.addr.is_ipv6())
        .or(vs.sorry_server.as_ref().map(|s| s.addr.is_ipv6()))
        .unwrap_or(false)
}

fn expand_keys(
    vs: &VirtualServer,
    groups: &HashMap<&str, &VsGroup>,
    max: usize,
) -> Result<Vec<SvcKey>, Diag> {
    let proto = vs.protocol;
    match &vs.key {
        VsKey::Addr { addr, port } => Ok(vec![SvcKey::Addr {
            proto,
            addr: *addr,
            port: *port,
        }]),
        VsKey::Fwmark { mark } => Ok(vec![SvcKey::Fwmark {
            mark: *mark,
            v6: v6_of(vs, None),
        }]),
        VsKey::Group(name) => {
            let g = groups.get(name.as_str()).ok_or_else(|| {
                Diag::error(
                    &vs.pos,
                    "virtual_server",
                    format!("virtual_server_group '{name}' is not defined"),
                )
            })?;
            let mut out = Vec::new();
            for e in &g.entries {
                match e {
                    GroupEntry::Range {
                        first, last, port, ..
                    } => {
                        for addr in AddrRange::new(*first, *last) {
                            if out.len() >= max {
                                return Err(Diag::error(
                                    &g.pos,
                                    "virtual_server_group",
                                    format!("group '{name}' expands to more than {max} services"),
                                ));
                            }
                            out.push(SvcKey::Addr {
                                proto,
                                addr,
                                port: *port,
                            });
                        }
                    }
                    GroupEntry::Fwmark { mark, family, .. } => out.push(SvcKey::Fwmark {
                        mark: *mark,
                        v6: v6_of(vs, *family),
                    }),
                }
            }
            Ok(out)
        }
    }
}

/// Every address from `first` to `last` inclusive.
struct AddrRange {
    next: Option<u128>,
    last: u128,
    v6: bool,
}

impl AddrRange {
    fn new(first: IpAddr, last: IpAddr) -> AddrRange {
        let n = |a: IpAddr| match a {
            IpAddr::V4(v) => u128::from(u32::from(v)),
            IpAddr::V6(v) => u128::from(v),
        };
        AddrRange {
            next: Some(n(first)),
            last: n(last),
            v6: first.is_ipv6(),
        }
    }
}

impl Iterator for AddrRange {
    type Item = IpAddr;
    fn next(&mut self) -> Option<IpAddr> {
        let cur = self.next.filter(|&c| c <= self.last)?;
        self.next = cur.checked_add(1);
        Some(if self.v6 {
            IpAddr::V6(cur.into())
        } else {
            IpAddr::V4((cur as u32).into())
        })
    }
}

fn service(vs: &VirtualServer, key: SvcKey, ids: &mut HashSet<u32>) -> ServiceConfig {
    let mut dests = Vec::new();
    let mut live_weight: u64 = 0;
    for rs in &vs.real_servers {
        let up = !rs.alpha;
        if up {
            live_weight += u64::from(rs.weight);
        } else if !rs.inhibit_on_failure {
            continue;
        }
        dests.push(DestConfig {
            id: dest_id(&key, rs.addr, rs.port, ids),
            addr: rs.addr,
            port: rs.port,
            fwd: rs.fwd,
            weight: if up { rs.weight } else { 0 },
            u_threshold: rs.uthreshold,
            l_threshold: rs.lthreshold,
        });
    }
    if live_weight < u64::from(vs.quorum) {
        if let Some(s) = &vs.sorry_server {
            // Quorum lost at startup: keepalived brings the real servers down and puts
            // the sorry server in their place.
            dests.clear();
            dests.push(DestConfig {
                id: dest_id(&key, s.addr, s.port, ids),
                addr: s.addr,
                port: s.port,
                fwd: s.fwd,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
            });
        }
    }
    let v6 = key.is_v6();
    ServiceConfig {
        key,
        sched: vs.sched.clone(),
        sched_flags: vs.sched_flags,
        persistence: vs.persistence_timeout.map(|t| Persistence {
            timeout_s: t,
            prefix: vs
                .persistence_granularity
                .unwrap_or(if v6 { 128 } else { 32 }),
        }),
        ops: vs.ops,
        pe: vs.persistence_engine.clone(),
        laddrs: Vec::new(),
        dests,
    }
}

/// A dest id that depends only on (service key, real server address, port), so a reload
/// keeps the id (and the engine its counters and conns) of every unchanged real server.
/// FNV-1a, with the top bit set to stay clear of the sequential ids the ipvsadm path
/// hands out (`daemon::model`); a collision takes the next free id, which only an
/// unlucky pair in one configuration can cause.
pub fn dest_id(key: &SvcKey, addr: IpAddr, port: u16, used: &mut HashSet<u32>) -> DestId {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    match key {
        SvcKey::Addr { proto, addr, port } => {
            eat(&[1, proto.number()]);
            eat_addr(&mut eat, *addr);
            eat(&port.to_be_bytes());
        }
        SvcKey::Fwmark { mark, v6 } => {
            eat(&[2, u8::from(*v6)]);
            eat(&mark.to_be_bytes());
        }
    }
    eat_addr(&mut eat, addr);
    eat(&port.to_be_bytes());
    let mut id = h | 0x8000_0000;
    while !used.insert(id) {
        id = id.wrapping_add(1) | 0x8000_0000;
    }
    DestId(id)
}

fn eat_addr(eat: &mut impl FnMut(&[u8]), a: IpAddr) {
    match a {
        IpAddr::V4(v) => eat(&v.octets()),
        IpAddr::V6(v) => eat(&v.octets()),
    }
}
