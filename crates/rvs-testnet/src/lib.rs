//! A network-namespace lab for end-to-end tests with real packets, in the spirit of the
//! kernel's IPVS selftest `ipvs.sh`: namespaces joined by veth pairs and bridges, real
//! servers running nginx, clients driving curl, ab, wrk and `rvs-udp`.
//!
//! ```no_run
//! let lab = rvs_testnet::Lab::new("nat").expect("lab (needs root)");
//! let client = lab.ns("client").unwrap();
//! let server = lab.ns("rs1").unwrap();
//! lab.veth((&client, "eth0"), (&server, "eth0"), Default::default()).unwrap();
//! client.addr("eth0", "10.0.0.1/24").unwrap();
//! server.addr("eth0", "10.0.0.2/24").unwrap();
//! let _nginx = server.nginx(&["10.0.0.2:80".parse().unwrap()], "rs1").unwrap();
//! assert_eq!(client.curl("http://10.0.0.2/").unwrap(), "rs1\n");
//! ```
//!
//! Everything is torn down when the [`Lab`] drops, also when the test panicked. A test
//! that is not run as root fails in [`Lab::new`]; it never skips, so a CI that lost its
//! privileges shows red instead of silently testing nothing.
//!
//! Names: every namespace is `<prefix><name>`, with a prefix of `r` + 4 hex digits + up to
//! 3 characters of the tag, and must fit in 15 characters like an interface name. Each lab
//! registers itself in `/run/rvs-testnet/<prefix>` (owner pid, its start time, and every
//! namespace before it is created); a later lab removes the namespaces of registrations
//! whose owner is dead, so a crashed run cleans up after itself without ever touching the
//! namespaces of a test that runs concurrently in another thread or process.
//!
//! Workspace binaries (`rvs-udp`, `rvsd`, …) are found with [`workspace_bin`]. The
//! seeds' topologies (LVS/NAT, LVS/DR), as the e2e tests and the e2e bench use them, are
//! in [`topo`]; the two-director VRRP lab, keepalived as a peer and the failover prober
//! are in [`vrrp`].
//!
//! Tests wait for state, never for time: [`wait_for`] polls an observable state (a
//! listing, a log line, a file) until it holds or a deadline passes.

#![forbid(unsafe_code)]

mod error;
pub mod topo;
pub mod vrrp;

pub use error::{Error, Result};
pub use rustix::process::Signal;

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{ErrorKind, Write as _};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use error::IoContext;
use rustix::process::Pid;
use sha2::{Digest, Sha256};

const REGISTRY_DIR: &str = "/run/rvs-testnet";
const MAX_NAME: usize = 15;
const BIG_FILE_LEN: usize = 20 * 1024 * 1024;
/// The size of what nginx serves at `/slow`.
pub const SLOW_FILE_LEN: usize = 1024 * 1024;
/// 1 MiB at 400 KiB/s keeps a `/slow` download open for about 2.5 s.
const SLOW_RATE: &str = "400k";
/// How often [`wait_for`] looks again.
const POLL: Duration = Duration::from_millis(20);

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Queue counts of a veth pair: AF_XDP binds one socket per queue, so a multi-queue data
/// path needs more than the default single queue.
#[derive(Debug, Clone, Copy)]
pub struct VethOpts {
    pub rx_queues: u32,
    pub tx_queues: u32,
}

impl Default for VethOpts {
    fn default() -> Self {
        VethOpts {
            rx_queues: 1,
            tx_queues: 1,
        }
    }
}

struct LabInner {
    prefix: String,
    dir: PathBuf,
    registry: PathBuf,
    namespaces: Mutex<Vec<String>>,
    big_sha256: OnceLock<String>,
    proc_counter: AtomicU32,
}

/// A set of namespaces, processes and temp files that live and die together.
pub struct Lab {
    inner: Arc<LabInner>,
}

/// A network namespace of a [`Lab`]. Cheap to clone; it does not own the namespace (the lab
/// deletes it).
#[derive(Clone)]
pub struct Ns {
    name: String,
    lab: Arc<LabInner>,
}

/// A background process started in a namespace. Dropping it stops it (SIGTERM to its
/// process group, SIGKILL after 1 s) and reaps it.
pub struct Proc {
    child: Option<Child>,
    label: String,
    out_path: PathBuf,
    err_path: PathBuf,
}

