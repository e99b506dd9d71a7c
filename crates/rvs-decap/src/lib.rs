//! The real-server side of rvs's TUN forwarding: an I/O crate with a sans-IO core.
//!
//! A director forwarding by tunnelling (`ipvsadm -i`, `--tun-type ipip|gue|gre`) sends
//! each client packet, unchanged, inside an outer header addressed to the real server. The
//! real server must strip that header and deliver the inner packet (daddr = the VIP, which
//! it has on `lo`) to its own stack, which then answers the client directly. The kernel
//! does this with `tunl0`/`gre0`/`fou`; kernels built without those modules (many
//! container and micro-VM kernels) cannot, and `rvs-decap` does it in userspace instead:
//! raw and UDP sockets in, a TUN device out.
//!
//! * [`decap`] is the sans-IO layer: bytes as a socket returned them, the inner packet's
//!   range or a counted [`decap::DropReason`]. It only reads `rvs-wire` views.
//! * [`sys`] is the I/O layer: the TUN device, the sockets and the sysctls.
//! * [`fuzzing`] is the fuzz target's body, shared with the corpus replay test.
//!
//! `doc/rvs-decap.md` describes how a real server runs the `rvs-decap` binary.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod decap;
pub mod fuzzing;
pub mod sys;

pub use decap::{Counters, Decap, DropReason, Snapshot, Source};
