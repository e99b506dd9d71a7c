//! Listings: the table and the conns in ipvsadm's types (`rvs_ctl::format`), from the
//! operator's model and the engine's live counters.

use super::model::{engine_key, protocol, Model};
use rvs_ctl::format::{ConnEntry, DestEntry, Rates, ServiceEntry, Stats, Table};
use rvs_engine::Engine;
use rvs_proto::Proto;
use std::collections::HashMap;

/// `IP Virtual Server version 1.2.1 (size=4096)`: the conn hash size ipvsadm reports.
const TABLE_SIZE: u32 = 4096;

/// `-L`, `-S`, `--stats`, `--rate`: the services in the order added, with the engine's
/// counters (zero for what the engine has not picked up yet).
pub fn table(model: &Model, engine: &mut Engine, now: u64) -> Table {
    // Polling first makes the engine pick up the latest snapshot and settle expiries.
    engine.poll(now);
    let status: HashMap<_, _> = engine
        .services()
        .into_iter()
        .map(|s| (s.cfg.key, s))
        .collect();
    let services = model
        .services
        .iter()
        .map(|s| {
            let st = status.get(&engine_key(&s.spec.key));
            let dests = s
                .dests
                .iter()
                .map(|d| {
                    let ds = st.and_then(|st| st.dests.iter().find(|x| x.id.0 == d.id));
                    DestEntry {
                        spec: d.spec.clone(),
                        active_conns: ds.map_or(0, |x| x.activeconns),
                        inact_conns: ds.map_or(0, |x| x.inactconns),
                        persist_conns: ds.map_or(0, |x| x.persistconns),
                        stats: ds.map_or(Stats::default(), |x| stats(&x.stats)),
                        rates: ds.map_or(Rates::default(), |x| rates(&x.rates)),
                    }
                })
                .collect();
            ServiceEntry {
                spec: s.spec.clone(),
                stats: st.map_or(Stats::default(), |x| stats(&x.stats)),
                rates: st.map_or(Rates::default(), |x| rates(&x.rates)),
                dests,
            }
        })
        .collect();
    Table {
        size: TABLE_SIZE,
        services,
    }
}

/// `-Lc`: every conn and template.
pub fn conns(engine: &mut Engine, now: u64) -> Vec<ConnEntry> {
    engine.poll(now);
    engine
        .conns(now)
        .into_iter()
        .map(|c| {
            let proto = Proto::from_number(c.proto);
            let state = match proto {
                Some(p) if !c.template => p.state_name(c.state),
                _ => "NONE",
            };
            ConnEntry {
                protocol: proto.map(protocol),
                caddr: c.caddr,
                cport: c.cport,
                vaddr: c.vaddr,
                vport: c.vport,
                daddr: c.daddr,
                dport: c.dport,
                state: state.to_string(),
                expires: c.expires_ms / 1000,
                pe: None,
            }
        })
        .collect()
}

fn stats(c: &rvs_engine::stats::Counters) -> Stats {
    Stats {
        conns: c.conns,
        inpkts: c.inpkts,
        outpkts: c.outpkts,
        inbytes: c.inbytes,
        outbytes: c.outbytes,
    }
}

fn rates(r: &rvs_engine::stats::Rates) -> Rates {
    Rates {
        cps: r.cps,
        inpps: r.inpps,
        outpps: r.outpps,
        inbps: r.inbps,
        outbps: r.outbps,
    }
}