/// The figures `ab` prints that tests assert on.
#[derive(Debug, Clone, PartialEq)]
pub struct AbReport {
    pub complete: u64,
    pub failed: u64,
    pub non_2xx: u64,
    pub requests_per_sec: f64,
}

/// The figures `wrk --latency` prints that tests and benchmarks report.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkReport {
    pub requests: u64,
    pub requests_per_sec: f64,
    pub p50: Duration,
    pub p75: Duration,
    pub p90: Duration,
    pub p99: Duration,
    /// connect + read + write + timeout socket errors.
    pub socket_errors: u64,
    pub non_2xx_3xx: u64,
}

impl Lab {
    /// Creates an empty lab. Fails unless run as root, and removes what earlier labs whose
    /// process died left behind.
    pub fn new(tag: &str) -> Result<Lab> {
        if !rustix::process::geteuid().is_root() {
            return Err(Error::NotRoot);
        }
        fs::create_dir_all(REGISTRY_DIR).ctx(|| format!("creating {REGISTRY_DIR}"))?;
        reap_dead_labs();

        let abbr: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .take(3)
            .collect();
        let pid = std::process::id();
        let my_start = proc_start_time(pid)
            .ok_or_else(|| Error::Usage(format!("cannot read the start time of pid {pid}")))?;
        // The prefix must be unique among live labs; O_EXCL on the registry file settles
        // races between threads and processes that hash to the same 4 digits.
        const ATTEMPTS: u32 = 1000;
        for attempt in 0..ATTEMPTS {
            let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut h = DefaultHasher::new();
            (pid, n, attempt, Instant::now()).hash(&mut h);
            let prefix = format!("r{:04x}{abbr}", h.finish() & 0xffff);
            let registry = Path::new(REGISTRY_DIR).join(&prefix);
            let mut f = match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&registry)
            {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).ctx(|| format!("creating {}", registry.display())),
            };
            writeln!(f, "{pid} {my_start}").ctx(|| format!("writing {}", registry.display()))?;
            let dir = std::env::temp_dir().join(format!("rvs-testnet-{prefix}"));
            // A dead lab with this prefix may have left its directory behind.
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
            // nginx workers and other tools may drop privileges; let them read what is here.
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                .ctx(|| format!("chmod {}", dir.display()))?;
            return Ok(Lab {
                inner: Arc::new(LabInner {
                    prefix,
                    dir,
                    registry,
                    namespaces: Mutex::new(Vec::new()),
                    big_sha256: OnceLock::new(),
                    proc_counter: AtomicU32::new(0),
                }),
            });
        }
        Err(Error::NoFreePrefix(ATTEMPTS))
    }

    /// The prefix of every namespace of this lab.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The lab's temp directory (logs, configs, served files); removed on drop unless
    /// `RVS_TESTNET_KEEP=1`.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Creates namespace `<prefix><name>` with `lo` up.
    pub fn ns(&self, name: &str) -> Result<Ns> {
        let full = format!("{}{name}", self.inner.prefix);
        if full.len() > MAX_NAME {
            return Err(Error::NameTooLong {
                kind: "namespace",
                name: full,
            });
        }
        // Register before creating, so a crash in between still gets cleaned up.
        {
            let mut list = self.inner.namespaces.lock().unwrap();
            let registry = &self.inner.registry;
            let what = || format!("registering {full} in {}", registry.display());
            let mut f = OpenOptions::new().append(true).open(registry).ctx(what)?;
            writeln!(f, "{full}").ctx(what)?;
            list.push(full.clone());
        }
        run_checked(Command::new("ip").args(["netns", "add", &full]))?;
        let ns = Ns {
            name: full,
            lab: self.inner.clone(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Creates a veth pair with one end in each namespace, both up. Creating it with both
    /// ends already inside the namespaces avoids name clashes in the root namespace, where
    /// concurrent labs would all want `eth0`.
    pub fn veth(&self, a: (&Ns, &str), b: (&Ns, &str), opts: VethOpts) -> Result<()> {
        let (rx, tx) = (opts.rx_queues.to_string(), opts.tx_queues.to_string());
        for n in [a.1, b.1] {
            if n.len() > MAX_NAME {
                return Err(Error::NameTooLong {
                    kind: "interface",
                    name: n.to_string(),
                });
            }
        }
        a.0.ip(&[
            "link",
            "add",
            a.1,
            "numrxqueues",
            &rx,
            "numtxqueues",
            &tx,
            "type",
            "veth",
            "peer",
            "name",
            b.1,
            "netns",
            &b.0.name,
            "numrxqueues",
            &rx,
            "numtxqueues",
            &tx,
        ])?;
        a.0.ip(&["link", "set", a.1, "up"])?;
        b.0.ip(&["link", "set", b.1, "up"])?;
        Ok(())
    }

    /// Creates bridge `name` in `ns`, enslaves `ifaces` (already in `ns`) and brings it up.
    pub fn bridge(&self, ns: &Ns, name: &str, ifaces: &[&str]) -> Result<()> {
        ns.ip(&["link", "add", name, "type", "bridge"])?;
        for i in ifaces {
            ns.ip(&["link", "set", i, "master", name])?;
            ns.ip(&["link", "set", i, "up"])?;
        }
        ns.ip(&["link", "set", name, "up"])?;
        Ok(())
    }

    /// The hex sha256 of what nginx serves at `/big` (20 MiB of pseudo-random bytes, made
    /// once per lab).
    pub fn big_file_sha256(&self) -> Result<String> {
        self.inner.served_files()
    }

    /// Names of the namespaces this lab created, full names.
    pub fn namespaces(&self) -> Vec<String> {
        self.inner.namespaces.lock().unwrap().clone()
    }
}

impl LabInner {
    /// Writes the files every nginx of the lab serves (`www/shared/{big,slow}`) once.
    fn served_files(&self) -> Result<String> {
        if let Some(s) = self.big_sha256.get() {
            return Ok(s.clone());
        }
        let shared = self.dir.join("www/shared");
        let what = || format!("writing the served files in {}", shared.display());
        fs::create_dir_all(&shared).ctx(what)?;
        // xorshift64*: incompressible enough that no layer can cheat with compression, and
        // fast enough that 20 MiB costs a few ms.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id());
        let mut buf = Vec::with_capacity(BIG_FILE_LEN);
        while buf.len() < BIG_FILE_LEN {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        fs::write(shared.join("big"), &buf).ctx(what)?;
        fs::write(shared.join("slow"), &buf[..SLOW_FILE_LEN]).ctx(what)?;
        let digest = hex(&Sha256::digest(&buf));
        // A concurrent first call wrote identical bytes, so either value is the right one.
        Ok(self.big_sha256.get_or_init(|| digest).clone())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let namespaces = self.inner.namespaces.lock().unwrap().clone();
        for ns in &namespaces {
            kill_ns_pids(ns);
        }
        for ns in &namespaces {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        if std::env::var_os("RVS_TESTNET_KEEP").is_some_and(|v| v == "1") {
            eprintln!("rvs-testnet: keeping {}", self.inner.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.inner.dir);
        }
        let _ = fs::remove_file(&self.inner.registry);
    }
}

/// Kills every process inside a namespace. Deleting a namespace does not kill its
/// processes, and a stray nginx would keep the namespace (and its veths) alive.
fn kill_ns_pids(ns: &str) {
    for sig in [Signal::TERM, Signal::KILL] {
        let pids = ns_pids(ns);
        if pids.is_empty() {
            return;
        }
        for pid in pids.iter().filter_map(|p| Pid::from_raw(*p)) {
            // A pid that died meanwhile gets ESRCH, which is what we wanted anyway.
            let _ = rustix::process::kill_process(pid, sig);
        }
        let _ = wait_for(
            "namespace processes gone",
            Duration::from_millis(500),
            || {
                Ok(match ns_pids(ns) {
                    left if left.is_empty() => ControlFlow::Break(()),
                    left => ControlFlow::Continue(format!("left: {left:?}")),
                })
            },
        );
    }
}

fn ns_pids(ns: &str) -> Vec<i32> {
    let out = Command::new("ip")
        .args(["netns", "pids", ns])
        .stderr(Stdio::null())
        .output();
    // Zombies still show up in `ip netns pids`; their parent (a Proc) reaps them.
    let Ok(out) = out else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .filter(|p| !is_zombie(*p))
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(true)
}

/// The start time (clock ticks since boot) of a process: with the pid it identifies a
/// process even after the pid was reused.
fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22; the command name (field 2) may contain spaces, so count after ") ".
    let rest = stat.rsplit_once(") ")?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Removes the namespaces and files of registered labs whose owning process is gone.
fn reap_dead_labs() {
    let Ok(entries) = fs::read_dir(REGISTRY_DIR) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let mut lines = text.lines();
        let owner = lines.next().and_then(|l| {
            let (pid, start) = l.split_once(' ')?;
            Some((pid.parse::<u32>().ok()?, start.parse::<u64>().ok()?))
        });
        let alive = match owner {
            Some((pid, start)) => proc_start_time(pid) == Some(start),
            // A registry still being written by its owner: leave it to a later run.
            None => continue,
        };
        if alive {
            continue;
        }
        for ns in lines {
            kill_ns_pids(ns);
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        let prefix = e.file_name().to_string_lossy().into_owned();
        let _ = fs::remove_dir_all(std::env::temp_dir().join(format!("rvs-testnet-{prefix}")));
        let _ = fs::remove_file(&path);
    }
}

impl Ns {
    /// The full namespace name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> <args>`, checked.
    pub fn ip(&self, args: &[&str]) -> Result<Output> {
        run_checked(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// Adds an address, e.g. `ns.addr("eth0", "10.0.0.1/24")`. IPv6 addresses skip
    /// duplicate address detection, which would leave them unusable ("tentative") for
    /// the first second or two of a test.
    pub fn addr(&self, iface: &str, cidr: &str) -> Result<()> {
        let mut args = vec!["addr", "add", cidr, "dev", iface];
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.ip(&args).map(drop)
    }

    /// Adds a route given as `ip route add` arguments, e.g. `"default via 10.0.0.254"`.
    pub fn route(&self, spec: &str) -> Result<()> {
        let mut args = vec!["route", "add"];
        args.extend(spec.split_whitespace());
        self.ip(&args).map(drop)
    }

    /// Sets a sysctl inside the namespace (net.* sysctls are per namespace).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")])
            .map(drop)
    }

    /// Turns TX checksum offload off, so packets a local TCP stack sends over a veth carry
    /// complete checksums: with offload on they leave with only a pseudo-header sum, which
    /// a userspace rewriter would patch incrementally into a wrong checksum.
    pub fn tx_off(&self, iface: &str) -> Result<()> {
        self.exec(&["ethtool", "-K", iface, "tx", "off"]).map(drop)
    }

    /// The MAC address of an interface, `aa:bb:cc:dd:ee:ff`.
    pub fn mac(&self, iface: &str) -> Result<String> {
        // `ip netns exec` mounts a /sys that shows the namespace's interfaces.
        let out = self.exec(&["cat", &format!("/sys/class/net/{iface}/address")])?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Runs a command in the namespace and waits; Err (with its output) on a nonzero exit.
    pub fn exec(&self, argv: &[&str]) -> Result<Output> {
        run_checked(&mut self.command(argv))
    }

    /// Like [`Ns::exec`], but kills the command (coreutils `timeout`, SIGKILL 1 s after
    /// SIGTERM) if it runs longer than `limit`: for tools without a time limit of their
    /// own. A command stopped that way fails with [`Error::Failed`] and exit status 124.
    pub fn exec_timeout(&self, argv: &[&str], limit: Duration) -> Result<Output> {
        let secs = format!("{:.3}", limit.as_secs_f64());
        let mut full = vec!["timeout", "--kill-after=1", &secs];
        full.extend_from_slice(argv);
        self.exec(&full)
    }

    /// Runs a command in the namespace and waits, whatever its exit status.
    pub fn run(&self, argv: &[&str]) -> Result<Output> {
        let mut cmd = self.command(argv);
        cmd.output().ctx(|| format!("spawning {cmd:?}"))
    }

    /// A `Command` that runs `argv` in the namespace, for callers that need more control.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        cmd
    }

    /// Starts a background process in the namespace; its stdout and stderr go to files in
    /// the lab's directory (see [`Proc::log`]).
    pub fn spawn(&self, argv: &[&str]) -> Result<Proc> {
        let n = self.lab.proc_counter.fetch_add(1, Ordering::Relaxed);
        let base = Path::new(argv.first().copied().unwrap_or("proc"))
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "proc".into());
        let label = format!("{base}-{n}@{}", self.name);
        let out_path = self.lab.dir.join(format!("{base}-{n}.out"));
        let err_path = self.lab.dir.join(format!("{base}-{n}.err"));
        let what = || format!("spawning {argv:?} in {}", self.name);
        let mut cmd = self.command(argv);
        cmd.stdin(Stdio::null())
            .stdout(File::create(&out_path).ctx(what)?)
            .stderr(File::create(&err_path).ctx(what)?)
            // Its own process group, so Drop can stop it with all its children (nginx's
            // worker, a shell's pipeline) with one signal.
            .process_group(0);
        let child = cmd.spawn().ctx(what)?;
        Ok(Proc {
            child: Some(child),
            label,
            out_path,
            err_path,
        })
    }

    /// Waits until something accepts TCP connections at `addr`, from inside the namespace.
    pub fn wait_tcp(&self, addr: SocketAddr, timeout: Duration) -> Result<()> {
        self.wait_tcp_while(addr, timeout, || Ok(()))
    }

    fn wait_tcp_while(
        &self,
        addr: SocketAddr,
        timeout: Duration,
        mut alive: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        let probe = format!("</dev/tcp/{}/{}", addr.ip(), addr.port());
        let what = format!("TCP connections accepted at {addr} in {}", self.name);
        wait_for(&what, timeout, || {
            let o = self.run(&["bash", "-c", &probe])?;
            if o.status.success() {
                return Ok(ControlFlow::Break(()));
            }
            alive()?;
            Ok(ControlFlow::Continue(
                String::from_utf8_lossy(&o.stderr).into_owned(),
            ))
        })
    }

    /// `curl` the body of `url` (10 s max), failing on HTTP errors.
    pub fn curl(&self, url: &str) -> Result<String> {
        let out = self.exec(&["curl", "-sS", "--fail", "--max-time", "10", url])?;
        String::from_utf8(out.stdout)
            .map_err(|_| Error::Usage(format!("curl {url}: body is not UTF-8 (use curl_bytes)")))
    }

    /// `curl` the body of `url` as bytes, with a time limit.
    pub fn curl_bytes(&self, url: &str, max_time: Duration) -> Result<Vec<u8>> {
        let max = format!("{:.3}", max_time.as_secs_f64());
        Ok(self
            .exec(&["curl", "-sS", "--fail", "--max-time", &max, url])?
            .stdout)
    }

    /// Starts nginx in the foreground in this namespace, listening on `listen`, and waits
    /// until it accepts connections. It serves `/` = `body_name` + "\n", `/big` = the lab's
    /// 20 MiB file ([`Lab::big_file_sha256`]), and `/slow` = 1 MiB at 400 KiB/s (~2.5 s).
    pub fn nginx(&self, listen: &[SocketAddr], body_name: &str) -> Result<Proc> {
        if listen.is_empty() {
            return Err(Error::Usage(
                "nginx needs at least one listen address".into(),
            ));
        }
        self.lab.served_files()?;
        let n = self.lab.proc_counter.fetch_add(1, Ordering::Relaxed);
        let dir = &self.lab.dir;
        let root = dir.join(format!("www/nginx-{n}"));
        let tmp = dir.join(format!("nginx-{n}.tmp"));
        let conf_path = dir.join(format!("nginx-{n}.conf"));
        let what = || format!("writing nginx {n}'s files in {}", dir.display());
        fs::create_dir_all(&root).ctx(what)?;
        fs::write(root.join("index.html"), format!("{body_name}\n")).ctx(what)?;
        fs::create_dir_all(&tmp).ctx(what)?;
        fs::write(&conf_path, nginx_conf(dir, n, listen, &root, &tmp)).ctx(what)?;
        let early_err = dir.join(format!("nginx-{n}.early.log"));
        let (c, e, p) = (
            conf_path.to_string_lossy(),
            early_err.to_string_lossy(),
            dir.to_string_lossy(),
        );
        // -e: nginx logs to its compiled-in /var/log/nginx/error.log until it has read the
        // config; point that at the lab too.
        let mut proc = self.spawn(&["nginx", "-p", &p, "-e", &e, "-c", &c, "-g", "daemon off;"])?;
        let error_log = dir.join(format!("nginx-{n}.error.log"));
        let label = proc.label.clone();
        let waited = self.wait_tcp_while(listen[0], Duration::from_secs(10), || {
            match proc.try_wait()? {
                Some(status) => Err(Error::Exited {
                    what: format!("{label} before listening"),
                    status,
                    log: String::new(),
                }),
                None => Ok(()),
            }
        });
        if let Err(e) = waited {
            let log = fs::read_to_string(&error_log).unwrap_or_default();
            let early = fs::read_to_string(&early_err).unwrap_or_default();
            return Err(Error::Usage(format!(
                "nginx in {} did not come up: {e}\n{}\nerror log:\n{early}{log}",
                self.name,
                proc.log()
            )));
        }
        for a in &listen[1..] {
            self.wait_tcp(*a, Duration::from_secs(5))?;
        }
        Ok(proc)
    }

    /// Runs `ab` with `args` (e.g. `["-n", "1000", "-c", "10", url]`) and parses its report.
    pub fn ab(&self, args: &[&str]) -> Result<AbReport> {
        let mut argv = vec!["ab", "-q"];
        argv.extend_from_slice(args);
        let out = self.exec(&argv)?;
        parse_ab(&String::from_utf8_lossy(&out.stdout))
    }

    /// Runs `wrk --latency` against `url` and parses its report.
    pub fn wrk(
        &self,
        url: &str,
        threads: u32,
        connections: u32,
        duration: Duration,
    ) -> Result<WrkReport> {
        let (t, c) = (threads.to_string(), connections.to_string());
        let d = format!("{}s", duration.as_secs().max(1));
        let out = self.exec(&["wrk", "--latency", "-t", &t, "-c", &c, "-d", &d, url])?;
        parse_wrk(&String::from_utf8_lossy(&out.stdout))
    }
}

/// nginx's configuration for instance `n` of a lab.
fn nginx_conf(dir: &Path, n: u32, listen: &[SocketAddr], root: &Path, tmp: &Path) -> String {
    let d = dir.display();
    // `user root`: the default `nobody` could not write the temp paths under our dir.
    let mut conf = format!(
        "user root;\nworker_processes 1;\npid {d}/nginx-{n}.pid;\n\
         error_log {d}/nginx-{n}.error.log info;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n\
         \x20 keepalive_requests 1000000;\n  default_type text/plain;\n"
    );
    for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        let _ = writeln!(conf, "  {t}_temp_path {}/{t};", tmp.display());
    }
    conf.push_str("  server {\n");
    for a in listen {
        let _ = writeln!(conf, "    listen {a};");
    }
    let _ = writeln!(
        conf,
        "    root {};\n    index index.html;\n\
         \x20   location = /big {{ root {d}/www/shared; default_type application/octet-stream; }}\n\
         \x20   location = /slow {{ root {d}/www/shared; default_type application/octet-stream; limit_rate {SLOW_RATE}; }}\n\
         \x20 }}\n}}",
        root.display()
    );
    conf
}

/// Polls `probe` until it says the awaited state holds (`Break`), or fails with
/// [`Error::Timeout`] after `limit` with the last state it saw (`Continue(seen)`). This is
/// how tests synchronise: on what the system shows, never on a sleep.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Result<ControlFlow<T, String>>,
) -> Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        let seen = match probe()? {
            ControlFlow::Break(v) => return Ok(v),
            ControlFlow::Continue(seen) => seen,
        };
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                limit,
                seen,
            });
        }
        std::thread::sleep(POLL);
    }
}

