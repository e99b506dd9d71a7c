//! `rvs-bench-e2e` (`make bench-e2e`): the same workloads, in one run and one topology,
//! through rvs (AF_XDP and AF_PACKET), a kernel nftables DNAT load balancer, HAProxy in
//! TCP mode, and the direct path to one real server, printed side by side.
//!
//! Topology (private addresses only):
//!
//! ```text
//!  client 10.0.0.2 --eth0-- 10.0.0.1 director 172.16.0.1 --eth1-- bridge --+-- rs1 172.16.0.2
//!                           (VIP 10.0.0.1:80/tcp, :9000/udp)                +-- rs2 172.16.0.3
//! ```
//!
//! The real servers route back via the director (NAT mode). The direct path is the client
//! talking to rs1's own address through the director's kernel forwarding: it crosses the
//! same two veths as every contender, so what the contenders add over it is the load
//! balancer's work and nothing else (a separate client–rs1 veth would also drop a hop and
//! flatter the limit).
//!
//! CPU: the director's softirq time cannot be attributed to nftables, and on 2 shared cores
//! the client and servers compete with the director anyway, so every contender is divided
//! by the same thing: the machine's busy CPU time from /proc/stat over the measurement.
//! rvsd's and HAProxy's own utime+stime are reported alongside.
//!
//! The topology is rvs-testnet's LVS/NAT one (`rvs_testnet::topo::nat`), the e2e tests'.

#![forbid(unsafe_code)]

mod cpu;
mod report;

use std::ops::ControlFlow;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use rvs_testnet::topo::{self, NatOpts, Topo};
use rvs_testnet::{parse_wrk, wait_for, Ns, Proc};
use serde_json::{json, Value};

use cpu::{background_busy, CpuWindow};
use report::{best, report, Best, HttpFig, RunFig, UdpFig};

const VIP: &str = topo::DIRECTOR;
const RS_ADDRS: [&str; 2] = ["172.16.0.2", "172.16.0.3"];
const UDP_PORT: u16 = 9000;
/// Enough flows that rr/numgen spreads them over both real servers, few enough that each
/// sendmmsg batch still goes out on one socket.
const UDP_SOURCES: usize = 16;
/// 18 payload bytes: a 60-byte frame, the smallest Ethernet carries.
const UDP_SIZE: usize = 18;
const WRK_CONNS: u32 = 50;

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum Contender {
    Afxdp,
    Afpacket,
    Nft,
    Haproxy,
    Direct,
}

impl Contender {
    fn key(self) -> &'static str {
        match self {
            Contender::Afxdp => "afxdp",
            Contender::Afpacket => "afpacket",
            Contender::Nft => "nft",
            Contender::Haproxy => "haproxy",
            Contender::Direct => "direct",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Contender::Afxdp => "rvs afxdp",
            Contender::Afpacket => "rvs afpacket",
            Contender::Nft => "nft DNAT",
            Contender::Haproxy => "haproxy tcp",
            Contender::Direct => "direct",
        }
    }

    fn http_url(self) -> String {
        match self {
            Contender::Direct => format!("http://{}/", RS_ADDRS[0]),
            _ => format!("http://{VIP}/"),
        }
    }

    fn udp_target(self) -> Option<String> {
        match self {
            Contender::Haproxy => None,
            Contender::Direct => Some(format!("{}:{UDP_PORT}", RS_ADDRS[0])),
            _ => Some(format!("{VIP}:{UDP_PORT}")),
        }
    }
}

/// Runs HTTP keep-alive, HTTP new-connection and small-packet UDP workloads through each
/// contender in one netns topology and prints a side-by-side table. Needs root.
///
/// Binaries (rvsd, rvsadm, rvs-udp) are taken from $RVS_BIN_DIR, else from the directory
/// of this executable (target/release when run by scripts/bench-e2e.sh).
#[derive(Parser, Debug)]
#[command(name = "rvs-bench-e2e")]
struct Opts {
    /// Seconds per workload.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    duration: u64,
    /// The contenders, in this order (reversed every other round).
    #[arg(long, value_enum, value_delimiter = ',', num_args = 1..,
          default_value = "afxdp,afpacket,nft,haproxy,direct")]
    only: Vec<Contender>,
    /// Rounds, in alternating order; each workload keeps its best round.
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Also write every figure as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

