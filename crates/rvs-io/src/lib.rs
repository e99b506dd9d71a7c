//! The I/O layer of rvs: everything between the sans-IO engine and real interfaces.
//!
//! - [`kernel`]: routes, neighbours, links and addresses from rtnetlink, as the engine's
//!   `NetView`;
//! - [`steer`]: which frames are rvs's (the steering set), the XDP program that sends them
//!   to AF_XDP sockets, and the nftables rules that keep the kernel off them under
//!   AF_PACKET;
//! - [`afxdp`] and [`afpacket`]: the workers that move frames through the engine.

pub mod afpacket;
pub mod afxdp;
pub mod datapath;
pub mod kernel;
pub mod local;
pub mod shm;
pub mod steer;
pub mod vrrp;
pub mod worker;

pub use datapath::{DataPath, IoMode};
pub use kernel::KernelNet;

#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("unknown interface {0:?}")]
    UnknownInterface(String),
    #[error("rvsd must run as root to serve interfaces (it attaches XDP programs and opens raw sockets)")]
    NotRoot,
    #[error("this kernel has no AF_XDP ({0}); run rvsd with --io afpacket")]
    NoAfXdp(String),
    #[error(transparent)]
    Steer(#[from] steer::SteerError),
    #[error("{0}")]
    Setup(String),
}
