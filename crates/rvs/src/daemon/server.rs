//! The control socket: a Unix stream socket, mode 0600, answering root only. Each client
//! gets a thread; requests are serialised on the daemon lock, so a transaction is applied
//! whole before the next one is looked at.

use super::state::Daemon;
use rvs_ctl::proto::{self, Response, MAX_MESSAGE};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bind the control socket, refusing to steal it from a live rvsd.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if UnixStream::connect(path).is_ok() {
        anyhow::bail!("another rvsd is already serving {}", path.display());
    }
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Bind under a private name, then rename into place: the socket's path appears only once
    // it is listening (std binds and listens in one call) and already 0600, so a client that
    // waits for the path to exist never meets ECONNREFUSED.
    let tmp = path.with_file_name(format!(
        ".{}.{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("rvsd.sock"),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot bind {}: {e}", path.display()))?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("cannot bind {}: {e}", path.display());
    }
    Ok(listener)
}

pub fn serve(listener: UnixListener, daemon: Arc<Mutex<Daemon>>) {
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                let d = daemon.clone();
                std::thread::spawn(move || client(s, d));
            }
            Err(e) => tracing::warn!("control socket accept: {e}"),
        }
    }
}

fn error(message: String) -> Response {
    Response::Error {
        index: 0,
        errno: None,
        message,
    }
}

fn client(mut s: UnixStream, daemon: Arc<Mutex<Daemon>>) {
    match rustix::net::sockopt::socket_peercred(&s) {
        Ok(cred) if cred.uid.is_root() || cred.uid == rustix::process::geteuid() => {}
        Ok(cred) => {
            tracing::warn!(
                uid = cred.uid.as_raw(),
                "refused a control connection from a non-root user"
            );
            let _ = proto::write_msg(
                &mut s,
                &error("permission denied: only root may control rvsd".into()),
            );
            return;
        }
        Err(e) => {
            tracing::warn!("control socket peer credentials: {e}");
            return;
        }
    }
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).is_err() {
            return; // closed (or idle too long)
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_MESSAGE {
            let _ = proto::write_msg(&mut s, &error(proto::ProtoError::TooLarge(len).to_string()));
            return; // the rest of the stream cannot be framed any more
        }
        let mut body = vec![0u8; len];
        if s.read_exact(&mut body).is_err() {
            return;
        }
        let resp = match proto::decode_request(&body) {
            Ok(req) => daemon
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .handle(req.body),
            Err(e) => {
                tracing::warn!("bad control request: {e}");
                error(e.to_string())
            }
        };
        if proto::write_msg(&mut s, &resp).is_err() {
            return;
        }
    }
}
