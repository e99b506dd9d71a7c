//! The VRRP lab (issue 9): seed 002's two-director LVS/DR shape on one L2 segment, and
//! the tools its tests drive: keepalived (Debian's 2.2.x) as a peer, VRRP instance
//! blocks for keepalived.conf, the client's neighbour table, adverts blocked between the
//! directors with nftables, and the failover prober (`rvs-probe`).
//!
//! Addresses (private, IPv4 and IPv6 on one bridge in `sw`):
//!
//! | who | IPv4 | IPv6 |
//! |---|---|---|
//! | client `cl` | 10.0.0.2 | fd00::2 |
//! | directors `d1`, `d2` | 10.0.0.3, 10.0.0.4 | fd00::3, fd00::4 |
//! | real servers `rs1`, `rs2` | 10.0.0.11, 10.0.0.12 | fd00::11, fd00::12 |
//! | the VIP | 10.0.0.100 | fd00::100 |
//!
//! The real servers hold the VIPs on `lo` and do not answer ARP for them
//! (arp_ignore/arp_announce), as the seeds do; nginx there answers `rs1`/`rs2`. With
//! [`VrrpOpts::director_nginx`], nginx on each director answers `d1`/`d2` for whatever
//! address the director holds: the keepalived-vs-keepalived baseline serves the VIP from
//! the director itself, so the prober's answer names the director that holds the VIP.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::IoContext;
use crate::topo::{Builder, DUAL_STACK_80};
use crate::{wait_for, workspace_bin, Error, Lab, Ns, Proc, Result};

/// The client.
pub const CLIENT: &str = "10.0.0.2";
pub const CLIENT6: &str = "fd00::2";
/// The VIP that moves between the directors.
pub const VIP: &str = "10.0.0.100";
pub const VIP6: &str = "fd00::100";

/// Director `i` (0-based: `d1` is 0).
pub fn director_addr(i: usize) -> String {
    format!("10.0.0.{}", i + 3)
}

/// Director `i`'s IPv6 address.
pub fn director_addr6(i: usize) -> String {
    format!("fd00::{}", i + 3)
}

/// What varies between the users of [`lab`].
#[derive(Debug, Clone)]
pub struct VrrpOpts {
    pub real_servers: usize,
    /// nginx on director `i`, answering `d1`/`d2` on port 80 (IPv4 and IPv6): where
    /// keepalived, not rvsd, serves the VIP.
    pub director_nginx: [bool; 2],
}

impl Default for VrrpOpts {
    fn default() -> Self {
        VrrpOpts {
            real_servers: 2,
            director_nginx: [false; 2],
        }
    }
}

/// The built lab. Dropping it stops every process and removes the namespaces.
pub struct VrrpLab {
    // Field order is drop order: processes before the namespaces they run in.
    pub nginx: Vec<Proc>,
    /// nginx of each director (with [`VrrpOpts::director_nginx`]).
    pub dir_nginx: Vec<Option<Proc>>,
    pub client: Ns,
    /// `d1`, `d2`; eth0 of each is on the switch.
    pub dirs: Vec<Ns>,
    /// The switch port (in `sw`) of each director.
    pub dir_ports: Vec<String>,
    pub rs: Vec<Ns>,
    pub sw: Ns,
    pub lab: Lab,
}

