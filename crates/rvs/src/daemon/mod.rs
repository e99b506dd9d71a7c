//! rvsd's control plane.

pub mod model;
pub mod server;
pub mod state;
