//! The figures of a run, the best round per workload, and the side-by-side table.

use crate::{Contender, UDP_SIZE, UDP_SOURCES, WRK_CONNS};
use serde_json::{json, Value};
use std::fmt::Write as _;

#[derive(Clone, Debug)]
pub struct HttpFig {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    pub non_2xx_3xx: u64,
    pub busy_cpu_s: f64,
    pub busy_frac: f64,
    pub proc_cpu_s: Option<f64>,
}

impl HttpFig {
    pub fn per_cpu_s(&self) -> f64 {
        self.requests as f64 / self.busy_cpu_s.max(1e-9)
    }

    pub fn json(&self) -> Value {
        json!({
            "requests": self.requests, "requests_per_sec": self.rps,
            "p50_us": self.p50_us, "p99_us": self.p99_us,
            "socket_errors": self.errors, "non_2xx_3xx": self.non_2xx_3xx,
            "busy_cpu_s": self.busy_cpu_s, "busy_cpu_fraction": self.busy_frac,
            "requests_per_busy_cpu_s": self.per_cpu_s(), "lb_process_cpu_s": self.proc_cpu_s,
        })
    }
}

#[derive(Clone, Debug)]
pub struct UdpFig {
    pub sent: u64,
    pub delivered: u64,
    pub per_sink: Vec<u64>,
    pub seconds: f64,
    pub busy_cpu_s: f64,
    pub busy_frac: f64,
    pub proc_cpu_s: Option<f64>,
}

impl UdpFig {
    pub fn sent_pps(&self) -> f64 {
        self.sent as f64 / self.seconds
    }
    pub fn pps(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            1.0 - self.delivered as f64 / self.sent as f64
        }
    }
    pub fn per_cpu_s(&self) -> f64 {
        self.delivered as f64 / self.busy_cpu_s.max(1e-9)
    }

    pub fn json(&self) -> Value {
        json!({
            "sent": self.sent, "delivered": self.delivered, "per_sink": self.per_sink,
            "seconds": self.seconds, "sent_pps": self.sent_pps(), "delivered_pps": self.pps(),
            "loss": self.loss(), "busy_cpu_s": self.busy_cpu_s, "busy_cpu_fraction": self.busy_frac,
            "packets_per_busy_cpu_s": self.per_cpu_s(), "lb_process_cpu_s": self.proc_cpu_s,
        })
    }
}

pub struct RunFig {
    pub round: u32,
    pub background: f64,
    pub keepalive: HttpFig,
    pub close: HttpFig,
    pub udp: Option<UdpFig>,
    pub io_stats: Option<String>,
}

/// The better of the rounds, per workload: on a shared 2-core VM the worse round mostly
/// measures whoever else was using the CPU.
pub struct Best {
    pub keepalive: HttpFig,
    pub close: HttpFig,
    pub udp: Option<UdpFig>,
}

pub fn best(runs: &[RunFig]) -> Option<Best> {
    let pick = |f: &dyn Fn(&RunFig) -> HttpFig| -> Option<HttpFig> {
        runs.iter().map(f).max_by(|a, b| a.rps.total_cmp(&b.rps))
    };
    Some(Best {
        keepalive: pick(&|r| r.keepalive.clone())?,
        close: pick(&|r| r.close.clone())?,
        udp: runs
            .iter()
            .filter_map(|r| r.udp.clone())
            .max_by(|a, b| a.pps().total_cmp(&b.pps())),
    })
}

fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_ratio(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.2}x"),
        _ => "n/a".into(),
    }
}

fn fmt_signed(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:+.0}"),
        _ => "n/a".into(),
    }
}

pub struct Table {
    pub cols: Vec<String>,
    pub rows: Vec<(String, Vec<String>)>,
}

impl Table {
    pub fn row(&mut self, name: &str, cells: Vec<String>) {
        self.rows.push((name.to_string(), cells));
    }

    pub fn render(&self) -> String {
        // Section titles stand on their own line, so only labelled rows set the width.
        let w0 = self
            .rows
            .iter()
            .filter(|r| !r.1.is_empty())
            .map(|r| r.0.len())
            .max()
            .unwrap_or(0);
        let mut widths: Vec<usize> = self.cols.iter().map(String::len).collect();
        for (_, cells) in &self.rows {
            for (i, c) in cells.iter().enumerate() {
                widths[i] = widths[i].max(c.len());
            }
        }
        let mut out = String::new();
        let _ = write!(out, "{:<w0$}", "");
        for (c, w) in self.cols.iter().zip(&widths) {
            let _ = write!(out, "  {c:>w$}");
        }
        out.push('\n');
        for (name, cells) in &self.rows {
            if cells.is_empty() {
                let _ = writeln!(out, "{name}");
                continue;
            }
            let _ = write!(out, "{name:<w0$}");
            for (c, w) in cells.iter().zip(&widths) {
                let _ = write!(out, "  {c:>w$}");
            }
            out.push('\n');
        }
        out
    }
}

