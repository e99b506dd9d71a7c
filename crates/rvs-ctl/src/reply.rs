//! ipvsadm's messages for operations the table refuses (`ipvs_strerror()` in libipvs): the
//! daemon answers with an [`Errno`]-like kind and rvsadm prints what ipvsadm would for the
//! same command. Which text an error gets depends on the operation, as in libipvs.

use crate::cmd::{Command, ListTarget};
use serde::{Deserialize, Serialize};

/// The failure kinds IPVS reports through errno, which ipvsadm turns into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Errno {
    /// EEXIST
    Exists,
    /// ENOENT: unknown scheduler/persistence engine, or no such destination.
    NotFound,
    /// ESRCH: no such service (or no daemon).
    NoSuchService,
    /// EPERM
    Permission,
    /// EINVAL
    Invalid,
    /// ENOMEM
    NoMemory,
    /// EOPNOTSUPP
    NotSupportedIpv6,
    /// EAFNOSUPPORT
    AddressFamily,
}

/// Exit status of ipvsadm when the kernel refuses a change: process_options() returns the
/// library's -1, which main() returns.
pub const EXIT_TABLE_ERROR: i32 = 255;
/// Exit status of ipvsadm when a listing fails (`exit(1)` in list_service()).
pub const EXIT_LIST_ERROR: i32 = 1;

/// `ipvs_strerror()` for the libipvs call a command makes.
pub fn strerror(cmd: &Command, err: Errno) -> &'static str {
    use Errno::*;
    let specific = match (cmd, err) {
        (Command::AddService(_), Exists) => Some("Service already exists"),
        (Command::AddService(_) | Command::EditService(_), NotFound) => {
            Some("Scheduler or persistence engine not found")
        }
        (Command::EditService(_) | Command::DelService(_) | Command::Zero(_), NoSuchService) => {
            Some("No such service")
        }
        (
            Command::AddDest { .. } | Command::EditDest { .. } | Command::DelDest { .. },
            NoSuchService,
        ) => Some("Service not defined"),
        (Command::AddDest { .. }, Exists) => Some("Destination already exists"),
        (Command::EditDest { .. } | Command::DelDest { .. }, NotFound) => {
            Some("No such destination")
        }
        (Command::StartDaemon(_), Exists) => Some("Daemon has already run"),
        (Command::StopDaemon(_), NoSuchService) => Some("No daemon is running"),
        (Command::List(l), NoSuchService)
            if matches!(l.target, ListTarget::All | ListTarget::Service(_)) =>
        {
            Some("No such service")
        }
        _ => None,
    };
    if let Some(m) = specific {
        return m;
    }
    match err {
        Permission => "Permission denied (you must be root)",
        Invalid => "Invalid operation.  Possibly wrong module version, address not unicast, ...",
        NoMemory => "Memory allocation problem",
        NotSupportedIpv6 => "Operation not supported with IPv6",
        AddressFamily => "Operation not supported with specified address family",
        // strerror() for the rest.
        Exists => "File exists",
        NotFound => "No such file or directory",
        NoSuchService => "No such process",
    }
}
