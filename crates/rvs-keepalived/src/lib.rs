//! keepalived.conf for rvs — the configuration layer (sans-IO: no sockets, no clock; files
//! only through [`ConfigFs`], so tests and the fuzzer feed in-memory files). The runtime
//! (the checker's probes, notify scripts, reloads) is rvsd's.
//!
//! ```text
//! files ──ConfigFs──▶ lexer (comments, include+glob, @ID/@^ID, $VAR, ~SEQ/~LST, words)
//!       ──▶ tree (keyword, args, { block })
//!       ──▶ parse (every LVS keyword, keepalived's defaults) ──▶ KeepalivedConfig
//!       ──▶ expansion (groups/ranges, validated once) ─┬─▶ to_engine ──▶ EngineTables
//!                                                       └─▶ plan ──▶ Plan (ipvsadm specs,
//!                                                           dest templates, checker targets)
//! ```
//!
//! * [`parse_file`] / [`parse_text`] give a [`KeepalivedConfig`] with its warnings, or a
//!   [`ConfigError`] and nothing else: the running configuration is left to the caller,
//!   untouched.
//! * [`plan::plan`] turns it into what rvsd applies: rvs-ctl's ipvsadm types and the
//!   checker's targets; [`plan::service_commands`] and [`plan::action_commands`] give the
//!   transactions for a load or reload and for each checker action.
//! * [`to_engine`] turns it into `rvs_engine` services, fwmark rules and settings (the
//!   table keepalived would install before any check has run).
//! * [`config_test`] is `keepalived -t`: parse and plan, every message.
//!
//! What is a warning and what is an error follows keepalived and the issue: an unknown or
//! unsupported keyword, a deprecated one (`nb_get_retry`), an unclosed block at end of
//! file and keepalived's own "defaulting" notes are warnings; a bad address, number,
//! scheduler or forwarding method, a stray `}`, an include cycle, or a table the engine
//! would refuse are errors. Messages read `FILE:LINE: warning|error: 'KEYWORD': text`.
//!
//! # VRRP
//! `vrrp_instance`, `vrrp_script`, `track_file` (`vrrp_track_file`) and `vrrp_sync_group`
//! are typed into [`rvs_vrrp::VrrpConfig`] ([`KeepalivedConfig::vrrp`], then
//! `Plan::vrrp`, which rvsd runs as is), with keepalived 2.2.7's defaults and
//! `global_defs`' `vrrp_version` and `vrrp_garp_master_*`. The keywords, what each does
//! and what keepalived's oddities become are listed in the crate's `VRRP.md`. In short:
//! a value that cannot be right (a VRID or priority out of range, an unknown `state`, a
//! bad address or prefix, VIPs of two families, two instances with one interface, VRID
//! and family, a sync group naming an unknown instance or sharing one with another group)
//! is an error; AH authentication (refused: the instance runs without authentication),
//! every keyword rvs does not act on, a `track_script` naming no `vrrp_script`, and
//! keepalived's own "defaulting" notes are warnings. `static_ipaddress`,
//! `static_routes`, `static_rules` and the other static network sections are warnings:
//! set them up with ip(8).
//!
//! # `//` is not a comment
//! keepalived treats only `#` and `!` as comments; a `//` word is just more words, which its
//! single-value keywords silently ignore. Configs copied from web pages (seed 002) use `//`
//! as a comment, so rvs cuts a `//` that starts a word to the end of the line, with a
//! warning saying so.
//!
//! # Our extension: `rvs_fwmark_rules`
//! keepalived's `virtual_server fwmark N` relies on iptables `-j MARK` rules, which never
//! see packets that rvs takes at XDP. The marks come from a top-level block instead:
//!
//! ```text
//! rvs_fwmark_rules {
//!     # rule tcp|udp|sctp|any ADDR[/PREFIX] PORT[-PORT] mark N
//!     rule tcp 10.0.0.0/24 80-90 mark 1
//!     rule any 2001:db8::10 0-65535 mark 2
//! }
//! ```
//!
//! Rules are tried in order, the first match wins (`rvs_engine::config::FwmarkRule`).
//! keepalived itself would warn about an unknown keyword and ignore the block, so a file
//! with it still loads in keepalived. A fwmark virtual server whose mark no rule sets is
//! a warning.
//!
//! # Our extension: `rvs_vip_owner kernel|engine`
//! Inside a `vrrp_instance`, who makes its VIPs (`virtual_ipaddress` and
//! `virtual_ipaddress_excluded`) reachable while it is MASTER:
//!
//! ```text
//! vrrp_instance VI_1 {
//!     ...
//!     rvs_vip_owner engine   # default: kernel
//! }
//! ```
//!
//! `kernel` is keepalived's way: on MASTER the addresses are added to the interface
//! (`ip addr` shows them; `dev`, `brd`, `scope` and `label` apply) and removed on BACKUP,
//! FAULT and stop. `engine`: the addresses never enter the kernel; rvs's engine answers
//! ARP/NS/ping for them only while MASTER (`dev`, `brd`, `scope` and `label` are then
//! warnings). Either way a BACKUP is silent about them. keepalived would warn about the
//! unknown keyword and go on, so a file with it still loads in keepalived.

