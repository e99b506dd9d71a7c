//! The control socket: a Unix stream socket, mode 0600, answering root only. Each client
//! gets a thread that decodes its frames and hands each request to the event loop, which
//! handles one event at a time: a transaction is applied whole before the next one is
//! looked at. This is the one place where the core's typed replies and errors become the
//! wire's `Response`.

use super::core::{Event, Reply};
use super::event_loop::LoopEvent;
use super::txn::TxnError;
use rvs_ctl::proto::{self, RequestBody, Response, MAX_MESSAGE};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("another rvsd is already serving {}", path.display())]
    InUse { path: PathBuf },
    #[error("cannot bind {}: {source}", path.display())]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Bind the control socket, refusing to steal it from a live rvsd.
pub fn bind(path: &Path) -> Result<UnixListener, BindError> {
    let failed = |source| BindError::Bind {
        path: path.to_path_buf(),
        source,
    };
    if UnixStream::connect(path).is_ok() {
        return Err(BindError::InUse {
            path: path.to_path_buf(),
        });
    }
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
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
    let listener = UnixListener::bind(&tmp).map_err(failed)?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(e));
    }
    Ok(listener)
}

/// Accept clients forever, each on its own thread, their requests going to `events`.
pub fn serve(listener: UnixListener, events: mpsc::Sender<LoopEvent>) {
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                let events = events.clone();
                std::thread::spawn(move || client(s, events));
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

/// Ask the event loop and wait for its answer.
fn ask(events: &mpsc::Sender<LoopEvent>, req: RequestBody) -> Response {
    let (reply, answer) = mpsc::sync_channel(1);
    if events.send(Event::Control { req, reply }).is_err() {
        return error("rvsd is stopping".into());
    }
    match answer.recv() {
        Ok(r) => response(r),
        Err(_) => error("rvsd is stopping".into()),
    }
}

/// The wire's form of a reply: ipvsadm's errno and the failing command's index, so that
/// rvsadm prints what ipvsadm would.
fn response(r: Result<Reply, TxnError>) -> Response {
    match r {
        Ok(Reply::Applied) => Response::Ok,
        Ok(Reply::Table(t)) => Response::Table(t),
        Ok(Reply::Conns(c)) => Response::Conns(c),
        Ok(Reply::Timeouts(t)) => Response::Timeouts(t),
        Ok(Reply::Daemons(d)) => Response::Daemons(d),
        Ok(Reply::IoStats(rows)) => Response::IoStats(rows),
        Ok(Reply::CheckStatus(lines)) => Response::CheckStatus(lines),
        Ok(Reply::VrrpStatus(lines)) => Response::VrrpStatus(lines),
        Ok(Reply::Unavailable(message)) => error(message),
        Err(e) => Response::Error {
            index: e.index(),
            errno: e.errno(),
            message: e.to_string(),
        },
    }
}

fn client(mut s: UnixStream, events: mpsc::Sender<LoopEvent>) {
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
            Ok(req) => ask(&events, req.body),
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
