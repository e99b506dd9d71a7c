//! Notify and track scripts, spawned without blocking the advert thread: `sh -c`, stdio to
//! /dev/null, a process group of their own (a timeout kills the script's children too),
//! `user USER [GROUP]` resolved once per configuration ([`Users`], through the MISC_CHECK
//! probe's lookup: NSS may block, never on the advert thread's per-run path). A small
//! waiter thread per run reaps the child and enforces a timeout (a pidfd polled with it):
//! a track script's own, [`NOTIFY_TIMEOUT`] for a notify script, of which at most
//! [`NOTIFY_CAP`] run at once (more are refused with a warning, never queued without
//! bound). And `vrrp_track_file` reading.

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A script's `user USER [GROUP]` as configured.
pub type UserName = (String, Option<String>);

/// A notify script still running this long is killed (keepalived has no such bound; a
/// hung one would otherwise hold a thread and a process forever).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(60);
/// Notify scripts running at once, at most.
pub const NOTIFY_CAP: usize = 32;
static NOTIFY_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// The configuration's script users, resolved to (uid, gid) once per load (`None`: the
/// lookup failed, warned about here; the script runs as rvsd's own user, as before).
#[derive(Default)]
pub struct Users(HashMap<UserName, Option<(u32, u32)>>);

impl Users {
    pub fn resolve(cfg: &rvs_vrrp::VrrpConfig) -> Users {
        let notifies = cfg
            .instances
            .iter()
            .map(|i| &i.notify)
            .chain(cfg.sync_groups.iter().map(|g| &g.notify))
            .flat_map(|n| [&n.master, &n.backup, &n.fault, &n.stop, &n.any])
            .flatten()
            .filter_map(|n| n.user.as_ref());
        let names = cfg
            .scripts
            .iter()
            .filter_map(|s| s.user.as_ref())
            .chain(notifies);
        let mut out = HashMap::new();
        for n in names {
            if out.contains_key(n) {
                continue;
            }
            let ids = match rvs_check::probe::misc::resolve_user(&n.0, n.1.as_deref()) {
                Ok(ids) => Some(ids),
                Err(e) => {
                    tracing::warn!(
                        "VRRP scripts of user {}: {e}; they are not run (a track script \
                         counts as failed)",
                        n.0
                    );
                    None
                }
            };
            out.insert(n.clone(), ids);
        }
        Users(out)
    }

    /// (uid, gid) for a script's `user` (`Ok(None)`: none named, rvsd's own). A named user
    /// that does not resolve is an error: running its script as root instead would hand
    /// root to whoever can write the script (keepalived refuses it too).
    pub fn ids(&self, user: &Option<UserName>) -> Result<Option<(u32, u32)>, String> {
        let Some(u) = user else { return Ok(None) };
        match self.0.get(u) {
            Some(Some(ids)) => Ok(Some(*ids)),
            _ => Err(format!("unknown user {:?}", u.0)),
        }
    }
}

fn command(script: &str, args: &[String], ids: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c");
    if args.is_empty() {
        cmd.arg(script);
    } else {
        // The words go as positional parameters, so none needs quoting.
        cmd.arg(format!("{script} \"$@\"")).arg("sh").args(args);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        // std drops the supplementary groups when root sets a uid.
        if let Some((uid, gid)) = ids {
            cmd.uid(uid).gid(gid);
        }
    }
    cmd
}

/// Starts a notify script and forgets it (a thread reaps it, killing it at
/// [`NOTIFY_TIMEOUT`]); refused with a warning while [`NOTIFY_CAP`] are running.
pub fn notify(script: &str, args: &[String], ids: Option<(u32, u32)>) {
    notify_with(
        script,
        args,
        ids,
        &NOTIFY_RUNNING,
        NOTIFY_CAP,
        NOTIFY_TIMEOUT,
    );
}