/// The workspace binaries the bench runs. Resolved here rather than with
/// `rvs_testnet::workspace_bin`, which looks next to a test executable of the current
/// profile: the bench must use the release binaries it was built with.
struct Bins {
    rvsd: PathBuf,
    rvsadm: PathBuf,
    rvs_udp: PathBuf,
}

impl Bins {
    fn find() -> Result<Bins> {
        let dir = match std::env::var_os("RVS_BIN_DIR") {
            Some(d) => PathBuf::from(d),
            None => std::env::current_exe()
                .context("locating this executable")?
                .parent()
                .ok_or_else(|| anyhow!("this executable has no parent directory"))?
                .to_path_buf(),
        };
        let get = |name: &str| -> Result<PathBuf> {
            let p = dir.join(name);
            if !p.is_file() {
                bail!(
                    "{} not found; build the release binaries first \
                     (cargo build --release --workspace --bins) or set RVS_BIN_DIR",
                    p.display()
                );
            }
            Ok(p)
        };
        Ok(Bins {
            rvsd: get("rvsd")?,
            rvsadm: get("rvsadm")?,
            rvs_udp: get("rvs-udp")?,
        })
    }
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("path {} is not UTF-8", p.display()))
}

fn build_topo() -> Result<Topo> {
    let opts = NatOpts {
        // The direct path: the client reaches rs1's own address through the director.
        client_routes_inside: true,
        wide_port_range: true,
        ..NatOpts::new(RS_ADDRS.len())
    };
    topo::nat("bench", &opts).context("building the topology (the bench needs root)")
}

/// Whatever runs the load balancing for one contender; dropped (or `stop`ped) to tear down.
struct Setup {
    contender: Contender,
    proc: Option<Proc>,
    socket: Option<PathBuf>,
}