/// Builds the lab (see the module doc).
pub fn lab(tag: &str, o: &VrrpOpts) -> Result<VrrpLab> {
    let mut b = Builder::new(tag, &["d1", "d2"])?;
    let client = b.client.clone();
    b.switch_port(&client, "eth0")?;
    client.addr("eth0", &format!("{CLIENT}/24"))?;
    client.addr("eth0", &format!("{CLIENT6}/64"))?;
    client.tx_off("eth0")?;
    let mut dir_ports = Vec::new();
    let mut dir_nginx = Vec::new();
    for (i, d) in b.dirs.clone().iter().enumerate() {
        // Link-local addresses are IPv6 adverts' sources: usable at once, not after DAD.
        d.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
        d.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
        dir_ports.push(b.switch_port(d, "eth0")?);
        d.addr("eth0", &format!("{}/24", director_addr(i)))?;
        d.addr("eth0", &format!("{}/64", director_addr6(i)))?;
        d.tx_off("eth0")?;
        // rvs forwards DR itself; the kernel must not route what reaches it.
        d.sysctl("net.ipv4.ip_forward", "0")?;
        d.sysctl("net.ipv6.conf.all.forwarding", "0")?;
        dir_nginx.push(match o.director_nginx[i] {
            true => Some(d.nginx(&DUAL_STACK_80, &format!("d{}", i + 1))?),
            false => None,
        });
    }
    for i in 0..o.real_servers {
        b.dr_real_server(i, &[VIP, VIP6])?;
    }
    b.bridge()?;
    Ok(VrrpLab {
        nginx: b.nginx,
        dir_nginx,
        client: b.client,
        dirs: b.dirs,
        dir_ports,
        rs: b.rs,
        sw: b.sw,
        lab: b.lab,
    })
}

impl VrrpLab {
    /// Drops VRRP (IP protocol 112, IPv4 and IPv6) in the switch: the directors stop
    /// hearing each other, everything else still flows.
    pub fn block_vrrp(&self) -> Result<()> {
        let rules = "table bridge rvs_vrrp_block {\n  chain block {\n    \
            type filter hook forward priority 0; policy accept;\n    \
            ip protocol 112 counter drop\n    ip6 nexthdr 112 counter drop\n  }\n}\n";
        let path = self.lab.dir().join("vrrp-block.nft");
        std::fs::write(&path, rules).ctx(|| format!("writing {}", path.display()))?;
        self.sw.exec(&["nft", "-f", &path.display().to_string()])?;
        Ok(())
    }

    /// Undoes [`VrrpLab::block_vrrp`].
    pub fn unblock_vrrp(&self) -> Result<()> {
        self.sw
            .exec(&["nft", "delete", "table", "bridge", "rvs_vrrp_block"])
            .map(drop)
    }

    /// The adverts the block dropped so far (both families).
    pub fn vrrp_blocked(&self) -> Result<u64> {
        let out = self
            .sw
            .exec(&["nft", "list", "table", "bridge", "rvs_vrrp_block"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "packets")
            .filter_map(|w| w[1].parse::<u64>().ok())
            .sum())
    }
}

/// One `vrrp_instance` block of a keepalived.conf, for keepalived and rvsd alike. Fields
/// left `None`/empty are not written (keepalived's defaults apply).
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub interface: String,
    /// `state MASTER` rather than `state BACKUP`.
    pub master: bool,
    pub vrid: u8,
    pub priority: u8,
    /// As written: `1`, `0.1` (v3).
    pub advert_int: String,
    /// 2 or 3.
    pub version: u8,
    pub auth_pass: Option<String>,
    pub nopreempt: bool,
    pub preempt_delay: Option<String>,
    /// `ADDR[/PREFIX]` lines of `virtual_ipaddress`.
    pub vips: Vec<String>,
    pub unicast_src: Option<String>,
    pub unicast_peers: Vec<String>,
    /// `track_script` entries (names of `vrrp_script`s, optionally with `weight N`).
    pub track_scripts: Vec<String>,
    /// `notify` script (gets `INSTANCE NAME STATE PRIORITY`).
    pub notify: Option<PathBuf>,
    /// Any other lines (`garp_master_delay 1`, `rvs_vip_owner engine`, ...).
    pub extra: Vec<String>,
}

impl Instance {
    /// A BACKUP-state v2 instance on eth0 with advert_int 1 and no auth.
    pub fn new(name: &str, vrid: u8, priority: u8, vips: &[&str]) -> Instance {
        Instance {
            name: name.into(),
            interface: "eth0".into(),
            master: false,
            vrid,
            priority,
            advert_int: "1".into(),
            version: 2,
            auth_pass: None,
            nopreempt: false,
            preempt_delay: None,
            vips: vips.iter().map(|s| s.to_string()).collect(),
            unicast_src: None,
            unicast_peers: Vec::new(),
            track_scripts: Vec::new(),
            notify: None,
            extra: Vec::new(),
        }
    }