/// The size of a file, 0 while it does not exist: for waiting on a download's progress.
pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

impl Proc {
    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Whether it has exited (and its status), without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        let label = &self.label;
        match self.child.as_mut() {
            Some(c) => c.try_wait().ctx(|| format!("waiting for {label}")),
            None => Err(self.reaped()),
        }
    }

    fn reaped(&self) -> Error {
        Error::Usage(format!("{} was already reaped", self.label))
    }

    /// What it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.out_path).unwrap_or_default()
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.err_path).unwrap_or_default()
    }

    /// Both outputs, labelled, for a failing test to print.
    pub fn log(&self) -> String {
        format!(
            "--- {} stdout ---\n{}--- {} stderr ---\n{}",
            self.label,
            self.stdout(),
            self.label,
            self.stderr()
        )
    }

    /// Waits until `needle` appears in its stdout or stderr (e.g. a "listening" line).
    pub fn wait_output(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        self.wait_output_count(needle, 1, timeout)
    }

    /// Waits until `needle` appears at least `n` times in its stdout and stderr together
    /// (e.g. the n-th "configuration reloaded").
    pub fn wait_output_count(&mut self, needle: &str, n: usize, timeout: Duration) -> Result<()> {
        let what = format!("{} printing {needle:?} {n} time(s)", self.label);
        wait_for(&what, timeout, || {
            if self.stdout().matches(needle).count() + self.stderr().matches(needle).count() >= n {
                return Ok(ControlFlow::Break(()));
            }
            if let Some(status) = self.try_wait()? {
                return Err(Error::Exited {
                    what: what.clone(),
                    status,
                    log: self.log(),
                });
            }
            Ok(ControlFlow::Continue(self.log()))
        })
    }

    /// Waits for it to exit by itself, up to `timeout` (then kills it and fails).
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let what = format!("{} exiting", self.label);
        let r = wait_for(&what, timeout, || {
            Ok(match self.try_wait()? {
                Some(st) => ControlFlow::Break(st),
                None => ControlFlow::Continue(self.log()),
            })
        });
        if r.is_err() {
            self.kill();
        }
        r
    }

    /// Sends `sig` to the process alone (not its group): SIGHUP to reload a daemon.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        let child = self.child.as_ref().ok_or_else(|| self.reaped())?;
        rustix::process::kill_process(Pid::from_child(child), sig)
            .map_err(std::io::Error::from)
            .ctx(|| format!("signalling {}", self.label))
    }

    /// SIGTERM to its process group and wait for it (SIGKILL after 1 s).
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let pgid = match self.child.as_ref() {
            Some(c) => Pid::from_child(c),
            None => return Err(self.reaped()),
        };
        // The unreaped child keeps the group id ours, so the signal reaches no stranger.
        let _ = rustix::process::kill_process_group(pgid, Signal::TERM);
        let what = format!("{} stopping on SIGTERM", self.label);
        let stopped = wait_for(&what, Duration::from_secs(1), || {
            Ok(match self.try_wait()? {
                Some(st) => ControlFlow::Break(st),
                None => ControlFlow::Continue(String::new()),
            })
        });
        match stopped {
            Ok(st) => Ok(st),
            Err(Error::Timeout { .. }) => {
                let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
                let label = &self.label;
                match self.child.as_mut() {
                    Some(c) => c.wait().ctx(|| format!("reaping {label}")),
                    None => Err(self.reaped()),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// SIGKILL to its process group, then reap.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = rustix::process::kill_process_group(Pid::from_child(child), Signal::KILL);
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = self.stop();
            }
        }
    }
}

