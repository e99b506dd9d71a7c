//! rvsd's control plane: one event loop owns the daemon's state.
//!
//! - [`core`]: the sans-IO core, `handle(event, now) -> actions`;
//! - [`event_loop`]: the thread that drives it and turns its actions into I/O;
//! - [`server`]: the control socket (decode, ask the loop, encode);
//! - [`txn`]: transactions on the table; [`model`]: the table as ipvsadm sees it;
//! - [`store`]: the state directory; [`listing`], [`iostats`]: what rvsadm lists;
//! - [`keepalived`]: `--config`'s runtime (file, checker, notify scripts).

pub mod core;
pub mod event_loop;
pub mod iostats;
pub mod keepalived;
pub mod listing;
pub mod model;
pub mod server;
pub mod store;
pub mod txn;