    /// The block's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let state = if self.master { "MASTER" } else { "BACKUP" };
        let _ = writeln!(s, "vrrp_instance {} {{", self.name);
        let _ = writeln!(s, "    state {state}\n    interface {}", self.interface);
        let _ = writeln!(s, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    advert_int {}", self.advert_int);
        let _ = writeln!(s, "    version {}", self.version);
        if let Some(p) = &self.auth_pass {
            let _ = writeln!(
                s,
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}"
            );
        }
        if self.nopreempt {
            s.push_str("    nopreempt\n");
        }
        if let Some(d) = &self.preempt_delay {
            let _ = writeln!(s, "    preempt_delay {d}");
        }
        if let Some(src) = &self.unicast_src {
            let _ = writeln!(s, "    unicast_src_ip {src}");
        }
        if !self.unicast_peers.is_empty() {
            let _ = writeln!(
                s,
                "    unicast_peer {{\n        {}\n    }}",
                self.unicast_peers.join("\n        ")
            );
        }
        if !self.track_scripts.is_empty() {
            let _ = writeln!(
                s,
                "    track_script {{\n        {}\n    }}",
                self.track_scripts.join("\n        ")
            );
        }
        if let Some(n) = &self.notify {
            let _ = writeln!(s, "    notify \"{}\"", n.display());
        }
        for l in &self.extra {
            let _ = writeln!(s, "    {l}");
        }
        let _ = writeln!(
            s,
            "    virtual_ipaddress {{\n        {}\n    }}\n}}",
            self.vips.join("\n        ")
        );
        s
    }
}

/// A `vrrp_script` block: `script` is run every `interval` seconds; `weight` is added to
/// the priority while it succeeds (positive) or while it fails (negative).
pub fn vrrp_script(name: &str, script: &str, interval: &str, weight: i32) -> String {
    format!(
        "vrrp_script {name} {{\n    script \"{script}\"\n    interval {interval}\n    \
         weight {weight}\n    rise 1\n    fall 1\n}}\n"
    )
}

/// A `notify` script that writes `STATE PRIORITY` to `<lab dir>/<name>.state` (atomically:
/// a reader never sees a half-written file). Returns (script, state file).
pub fn notify_script(lab: &Lab, name: &str) -> Result<(PathBuf, PathBuf)> {
    let dir = lab.dir();
    let (script, state) = (
        dir.join(format!("{name}.notify.sh")),
        dir.join(format!("{name}.state")),
    );
    let tmp = dir.join(format!("{name}.state.tmp"));
    let body = format!(
        "#!/bin/sh\necho \"$3 $4\" > {t}\nmv {t} {s}\n",
        t = tmp.display(),
        s = state.display()
    );
    write_script(&script, &body)?;
    Ok((script, state))
}

/// Writes an executable shell script (mode 0755: keepalived refuses scripts others may
/// write to).
pub fn write_script(path: &Path, body: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let what = || format!("writing {}", path.display());
    std::fs::write(path, body).ctx(what)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).ctx(what)
}

/// What a `notify` state file says: the state word, `None` before the first notify.
pub fn notified_state(state_file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(state_file).ok()?;
    text.split_whitespace().next().map(str::to_string)
}

/// keepalived (VRRP only: `-P`) in the foreground in a namespace, logging to its stderr
/// file, with pid files of its own so several run side by side.
pub struct Keepalived {
    pub proc: Proc,
    pub conf: PathBuf,
}

impl Keepalived {
    /// Writes `conf` to `<lab dir>/<name>.conf` and starts keepalived on it in `ns`;
    /// returns once it logged that its VRRP child started.
    pub fn start(lab: &Lab, ns: &Ns, name: &str, conf: &str) -> Result<Keepalived> {
        let dir = lab.dir();
        let path = dir.join(format!("{name}.conf"));
        std::fs::write(&path, conf).ctx(|| format!("writing {}", path.display()))?;
        let pid = |k: &str| dir.join(format!("{name}.{k}.pid")).display().to_string();
        let (p, r, c) = (pid("main"), pid("vrrp"), pid("checker"));
        let conf_s = path.display().to_string();
        let mut proc = ns.spawn(&[
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-P",
            "-f",
            &conf_s,
            "-p",
            &p,
            "-r",
            &r,
            "-c",
            &c,
        ])?;
        proc.wait_output("Starting VRRP child process", Duration::from_secs(10))?;
        Ok(Keepalived { proc, conf: path })
    }