/// Finds a binary of this workspace (e.g. `rvs-udp`, `rvsd`): `$CARGO_BIN_EXE_<name>` if
/// set, else next to the running test executable's `deps/` directory, where cargo puts
/// the binaries of the same profile. Cargo sets `CARGO_BIN_EXE_*` only for the tests of
/// the crate that owns the binary (and only under `cargo test`), so tests in other crates
/// need the fallback, and the binary must have been built (`cargo build --bin <name>`, or
/// `cargo test --workspace`, which builds every binary).
pub fn workspace_bin(name: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(format!("CARGO_BIN_EXE_{name}")) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ctx(|| "locating the running executable".into())?;
    let mut dir = exe.parent();
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    while let Some(d) = dir {
        let candidate = d.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
        if d.file_name().is_some_and(|n| n != "deps") {
            break;
        }
        dir = d.parent();
    }
    Err(Error::BinNotFound {
        name: name.to_string(),
        near: exe.display().to_string(),
    })
}

fn run_checked(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().ctx(|| format!("spawning {cmd:?}"))?;
    if !out.status.success() {
        return Err(Error::Failed {
            cmd: format!("{cmd:?}"),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        });
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The hex sha256 of `bytes`, to compare a download with [`Lab::big_file_sha256`].
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Parses the report of `ab`.
pub fn parse_ab(text: &str) -> Result<AbReport> {
    let bad = |why: String| Error::Parse {
        tool: "ab",
        why,
        text: text.to_string(),
    };
    let field = |key: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.split_whitespace().next().unwrap_or(""))
    };
    let num = |key: &str| -> Result<u64> {
        let v = field(key).ok_or_else(|| bad(format!("no {key:?} line")))?;
        v.parse().map_err(|e| bad(format!("{key:?} {v:?}: {e}")))
    };
    let rps =
        field("Requests per second:").ok_or_else(|| bad("no Requests per second line".into()))?;
    Ok(AbReport {
        complete: num("Complete requests:")?,
        failed: num("Failed requests:")?,
        // ab prints this line only when there were some.
        non_2xx: match field("Non-2xx responses:") {
            Some(_) => num("Non-2xx responses:")?,
            None => 0,
        },
        requests_per_sec: rps
            .parse()
            .map_err(|e| bad(format!("requests per second {rps:?}: {e}")))?,
    })
}

