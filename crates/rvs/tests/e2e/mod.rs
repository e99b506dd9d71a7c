//! Shared pieces of the end-to-end tests: a real rvsd serving veths in a director
//! namespace, configured with the real `ipvsadm` (rvsadm under that name), and the seed
//! topologies (from `rvs_testnet::topo`). Each test runs under both I/O modes.

#![allow(dead_code)]

use rvs_testnet::{wait_for, Lab, Ns, Proc, Signal};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

pub const RVSD: &str = env!("CARGO_BIN_EXE_rvsd");
pub const RVSADM: &str = env!("CARGO_BIN_EXE_rvsadm");

/// The size of what nginx serves at `/slow` (at 400 KiB/s).
pub const SLOW_LEN: u64 = rvs_testnet::SLOW_FILE_LEN as u64;

/// Both data paths, for tests that take the mode as a parameter.
pub const MODES: [&str; 2] = ["afxdp", "afpacket"];

pub struct Director {
    pub ns: Ns,
    pub proc: Option<Proc>,
    pub socket: PathBuf,
    pub ipvsadm: PathBuf,
    pub ifaces: Vec<String>,
    pub io: String,
    pub state: PathBuf,
    pub shm: PathBuf,
    /// A bpffs mounted by the test in the root mount namespace: `ip netns exec` gives each
    /// rvsd a private one whose pins would vanish with it (a host's /sys/fs/bpf does not).
    pub bpffs: PathBuf,
    /// More rvsd arguments (`--config FILE`).
    pub extra: Vec<String>,
}

impl Director {
    pub fn start(lab: &Lab, ns: &Ns, ifaces: &[&str], io: &str) -> Director {
        Self::start_with(lab, ns, ifaces, io, &[])
    }

    pub fn start_with(lab: &Lab, ns: &Ns, ifaces: &[&str], io: &str, extra: &[&str]) -> Director {
        Self::start_named(lab, ns, "", ifaces, io, extra)
    }