    /// SIGKILL to keepalived and its VRRP child: a crash (its VIPs stay on the interface,
    /// as after a real keepalived crash).
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }
}

/// Whether `addr` is on `iface` in `ns` (`ip addr`).
pub fn has_addr(ns: &Ns, iface: &str, addr: &str) -> Result<bool> {
    let out = ns.ip(&["-o", "addr", "show", "dev", iface])?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .any(|w| w.split('/').next() == Some(addr)))
}

/// The client's neighbour entry for `addr`: (MAC, state), `None` when there is none or it
/// has no link-layer address (INCOMPLETE, FAILED).
pub fn neigh(ns: &Ns, addr: &str) -> Result<Option<(String, String)>> {
    let out = ns.ip(&["neigh", "show", addr])?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = w.iter().position(|x| *x == "lladdr") {
            if let (Some(mac), Some(state)) = (w.get(i + 1), w.last()) {
                return Ok(Some((mac.to_string(), state.to_string())));
            }
        }
    }
    Ok(None)
}

/// Forgets the neighbour entry for `addr` (so the next packet asks again).
pub fn flush_neigh(ns: &Ns, addr: &str) -> Result<()> {
    ns.ip(&["neigh", "flush", "to", addr]).map(drop)
}

/// `tcpdump -l -n -e -i IFACE FILTER` in `ns`, started once it listens; read its lines
/// with [`Proc::stdout`].
pub fn tcpdump(ns: &Ns, iface: &str, filter: &str) -> Result<Proc> {
    let mut argv = vec!["tcpdump", "-l", "-n", "-e", "-i", iface];
    argv.extend(filter.split_whitespace());
    let mut p = ns.spawn(&argv)?;
    p.wait_output("listening on", Duration::from_secs(5))?;
    Ok(p)
}

