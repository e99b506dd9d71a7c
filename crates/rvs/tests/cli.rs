//! End to end: the real rvsd (control plane only) and the real rvsadm, also run through a
//! symlink named `ipvsadm`, as the seed scripts run it. These are issue 3's acceptance
//! criteria for the CLI; expected text follows ipvsadm.c's format strings (see
//! rvs-ctl/tests/golden.rs for the derivations).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const RVSD: &str = env!("CARGO_BIN_EXE_rvsd");
const RVSADM: &str = env!("CARGO_BIN_EXE_rvsadm");

/// A running rvsd, killed (and reaped) when dropped.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(env: &Env) -> Daemon {
        let _ = std::fs::remove_file(&env.socket);
        let child = Command::new(RVSD)
            .arg("--socket")
            .arg(&env.socket)
            .arg("--state-dir")
            .arg(env.dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rvsd");
        let mut d = Daemon { child };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !env.socket.exists() {
            assert!(d.running(), "rvsd exited before binding its socket");
            assert!(
                Instant::now() < deadline,
                "rvsd did not bind its socket in 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then wait for a clean exit.
    fn terminate(mut self) -> std::process::ExitStatus {
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(st) = self.child.try_wait().expect("wait rvsd") {
                return st;
            }
            assert!(Instant::now() < deadline, "rvsd ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temp dir holding the socket, the state dir and an `ipvsadm` symlink to rvsadm.
struct Env {
    dir: TempDir,
    socket: PathBuf,
    ipvsadm: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("rvsd.sock");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let ipvsadm = bin.join("ipvsadm");
        for name in ["ipvsadm", "ipvsadm-save", "ipvsadm-restore"] {
            std::os::unix::fs::symlink(RVSADM, bin.join(name)).unwrap();
        }
        Env {
            dir,
            socket,
            ipvsadm,
        }
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.ipvsadm.with_file_name(name)
    }
}

/// The outcome of one CLI run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8(o.stdout).unwrap(),
            stderr: String::from_utf8(o.stderr).unwrap(),
        }
    }
}

fn run_prog(prog: &Path, socket: &Path, line: &str, stdin: &str) -> Run {
    let mut child = Command::new(prog)
        .args(line.split_whitespace())
        .env("RVS_SOCKET", socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rvsadm");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().into()
}

/// `ipvsadm <line>` through the symlink.
fn ipvsadm(env: &Env, line: &str) -> Run {
    run_prog(&env.ipvsadm, &env.socket, line, "")
}

/// `ipvsadm <line>`, which must succeed; returns stdout.
fn ok(env: &Env, line: &str) -> String {
    let r = ipvsadm(env, line);
    assert_eq!(r.code, 0, "ipvsadm {line}: stderr {:?}", r.stderr);
    assert_eq!(r.stderr, "", "ipvsadm {line}");
    r.stdout
}

/// `ipvsadm <line>`, which must fail with exactly ipvsadm's message and status.
fn fails(env: &Env, line: &str, message: &str, code: i32) {
    let r = ipvsadm(env, line);
    assert_eq!(r.stderr, format!("{message}\n"), "ipvsadm {line}");
    assert_eq!(r.code, code, "ipvsadm {line}");
    assert_eq!(r.stdout, "", "ipvsadm {line}");
}

const HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)\n\
Prot LocalAddress:Port Scheduler Flags\n\
\x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

/// A `-Ln` dest row: "  -> %-28s %-7s %-6d %-10u %-10u".
fn row(addr: &str, fwd: &str, weight: u32) -> String {
    format!("  -> {addr:<28} {fwd:<7} {weight:<6} {:<10} {:<10}\n", 0, 0)
}

#[test]
fn seed_001_nat_rr_then_wrr() {
    let env = Env::new();
    let _d = Daemon::start(&env);
    ok(&env, "-C");
    ok(&env, "-A -t 172.25.0.10:80 -s rr");
    ok(&env, "-a -t 172.25.0.10:80 -r 192.168.122.10:80 -m -w 5");
    ok(&env, "-a -t 172.25.0.10:80 -r 192.168.122.20:80 -m -w 10");
    let rows = row("192.168.122.10:80", "Masq", 5) + &row("192.168.122.20:80", "Masq", 10);
    assert_eq!(
        ok(&env, "-Ln"),
        format!("{HEADER}TCP  172.25.0.10:80 rr\n{rows}")
    );
    // Without -n, names come from the system's resolver; the layout is the same.
    let plain = ok(&env, "");
    assert!(plain.starts_with(HEADER), "{plain}");
    assert_eq!(plain.lines().count(), 6, "{plain}");
    assert!(plain.contains("  -> 192.168.122.20:"), "{plain}");
    ok(&env, "-E -t 172.25.0.10:80 -s wrr");
    assert_eq!(
        ok(&env, "-Ln"),
        format!("{HEADER}TCP  172.25.0.10:80 wrr\n{rows}")
    );
    // The long spelling and the rvsadm name give the same table.
    let r = run_prog(Path::new(RVSADM), &env.socket, "--list --numeric", "");
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, format!("{HEADER}TCP  172.25.0.10:80 wrr\n{rows}"));
}

