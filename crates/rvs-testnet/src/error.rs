//! The lab's one error type. Messages carry their cause and the logs that explain it, so a
//! failing test prints everything with `{e}` (tests mostly `unwrap` or `panic!("{e}")`).

use std::process::ExitStatus;
use std::time::Duration;

/// What can go wrong while building or driving a lab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lab was not run as root: a test that needs the lab fails instead of skipping.
    #[error(
        "rvs-testnet: the lab needs root (network namespaces, veths, nginx); \
         run the e2e tests as root, e.g. `sudo -E cargo test`"
    )]
    NotRoot,
    /// A file, directory or process operation failed.
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
    /// A command ran and exited unsuccessfully (`status.code() == Some(124)`: killed by
    /// [`crate::Ns::exec_timeout`]'s limit).
    #[error("{cmd} failed ({status}):\nstdout: {stdout}\nstderr: {stderr}")]
    Failed {
        cmd: String,
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
    /// A namespace or interface name longer than the kernel's 15 characters.
    #[error("rvs-testnet: {kind} name {name:?} is longer than 15 characters")]
    NameTooLong { kind: &'static str, name: String },
    /// Every lab prefix tried belonged to a live lab.
    #[error("rvs-testnet: no free lab prefix after {0} attempts; is /run/rvs-testnet full of live labs?")]
    NoFreePrefix(u32),
    /// Something awaited did not happen before its deadline; `seen` is the last state
    /// observed (a listing, a log).
    #[error("{what}: not within {limit:?}\n{seen}")]
    Timeout {
        what: String,
        limit: Duration,
        seen: String,
    },
    /// A process ended before it did what was awaited.
    #[error("{what}: exited ({status})\n{log}")]
    Exited {
        what: String,
        status: ExitStatus,
        log: String,
    },
    /// A tool's report could not be read.
    #[error("parsing {tool} output: {why}\n{text}")]
    Parse {
        tool: &'static str,
        why: String,
        text: String,
    },
    /// A workspace binary that has not been built (or not in this profile).
    #[error(
        "workspace binary {name:?} not found next to {near}; build it first (cargo build --bin {name})"
    )]
    BinNotFound { name: String, near: String },
    /// A call the lab cannot carry out as asked (a reaped process, an empty listen list).
    #[error("rvs-testnet: {0}")]
    Usage(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches what was being done to an I/O error.
pub(crate) trait IoContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|error| Error::Io {
            what: what(),
            error,
        })
    }
}