/// The source MACs of the frames in a `tcpdump -n -e` text that claim `addr`: ARP replies
/// for it, gratuitous ARP (a request from `addr` itself) and neighbour advertisements
/// with it as target.
pub fn claims(text: &str, addr: &str) -> Vec<String> {
    let reply = format!("Reply {addr} is-at ");
    let garp = format!("who-has {addr} tell {addr}");
    let na = format!("neighbor advertisement, tgt is {addr},");
    text.lines()
        .filter(|l| l.contains(&reply) || l.contains(&garp) || l.contains(&na))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// One instance of `rvsadm --vrrp-status` (keepalived's data-dump shape).
#[derive(Debug, Clone, PartialEq)]
pub struct VrrpStatus {
    pub name: String,
    /// `   Key = value` lines, in order (keys repeat: `Virtual IP`, `Transition`).
    pub fields: Vec<(String, String)>,
}

impl VrrpStatus {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `State`.
    pub fn state(&self) -> &str {
        self.get("State").unwrap_or("")
    }

    /// The newest `Transition` line (`AGE s ago FROM -> TO (REASON)`), without its age:
    /// `FROM -> TO (REASON)`.
    pub fn last_transition(&self) -> Option<&str> {
        let (_, v) = self.fields.iter().rev().find(|(k, _)| k == "Transition")?;
        Some(v.split_once(" ago ").map_or(v.as_str(), |(_, t)| t))
    }

    /// A numeric field (`Split brain`, `Dropped (ttl)`, ...), 0 when absent or not a number.
    pub fn num(&self, key: &str) -> u64 {
        self.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

/// Parses `rvsadm --vrrp-status`: ` VRRP Instance = NAME` starts an instance, `   Key =
/// value` lines belong to it.
pub fn parse_vrrp_status(text: &str) -> Vec<VrrpStatus> {
    let mut out: Vec<VrrpStatus> = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(" = ") else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k == "VRRP Instance" {
            out.push(VrrpStatus {
                name: v.to_string(),
                fields: Vec::new(),
            });
        } else if let Some(last) = out.last_mut() {
            last.fields.push((k.to_string(), v.to_string()));
        }
    }
    out
}

/// Microseconds since the Unix epoch: the prober's clock.
pub fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// One attempt of the prober.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub start_us: u128,
    pub end_us: u128,
    pub ok: bool,
    /// The answer's first body line (the server's name), or why it failed.
    pub detail: String,
}

/// `rvs-probe` running in a namespace: a new TCP connection (HTTP GET) every 10 ms.
pub struct Prober {
    proc: Proc,
}

impl Prober {
    /// Starts probing `to` from `ns`.
    pub fn start(ns: &Ns, to: SocketAddr) -> Result<Prober> {
        let bin = workspace_bin("rvs-probe")?.display().to_string();
        let to = to.to_string();
        let mut proc = ns.spawn(&[&bin, "--to", &to, "--interval-ms", "10"])?;
        proc.wait_output("probing", Duration::from_secs(5))?;
        Ok(Prober { proc })
    }

    /// The attempts completed so far, by start time.
    pub fn attempts(&self) -> Vec<Attempt> {
        parse_attempts(&self.proc.stdout())
    }

    /// Waits until an attempt that started after `after_us` succeeded with `pred`.
    pub fn wait_success(
        &self,
        after_us: u128,
        limit: Duration,
        pred: impl Fn(&Attempt) -> bool,
    ) -> Result<Attempt> {
        wait_for("a probe success", limit, || {
            let all = self.attempts();
            Ok(
                match all
                    .iter()
                    .find(|a| a.start_us > after_us && a.ok && pred(a))
                {
                    Some(a) => ControlFlow::Break(a.clone()),
                    None => ControlFlow::Continue(summary(&all)),
                },
            )
        })
    }

    /// Stops it; returns every attempt, by start time.
    pub fn finish(mut self) -> Result<Vec<Attempt>> {
        self.proc.stop()?;
        Ok(self.attempts())
    }
}

/// Parses the prober's lines (`START END ok|fail DETAIL`), sorted by start time.
pub fn parse_attempts(text: &str) -> Vec<Attempt> {
    let mut v: Vec<Attempt> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.splitn(4, ' ');
            Some(Attempt {
                start_us: w.next()?.parse().ok()?,
                end_us: w.next()?.parse().ok()?,
                ok: w.next()? == "ok",
                detail: w.next().unwrap_or("").to_string(),
            })
        })
        .collect();
    v.sort_by_key(|a| a.start_us);
    v
}

/// A failover as the prober saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// From the kill to the start of the first successful attempt (that `pred` accepts)
    /// begun after it.
    pub gap: Duration,
    /// Attempts begun after the kill and before that success, all failed or not accepted.
    pub lost: usize,
    /// Failed attempts begun after that success (0 when the path stayed up).
    pub failed_after: usize,
    pub succeeded_after: usize,
}

/// The failover gap after a kill at `kill_us`; an error that shows the attempts when no
/// accepted success followed.
pub fn failover_gap(
    attempts: &[Attempt],
    kill_us: u128,
    pred: impl Fn(&Attempt) -> bool,
) -> Result<Gap> {
    let after: Vec<&Attempt> = attempts.iter().filter(|a| a.start_us >= kill_us).collect();
    let first = after
        .iter()
        .position(|a| a.ok && pred(a))
        .ok_or_else(|| Error::Usage(format!("no success after the kill: {}", summary(attempts))))?;
    let rest = &after[first + 1..];
    Ok(Gap {
        gap: Duration::from_micros((after[first].start_us - kill_us) as u64),
        lost: first,
        failed_after: rest.iter().filter(|a| !a.ok).count(),
        succeeded_after: rest.iter().filter(|a| a.ok).count(),
    })
}