/// Parses the report of `wrk --latency`.
pub fn parse_wrk(text: &str) -> Result<WrkReport> {
    let bad = |why: String| Error::Parse {
        tool: "wrk",
        why,
        text: text.to_string(),
    };
    fn num<T: std::str::FromStr>(v: &str) -> std::result::Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        v.parse().map_err(|e| format!("{v:?}: {e}"))
    }
    let mut r = WrkReport {
        requests: 0,
        requests_per_sec: f64::NAN,
        p50: Duration::ZERO,
        p75: Duration::ZERO,
        p90: Duration::ZERO,
        p99: Duration::ZERO,
        socket_errors: 0,
        non_2xx_3xx: 0,
    };
    let mut seen_pct = 0;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => r.requests_per_sec = num(v).map_err(bad)?,
            [n, "requests", "in", ..] => r.requests = num(n).map_err(bad)?,
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                r.socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => r.non_2xx_3xx = num(n).map_err(bad)?,
            [pct @ ("50%" | "75%" | "90%" | "99%"), v] => {
                let d = parse_wrk_time(v).map_err(bad)?;
                match *pct {
                    "50%" => r.p50 = d,
                    "75%" => r.p75 = d,
                    "90%" => r.p90 = d,
                    _ => r.p99 = d,
                }
                seen_pct += 1;
            }
            _ => {}
        }
    }
    if r.requests_per_sec.is_nan() || seen_pct < 4 {
        return Err(bad(
            "no Requests/sec line or latency distribution (was --latency given?)".into(),
        ));
    }
    Ok(r)
}

