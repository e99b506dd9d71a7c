//! `make demo`: the LVS/NAT how-to of seed 001, replayed against rvs in network namespaces.
//!
//! A client, a director running `rvsd`, and three real servers running nginx (each
//! answering its own name) are built with [`rvs_testnet::Lab`]. The director is configured
//! with the same `ipvsadm` commands a user would type (through an `ipvsadm` link to
//! `rvsadm`), traffic is sent through it with round robin and then weighted round robin,
//! and the share each real server received is printed. Everything is torn down at the end,
//! also on failure and on Ctrl-C.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rvs_testnet::{Lab, Ns, Proc, VethOpts};

const VIP: &str = "10.0.0.1";
const CLIENT: &str = "10.0.0.2";
const DIP: &str = "172.16.0.1";
const REAL_SERVERS: [(&str, &str); 3] = [
    ("rs1", "172.16.0.2"),
    ("rs2", "172.16.0.3"),
    ("rs3", "172.16.0.4"),
];
const WEIGHTS: [u32; 3] = [1, 2, 3];

const USAGE: &str = "\
Usage: rvs-demo [--io afxdp|afpacket] [--requests N]

Builds a small LVS/NAT cluster in network namespaces (a client, a director running
rvsd, three nginx real servers), configures it with the ipvsadm commands of the classic
LVS/NAT how-to, sends traffic through it with rr and then wrr, and shows how the
requests were shared. Needs root. Everything is removed again at the end.

Options:
  --io MODE       the director's packet I/O: afxdp (default) or afpacket
  --requests N    requests per round (default 600)
  -h, --help      this text";

struct Opts {
    io: String,
    requests: usize,
}

fn parse_args() -> Result<Opts> {
    let mut opts = Opts {
        io: "afxdp".into(),
        requests: 600,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| anyhow!("{name} needs a value\n\n{USAGE}"))
        };
        match key.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--io" => {
                let v = value("--io")?;
                if v != "afxdp" && v != "afpacket" {
                    bail!("--io must be afxdp or afpacket, not {v:?}");
                }
                opts.io = v;
            }
            "--requests" => {
                let v = value("--requests")?;
                opts.requests = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| {
                        anyhow!("--requests wants a number from 1 to 100000, not {v:?}")
                    })?;
            }
            _ => bail!("unknown argument {a:?}\n\n{USAGE}"),
        }
    }
    Ok(opts)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rvs-demo: {e:#}");
            std::process::exit(2);
        }
    };
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "rvs-demo: needs root (it creates network namespaces, veths and nginx servers); \
             run it with sudo, e.g. `sudo make demo`"
        );
        std::process::exit(1);
    }
    // Ctrl-C (or SIGTERM) only raises a flag: the demo stops at its next step and unwinds
    // normally, so the lab's Drop removes the namespaces. A second Ctrl-C quits at once
    // (the next lab run removes whatever is left).
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it acts only when the flag is already up: the second signal.
        let reg = signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())
            .and_then(|_| signal_hook::flag::register(sig, stop.clone()));
        if let Err(e) = reg {
            eprintln!("rvs-demo: installing the signal handler: {e}");
            std::process::exit(1);
        }
    }

    let started = Instant::now();
    let mut namespaces = Vec::new();
    let result = run(&opts, &stop, &mut namespaces);
    // The lab has been dropped by now: check that it left nothing behind.
    let left = leftover_namespaces(&namespaces);
    if stop.load(Ordering::SeqCst) {
        eprintln!("\nrvs-demo: interrupted; the demo cluster has been removed");
        report_leftovers(&left);
        std::process::exit(130);
    }
    match result {
        Ok(()) => {
            heading("Cleaning up");
            if left.is_empty() {
                println!(
                    "Stopped rvsd and nginx, removed the {} namespaces ({}).",
                    namespaces.len(),
                    namespaces.join(" ")
                );
            } else {
                report_leftovers(&left);
                std::process::exit(1);
            }
            println!(
                "\nDone in {:.1} s. That was LVS/NAT: one VIP, three real servers, rr then wrr,\n\
                 configured with plain ipvsadm commands and served by rvs in userspace.",
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("\nrvs-demo: FAILED: {e:#}");
            report_leftovers(&left);
            std::process::exit(1);
        }
    }
}

