//! `rvsadm --io-stats`: counters as (section, name, value) rows. The data path's own rows
//! (rings, XDP) come from `rvs_io::DataPath::io_stats`; the engine's are made here.

use rvs_engine::{DropReason, Engine};

/// One `--io-stats` row: section, counter, value.
pub type IoStat = (String, String, u64);

/// The engine's packet outcomes and its drop reasons.
pub fn engine_rows(e: &Engine) -> Vec<IoStat> {
    let c = e.counters();
    let mut rows: Vec<IoStat> = [
        ("rx", c.rx),
        ("tx", c.tx),
        ("tx_pending", c.tx_pending),
        ("pass", c.pass),
        ("conns_new", c.conns_new),
        ("local_answers", c.local_answers),
        ("icmp_sent", c.icmp_sent),
    ]
    .into_iter()
    .map(|(n, v)| ("engine".to_string(), n.to_string(), v))
    .collect();
    for r in DropReason::ALL {
        rows.push(("engine drops".into(), r.name().into(), c.drop_count(*r)));
    }
    rows
}
