//! Health checking for rvs, as keepalived's checkers do it.
//!
//! - [`spec`]: what a check is (the keepalived.conf checker blocks, parsed by
//!   `rvs-keepalived`);

pub mod spec;