fn report_leftovers(left: &[String]) {
    if !left.is_empty() {
        eprintln!(
            "rvs-demo: namespaces left behind: {} (remove with `ip netns del NAME`)",
            left.join(" ")
        );
    }
}

fn leftover_namespaces(ours: &[String]) -> Vec<String> {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    ours.iter()
        .filter(|n| listed.contains(&n.as_str()))
        .cloned()
        .collect()
}

fn heading(title: &str) {
    println!("\n=== {title} ===\n");
}

fn check(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

/// Finds `rvsd`/`rvsadm`: next to this executable (target/release/ after `make demo`),
/// else where rvs-testnet looks for workspace binaries.
fn find_bin(name: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::current_exe()?.parent() {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    rvs_testnet::workspace_bin(name).with_context(|| {
        format!(
            "{name} not found; build it first: cargo build --release -p rvs (or run `make demo`)"
        )
    })
}

/// The director: rvsd in its namespace, and the `ipvsadm` a user would type.
struct Director {
    proc: Proc,
    socket: PathBuf,
    ipvsadm: PathBuf,
}

impl Director {
    fn start(lab: &Lab, ns: &Ns, rvsd: &Path, rvsadm: &Path, io: &str) -> Result<Director> {
        let bin = lab.dir().join("bin");
        std::fs::create_dir_all(&bin)?;
        let ipvsadm = bin.join("ipvsadm");
        std::os::unix::fs::symlink(rvsadm, &ipvsadm)
            .with_context(|| format!("linking {} to {}", ipvsadm.display(), rvsadm.display()))?;
        let socket = lab.dir().join("rvsd.sock");
        let sock = socket.display().to_string();
        let argv = [
            rvsd.to_str().context("rvsd path is not UTF-8")?,
            "--io",
            io,
            "--iface",
            "eth0",
            "--iface",
            "eth1",
            "--socket",
            &sock,
        ];
        println!("[director]# rvsd --io {io} --iface eth0 --iface eth1 --socket {sock} &");
        let mut proc = ns.spawn(&argv).context("starting rvsd")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if let Some(st) = proc.try_wait()? {
                bail!("rvsd exited ({st}) before serving:\n{}", proc.log());
            }
            if Instant::now() >= deadline {
                bail!("rvsd did not open its socket within 10 s:\n{}", proc.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Director {
            proc,
            socket,
            ipvsadm,
        })
    }

    /// Echoes `# ipvsadm ARGS`, runs it and prints what it printed; fails if it fails.
    fn ipvsadm(&mut self, args: &str) -> Result<()> {
        println!("# ipvsadm {args}");
        let out = self.ipvsadm_quiet(args)?;
        print!("{out}");
        Ok(())
    }

    fn ipvsadm_quiet(&mut self, args: &str) -> Result<String> {
        let o = Command::new(&self.ipvsadm)
            .args(args.split_whitespace())
            .env("RVS_SOCKET", &self.socket)
            .output()
            .context("running ipvsadm")?;
        if !o.status.success() {
            bail!(
                "`ipvsadm {args}` failed ({}): {}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim_end(),
                self.proc.log()
            );
        }
        if let Some(st) = self.proc.try_wait()? {
            bail!("rvsd exited ({st}):\n{}", self.proc.log());
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }
}

struct Cluster {
    // Field order is drop order: stop rvsd and nginx before the lab removes the namespaces.
    director: Director,
    _nginx: Vec<Proc>,
    client: Ns,
    _lab: Lab,
}

fn run(opts: &Opts, stop: &AtomicBool, namespaces: &mut Vec<String>) -> Result<()> {
    let rvsd = find_bin("rvsd")?;
    let rvsadm = find_bin("rvsadm")?;
    for tool in ["ip", "ethtool", "nginx", "curl"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            bail!("{tool} is not installed; run scripts/deps.sh (as root) first");
        }
    }

    println!("rvs demo: Linux Virtual Server's LVS/NAT how-to (seed 001), served by rvs.");
    heading("1. The cluster (network namespaces)");
    let rs = |i: usize| format!("{} {}", REAL_SERVERS[i].0, REAL_SERVERS[i].1);
    println!("  client {CLIENT}");
    println!("     |");
    println!("     | eth0  {VIP} = the VIP (the director's outside address)");
    println!(
        "  director  rvsd --io {}  (its kernel forwards nothing: ip_forward=0)",
        opts.io
    );
    println!("     | eth1  {DIP} (the real servers' default gateway)");
    println!("     |");
    println!(
        "  switch --+-- {}  nginx, answers \"{}\"",
        rs(0),
        REAL_SERVERS[0].0
    );
    println!(
        "           +-- {}  nginx, answers \"{}\"",
        rs(1),
        REAL_SERVERS[1].0
    );
    println!(
        "           +-- {}  nginx, answers \"{}\"",
        rs(2),
        REAL_SERVERS[2].0
    );
    let mut c = build(opts, &rvsd, &rvsadm, stop, namespaces)?;
    check(stop)?;

    heading("2. Configure the director, as in the how-to");
    c.director.ipvsadm(&format!("-A -t {VIP}:80 -s rr"))?;
    for (_, ip) in REAL_SERVERS {
        c.director
            .ipvsadm(&format!("-a -t {VIP}:80 -r {ip}:80 -m"))?;
    }
    c.director.ipvsadm("-Ln")?;
    check(stop)?;

    heading("3. Traffic with round robin (rr)");
    let rr = traffic(&c, opts.requests, stop)?;
    c.director.ipvsadm("-Ln --stats")?;
    println!();
    shares(&rr, None);
    check(stop)?;

    heading("4. Switch to weighted round robin (wrr), weights 1:2:3");
    c.director.ipvsadm(&format!("-E -t {VIP}:80 -s wrr"))?;
    for ((_, ip), w) in REAL_SERVERS.iter().zip(WEIGHTS) {
        c.director
            .ipvsadm(&format!("-e -t {VIP}:80 -r {ip}:80 -m -w {w}"))?;
    }
    c.director.ipvsadm("-Z")?;
    c.director.ipvsadm("-Ln")?;
    check(stop)?;

    heading("5. Traffic with wrr");
    let wrr = traffic(&c, opts.requests, stop)?;
    c.director.ipvsadm("-Ln --stats")?;
    println!();
    shares(&wrr, Some(&WEIGHTS));

    drop(c);
    Ok(())
}

fn build(
    opts: &Opts,
    rvsd: &Path,
    rvsadm: &Path,
    stop: &AtomicBool,
    namespaces: &mut Vec<String>,
) -> Result<Cluster> {
    let lab = Lab::new("demo")?;
    // Record the names as they are made, so main can check they are all gone at the end
    // even when building fails halfway.
    let ns = |name: &str, namespaces: &mut Vec<String>| -> Result<Ns> {
        let n = lab.ns(name)?;
        namespaces.push(n.name().to_string());
        Ok(n)
    };
    let client = ns("cl", namespaces)?;
    let dir = ns("dir", namespaces)?;
    let sw = ns("sw", namespaces)?;
    lab.veth((&client, "eth0"), (&dir, "eth0"), VethOpts::default())?;
    lab.veth((&dir, "eth1"), (&sw, "p0"), VethOpts::default())?;
    client.addr("eth0", &format!("{CLIENT}/24"))?;
    // Complete checksums on the frames the local TCP stacks send (see the README).
    client.tx_off("eth0")?;
    dir.addr("eth0", &format!("{VIP}/24"))?;
    dir.addr("eth1", &format!("{DIP}/24"))?;
    // rvs forwards, not the director's kernel.
    dir.sysctl("net.ipv4.ip_forward", "0")?;
    let mut ports = vec!["p0".to_string()];
    let mut nginx = Vec::new();
    for (i, (name, ip)) in REAL_SERVERS.iter().enumerate() {
        check(stop)?;
        let r = ns(name, namespaces)?;
        let port = format!("p{}", i + 1);
        lab.veth((&r, "eth0"), (&sw, &port), VethOpts::default())?;
        ports.push(port);
        r.addr("eth0", &format!("{ip}/24"))?;
        r.route(&format!("default via {DIP}"))?;
        r.tx_off("eth0")?;
        nginx.push(r.nginx(&["0.0.0.0:80".parse()?], name)?);
    }
    let refs: Vec<&str> = ports.iter().map(String::as_str).collect();
    lab.bridge(&sw, "br0", &refs)?;
    println!(
        "\nCreated namespaces {} and started nginx on rs1..rs3.",
        namespaces.join(" ")
    );
    check(stop)?;
    println!();
    let director = Director::start(&lab, &dir, rvsd, rvsadm, &opts.io)?;
    Ok(Cluster {
        director,
        _nginx: nginx,
        client,
        _lab: lab,
    })
}

/// `n` requests from the client to the VIP, each on a fresh TCP connection (so each one is
/// scheduled); returns how many each real server answered.
fn traffic(c: &Cluster, n: usize, stop: &AtomicBool) -> Result<BTreeMap<String, usize>> {
    let url = format!("http://{VIP}/?[1-{n}]");
    println!("[client]# curl -s -H 'Connection: close' 'http://{VIP}/?[1-{n}]'");
    println!("  ({n} requests, each on a new connection, so the director schedules every one;");
    println!("   each answer is the name of the real server that sent it)");
    let t = Instant::now();
    let out = c
        .client
        .exec_timeout(
            &[
                "curl",
                "-sS",
                "--fail",
                "--max-time",
                "5",
                "-H",
                "Connection: close",
                &url,
            ],
            Duration::from_secs(60),
        )
        .with_context(|| {
            format!(
                "curl from the client to the VIP failed\n{}",
                c.director.proc.log()
            )
        })?;
    check(stop)?;
    let mut counts: BTreeMap<String, usize> = REAL_SERVERS
        .iter()
        .map(|(name, _)| (name.to_string(), 0))
        .collect();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut total = 0;
    for line in text.lines() {
        let name = line.trim();
        match counts.get_mut(name) {
            Some(k) => *k += 1,
            None => bail!("unexpected answer {name:?} from the VIP"),
        }
        total += 1;
    }
    if total != n {
        bail!("sent {n} requests but got {total} answers");
    }
    println!("  {total} answers in {:.2} s\n", t.elapsed().as_secs_f64());
    Ok(counts)
}

fn shares(counts: &BTreeMap<String, usize>, weights: Option<&[u32]>) {
    let total: usize = counts.values().sum();
    let wsum: u32 = weights.map(|w| w.iter().sum()).unwrap_or(0);
    println!("Share of the requests each real server answered:");
    for (i, (name, ip)) in REAL_SERVERS.iter().enumerate() {
        let k = counts.get(*name).copied().unwrap_or(0);
        let pct = 100.0 * k as f64 / total.max(1) as f64;
        let bar = "#".repeat((pct / 2.0).round() as usize);
        let expected = match weights {
            Some(w) => format!(
                "   expected {}/{wsum} = {:4.1}%",
                w[i],
                100.0 * f64::from(w[i]) / f64::from(wsum)
            ),
            None => String::new(),
        };
        println!("  {name} {ip:<11} {k:>5} answers {pct:5.1}%{expected}  {bar}");
    }
}
