//! Health checking for rvs, as keepalived's checkers do it.
//!
//! - [`spec`]: what a check is (the keepalived.conf checker blocks, parsed by
//!   `rvs-keepalived`);
//! - [`machine`]: the sans-IO core: a checker's retries and up/down state, a real server's
//!   aggregate, a virtual server's quorum and sorry server, and the [`machine::Action`]s
//!   that result. No clock, no I/O: tested with simulated time;
//!
//! With the `io` feature (default):
//! - `probe`: the probes themselves, over the kernel's stack (tokio);
//! - `runner`: `runner::Checker`, which runs the probes on its own runtime with
//!   bounded concurrency, one probe per distinct check, drives the machines with real time
//!   and hands the actions to the daemon.
// The sans-IO core has no unsafe at all; only the MISC probe's kill(2) and user lookups
// (probe/misc.rs) need it, so with `io` the rest of the crate still denies it.
#![cfg_attr(not(feature = "io"), forbid(unsafe_code))]
#![cfg_attr(feature = "io", deny(unsafe_code))]

pub mod machine;
#[cfg(feature = "io")]
#[allow(unsafe_code)]
pub mod probe;
#[cfg(feature = "io")]
pub mod runner;
pub mod spec;