fn rvsadm(bins: &Bins, socket: &Path, args: &str) -> Result<String> {
    let out = std::process::Command::new(&bins.rvsadm)
        .args(args.split_whitespace())
        .env("RVS_SOCKET", socket)
        .output()
        .with_context(|| format!("running {}", bins.rvsadm.display()))?;
    if !out.status.success() {
        bail!(
            "rvsadm {args}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn nft_ruleset() -> String {
    let map = format!("{{ 0 : {}, 1 : {} }}", RS_ADDRS[0], RS_ADDRS[1]);
    // The postrouting chain has no rules; it is there so that NAT hooks exist on the way
    // out as well, where conntrack undoes the DNAT on the real servers' replies.
    format!(
        "table ip rvsbench {{\n\
         \x20 chain pre {{\n\
         \x20   type nat hook prerouting priority dstnat; policy accept;\n\
         \x20   ip daddr {VIP} tcp dport 80 dnat to numgen inc mod 2 map {map}\n\
         \x20   ip daddr {VIP} udp dport {UDP_PORT} dnat to numgen inc mod 2 map {map}\n\
         \x20 }}\n\
         \x20 chain post {{\n\
         \x20   type nat hook postrouting priority srcnat; policy accept;\n\
         \x20 }}\n\
         }}\n"
    )
}

fn haproxy_cfg(dir: &Path) -> String {
    // nbthread is left to HAProxy (one thread per CPU), as a user would run it; the
    // timeouts only need to outlast a run.
    format!(
        "global\n  maxconn 8000\n  pidfile {}/haproxy.pid\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
         frontend fe\n  bind {VIP}:80\n  default_backend be\n\
         backend be\n  balance roundrobin\n  server rs1 {}:80\n  server rs2 {}:80\n",
        dir.display(),
        RS_ADDRS[0],
        RS_ADDRS[1]
    )
}

/// rvsd serves once it says so (its data path comes up after its control socket).
fn wait_rvsd(p: &mut Proc, socket: &Path) -> Result<()> {
    p.wait_output("rvsd ready", Duration::from_secs(10))?;
    wait_for("rvsd's control socket", Duration::from_secs(10), || {
        Ok(match socket.exists() {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(p.log()),
        })
    })?;
    Ok(())
}

/// What the UDP sinks' namespaces show: datagrams their UDP layer took in (read or
/// dropped for a full buffer), and what still waits in the sinks' sockets.
fn udp_backlog(rs: &[Ns]) -> rvs_testnet::Result<(u64, u64)> {
    let (mut taken, mut queued) = (0, 0);
    for r in rs {
        let snmp =
            String::from_utf8_lossy(&r.exec(&["cat", "/proc/net/snmp"])?.stdout).into_owned();
        let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
        let (names, values) = (udp.next(), udp.next());
        let field = |name: &str| -> Option<u64> {
            let i = names?.split_whitespace().position(|n| n == name)?;
            values?.split_whitespace().nth(i)?.parse().ok()
        };
        taken += field("InDatagrams")
            .zip(field("RcvbufErrors"))
            .map(|(a, b)| a + b)
            .ok_or_else(|| rvs_testnet::Error::Parse {
                tool: "/proc/net/snmp",
                why: format!("no UDP counters in {}", r.name()),
                text: snmp.clone(),
            })?;
        let sport = format!("sport = :{UDP_PORT}");
        let ss = r.exec(&["ss", "-H", "-u", "-l", "-n", &sport])?;
        // State Recv-Q Send-Q Local Peer
        for line in String::from_utf8_lossy(&ss.stdout).lines() {
            queued += line
                .split_whitespace()
                .nth(1)
                .and_then(|q| q.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok((taken, queued))
}

fn setup(t: &Topo, bins: &Bins, c: Contender) -> Result<Setup> {
    let mut s = Setup {
        contender: c,
        proc: None,
        socket: None,
    };
    match c {
        Contender::Afxdp | Contender::Afpacket => {
            // The director's kernel must forward nothing by itself, or it would carry the
            // traffic rvs fails to.
            t.dir.sysctl("net.ipv4.ip_forward", "0")?;
            let socket = t.lab.dir().join("rvsd.sock");
            let argv = [
                path_str(&bins.rvsd)?,
                "--io",
                c.key(),
                "--iface",
                "eth0",
                "--iface",
                "eth1",
                "--socket",
                path_str(&socket)?,
            ];
            let mut p = t.dir.spawn(&argv).context("spawning rvsd")?;
            wait_rvsd(&mut p, &socket)?;
            s.proc = Some(p);
            s.socket = Some(socket.clone());
            let mut cmds = vec![
                format!("-A -t {VIP}:80 -s rr"),
                format!("-A -u {VIP}:{UDP_PORT} -s rr"),
            ];
            for a in RS_ADDRS {
                cmds.push(format!("-a -t {VIP}:80 -r {a}:80 -m"));
                cmds.push(format!("-a -u {VIP}:{UDP_PORT} -r {a}:{UDP_PORT} -m"));
            }
            for cmd in &cmds {
                rvsadm(bins, &socket, cmd)?;
            }
        }
        Contender::Nft => {
            t.dir.sysctl("net.ipv4.ip_forward", "1")?;
            let path = t.lab.dir().join("bench.nft");
            std::fs::write(&path, nft_ruleset())
                .with_context(|| format!("writing {}", path.display()))?;
            t.dir
                .exec(&["nft", "-f", path_str(&path)?])
                .context("loading the nftables DNAT ruleset")?;
        }
        Contender::Haproxy => {
            t.dir.sysctl("net.ipv4.ip_forward", "0")?;
            let path = t.lab.dir().join("haproxy.cfg");
            std::fs::write(&path, haproxy_cfg(t.lab.dir()))
                .with_context(|| format!("writing {}", path.display()))?;
            // -db: stay in the foreground as one process, so its pid is the one we measure.
            let mut p = t
                .dir
                .spawn(&["haproxy", "-db", "-f", path_str(&path)?])
                .context("spawning haproxy")?;
            let addr = format!("{VIP}:80").parse().context("VIP address")?;
            if let Err(e) = t.dir.wait_tcp(addr, Duration::from_secs(10)) {
                p.kill();
                bail!("haproxy did not come up: {e:#}\n{}", p.log());
            }
            s.proc = Some(p);
        }
        Contender::Direct => t.dir.sysctl("net.ipv4.ip_forward", "1")?,
    }
    Ok(s)
}

impl Setup {
    fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    fn io_stats(&self, bins: &Bins) -> Option<String> {
        let socket = self.socket.as_ref()?;
        let out = std::process::Command::new(&bins.rvsadm)
            .arg("--io-stats")
            .env("RVS_SOCKET", socket)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Tears down completely, so the next contender finds a director with no rules, no
    /// XDP program and no forwarding.
    fn stop(mut self, t: &Topo) -> Result<()> {
        if let Some(mut p) = self.proc.take() {
            // SIGTERM: rvsd detaches XDP / removes its nftables table on a clean stop.
            let st = p
                .stop()
                .with_context(|| format!("stopping {}", self.contender.label()))?;
            // HAProxy 2.6 in -db mode leaves SIGTERM to its default action, and that is
            // its normal way to stop.
            let clean = st.success()
                || (self.contender == Contender::Haproxy
                    && (st.code() == Some(143)
                        || st.signal() == Some(rvs_testnet::Signal::TERM.as_raw())));
            if !clean {
                eprintln!(
                    "warning: {} stopped with {st}\n{}",
                    self.contender.label(),
                    p.log()
                );
            }
        }
        // Stale conntrack entries stay behind after the nft contender (no conntrack tool
        // here to flush them); with no ruleset referring to conntrack, no later contender
        // passes the conntrack hooks, so they are inert.
        t.dir
            .exec(&["nft", "flush", "ruleset"])
            .context("nft flush ruleset in the director")?;
        t.dir.sysctl("net.ipv4.ip_forward", "0")?;
        let link = t.dir.ip(&["link", "show"])?;
        let text = String::from_utf8_lossy(&link.stdout);
        if text.contains("xdp") {
            bail!(
                "an XDP program is still attached in the director after {}:\n{text}",
                self.contender.label()
            );
        }
        Ok(())
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let _ = p.stop();
        }
    }
}

/// Checks the path works before measuring it: a contender that silently fails would
/// otherwise show up as a row of wrk errors.
fn check_http(t: &Topo, c: Contender) -> Result<()> {
    let url = c.http_url();
    let mut names = Vec::new();
    for _ in 0..4 {
        let body = t
            .client
            .curl(&url)
            .with_context(|| format!("{}: curl {url}", c.label()))?;
        names.push(body.trim().to_string());
    }
    if c != Contender::Direct
        && !(names.contains(&"rs1".to_string()) && names.contains(&"rs2".to_string()))
    {
        bail!(
            "{}: 4 requests did not reach both real servers: {names:?}",
            c.label()
        );
    }
    Ok(())
}

fn run_wrk(
    t: &Topo,
    c: Contender,
    pid: Option<u32>,
    duration: u64,
    close: bool,
) -> Result<HttpFig> {
    let url = c.http_url();
    let conns = WRK_CONNS.to_string();
    let d = format!("{duration}s");
    let mut argv = vec!["wrk", "--latency", "-t", "1", "-c", &conns, "-d", &d];
    if close {
        argv.extend(["-H", "Connection: close"]);
    }
    argv.push(&url);
    let cpu = CpuWindow::start(pid)?;
    let out = t
        .client
        .exec_timeout(&argv, Duration::from_secs(duration + 30))
        .with_context(|| format!("{}: wrk", c.label()))?;
    let used = cpu.end()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let r = parse_wrk(&text).with_context(|| format!("parsing wrk output:\n{text}"))?;
    Ok(HttpFig {
        requests: r.requests,
        rps: r.requests_per_sec,
        p50_us: r.p50.as_secs_f64() * 1e6,
        p99_us: r.p99.as_secs_f64() * 1e6,
        errors: r.socket_errors,
        non_2xx_3xx: r.non_2xx_3xx,
        busy_cpu_s: used.busy_s,
        busy_frac: used.busy_frac,
        proc_cpu_s: used.proc_s,
    })
}

fn tx_packets(ns: &Ns, iface: &str) -> Result<u64> {
    let out = ns.exec(&[
        "cat",
        &format!("/sys/class/net/{iface}/statistics/tx_packets"),
    ])?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .with_context(|| format!("tx_packets of {iface} in {}", ns.name()))
}

fn run_udp(
    t: &Topo,
    bins: &Bins,
    c: Contender,
    pid: Option<u32>,
    duration: u64,
) -> Result<Option<UdpFig>> {
    let Some(target) = c.udp_target() else {
        return Ok(None);
    };
    let udp = path_str(&bins.rvs_udp)?;
    let bind = format!("0.0.0.0:{UDP_PORT}");
    let mut sinks = Vec::new();
    for r in &t.rs {
        // Stopped by SIGTERM below, never by idleness: a stall mid-run must not end a sink.
        let mut p = r.spawn(&[udp, "sink", "--bind", &bind, "--idle-ms", "86400000"])?;
        p.wait_output("listening", Duration::from_secs(5))?;
        sinks.push(p);
    }
    let sent0 = tx_packets(&t.client, "eth0")?;
    let cpu = CpuWindow::start(pid)?;
    let start = Instant::now();
    // flood is count-bound; `timeout` ends it after the duration. Its own summary is lost
    // that way, so "sent" is the client veth's tx_packets, which is also what the
    // director was offered.
    let secs = duration.to_string();
    let sources = UDP_SOURCES.to_string();
    let size = UDP_SIZE.to_string();
    let out = t.client.run(&[
        "timeout",
        &secs,
        udp,
        "flood",
        "--to",
        &target,
        "--count",
        "1000000000000",
        "--sources",
        &sources,
        "--size",
        &size,
    ])?;
    let seconds = start.elapsed().as_secs_f64();
    let used = cpu.end()?;
    if out.status.code() != Some(124) {
        bail!(
            "{}: rvs-udp flood ended early ({}): {}",
            c.label(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sent = tx_packets(&t.client, "eth0")?.saturating_sub(sent0);
    // The sinks count once what is in flight has arrived and they have read it all: no
    // datagram arriving between two looks, and none waiting in their sockets.
    let mut last = udp_backlog(&t.rs)?.0;
    wait_for("the UDP sinks drained", Duration::from_secs(10), || {
        let (taken, queued) = udp_backlog(&t.rs)?;
        let settled = taken == last && queued == 0;
        last = taken;
        Ok(match settled {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(format!("{taken} taken in, {queued} queued")),
        })
    })?;
    let mut per_sink = Vec::new();
    for mut p in sinks {
        p.stop().context("stopping rvs-udp sink")?;
        let line = p.stdout();
        let v: Value = serde_json::from_str(line.trim())
            .with_context(|| format!("sink output {line:?}\n{}", p.log()))?;
        per_sink.push(
            v["received"]
                .as_u64()
                .ok_or_else(|| anyhow!("sink output without \"received\": {line}"))?,
        );
    }
    Ok(Some(UdpFig {
        sent,
        delivered: per_sink.iter().sum(),
        per_sink,
        seconds,
        busy_cpu_s: used.busy_s,
        busy_frac: used.busy_frac,
        proc_cpu_s: used.proc_s,
    }))
}

fn run_contender(t: &Topo, bins: &Bins, c: Contender, round: u32, duration: u64) -> Result<RunFig> {
    let background = background_busy()?;
    eprintln!(
        "== round {round}: {} (machine busy {:.0}% before start)",
        c.label(),
        background * 100.0
    );
    let s = setup(t, bins, c)?;
    let result = (|| -> Result<RunFig> {
        check_http(t, c)?;
        let keepalive = run_wrk(t, c, s.pid(), duration, false)?;
        eprintln!(
            "   keep-alive {:.0} req/s p99 {:.0} us",
            keepalive.rps, keepalive.p99_us
        );
        let close = run_wrk(t, c, s.pid(), duration, true)?;
        eprintln!(
            "   new conns  {:.0} conn/s p99 {:.0} us",
            close.rps, close.p99_us
        );
        let udp = run_udp(t, bins, c, s.pid(), duration)?;
        if let Some(u) = &udp {
            eprintln!(
                "   udp        {:.0} pps delivered of {:.0} sent ({:.1}% loss)",
                u.pps(),
                u.sent_pps(),
                u.loss() * 100.0
            );
        }
        Ok(RunFig {
            round,
            background,
            keepalive,
            close,
            udp,
            io_stats: s.io_stats(bins),
        })
    })();
    // Tear down whatever happened, and report the first failure.
    let stopped = s.stop(t);
    let r = result?;
    stopped?;
    Ok(r)
}

fn main() -> Result<()> {
    let opts = Opts::parse();
    let bins = Bins::find()?;
    let t0 = Instant::now();
    let load0 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let topo = build_topo()?;
    let mut runs: Vec<(Contender, RunFig)> = Vec::new();
    // Alternating order (forward, then backward, ...) so no contender always runs first on
    // a cold machine or last after the others heated it; each workload keeps its best round.
    for round in 0..opts.rounds {
        let order: Vec<Contender> = if round % 2 == 0 {
            opts.only.clone()
        } else {
            opts.only.iter().rev().copied().collect()
        };
        for c in order {
            let r = run_contender(&topo, &bins, c, round + 1, opts.duration)
                .with_context(|| format!("round {}, {}", round + 1, c.label()))?;
            runs.push((c, r));
        }
    }
    let bests: Vec<(Contender, Best)> = opts
        .only
        .iter()
        .filter_map(|c| {
            let mine: Vec<RunFig> = runs
                .iter()
                .filter(|(k, _)| k == c)
                .map(|(_, r)| RunFig {
                    round: r.round,
                    background: r.background,
                    keepalive: r.keepalive.clone(),
                    close: r.close.clone(),
                    udp: r.udp.clone(),
                    io_stats: None,
                })
                .collect();
            best(&mine).map(|b| (*c, b))
        })
        .collect();
    let load1 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let table = report(&opts.only, &bests);
    let bg: Vec<f64> = runs.iter().map(|(_, r)| r.background).collect();
    let bg_min = bg.iter().copied().fold(f64::INFINITY, f64::min);
    let bg_max = bg.iter().copied().fold(0.0, f64::max);
    println!(
        "rvs-bench-e2e: {} CPUs, {} s per workload, {} round(s) in alternating order, best round per workload",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        opts.duration,
        opts.rounds
    );
    println!(
        "machine: loadavg at start {}, at end {}; busy CPU with the bench idle: {:.0}%..{:.0}% (other work on the VM)",
        load0.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        load1.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        bg_min * 100.0,
        bg_max * 100.0
    );
    println!("CPU-s = machine-wide busy CPU time from /proc/stat during the run (client, director and servers share the CPUs)\n");
    print!("{}", table.render());
    // The rounds one by one: their spread says how much to trust a difference.
    println!("\nper round (keep-alive req/s, new conn/s, UDP delivered pps, machine busy before):");
    for (c, r) in &runs {
        println!(
            "  round {} {:<13} {:>8.0} {:>8.0} {:>9} {:>4.0}%",
            r.round,
            c.label(),
            r.keepalive.rps,
            r.close.rps,
            r.udp
                .as_ref()
                .map(|u| format!("{:.0}", u.pps()))
                .unwrap_or_else(|| "n/a".into()),
            r.background * 100.0
        );
    }
    for c in [Contender::Afxdp, Contender::Afpacket] {
        if let Some((_, r)) = runs
            .iter()
            .rev()
            .find(|(k, r)| *k == c && r.io_stats.is_some())
        {
            println!(
                "\n{} data-path counters after round {} (rvsadm --io-stats):",
                c.label(),
                r.round
            );
            print!("{}", r.io_stats.as_deref().unwrap_or_default());
        }
    }
    if let Some(path) = &opts.json {
        let per_run: Vec<Value> = runs
            .iter()
            .map(|(c, r)| {
                json!({
                    "contender": c.key(), "round": r.round, "machine_busy_before": r.background,
                    "http_keepalive": r.keepalive.json(), "http_close": r.close.json(),
                    "udp": r.udp.as_ref().map(UdpFig::json), "io_stats": r.io_stats,
                })
            })
            .collect();
        let best_json: serde_json::Map<String, Value> = bests
            .iter()
            .map(|(c, b)| {
                (
                    c.key().to_string(),
                    json!({
                        "http_keepalive": b.keepalive.json(), "http_close": b.close.json(),
                        "udp": b.udp.as_ref().map(UdpFig::json),
                    }),
                )
            })
            .collect();
        let doc = json!({
            "duration_s": opts.duration, "rounds": opts.rounds,
            "order": opts.only.iter().map(|c| c.key()).collect::<Vec<_>>(),
            "selection": "best round per contender and workload (highest throughput)",
            "cpu_denominator": "machine-wide busy CPU seconds from /proc/stat over the run",
            "wrk": {"threads": 1, "connections": WRK_CONNS},
            "udp": {"payload_bytes": UDP_SIZE, "sources": UDP_SOURCES, "gso": false},
            "loadavg_start": load0.trim(), "loadavg_end": load1.trim(),
            "machine_busy_idle_min": bg_min, "machine_busy_idle_max": bg_max,
            "best": best_json, "runs": per_run, "table": table.render(),
            "wall_s": t0.elapsed().as_secs_f64(),
        });
        let text = serde_json::to_string_pretty(&doc).context("encoding JSON")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    drop(topo);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn contender_keys_are_their_command_line_names() {
        for c in Contender::value_variants() {
            assert_eq!(c.to_possible_value().unwrap().get_name(), c.key());
        }
    }

    #[test]
    fn real_servers_are_the_topologys() {
        for (i, a) in RS_ADDRS.iter().enumerate() {
            assert_eq!(*a, topo::nat_rs_addr(i));
        }
    }

    #[test]
    fn options_as_scripts_pass_them() {
        let o = Opts::try_parse_from([
            "rvs-bench-e2e",
            "--duration",
            "3",
            "--only",
            "nft,afxdp",
            "--rounds",
            "1",
            "--json",
            "/tmp/x.json",
        ])
        .unwrap();
        assert_eq!(
            (o.duration, o.only, o.rounds, o.json),
            (
                3,
                vec![Contender::Nft, Contender::Afxdp],
                1,
                Some(PathBuf::from("/tmp/x.json"))
            )
        );
        let d = Opts::try_parse_from(["rvs-bench-e2e"]).unwrap();
        assert_eq!((d.duration, d.only.len(), d.rounds), (10, 5, 2));
        assert!(Opts::try_parse_from(["rvs-bench-e2e", "--duration", "0"]).is_err());
    }
}
