//! rvsd's control plane.

pub mod keepalived;
pub mod model;
pub mod server;
pub mod state;