#![forbid(unsafe_code)]

pub mod defaults;
pub mod diag;
pub mod engine;
pub mod fs;
pub mod fuzzing;
pub mod lexer;
pub mod model;
pub mod parse;
pub mod plan;
pub mod tree;

pub use diag::{ConfigError, Diag, Pos, Severity};
pub use engine::{to_engine, EngineTables};
pub use fs::{ConfigFs, MemFs, StdFs};
pub use lexer::Options;
pub use model::*;
pub use plan::{plan, Plan};

use std::path::Path;

/// Read, preprocess and parse `path` and everything it includes.
pub fn parse_file(
    fs: &dyn ConfigFs,
    path: &Path,
    opts: &Options,
) -> Result<KeepalivedConfig, ConfigError> {
    let mut pre = lexer::Preprocessor::new(fs, opts);
    pre.run_file(path);
    finish(pre)
}

/// Parse `text` as if it were the file `path` (includes are resolved through `fs`,
/// relative to `path`'s directory).
pub fn parse_text(
    fs: &dyn ConfigFs,
    path: &Path,
    text: &str,
    opts: &Options,
) -> Result<KeepalivedConfig, ConfigError> {
    let mut pre = lexer::Preprocessor::new(fs, opts);
    pre.run_text(path, text);
    finish(pre)
}

fn finish(pre: lexer::Preprocessor<'_>) -> Result<KeepalivedConfig, ConfigError> {
    let failed = pre.failed();
    let mut diags = pre.diags;
    if failed {
        return Err(ConfigError::from_diags(diags).expect("a failed preprocessor has an error"));
    }
    let Some(nodes) = tree::build(&pre.lines, &mut diags) else {
        return Err(ConfigError::from_diags(diags).expect("a failed tree has an error"));
    };
    let mut p = parse::Parser { diags };
    let mut cfg = p.config(nodes);
    // In phase order: preprocessor, then blocks, then keywords.
    let diags = p.diags;
    if let Some(e) = ConfigError::from_diags(diags.clone()) {
        return Err(e);
    }
    cfg.warnings = diags;
    Ok(cfg)
}

/// `keepalived -t` for rvs (`rvsd --config-test`): parse and plan, as a load would.
/// Ok carries the warnings; Err the first error and every message.
pub fn config_test(
    fs: &dyn ConfigFs,
    path: &Path,
    opts: &Options,
) -> Result<Vec<Diag>, ConfigError> {
    let cfg = parse_file(fs, path, opts)?;
    match plan(&cfg) {
        Ok(_) => Ok(cfg.warnings),
        Err(e) => {
            let mut diags = cfg.warnings;
            diags.push(e.clone());
            Err(ConfigError { first: e, diags })
        }
    }
}
