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

use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rvs_testnet::{parse_wrk, Lab, Ns, Proc, VethOpts};
use serde_json::{json, Value};

const VIP: &str = "10.0.0.1";
const RS_ADDRS: [&str; 2] = ["172.16.0.2", "172.16.0.3"];
const UDP_PORT: u16 = 9000;
/// Enough flows that rr/numgen spreads them over both real servers, few enough that each
/// sendmmsg batch still goes out on one socket.
const UDP_SOURCES: usize = 16;
/// 18 payload bytes: a 60-byte frame, the smallest Ethernet carries.
const UDP_SIZE: usize = 18;
const WRK_CONNS: u32 = 50;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Contender {
    Afxdp,
    Afpacket,
    Nft,
    Haproxy,
    Direct,
}

impl Contender {
    const ALL: [Contender; 5] = [
        Contender::Afxdp,
        Contender::Afpacket,
        Contender::Nft,
        Contender::Haproxy,
        Contender::Direct,
    ];

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

    fn parse(s: &str) -> Result<Contender> {
        Contender::ALL
            .into_iter()
            .find(|c| c.key() == s)
            .ok_or_else(|| {
                anyhow!("unknown contender {s:?}; known: afxdp, afpacket, nft, haproxy, direct")
            })
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

struct Opts {
    duration: u64,
    only: Vec<Contender>,
    json: Option<PathBuf>,
    rounds: u32,
}

const USAGE: &str =
    "usage: rvs-bench-e2e [--duration SECS] [--only afxdp,afpacket,nft,haproxy,direct] \
[--rounds N] [--json PATH]

Runs HTTP keep-alive, HTTP new-connection and small-packet UDP workloads through each
contender in one netns topology and prints a side-by-side table. Needs root.
Binaries (rvsd, rvsadm, rvs-udp) are taken from $RVS_BIN_DIR, else from the directory of
this executable (target/release when run by scripts/bench-e2e.sh).";

fn parse_opts() -> Result<Opts> {
    let mut o = Opts {
        duration: 10,
        only: Contender::ALL.to_vec(),
        json: None,
        rounds: 2,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| anyhow!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--duration" => {
                o.duration = value("--duration")?
                    .parse()
                    .context("--duration: seconds as a whole number")?;
                if o.duration == 0 {
                    bail!("--duration must be at least 1");
                }
            }
            "--only" => {
                o.only = value("--only")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(Contender::parse)
                    .collect::<Result<_>>()?;
                if o.only.is_empty() {
                    bail!("--only needs at least one contender");
                }
            }
            "--rounds" => {
                o.rounds = value("--rounds")?
                    .parse()
                    .context("--rounds: a whole number")?;
                if o.rounds == 0 {
                    bail!("--rounds must be at least 1");
                }
            }
            "--json" => o.json = Some(PathBuf::from(value("--json")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => bail!("unknown argument {a:?}\n{USAGE}"),
        }
    }
    Ok(o)
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

struct Topo {
    lab: Lab,
    client: Ns,
    dir: Ns,
    rs: Vec<Ns>,
    _nginx: Vec<Proc>,
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("path {} is not UTF-8", p.display()))
}

fn build_topo() -> Result<Topo> {
    let lab = Lab::new("bench").context("creating the lab (the bench needs root)")?;
    let client = lab.ns("cl")?;
    let dir = lab.ns("dir")?;
    let sw = lab.ns("sw")?;
    lab.veth((&client, "eth0"), (&dir, "eth0"), VethOpts::default())?;
    lab.veth((&dir, "eth1"), (&sw, "p0"), VethOpts::default())?;
    client.addr("eth0", "10.0.0.2/24")?;
    client.route(&format!("172.16.0.0/24 via {VIP}"))?;
    client.tx_off("eth0")?;
    // wrk's new-connection run opens tens of thousands of connections; a wide port range
    // keeps it from waiting on ports still held by the previous contender's conns.
    client.sysctl("net.ipv4.ip_local_port_range", "1024 65535")?;
    dir.addr("eth0", &format!("{VIP}/24"))?;
    dir.addr("eth1", "172.16.0.1/24")?;
    dir.sysctl("net.ipv4.ip_local_port_range", "1024 65535")?;
    dir.sysctl("net.ipv4.ip_forward", "0")?;
    let mut ports = vec!["p0".to_string()];
    let mut rs = Vec::new();
    let mut nginx = Vec::new();
    for (i, addr) in RS_ADDRS.iter().enumerate() {
        let name = format!("rs{}", i + 1);
        let r = lab.ns(&name)?;
        let p = format!("p{}", i + 1);
        lab.veth((&r, "eth0"), (&sw, &p), VethOpts::default())?;
        ports.push(p);
        r.addr("eth0", &format!("{addr}/24"))?;
        r.route("default via 172.16.0.1")?;
        r.tx_off("eth0")?;
        let listen = "0.0.0.0:80".parse().context("listen address")?;
        nginx.push(
            r.nginx(&[listen], &name)
                .with_context(|| format!("nginx in {name}"))?,
        );
        rs.push(r);
    }
    let refs: Vec<&str> = ports.iter().map(String::as_str).collect();
    lab.bridge(&sw, "br0", &refs)?;
    Ok(Topo {
        lab,
        client,
        dir,
        rs,
        _nginx: nginx,
    })
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

fn wait_socket(p: &mut Proc, socket: &Path, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if let Some(st) = p.try_wait()? {
            bail!("{what} exited ({st}) before serving:\n{}", p.log());
        }
        if Instant::now() >= deadline {
            bail!("{what} not ready in 10 s:\n{}", p.log());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
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
            wait_socket(&mut p, &socket, "rvsd")?;
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
                    && (st.code() == Some(143) || st.signal() == Some(libc::SIGTERM)));
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

/// Machine-wide busy and total CPU ticks (all CPUs) from /proc/stat.
fn cpu_ticks() -> Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| anyhow!("/proc/stat has no cpu line"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().context("/proc/stat field"))
        .collect::<Result<_>>()?;
    if v.len() < 8 {
        bail!("/proc/stat cpu line too short: {line}");
    }
    // user nice system idle iowait irq softirq steal; guest time is already in user.
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    Ok((busy, busy + v[3] + v[4]))
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime+stime of a process and all its threads, in ticks.
fn proc_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let rest = stat
        .rsplit_once(") ")
        .ok_or_else(|| anyhow!("malformed /proc/{pid}/stat"))?
        .1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| -> Result<u64> {
        f.get(i)
            .ok_or_else(|| anyhow!("/proc/{pid}/stat too short"))?
            .parse::<u64>()
            .context("/proc/PID/stat field")
    };
    // Fields 14 and 15 (utime, stime), counted from field 3 after the command name.
    Ok(get(11)? + get(12)?)
}

/// CPU used during one measurement.
struct CpuWindow {
    busy0: u64,
    total0: u64,
    proc0: Option<u64>,
    pid: Option<u32>,
}

struct CpuUse {
    busy_s: f64,
    busy_frac: f64,
    proc_s: Option<f64>,
}

impl CpuWindow {
    fn start(pid: Option<u32>) -> Result<CpuWindow> {
        let (busy0, total0) = cpu_ticks()?;
        let proc0 = pid.map(proc_ticks).transpose()?;
        Ok(CpuWindow {
            busy0,
            total0,
            proc0,
            pid,
        })
    }

    fn end(self) -> Result<CpuUse> {
        let (busy1, total1) = cpu_ticks()?;
        let hz = clk_tck();
        let proc_s = match (self.pid, self.proc0) {
            (Some(pid), Some(p0)) => Some(proc_ticks(pid)?.saturating_sub(p0) as f64 / hz),
            _ => None,
        };
        let busy = busy1.saturating_sub(self.busy0);
        let total = total1.saturating_sub(self.total0).max(1);
        Ok(CpuUse {
            busy_s: busy as f64 / hz,
            busy_frac: busy as f64 / total as f64,
            proc_s,
        })
    }
}

/// How busy the machine is with nothing of ours running: other builds on a shared VM
/// show up here and explain noisy figures.
fn background_busy() -> Result<f64> {
    let w = CpuWindow::start(None)?;
    std::thread::sleep(Duration::from_secs(1));
    Ok(w.end()?.busy_frac)
}

#[derive(Clone, Debug)]
struct HttpFig {
    requests: u64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
    non_2xx_3xx: u64,
    busy_cpu_s: f64,
    busy_frac: f64,
    proc_cpu_s: Option<f64>,
}

impl HttpFig {
    fn per_cpu_s(&self) -> f64 {
        self.requests as f64 / self.busy_cpu_s.max(1e-9)
    }

    fn json(&self) -> Value {
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
struct UdpFig {
    sent: u64,
    delivered: u64,
    per_sink: Vec<u64>,
    seconds: f64,
    busy_cpu_s: f64,
    busy_frac: f64,
    proc_cpu_s: Option<f64>,
}

impl UdpFig {
    fn sent_pps(&self) -> f64 {
        self.sent as f64 / self.seconds
    }
    fn pps(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }
    fn loss(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            1.0 - self.delivered as f64 / self.sent as f64
        }
    }
    fn per_cpu_s(&self) -> f64 {
        self.delivered as f64 / self.busy_cpu_s.max(1e-9)
    }

    fn json(&self) -> Value {
        json!({
            "sent": self.sent, "delivered": self.delivered, "per_sink": self.per_sink,
            "seconds": self.seconds, "sent_pps": self.sent_pps(), "delivered_pps": self.pps(),
            "loss": self.loss(), "busy_cpu_s": self.busy_cpu_s, "busy_cpu_fraction": self.busy_frac,
            "packets_per_busy_cpu_s": self.per_cpu_s(), "lb_process_cpu_s": self.proc_cpu_s,
        })
    }
}

struct RunFig {
    round: u32,
    background: f64,
    keepalive: HttpFig,
    close: HttpFig,
    udp: Option<UdpFig>,
    io_stats: Option<String>,
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
    // Let queued datagrams reach the sinks before they count.
    std::thread::sleep(Duration::from_millis(300));
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

/// The better of the rounds, per workload: on a shared 2-core VM the worse round mostly
/// measures whoever else was using the CPU.
struct Best {
    keepalive: HttpFig,
    close: HttpFig,
    udp: Option<UdpFig>,
}

fn best(runs: &[RunFig]) -> Option<Best> {
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

struct Table {
    cols: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
}

impl Table {
    fn row(&mut self, name: &str, cells: Vec<String>) {
        self.rows.push((name.to_string(), cells));
    }

    fn render(&self) -> String {
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

fn report(order: &[Contender], bests: &[(Contender, Best)]) -> Table {
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

fn main() -> Result<()> {
    let opts = parse_opts()?;
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
