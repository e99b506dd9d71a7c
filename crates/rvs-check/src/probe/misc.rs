//! MISC_CHECK: run `misc_path` with `sh -c` (keepalived splits the words itself; a shell
//! also gives quoting and redirections), kill it at `misc_timeout`, judge the exit status:
//! 0 is up, 1 (or any other status without `misc_dynamic`, or a signal) is down, and with
//! `misc_dynamic` 2..=255 is up with weight status - 2.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::{ProbeError, ProbeResult};
use crate::machine::DynWeight;

pub struct MiscProbe {
    path: String,
    dynamic: bool,
    /// `user USERNAME [GROUPNAME]`, resolved once.
    ids: Option<(u32, u32)>,
}

impl MiscProbe {
    pub fn new(
        path: &str,
        dynamic: bool,
        user: Option<&(String, Option<String>)>,
    ) -> Result<MiscProbe, ProbeError> {
        let ids = match user {
            None => None,
            Some((u, g)) => Some(resolve_user(u, g.as_deref())?),
        };
        Ok(MiscProbe {
            path: path.to_string(),
            dynamic,
            ids,
        })
    }

    pub async fn run(&self, timeout: Duration) -> ProbeResult {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&self.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so a timeout kills the script's children too.
            .process_group(0)
            .kill_on_drop(true);
        if let Some((uid, gid)) = self.ids {
            // std drops the supplementary groups when root sets a uid.
            cmd.uid(uid).gid(gid);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return ProbeResult::down(format!("spawn: {e}")),
        };
        let pid = child.id();
        let status = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return ProbeResult::down(format!("wait: {e}")),
            Err(_) => {
                if let Some(pid) = pid {
                    // SAFETY: kill(2) on the process group we created for the script.
                    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                }
                let _ = child.kill().await;
                return ProbeResult::down(format!(
                    "timeout after {} ms, killed",
                    timeout.as_millis()
                ));
            }
        };
        judge(status.code(), self.dynamic)
    }
}

/// The verdict on an exit status (`None`: killed by a signal).
pub fn judge(code: Option<i32>, dynamic: bool) -> ProbeResult {
    match code {
        Some(0) => ProbeResult {
            ok: true,
            weight: dynamic.then_some(DynWeight::Reset),
            detail: "exit 0".into(),
        },
        Some(c @ 2..=255) if dynamic => ProbeResult {
            ok: true,
            weight: Some(DynWeight::Set(c as u32 - 2)),
            detail: format!("exit {c}"),
        },
        Some(c) => ProbeResult::down(format!("exit {c}")),
        None => ProbeResult::down("killed by a signal"),
    }
}

/// Looks up a user (and a group, else the user's) in the system's databases (also used by
/// rvs-io's VRRP runner for notify and track scripts).
pub fn resolve_user(user: &str, group: Option<&str>) -> Result<(u32, u32), ProbeError> {
    use std::ffi::CString;
    let err = || ProbeError::User(user.to_string());
    let cuser = CString::new(user).map_err(|_| err())?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: getpwnam_r writes into `pw` and `buf`, both live and sized as passed.
    let (uid, mut gid) = unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cuser.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        );
        if rc != 0 || res.is_null() {
            return Err(err());
        }
        (pw.pw_uid, pw.pw_gid)
    };
    if let Some(g) = group {
        let cg = CString::new(g).map_err(|_| ProbeError::User(g.to_string()))?;
        // SAFETY: as above, for getgrnam_r.
        gid = unsafe {
            let mut gr: libc::group = std::mem::zeroed();
            let mut res: *mut libc::group = std::ptr::null_mut();
            let rc = libc::getgrnam_r(cg.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut res);
            if rc != 0 || res.is_null() {
                return Err(ProbeError::User(g.to_string()));
            }
            gr.gr_gid
        };
    }
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(script: &str, dynamic: bool) -> MiscProbe {
        MiscProbe::new(script, dynamic, None).unwrap()
    }

    #[tokio::test]
    async fn exit_codes() {
        let t = Duration::from_secs(5);
        assert!(probe("true", false).run(t).await.ok);
        assert!(!probe("false", false).run(t).await.ok);
        assert!(
            !probe("exit 5", false).run(t).await.ok,
            "non-dynamic: any non-zero fails"
        );
        let r = probe("exit 5", true).run(t).await;
        assert!(r.ok);
        assert_eq!(r.weight, Some(DynWeight::Set(3)));
        let r = probe("exit 0", true).run(t).await;
        assert_eq!(r.weight, Some(DynWeight::Reset));
        assert!(!probe("exit 1", true).run(t).await.ok);
        assert!(!probe("kill -9 $$", false).run(t).await.ok);
    }

    #[tokio::test]
    async fn timeout_kills_the_script_and_its_children() {
        let dir = std::env::temp_dir().join(format!("rvs-check-misc-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let script = format!("sleep 1; touch {}", dir.display());
        let start = std::time::Instant::now();
        let r = probe(&format!("({script}) & wait"), false)
            .run(Duration::from_millis(200))
            .await;
        assert!(!r.ok);
        assert!(r.detail.contains("timeout"), "{}", r.detail);
        assert!(start.elapsed() < Duration::from_millis(900));
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(!dir.exists(), "the script's child survived the timeout");
    }

    #[tokio::test]
    async fn runs_as_user() {
        // The script reports the uid it runs as through its exit status.
        let p = MiscProbe::new(
            "test \"$(id -u)\" = 65534",
            false,
            Some(&("nobody".into(), None)),
        )
        .unwrap();
        if rustix::process::geteuid().is_root() {
            assert!(p.run(Duration::from_secs(5)).await.ok);
        }
        assert!(MiscProbe::new("true", false, Some(&("no-such-user-rvs".into(), None))).is_err());
    }
}
