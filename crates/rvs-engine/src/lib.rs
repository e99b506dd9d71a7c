//! The rvs director engine (layer: sans-IO core).
//!
//! [`Engine::process`] takes one received frame, the port it came in on and `now`, and
//! returns a [`Verdict`] with the frame rewritten in place: NAT, FULLNAT, DR or a tunnel
//! toward a real server, NAT back toward a client, an ICMP error back to the sender, or a
//! pass to the kernel, or a counted drop. The engine has no sockets, no clock and no threads:
//! the AF_XDP and AF_PACKET workers, the tests, the fuzzers and the benchmarks all drive this
//! same code. Layout follows IPVS: `conn` (ip_vs_conn.c), `config` (ip_vs_ctl.c), `xmit`
//! (ip_vs_xmit.c), `engine` (ip_vs_core.c); schedulers live in `rvs-sched`, protocol state
//! machines in `rvs-proto`, packet views in `rvs-wire`.

pub mod config;
pub mod conn;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod local;
pub mod net;
pub mod packet;
pub mod stats;
pub mod testkit;
pub mod topo;
pub mod verdict;
pub mod xmit;

pub use config::{
    Config, ConfigError, DestConfig, DestId, FwdMethod, FwmarkRule, Persistence, ServiceConfig,
    Settings, SvcKey, TunCsum, TunType,
};
pub use engine::{Adopted, ConnInfo, ConnMemory, DestStatus, Engine, EngineOptions, SvcStatus};
pub use net::{NetView, PortId, Route, StaticNet};
pub use packet::PacketBuf;
pub use verdict::{DropReason, EngineCounters, Verdict};
