//! rvsadm: the ipvsadm-compatible command line of rvs, as a library. This is the layer a
//! user types into: it turns ipvsadm argument lists (and `-R` input) into typed
//! [`cmd::Command`]s for rvsd, and turns the daemon's table back into ipvsadm's exact
//! text. It holds no load-balancing logic and does no I/O besides optional name lookups.
#![forbid(unsafe_code)]

pub mod cmd;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod help;
pub mod parse;
pub mod proto;
pub mod reply;
pub mod resolve;
pub mod restore;

pub use cmd::Command;
pub use parse::{parse, parse_with, CliError};