/// A short account of attempts for error messages: counts and the last few.
fn summary(attempts: &[Attempt]) -> String {
    let ok = attempts.iter().filter(|a| a.ok).count();
    let mut s = format!("{} attempts, {ok} ok; last:", attempts.len());
    for a in attempts.iter().rev().take(5) {
        let _ = write!(
            s,
            " [{} {} {}]",
            a.start_us,
            if a.ok { "ok" } else { "fail" },
            a.detail
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        let text = " VRRP Instance = VI_1\n   State = MASTER\n   Split brain = 2\n   \
            Virtual IP = 10.0.0.100/32\n   Virtual IP = fd00::100/128\n VRRP Instance = VI_2\n   State = BACKUP\n";
        let s = parse_vrrp_status(text);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].name.as_str(), s[0].state()), ("VI_1", "MASTER"));
        assert_eq!(s[0].num("Split brain"), 2);
        assert_eq!(
            s[0].fields
                .iter()
                .filter(|(k, _)| k == "Virtual IP")
                .count(),
            2
        );
        assert_eq!(s[1].state(), "BACKUP");
        assert_eq!(s[1].last_transition(), None);
        let t = " VRRP Instance = VI_1\n   Transition = 9.000 s ago INIT -> BACKUP (startup)\n   \
            Transition = 0.610 s ago BACKUP -> MASTER (master sent priority 0 (skew time expired))\n";
        assert_eq!(
            parse_vrrp_status(t)[0].last_transition(),
            Some("BACKUP -> MASTER (master sent priority 0 (skew time expired))")
        );
    }

    #[test]
    fn measures_gap() {
        let a = parse_attempts(
            "100 200 ok d1\n1000 1500 fail connect:TimedOut\n1010 1011 ok d1\n2000 2100 ok d2\n\
             3000 3300 fail read:ConnectionReset\n2500 2600 ok d2\n",
        );
        let g = failover_gap(&a, 900, |a| a.detail == "d2").unwrap();
        assert_eq!(g.gap, Duration::from_micros(1100));
        assert_eq!((g.lost, g.failed_after, g.succeeded_after), (2, 1, 1));
        assert!(failover_gap(&a, 3500, |_| true).is_err());
    }

    #[test]
    fn finds_claims() {
        let text =
            "05:40:01.1 aa:aa:aa:aa:aa:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: \
            Request who-has 10.0.0.100 tell 10.0.0.100, length 28\n\
            05:40:01.2 aa:aa:aa:aa:aa:02 > aa:aa:aa:aa:aa:09, ethertype ARP (0x0806), length 42: \
            Reply 10.0.0.100 is-at aa:aa:aa:aa:aa:02, length 28\n\
            05:40:01.3 aa:aa:aa:aa:aa:09 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: \
            Request who-has 10.0.0.100 tell 10.0.0.2, length 28\n\
            05:40:01.4 aa:aa:aa:aa:aa:03 > 33:33:00:00:00:01, ethertype IPv6 (0x86dd), length 86: \
            fd00::100 > ff02::1: ICMP6, neighbor advertisement, tgt is fd00::100, length 32\n";
        assert_eq!(
            claims(text, "10.0.0.100"),
            ["aa:aa:aa:aa:aa:01", "aa:aa:aa:aa:aa:02"]
        );
        assert_eq!(claims(text, "fd00::100"), ["aa:aa:aa:aa:aa:03"]);
    }

    #[test]
    fn renders_instance() {
        let mut i = Instance::new("VI_1", 51, 200, &["10.0.0.100"]);
        i.auth_pass = Some("1111".into());
        i.unicast_peers = vec!["10.0.0.4".into()];
        let t = i.render();
        assert!(
            t.starts_with("vrrp_instance VI_1 {\n    state BACKUP\n"),
            "{t}"
        );
        assert!(
            t.contains("auth_pass 1111") && t.contains("unicast_peer {\n        10.0.0.4\n    }")
        );
        assert!(
            t.ends_with("virtual_ipaddress {\n        10.0.0.100\n    }\n}\n"),
            "{t}"
        );
    }
}