pub fn report(order: &[Contender], bests: &[(Contender, Best)]) -> Table {
    let mut t = Table {
        cols: order.iter().map(|c| c.label().to_string()).collect(),
        rows: Vec::new(),
    };
    let get = |c: Contender| bests.iter().find(|(k, _)| *k == c).map(|(_, b)| b);
    let direct = get(Contender::Direct);
    let nft = get(Contender::Nft);
    let ratio = |v: Option<f64>, base: Option<f64>| match (v, base) {
        (Some(v), Some(b)) if b > 0.0 => Some(v / b),
        _ => None,
    };
    let http_rows = |t: &mut Table, title: &str, sel: &dyn Fn(&Best) -> &HttpFig| {
        t.row(title, Vec::new());
        let col = |f: &dyn Fn(&HttpFig) -> String| -> Vec<String> {
            order
                .iter()
                .map(|c| get(*c).map(|b| f(sel(b))).unwrap_or_else(|| "n/a".into()))
                .collect()
        };
        t.row("  req/s", col(&|h| fmt_num(h.rps)));
        t.row("  p50 us", col(&|h| fmt_num(h.p50_us)));
        t.row("  p99 us", col(&|h| fmt_num(h.p99_us)));
        let dp50 = direct.map(|d| sel(d).p50_us);
        let dp99 = direct.map(|d| sel(d).p99_us);
        t.row(
            "  added p50 us vs direct",
            col(&|h| fmt_signed(dp50.map(|d| h.p50_us - d))),
        );
        t.row(
            "  added p99 us vs direct",
            col(&|h| fmt_signed(dp99.map(|d| h.p99_us - d))),
        );
        let drps = direct.map(|d| sel(d).rps);
        let nrps = nft.map(|n| sel(n).rps);
        t.row(
            "  req/s vs direct",
            col(&|h| fmt_ratio(ratio(Some(h.rps), drps))),
        );
        t.row(
            "  req/s vs nft",
            col(&|h| fmt_ratio(ratio(Some(h.rps), nrps))),
        );
        t.row("  req per busy CPU-s", col(&|h| fmt_num(h.per_cpu_s())));
        let dcpu = direct.map(|d| sel(d).per_cpu_s());
        let ncpu = nft.map(|n| sel(n).per_cpu_s());
        t.row(
            "  per CPU-s vs direct",
            col(&|h| fmt_ratio(ratio(Some(h.per_cpu_s()), dcpu))),
        );
        t.row(
            "  per CPU-s vs nft",
            col(&|h| fmt_ratio(ratio(Some(h.per_cpu_s()), ncpu))),
        );
        t.row(
            "  machine busy %",
            col(&|h| format!("{:.0}", h.busy_frac * 100.0)),
        );
        t.row(
            "  LB process CPU-s",
            col(&|h| h.proc_cpu_s.map(fmt_num).unwrap_or_else(|| "-".into())),
        );
        t.row("  socket errors", col(&|h| h.errors.to_string()));
        t.row("  non-2xx/3xx", col(&|h| h.non_2xx_3xx.to_string()));
    };
    http_rows(
        &mut t,
        &format!("HTTP keep-alive (wrk -t1 -c{WRK_CONNS})"),
        &|b: &Best| &b.keepalive,
    );
    http_rows(
        &mut t,
        &format!("HTTP new connection per request (wrk -t1 -c{WRK_CONNS} -H 'Connection: close')"),
        &|b: &Best| &b.close,
    );
    t.row(
        &format!("UDP flood, {UDP_SIZE}-byte payloads (60-byte frames), {UDP_SOURCES} source ports, no GSO"),
        Vec::new(),
    );
    let ucol = |f: &dyn Fn(&UdpFig) -> String| -> Vec<String> {
        order
            .iter()
            .map(|c| {
                get(*c)
                    .and_then(|b| b.udp.as_ref())
                    .map(f)
                    .unwrap_or_else(|| "n/a".into())
            })
            .collect()
    };
    let dpps = direct.and_then(|d| d.udp.as_ref()).map(UdpFig::pps);
    let npps = nft.and_then(|n| n.udp.as_ref()).map(UdpFig::pps);
    let dcpu = direct.and_then(|d| d.udp.as_ref()).map(UdpFig::per_cpu_s);
    let ncpu = nft.and_then(|n| n.udp.as_ref()).map(UdpFig::per_cpu_s);
    t.row("  sent pps", ucol(&|u| fmt_num(u.sent_pps())));
    t.row("  delivered pps", ucol(&|u| fmt_num(u.pps())));
    t.row("  loss %", ucol(&|u| format!("{:.1}", u.loss() * 100.0)));
    t.row(
        "  per sink",
        ucol(&|u| format!("{:?}", u.per_sink).replace(' ', "")),
    );
    t.row(
        "  delivered vs direct",
        ucol(&|u| fmt_ratio(ratio(Some(u.pps()), dpps))),
    );
    t.row(
        "  delivered vs nft",
        ucol(&|u| fmt_ratio(ratio(Some(u.pps()), npps))),
    );
    t.row("  pkts per busy CPU-s", ucol(&|u| fmt_num(u.per_cpu_s())));
    t.row(
        "  per CPU-s vs direct",
        ucol(&|u| fmt_ratio(ratio(Some(u.per_cpu_s()), dcpu))),
    );
    t.row(
        "  per CPU-s vs nft",
        ucol(&|u| fmt_ratio(ratio(Some(u.per_cpu_s()), ncpu))),
    );
    t.row(
        "  machine busy %",
        ucol(&|u| format!("{:.0}", u.busy_frac * 100.0)),
    );
    t.row(
        "  LB process CPU-s",
        ucol(&|u| u.proc_cpu_s.map(fmt_num).unwrap_or_else(|| "-".into())),
    );
    t
}