/// [`notify`] with its bounds as parameters; whether the script was started.
fn notify_with(
    script: &str,
    args: &[String],
    ids: Option<(u32, u32)>,
    running: &'static AtomicUsize,
    cap: usize,
    timeout: Duration,
) -> bool {
    if running.fetch_add(1, Ordering::Relaxed) >= cap {
        running.fetch_sub(1, Ordering::Relaxed);
        tracing::warn!("VRRP notify {script:?} not run: {cap} notify scripts still running");
        return false;
    }
    // Counted down when the waiter is done, or dropped unrun.
    let slot = Slot(running);
    waited(
        &format!("notify {script:?}"),
        command(script, args, ids),
        timeout,
        move |_| drop(slot),
    );
    true
}

/// One running notify script.
struct Slot(&'static AtomicUsize);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs a track script; `done(ok)` is called from the waiter thread when it exits (ok:
/// status 0) or after `timeout` (killed, not ok).
pub fn track(
    name: &str,
    script: &str,
    ids: Option<(u32, u32)>,
    timeout: Duration,
    done: impl FnOnce(bool) + Send + 'static,
) {
    waited(
        &format!("vrrp_script {name}"),
        command(script, &[], ids),
        timeout,
        done,
    );
}

/// Spawns `cmd`; a waiter thread calls `done(ok)` when it exits (ok: status 0) or after
/// `timeout` (killed with its process group, not ok).
fn waited(
    label: &str,
    mut cmd: Command,
    timeout: Duration,
    done: impl FnOnce(bool) + Send + 'static,
) {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("VRRP {label}: {e}");
            done(false);
            return;
        }
    };
    let label = label.to_string();
    let spawned = std::thread::Builder::new()
        .name("rvs-vrrp-script".into())
        .spawn({
            let label = label.clone();
            move || {
                let pid = Pid::from_raw(child.id() as i32);
                let exited = match pid.map(|p| rustix::process::pidfd_open(p, PidfdFlags::empty()))
                {
                    Some(Ok(pidfd)) => {
                        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
                        let t = rustix::time::Timespec {
                            tv_sec: timeout.as_secs() as i64,
                            tv_nsec: i64::from(timeout.subsec_nanos()),
                        };
                        loop {
                            match rustix::event::poll(&mut fds, Some(&t)) {
                                Err(rustix::io::Errno::INTR) => continue,
                                Ok(n) => break n > 0,
                                Err(_) => break false,
                            }
                        }
                    }
                    // No pidfd (pre-5.3 kernel): the script gets no time limit.
                    _ => true,
                };
                if !exited {
                    if let Some(p) = pid {
                        let _ = rustix::process::kill_process_group(p, Signal::KILL);
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    tracing::warn!(
                        "VRRP {label}: timeout after {} ms, killed",
                        timeout.as_millis()
                    );
                    done(false);
                    return;
                }
                let ok = child.wait().map(|s| s.success()).unwrap_or(false);
                done(ok);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("VRRP {label}: no waiter thread: {e}");
    }
}

/// Bytes of a track file that are read: the integer at its start fits with room to spare.
const TRACK_FILE_MAX: usize = 64;

/// A `vrrp_track_file`'s value: the integer it starts with; unreadable or garbage is 0
/// (keepalived's rule). The error says why, for a rate-limited warning.
///
/// This runs on the real-time advert thread, so it must not block: opened O_NONBLOCK (a
/// FIFO with a silent writer answers EAGAIN rather than holding the thread) and read to
/// at most [`TRACK_FILE_MAX`] bytes (a huge or endless file costs nothing).
pub fn read_track_file(path: &str) -> (i64, Option<String>) {
    match read_head(path) {
        Ok(s) => match parse_value(&s) {
            Some(v) => (v, None),
            None => (0, Some(format!("{path}: no integer in {:?}", s.trim()))),
        },
        Err(e) => (0, Some(format!("{path}: {e}"))),
    }
}

fn read_head(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let mut buf = [0u8; TRACK_FILE_MAX];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn parse_value(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(t.len(), |(i, _)| i);
    t[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::ControlFlow;
    use std::sync::mpsc;

    #[test]
    fn track_file_values() {
        assert_eq!(parse_value("42\n"), Some(42));
        assert_eq!(parse_value("  -7 trailing"), Some(-7));
        assert_eq!(parse_value("+3"), Some(3));
        assert_eq!(parse_value("garbage"), None);
        assert_eq!(parse_value(""), None);
        let (v, err) = read_track_file("/nonexistent/rvs-track-file");
        assert_eq!(v, 0);
        assert!(err.is_some());
    }

    #[test]
    fn a_track_file_never_blocks_and_only_its_head_is_read() {
        let dir = std::env::temp_dir().join(format!("rvs-vrrp-track-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A FIFO whose writer never writes: a blocking read would hold the thread forever.
        let fifo = dir.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let _writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let p = fifo.display().to_string();
        std::thread::spawn(move || {
            let _ = tx.send(read_track_file(&p));
        });
        let (v, err) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("reading a silent FIFO returns");
        assert_eq!(v, 0);
        assert!(err.is_some());

        // A value followed by more than the head: the head is enough.
        let big = dir.join("big");
        std::fs::write(&big, format!("17\n{}", "x".repeat(1 << 20))).unwrap();
        assert_eq!(read_track_file(&big.display().to_string()).0, 17);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn track_scripts_report_their_status_and_are_killed_at_their_timeout() {
        let run = |script: &str, timeout_ms: u64| {
            let (tx, rx) = mpsc::channel();
            track(
                "t",
                script,
                None,
                Duration::from_millis(timeout_ms),
                move |ok| {
                    let _ = tx.send(ok);
                },
            );
            rx.recv_timeout(Duration::from_secs(20)).expect("an answer")
        };
        assert!(run("exit 0", 10_000));
        assert!(!run("exit 1", 10_000));
        assert!(!run("sleep 30", 100), "killed at the timeout");
    }

    #[test]
    fn script_users_are_resolved_once_per_configuration() {
        let user = |u: &str| Some((u.to_string(), None));
        let cfg = rvs_vrrp::VrrpConfig {
            scripts: vec![rvs_vrrp::ScriptConfig {
                name: "chk".into(),
                command: "true".into(),
                user: user("root"),
                interval_ms: 1000,
                timeout_ms: 1000,
                weight: 0,
                reverse: false,
                rise: 1,
                fall: 1,
                init_fail: false,
            }],
            sync_groups: vec![rvs_vrrp::SyncGroupConfig {
                name: "G".into(),
                members: vec![],
                notify: rvs_vrrp::Notify {
                    master: Some(rvs_vrrp::NotifyScript {
                        command: "true".into(),
                        user: user("rvs-no-such-user"),
                    }),
                    ..Default::default()
                },
            }],
            ..Default::default()
        };
        let users = Users::resolve(&cfg);
        assert_eq!(users.ids(&user("root")), Ok(Some((0, 0))));
        assert!(
            users.ids(&user("rvs-no-such-user")).is_err(),
            "an unknown user's scripts are not run (never as root)"
        );
        assert_eq!(users.ids(&None), Ok(None));
        assert_eq!(users.0.len(), 2);
    }

    #[test]
    fn notify_scripts_are_capped_and_killed_at_their_timeout() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        let run = || {
            notify_with(
                "sleep 30",
                &[],
                None,
                &RUNNING,
                2,
                Duration::from_millis(300),
            )
        };
        assert!(run() && run(), "two run");
        assert!(!run(), "the third is refused while two run");
        rvs_testnet::wait_for(
            "both killed at their timeout",
            Duration::from_secs(20),
            || {
                Ok(match RUNNING.load(Ordering::Relaxed) {
                    0 => ControlFlow::Break(()),
                    n => ControlFlow::Continue(format!("{n} running")),
                })
            },
        )
        .unwrap();
        assert!(run(), "slots free again once they were killed");
    }

    #[test]
    fn notify_gets_its_argument_words() {
        let dir = std::env::temp_dir().join(format!("rvs-vrrp-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let out = dir.join("out");
        let args: Vec<String> = ["INSTANCE", "VI 1", "MASTER", "100"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        notify(&format!("printf '%s|' >{}", out.display()), &args, None);
        rvs_testnet::wait_for("notify's argument words", Duration::from_secs(20), || {
            Ok(match std::fs::read_to_string(&out) {
                Ok(s) if s == "INSTANCE|VI 1|MASTER|100|" => ControlFlow::Break(()),
                seen => ControlFlow::Continue(format!("{seen:?}")),
            })
        })
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
