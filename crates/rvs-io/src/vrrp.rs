//! The VRRP runner: drives `rvs_vrrp::Router` on a thread of its own (raw IP-protocol-112
//! sockets, multicast or unicast, the VIPs on interfaces or in the engine's ownership
//! overlay, gratuitous ARP / unsolicited NA, link watching, track scripts and files,
//! notify scripts). Adverts never wait behind the data path or the daemon's loop.
//! (Skeleton: the bodies are the VRRP I/O engineer's; the signatures are the contract.)

use rvs_engine::VipOwnership;
use rvs_vrrp::{InstanceStatus, State, VrrpConfig};

/// What the runner tells the daemon (from the runner's thread, through the callback given
/// to [`VrrpRunner::start`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VrrpEvent {
    /// An instance changed state; its VIPs' ownership already follows (the daemon
    /// re-steers the data path so ARP/NS steering matches).
    Transition {
        instance: String,
        from: State,
        to: State,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum VrrpIoError {
    #[error("vrrp_instance {instance}: interface {iface:?}: {message}")]
    Interface {
        instance: String,
        iface: String,
        message: String,
    },
    #[error("VRRP socket: {0}")]
    Socket(String),
}

/// A running VRRP subsystem. Dropping it without [`VrrpRunner::stop`] stops the thread
/// without the priority-0 handover (as a crash would).
pub struct VrrpRunner {
    _priv: (),
}

impl VrrpRunner {
    /// Open the sockets, resolve the advert sources, start the thread and the machines
    /// (`Router::start`). Instances' VIPs are marked not owned in `vips` before this
    /// returns unless the instance starts as MASTER (address owner), so a standby is silent
    /// from its first moment.
    pub fn start(
        cfg: VrrpConfig,
        vips: VipOwnership,
        on_event: impl Fn(VrrpEvent) + Send + 'static,
    ) -> Result<VrrpRunner, VrrpIoError> {
        let _ = (cfg, vips, on_event);
        unimplemented!()
    }

    /// A reload (`Router::reconfigure`): unchanged instances keep their state.
    pub fn reconfigure(&self, cfg: VrrpConfig) -> Result<(), VrrpIoError> {
        let _ = cfg;
        unimplemented!()
    }

    /// The operator's view, taken on the runner's thread.
    pub fn status(&self) -> Vec<InstanceStatus> {
        unimplemented!()
    }

    /// Now on the runner's clock, the one [`InstanceStatus`]'s transitions are stamped on
    /// (`rvs_vrrp::status_lines` needs it for their ages).
    pub fn now(&self) -> u64 {
        unimplemented!()
    }

    /// A clean stop: MASTERs send priority 0 and release their VIPs, notify_stop runs;
    /// returns when done (bounded).
    pub fn stop(self) {
        unimplemented!()
    }
}