#[test]
fn seed_002_dr_and_misplaced_persistence() {
    let env = Env::new();
    let mut d = Daemon::start(&env);
    ok(&env, "-A -t 10.1.1.11:80 -s wlc");
    ok(&env, "-a -t 10.1.1.11:80 -r 10.1.1.10 -g -w 1");
    let expected = format!(
        "{HEADER}TCP  10.1.1.11:80 wlc\n{}",
        row("10.1.1.10:80", "Route", 1)
    );
    assert_eq!(ok(&env, "-Ln"), expected);
    fails(
        &env,
        "-a -t 10.1.1.11:80 -r 10.1.1.10 -g -w 1 -p 60",
        "Illegal 'persistent' option with the 'add-server' command",
        2,
    );
    assert!(d.running());
    assert_eq!(ok(&env, "-Ln"), expected);
}

const ROUND_TRIP: &str = "\
-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.1.1:8080 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.1.2 -g -w 1
-A -u 10.0.0.2:53 -s wlc -p 600 -M 255.255.255.0
-a -u 10.0.0.2:53 -r 192.168.2.1 -i -w 2
-a -u 10.0.0.2:53 -r 192.168.2.2 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum
-A -t [2001:db8::1]:443 -s sh
-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 1
-A -f 7 -s wrr -p 300
-a -f 7 -r 192.168.3.1 -g -w 4
-A -f 8 -6 -s lc -p 120 -M 64
-a -f 8 -6 -r [2001:db8::20]:80 -g -w 1
";

#[test]
fn save_clear_restore_save_round_trip() {
    let env = Env::new();
    let _d = Daemon::start(&env);
    for line in ROUND_TRIP.lines() {
        ok(&env, line);
    }
    let saved = ok(&env, "-S -n");
    assert_eq!(saved.lines().count(), ROUND_TRIP.lines().count(), "{saved}");
    for needle in [
        "-A -u 10.0.0.2:53 -s wlc -p 600 -M 255.255.255.0",
        "-A -t [2001:db8::1]:443 -s sh",
        "-A -f 7 -s wrr -p 300",
        "-a -t 10.0.0.1:80 -r 192.168.1.2:80 -g -w 1",
        "-a -u 10.0.0.2:53 -r 192.168.2.1:53 -i -w 2",
    ] {
        assert!(saved.contains(needle), "{needle} not in\n{saved}");
    }
    ok(&env, "-C");
    assert_eq!(ok(&env, "-S -n"), "");
    assert_eq!(ok(&env, "-Ln"), HEADER);
    let r = run_prog(&env.ipvsadm, &env.socket, "-R", &saved);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(ok(&env, "-S -n"), saved);

    // The Debian helpers: ipvsadm-save [-n] and ipvsadm-restore.
    let r = run_prog(&env.tool("ipvsadm-save"), &env.socket, "-n", "");
    assert_eq!((r.code, r.stdout.as_str()), (0, saved.as_str()));
    ok(&env, "-C");
    let r = run_prog(&env.tool("ipvsadm-restore"), &env.socket, "", &saved);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(ok(&env, "-S -n"), saved);
    // Lines beginning with `ipvsadm`, as init scripts write them, restore too.
    ok(&env, "-C");
    let prefixed: String = saved.lines().map(|l| format!("ipvsadm {l}\n")).collect();
    let r = run_prog(&env.ipvsadm, &env.socket, "-R", &prefixed);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(ok(&env, "-S -n"), saved);
}