/// wrk prints times as `123.45us`, `1.20ms`, `2.00s`, `1.00m`.
fn parse_wrk_time(v: &str) -> std::result::Result<Duration, String> {
    let split = v
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("no unit in {v:?}"))?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().map_err(|e| format!("time {v:?}: {e}"))?;
    let secs = match unit {
        "us" => num / 1e6,
        "ms" => num / 1e3,
        "s" => num,
        "m" => num * 60.0,
        "h" => num * 3600.0,
        _ => return Err(format!("unknown time unit in {v:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ab() {
        let text = "Concurrency Level:      10\nTime taken for tests:   0.123 seconds\n\
            Complete requests:      1000\nFailed requests:        3\n   (Connect: 0, Receive: 0, Length: 3, Exceptions: 0)\n\
            Non-2xx responses:      2\nRequests per second:    8130.08 [#/sec] (mean)\n";
        assert_eq!(
            parse_ab(text).unwrap(),
            AbReport {
                complete: 1000,
                failed: 3,
                non_2xx: 2,
                requests_per_sec: 8130.08
            }
        );
    }

    #[test]
    fn parses_wrk() {
        let text = "Running 2s test @ http://10.0.0.2/\n  1 threads and 10 connections\n\
            \x20 Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   245.12us  100.00us   3.00ms   90.00%\n\
            \x20 Latency Distribution\n     50%  210.00us\n     75%    1.50ms\n     90%    2.00s\n     99%    1.00m\n\
            \x20 81234 requests in 2.00s, 12.00MB read\n  Socket errors: connect 1, read 2, write 0, timeout 4\n\
            \x20 Non-2xx or 3xx responses: 5\nRequests/sec:  40617.00\nTransfer/sec:      6.00MB\n";
        let r = parse_wrk(text).unwrap();
        assert_eq!(r.requests, 81234);
        assert_eq!(r.requests_per_sec, 40617.0);
        assert_eq!(r.p50, Duration::from_micros(210));
        assert_eq!(r.p75, Duration::from_micros(1500));
        assert_eq!(r.p90, Duration::from_secs(2));
        assert_eq!(r.p99, Duration::from_secs(60));
        assert_eq!(r.socket_errors, 7);
        assert_eq!(r.non_2xx_3xx, 5);
    }

    #[test]
    fn proc_start_time_of_self() {
        assert!(proc_start_time(std::process::id()).is_some());
    }
}
