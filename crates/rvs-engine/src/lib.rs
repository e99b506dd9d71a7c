//! The rvs director engine (layer: sans-IO core).
//!
//! [`Engine::process`] takes one received frame, the port it came in on and `now`, and
//! returns a [`Verdict`] with the frame rewritten in place: NAT, FULLNAT, DR or a tunnel
//! toward a real server, NAT back toward a client, an ICMP error back to the sender, or a
//! pass to the kernel, or a counted drop. The engine has no sockets, no clock and no threads:
//! the AF_XDP and AF_PACKET workers, the tests, the fuzzers and the benchmarks all drive this
//! same code.
//!
//! Layout follows IPVS, one job per file:
//! - `engine`: the packet path (ip_vs_core.c), the only public entry for frames;
//! - `xmit`: the forwarding methods (ip_vs_xmit.c), handed a resolved hop, never calling back;
//! - `conn`: the conn tables (ip_vs_conn.c); `config`: the immutable virtual server table;
//! - `dest` (ip_vs_ctl.c's dests and their counters), `persist` (templates), `proto` (conn
//!   state transitions), `route` (next hops), `reply` (ICMP errors the engine sends),
//!   `timer` (expiry, defences, `poll_timeout`), `status` (listings, counters, bulk
//!   export), `adopt` (a previous engine's shared-memory table, and imports from a sync
//!   peer through the same binding), `feed` (the conn change feed and its record type),
//!   `vip` (the run-time VIP-ownership overlay): private, each implementing on the shared runtime in `rt`
//!   (IPVS's ip_vs.h structs), so that the module graph stays acyclic (`tests/layering.rs`).
//!
//! Schedulers live in `rvs-sched`, protocol state machines in `rvs-proto`, packet views in
//! `rvs-wire`. `testkit`, `topo`, `fuzzing` and `xmit` are public only for the tests,
//! benches and fuzzers, and hidden from the docs.

mod adopt;
pub mod config;
pub mod conn;
mod dest;
pub mod engine;
mod feed;
#[doc(hidden)]
pub mod fuzzing;
pub mod local;
pub mod net;
pub mod packet;
mod persist;
mod proto;
mod reply;
mod route;
mod rt;
pub mod stats;
mod status;
#[doc(hidden)]
pub mod testkit;
mod timer;
#[doc(hidden)]
pub mod topo;
pub mod verdict;
mod vip;
#[doc(hidden)]
pub mod xmit;

pub use adopt::{Adopted, ConnMemory, ImportError, Imported};
pub use config::{
    Config, ConfigError, DestConfig, DestId, FwdMethod, FwmarkRule, Persistence, ServiceConfig,
    Settings, SvcKey, TunCsum, TunType,
};
pub use engine::{Engine, EngineOptions};
pub use feed::{ConnEvent, ConnEventKind, ConnRecord, FeedStats, TemplateKey};
pub use net::{NetView, PortId, Route, StaticNet};
pub use packet::PacketBuf;
pub use status::{ConnInfo, DestStatus, ExportCursor, SvcStatus};
pub use verdict::{DropReason, EngineCounters, Verdict};
pub use vip::VipOwnership;