#[test]
fn restore_is_one_transaction() {
    let env = Env::new();
    let mut d = Daemon::start(&env);
    ok(&env, "-A -t 1.2.3.4:80 -s rr");
    let before = ok(&env, "-Ln");
    // The third line refers to a service that does not exist: refused by the daemon.
    let input = "-A -t 10.9.0.1:80 -s rr\n-a -t 10.9.0.1:80 -r 10.9.0.2 -m\n-a -t 10.9.0.99:80 -r 10.9.0.3 -m\n";
    let r = run_prog(&env.ipvsadm, &env.socket, "-R", input);
    assert_ne!(r.code, 0);
    assert_eq!(r.stderr, "line 3: Service not defined\n");
    assert!(d.running());
    assert_eq!(ok(&env, "-Ln"), before);
    // A third line that does not parse: refused before anything is sent.
    let input = "# saved\n-A -t 10.9.0.1:80 -s rr\n-a -t 10.9.0.1:80 -r 10.9.0.2 -m -p 5\n";
    let r = run_prog(&env.ipvsadm, &env.socket, "-R", input);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "line 3: Illegal 'persistent' option with the 'add-server' command\n"
    );
    assert_eq!(ok(&env, "-Ln"), before);
}

#[test]
fn bad_input_leaves_the_table_unchanged() {
    let env = Env::new();
    let mut d = Daemon::start(&env);
    ok(&env, "-A -t 172.25.0.10:80 -s rr");
    ok(&env, "-a -t 172.25.0.10:80 -r 192.168.122.10:80 -m -w 5");
    let before = ok(&env, "-S -n");
    let cases: &[(&str, &str, i32)] = &[
        (
            "-A -t 10.0.0.1:80 -s nosuch",
            "Scheduler or persistence engine not found",
            255,
        ),
        (
            "-E -t 172.25.0.10:80 -s nosuch",
            "Scheduler or persistence engine not found",
            255,
        ),
        ("-A -t 172.25.0.10:80 -s rr", "Service already exists", 255),
        (
            "-a -t 10.0.0.9:80 -r 192.168.122.10:80 -m",
            "Service not defined",
            255,
        ),
        (
            "-a -t 172.25.0.10:80 -r 192.168.122.10:80 -m -w 2",
            "Destination already exists",
            255,
        ),
        ("-D -t 10.0.0.9:80", "No such service", 255),
        (
            "-d -t 172.25.0.10:80 -r 192.168.122.99:80",
            "No such destination",
            255,
        ),
        (
            "-A -t 172.25.0.300:80 -s rr",
            "illegal virtual server address[:port] specified",
            2,
        ),
        (
            "-A -t 172.25.0.11:99999 -s rr",
            "illegal virtual server address[:port] specified",
            2,
        ),
        (
            "-a -t 172.25.0.10:80 -r 192.168.122.300 -m",
            "illegal real server address[:port] specified",
            2,
        ),
        (
            "-a -t 172.25.0.10:80 -r 192.168.122.11 -m -w 70000",
            "illegal weight specified",
            2,
        ),
        (
            "-a -t 10.1.1.11:80 -r 10.1.1.10 -g -w 1 -p 60",
            "Illegal 'persistent' option with the 'add-server' command",
            2,
        ),
        ("-L -t 10.0.0.9:80", "No such service", 1),
    ];
    for (line, message, code) in cases {
        fails(&env, line, message, *code);
        assert!(d.running(), "rvsd died after {line}");
        assert_eq!(ok(&env, "-S -n"), before, "table changed by {line}");
    }
    // An unknown option: ipvsadm's try-help line, status 2 from popt's error path or 255.
    let r = ipvsadm(&env, "-A -t 172.25.0.12:80 --bogus");
    assert_ne!(r.code, 0);
    assert!(!r.stderr.is_empty());
    assert_eq!(ok(&env, "-S -n"), before);
}