    /// Like [`Director::start_with`], for one of several rvsd in a lab: `name` makes its
    /// socket, state dir, conn shm and bpffs its own.
    pub fn start_named(
        lab: &Lab,
        ns: &Ns,
        name: &str,
        ifaces: &[&str],
        io: &str,
        extra: &[&str],
    ) -> Director {
        let bin = lab.dir().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let ipvsadm = bin.join("ipvsadm");
        if !ipvsadm.exists() {
            std::os::unix::fs::symlink(RVSADM, &ipvsadm).unwrap();
        }
        let mut d = Director {
            ns: ns.clone(),
            proc: None,
            socket: lab.dir().join(format!("rvsd{name}.sock")),
            ipvsadm,
            ifaces: ifaces.iter().map(|s| s.to_string()).collect(),
            io: io.to_string(),
            state: lab.dir().join(format!("state{name}")),
            // The conn tables' shared memory, one per lab: tests run side by side.
            shm: PathBuf::from(format!("/dev/shm/rvs-test-{}{name}", lab.prefix())),
            bpffs: lab.dir().join(format!("bpf{name}")),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        std::fs::create_dir_all(&d.bpffs).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(&d.bpffs)
            .status()
            .expect("mount bpffs");
        assert!(st.success(), "mount -t bpf");
        d.spawn();
        d
    }

    pub fn spawn(&mut self) {
        let mut argv = vec![RVSD.to_string(), "--io".into(), self.io.clone()];
        for i in &self.ifaces {
            argv.push("--iface".into());
            argv.push(i.clone());
        }
        argv.push("--socket".into());
        argv.push(self.socket.display().to_string());
        argv.push("--state-dir".into());
        argv.push(self.state.display().to_string());
        argv.push("--conn-shm".into());
        argv.push(self.shm.display().to_string());
        argv.push("--bpffs".into());
        argv.push(self.bpffs.display().to_string());
        argv.extend(self.extra.iter().cloned());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut p = self.ns.spawn(&argv).expect("spawn rvsd");
        // Ready means serving: the socket appears earlier (a second rvsd is refused before
        // any interface is touched), the data path comes up after it.
        if let Err(e) = p.wait_output("rvsd ready", Duration::from_secs(10)) {
            panic!("rvsd not ready: {e}");
        }
        wait_for("rvsd socket", Duration::from_secs(10), || {
            Ok(match self.socket.exists() {
                true => ControlFlow::Break(()),
                false => ControlFlow::Continue(p.log()),
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
        self.proc = Some(p);
    }

    /// `ipvsadm ARGS`, which must succeed; returns stdout.
    pub fn ipvsadm(&self, args: &str) -> String {
        let o = self.ipvsadm_raw(args);
        assert!(
            o.status.success(),
            "ipvsadm {args}: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn ipvsadm_raw(&self, args: &str) -> Output {
        std::process::Command::new(&self.ipvsadm)
            .args(args.split_whitespace())
            .env("RVS_SOCKET", &self.socket)
            .output()
            .expect("run ipvsadm")
    }

    pub fn io_stats(&self) -> String {
        let o = std::process::Command::new(RVSADM)
            .arg("--io-stats")
            .env("RVS_SOCKET", &self.socket)
            .output()
            .expect("rvsadm --io-stats");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// SIGHUP: reload --config.
    pub fn hup(&self) {
        let p = self.proc.as_ref().expect("rvsd running");
        p.signal(Signal::HUP).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Poll `ipvsadm ARGS` until `pred` holds; returns how long it took.
    pub fn wait_list(
        &self,
        args: &str,
        limit: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> Duration {
        let t0 = Instant::now();
        wait_for(what, limit, || {
            let l = self.ipvsadm(args);
            Ok(match pred(&l) {
                true => ControlFlow::Break(()),
                false => ControlFlow::Continue(l),
            })
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", self.log()));
        t0.elapsed()
    }

    /// Poll `ipvsadm -Lnc` until it lists a conn that `pred` accepts; returns that conn.
    pub fn wait_conn(&self, what: &str, limit: Duration, pred: impl Fn(&Conn) -> bool) -> Conn {
        wait_for(what, limit, || {
            let l = self.ipvsadm("-Lnc");
            Ok(match conns(&l).into_iter().find(&pred) {
                Some(c) => ControlFlow::Break(c),
                None => ControlFlow::Continue(l),
            })
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", self.log()))
    }

    /// Waits until rvsd has logged `needle` at least `n` times (the n-th reload, say).
    pub fn wait_log(&self, needle: &str, n: usize, limit: Duration) {
        wait_for(
            &format!("rvsd logging {needle:?} {n} time(s)"),
            limit,
            || {
                let log = self.log();
                Ok(match log.matches(needle).count() >= n {
                    true => ControlFlow::Break(()),
                    false => ControlFlow::Continue(log),
                })
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn log(&self) -> String {
        self.proc.as_ref().map(|p| p.log()).unwrap_or_default()
    }

    /// SIGTERM and wait: a clean stop.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let st = p.stop().expect("stop rvsd");
            assert!(
                st.success() || st.code() == Some(0),
                "rvsd stop: {st}\n{}",
                p.log()
            );
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
        // A killed rvsd leaves its socket file; the next one replaces it.
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for Director {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let _ = p.stop();
        }
        let _ = std::fs::remove_dir_all(&self.shm);
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.bpffs)
            .status();
    }
}

/// One line of `ipvsadm -Lnc`: `TCP 14:59  ESTABLISHED caddr:cport vaddr:vport daddr:dport`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conn {
    pub proto: String,
    pub state: String,
    pub client: String,
    pub virt: String,
    pub dest: String,
}

/// The conns of an `ipvsadm -Lnc` listing (its two header lines are skipped).
pub fn conns(listing: &str) -> Vec<Conn> {
    listing
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [proto, _expire, state, client, virt, dest] if proto != "pro" => Some(Conn {
                proto: proto.into(),
                state: state.into(),
                client: client.into(),
                virt: virt.into(),
                dest: dest.into(),
            }),
            _ => None,
        })
        .collect()
}

/// Waits until the download `curl` writes to `out` has begun but not finished (`len` is
/// its full size): the moment to break something that it must survive.
pub fn wait_part_way(out: &Path, len: u64, curl: &mut Proc) {
    wait_for("download part-way", Duration::from_secs(10), || {
        let got = rvs_testnet::file_len(out);
        if got > 0 && got < len {
            return Ok(ControlFlow::Break(()));
        }
        if let Some(st) = curl.try_wait()? {
            panic!(
                "the download ended ({st}) before it was caught part-way: {got} of {len} bytes\n{}",
                curl.log()
            );
        }
        Ok(ControlFlow::Continue(format!("{got} of {len} bytes")))
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The seeds' topologies, built by rvs-testnet: the fields are `lab`, `client`, `dir`
/// (the director), `rs` and `nginx`.
pub type NatLab = rvs_testnet::topo::Topo;

/// Seed 001 (LVS/NAT), IPv4 and IPv6 (see [`rvs_testnet::topo::nat`]); nginx answers on
/// ports 80 and 8000, and on [::]:80.
pub fn nat_lab(tag: &str, n_rs: usize) -> NatLab {
    let opts = rvs_testnet::topo::NatOpts {
        ipv6: true,
        listen: ["0.0.0.0:80", "0.0.0.0:8000", "[::]:80"]
            .map(|a| a.parse().unwrap())
            .to_vec(),
        ..rvs_testnet::topo::NatOpts::new(n_rs)
    };
    rvs_testnet::topo::nat(tag, &opts)
        .unwrap_or_else(|e| panic!("lab (the e2e tests need root): {e}"))
}

/// Names of the real servers that answered `n` fresh requests.
pub fn answers(client: &Ns, url: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            client
                .curl(url)
                .unwrap_or_else(|e| panic!("curl {url}: {e:#}"))
                .trim()
                .to_string()
        })
        .collect()
}

pub fn udp_bin() -> String {
    rvs_testnet::workspace_bin("rvs-udp")
        .expect("rvs-udp (cargo build --workspace --bins)")
        .display()
        .to_string()
}

/// Sinks on each real server at `bind`, a flood of `count` datagrams from the client to
/// `to`; returns the total the sinks counted.
pub fn udp_burst(client: &Ns, rs: &[Ns], bind: &str, to: &str, count: u64) -> u64 {
    let bin = udp_bin();
    let mut sinks: Vec<Proc> = rs
        .iter()
        .map(|r| {
            let mut p = r
                .spawn(&[&bin, "sink", "--bind", bind, "--idle-ms", "1500"])
                .unwrap();
            p.wait_output("listening", Duration::from_secs(5)).unwrap();
            p
        })
        .collect();
    let n = count.to_string();
    client
        .exec(&[
            &bin,
            "flood",
            "--to",
            to,
            "--count",
            &n,
            "--size",
            "32",
            "--sources",
            "64",
            "--rate",
            "50000",
        ])
        .expect("flood");
    let mut total = 0;
    for s in sinks.iter_mut() {
        s.wait(Duration::from_secs(10))
            .expect("sink ends when idle");
        let out = s.stdout();
        let v: serde_json::Value = serde_json::from_str(out.trim().lines().last().unwrap_or(""))
            .unwrap_or_else(|e| panic!("sink output {out:?}: {e}"));
        total += v["received"].as_u64().unwrap();
    }
    total
}

/// Download `url` and compare its sha256 with the lab's big file.
pub fn big_download_matches(lab: &Lab, client: &Ns, url: &str) {
    let bytes = client
        .curl_bytes(url, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("download {url}: {e:#}"));
    assert_eq!(bytes.len(), 20 * 1024 * 1024, "{url}: length");
    assert_eq!(
        rvs_testnet::sha256_hex(&bytes),
        lab.big_file_sha256().unwrap(),
        "{url}: checksum"
    );
}

/// Seeds 002 and 004 (LVS/DR), see [`rvs_testnet::topo::dr`].
pub fn dr_lab(tag: &str, n_rs: usize, vips: &[&str]) -> NatLab {
    rvs_testnet::topo::dr(tag, n_rs, vips)
        .unwrap_or_else(|e| panic!("lab (the e2e tests need root): {e}"))
}
