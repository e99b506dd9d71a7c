//! Run-time VIP ownership (what keepalived's VRRP decides by adding or removing a VIP on an
//! interface): per address, whether this director speaks for it on the wire. A VRRP backup
//! marks its VIPs not owned and stays silent (no ARP/NS/ping answers, no steering of ARP/NS,
//! no gratuitous ARP); the master marks them owned again. The daemon sets it; it is not part
//! of the operator's table (`Config`), and not persisted: a restarted director starts as
//! the owner of everything until VRRP says otherwise, as the kernel does with its addresses.

use arc_swap::ArcSwap;
use core::net::IpAddr;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A cheap shared handle: clones see the same overlay. Readers (the engine's ARP/NS/ping
/// answers, rvs-io's steering) take a lock-free snapshot; writers are serialised.
#[derive(Clone, Default)]
pub struct VipOwnership(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// Addresses marked not owned; every other address is owned (the default).
    not_owned: ArcSwap<HashSet<IpAddr>>,
    generation: AtomicU64,
    write: Mutex<()>,
}

impl VipOwnership {
    pub fn new() -> Self {
        Self::default()
    }

    /// Mark `addr` owned (answered and announced) or not (silent). Returns whether it
    /// changed; the caller then re-steers (`rvs_io::DataPath::sync`), which announces an
    /// address that became owned.
    pub fn set_owned(&self, addr: IpAddr, owned: bool) -> bool {
        let _w = self.0.write.lock().unwrap_or_else(|p| p.into_inner());
        let cur = self.0.not_owned.load();
        if cur.contains(&addr) != owned {
            return false;
        }
        let mut next = HashSet::clone(&cur);
        if owned {
            next.remove(&addr);
        } else {
            next.insert(addr);
        }
        self.0.not_owned.store(Arc::new(next));
        self.0.generation.fetch_add(1, Ordering::Release);
        true
    }

    /// Whether this director speaks for `addr`.
    #[inline]
    pub fn owns(&self, addr: IpAddr) -> bool {
        let n = self.0.not_owned.load();
        n.is_empty() || !n.contains(&addr)
    }

    /// Bumped by every change, so a reader can tell whether it must recompute.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    /// The addresses marked not owned, as a snapshot.
    pub fn not_owned(&self) -> Arc<HashSet<IpAddr>> {
        self.0.not_owned.load_full()
    }
}

impl core::fmt::Debug for VipOwnership {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VipOwnership")
            .field("not_owned", &self.not_owned())
            .field("generation", &self.generation())
            .finish()
    }
}