#[test]
fn timeouts() {
    let env = Env::new();
    let _d = Daemon::start(&env);
    ok(&env, "--set 30 5 7");
    assert_eq!(
        ok(&env, "-L --timeout"),
        "Timeout (tcp tcpfin udp): 30 5 7\n"
    );
    // 0 leaves a value unchanged, as in IPVS.
    ok(&env, "--set 0 6 0");
    assert_eq!(
        ok(&env, "-L --timeout"),
        "Timeout (tcp tcpfin udp): 30 6 7\n"
    );
}

#[test]
fn sync_daemon_settings() {
    let env = Env::new();
    let _d = Daemon::start(&env);
    assert_eq!(ok(&env, "-L --daemon"), "");
    ok(
        &env,
        "--start-daemon master --mcast-interface lo --syncid 7",
    );
    assert_eq!(
        ok(&env, "-L --daemon"),
        // The kernel fills in the multicast defaults and the message size (start_sync_thread).
        "master sync daemon (mcast=lo, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
    );
    fails(
        &env,
        "--start-daemon master --mcast-interface lo --syncid 7",
        "Daemon has already run",
        255,
    );
    ok(&env, "--stop-daemon master");
    assert_eq!(ok(&env, "-L --daemon"), "");
    fails(&env, "--stop-daemon master", "No daemon is running", 255);
}

#[test]
fn no_daemon_is_a_clear_error() {
    let env = Env::new();
    for (prog, name) in [
        (Path::new(RVSADM), "rvsadm"),
        (env.ipvsadm.as_path(), "ipvsadm"),
    ] {
        let r = run_prog(prog, &env.socket, "-Ln", "");
        assert_eq!(r.code, 1);
        assert_eq!(r.stdout, "");
        let prefix = format!("{name}: cannot reach rvsd at {}: ", env.socket.display());
        assert!(r.stderr.starts_with(&prefix), "{:?}", r.stderr);
        assert!(r.stderr.ends_with("(is rvsd running?)\n"), "{:?}", r.stderr);
    }
    // Argument errors are reported without a daemon, as ipvsadm reports them.
    let r = ipvsadm(&env, "-A -t 1.2.3.4:80 -s rr -w 1");
    assert_eq!(r.code, 2);
    assert!(!r.stderr.contains("cannot reach"), "{}", r.stderr);
}

#[test]
fn help_and_version_need_no_daemon() {
    let env = Env::new();
    let r = ipvsadm(&env, "-h");
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("  ipvsadm -A|E virtual-service"),
        "{}",
        r.stdout
    );
    let r = ipvsadm(&env, "-v");
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("ipvsadm v1.31"), "{}", r.stdout);
}

#[test]
fn state_persists_across_restart() {
    let env = Env::new();
    let d = Daemon::start(&env);
    ok(&env, "-A -t 172.25.0.10:80 -s rr");
    ok(&env, "-a -t 172.25.0.10:80 -r 192.168.122.10:80 -m -w 5");
    ok(&env, "--set 30 5 7");
    let table = ok(&env, "-Ln");
    let st = d.terminate();
    assert!(st.success(), "rvsd exit status on SIGTERM: {st:?}");
    assert!(!env.socket.exists(), "rvsd left its socket behind");
    let _d = Daemon::start(&env);
    assert_eq!(ok(&env, "-Ln"), table);
    assert_eq!(
        ok(&env, "-L --timeout"),
        "Timeout (tcp tcpfin udp): 30 5 7\n"
    );
}

#[test]
fn malformed_request_does_not_hurt_the_daemon() {
    let env = Env::new();
    let mut d = Daemon::start(&env);
    ok(&env, "-A -t 172.25.0.10:80 -s rr");
    let before = ok(&env, "-Ln");
    let probes: [&[u8]; 3] = [
        b"garbage!",                                        // not JSON
        b"{\"version\":99,\"body\":\"GetTable\"}",          // wrong version
        b"{\"version\":1,\"body\":{\"Apply\":[\"Nope\"]}}", // wrong shape
    ];
    for body in probes {
        let mut s = UnixStream::connect(&env.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
        s.write_all(body).unwrap();
        match rvs_ctl::proto::read_msg::<_, rvs_ctl::proto::Response>(&mut s) {
            Ok(rvs_ctl::proto::Response::Error { .. }) => {}
            Ok(other) => panic!("malformed request answered with {other:?}"),
            Err(rvs_ctl::proto::ProtoError::Io(_)) => {} // closed: acceptable
            Err(e) => panic!("unreadable reply: {e}"),
        }
        assert!(d.running());
    }
    // An oversized length: refused without buffering, connection closed or error reply.
    let mut s = UnixStream::connect(&env.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    // A truncated frame, then a hang-up.
    let mut s = UnixStream::connect(&env.socket).unwrap();
    s.write_all(&100u32.to_be_bytes()).unwrap();
    s.write_all(b"{\"ver").unwrap();
    drop(s);
    assert!(d.running());
    assert_eq!(ok(&env, "-Ln"), before);
}

#[test]
fn list_variants_edit_zero_delete() {
    let env = Env::new();
    let _d = Daemon::start(&env);
    ok(&env, "-A -t 172.25.0.10:80 -s rr -p");
    ok(
        &env,
        "-a -t 172.25.0.10:80 -r 192.168.122.10:80 -m -w 5 -x 100 -y 50",
    );
    let svc = "TCP  172.25.0.10:80 rr persistent 300\n";
    assert_eq!(
        ok(&env, "-L -n -t 172.25.0.10:80"),
        format!(
            "{}{svc}{}",
            &HEADER[HEADER.find('\n').unwrap() + 1..],
            row("192.168.122.10:80", "Masq", 5)
        )
    );
    assert_eq!(
        ok(&env, "-Ln --thresholds"),
        format!(
            "IP Virtual Server version 1.2.1 (size=4096)\n\
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n\
\x20 -> RemoteAddress:Port\n{svc}  -> {:<28} {:<10} {:<10} {:<10} {:<10}\n",
            "192.168.122.10:80", 100, 50, 0, 0
        )
    );
    let z = "                      0        0        0        0        0";
    assert_eq!(
        ok(&env, "-Ln --stats"),
        format!(
            "IP Virtual Server version 1.2.1 (size=4096)\n\
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n\
\x20 -> RemoteAddress:Port\n\
TCP  172.25.0.10:80{z}\n  -> 192.168.122.10:80{}\n",
            &z[3..],
        )
    );
    assert_eq!(
        ok(&env, "-Lnc"),
        "IPVS connection entries\n\
pro expire state       source             virtual            destination\n"
    );
    ok(&env, "-Z");
    ok(&env, "-Z -t 172.25.0.10:80");
    fails(&env, "-Z -t 1.1.1.1:80", "No such service", 255);
    ok(&env, "-e -t 172.25.0.10:80 -r 192.168.122.10:80 -m -w 0");
    assert_eq!(
        ok(&env, "-Ln"),
        format!("{HEADER}{svc}{}", row("192.168.122.10:80", "Masq", 0))
    );
    ok(&env, "-d -t 172.25.0.10:80 -r 192.168.122.10:80");
    assert_eq!(ok(&env, "-Ln"), format!("{HEADER}{svc}"));
    ok(&env, "-D -t 172.25.0.10:80");
    assert_eq!(ok(&env, "-Ln"), HEADER);
}

#[test]
fn seed_000_nat_port_mapping_tun_and_dr() {
    // The seed's commands as written (its example addresses are only table data here).
    let env = Env::new();
    let _d = Daemon::start(&env);
    ok(&env, "-A -t 202.103.106.5:80 -s wlc");
    ok(&env, "-A -t 202.103.106.5:21 -s wrr");
    ok(&env, "-a -t 202.103.106.5:80 -r 172.16.0.2:80 -m");
    ok(&env, "-a -t 202.103.106.5:80 -r 172.16.0.3:8000 -m -w 2");
    ok(&env, "-a -t 202.103.106.5:21 -r 172.16.0.2:21 -m");
    let nat = format!(
        "{HEADER}TCP  202.103.106.5:21 wrr\n{}TCP  202.103.106.5:80 wlc\n{}{}",
        row("172.16.0.2:21", "Masq", 1),
        row("172.16.0.2:80", "Masq", 1),
        row("172.16.0.3:8000", "Masq", 2)
    );
    assert_eq!(ok(&env, "-Ln"), nat);
    ok(&env, "-C");
    // The tunnelling and direct-routing examples.
    ok(&env, "-A -t 172.26.20.110:23 -s wlc");
    ok(&env, "-a -t 172.26.20.110:23 -r 172.26.20.112 -i");
    ok(&env, "-A -t 202.103.106.5:80 -s wlc");
    ok(&env, "-a -t 202.103.106.5:80 -r 202.103.107.2 -i -w 1");
    ok(&env, "-a -t 202.103.106.5:80 -r 202.103.106.3 -i -w 2");
    ok(&env, "-A -t 172.26.20.111:23 -s wlc");
    ok(&env, "-a -t 172.26.20.111:23 -r 172.26.20.112 -g");
    let tun = format!(
        "{HEADER}TCP  172.26.20.110:23 wlc\n{}TCP  172.26.20.111:23 wlc\n{}TCP  202.103.106.5:80 wlc\n{}{}",
        row("172.26.20.112:23", "Tunnel", 1),
        row("172.26.20.112:23", "Route", 1),
        row("202.103.106.3:80", "Tunnel", 2),
        row("202.103.107.2:80", "Tunnel", 1)
    );
    assert_eq!(ok(&env, "-Ln"), tun);
}

#[test]
fn seed_003_transcribed() {
    // Seed 003 is machine-mangled ("Ipvsadm-a-t 172.16.14.1: 80-s rr"); these are its
    // obvious transcriptions, run through the ipvsadm name.
    let env = Env::new();
    let _d = Daemon::start(&env);
    ok(&env, "-A -t 172.16.14.1:80 -s rr");
    assert_eq!(
        ok(&env, "-l -n"),
        format!("{HEADER}TCP  172.16.14.1:80 rr\n")
    );
    ok(&env, "-a -t 172.16.14.1:80 -r 10.0.0.11 -m");
    ok(&env, "-a -t 172.16.14.1:80 -r 10.0.0.12 -m");
    ok(&env, "-E -t 172.16.14.1:80 -s wlc");
    ok(&env, "-e -t 172.16.14.1:80 -r 10.0.0.11 -m -w 3");
    assert_eq!(
        ok(&env, "-Ln"),
        format!(
            "{HEADER}TCP  172.16.14.1:80 wlc\n{}{}",
            row("10.0.0.11:80", "Masq", 3),
            row("10.0.0.12:80", "Masq", 1)
        )
    );
    // Its DR half.
    ok(&env, "-C");
    ok(&env, "-A -t 172.16.14.1:80 -s wlc");
    ok(&env, "-a -t 172.16.14.1:80 -r 172.16.14.11 -g -w 2");
    ok(&env, "-a -t 172.16.14.1:80 -r 172.16.14.12 -g -w 4");
    assert_eq!(
        ok(&env, "-L -n"),
        format!(
            "{HEADER}TCP  172.16.14.1:80 wlc\n{}{}",
            row("172.16.14.11:80", "Route", 2),
            row("172.16.14.12:80", "Route", 4)
        )
    );
    // `ipvsadm -S > /etc/sysconfig/ipvsadm` then restore reproduces it.
    let saved = ok(&env, "-S");
    ok(&env, "-C");
    let r = run_prog(&env.ipvsadm, &env.socket, "-R", &saved);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(ok(&env, "-S"), saved);
}

#[test]
fn vrrp_status_without_vrrp_is_empty_and_says_so() {
    let env = Env::new();
    let d = Daemon::start(&env);
    let r = run_prog(Path::new(RVSADM), &env.socket, "--vrrp-status", "");
    assert_eq!(r.code, 0, "{:?}", r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "rvsadm: rvsd runs no VRRP instance\n");
    assert!(d.terminate().success());
}
