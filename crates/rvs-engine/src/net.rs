//! The engine's view of routes and neighbours, injected by the I/O layer.
//!
//! The engine asks "which port, next hop and source for this destination?" and "what MAC
//! has this next hop?". The I/O layer answers from the kernel (rtnetlink) later; tests and
//! benches use [`StaticNet`]. Answers are cached by the engine per dest and per client
//! address and invalidated when [`NetView::generation`] changes.

use core::net::IpAddr;
use rvs_wire::ethernet::MacAddr;

/// An interface the engine can transmit on; the I/O layer maps it to a device and queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u16);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub port: PortId,
    /// The gateway, or the destination itself when it is on-link.
    pub next_hop: IpAddr,
    /// The director's address on that path (outer source of tunnels, ICMP source).
    pub src: IpAddr,
    pub mtu: u16,
    /// MAC of `port`.
    pub port_mac: MacAddr,
}

pub trait NetView: Send + Sync {
    /// Changes whenever a route or neighbour changes.
    fn generation(&self) -> u64;
    fn route(&self, dst: IpAddr) -> Option<Route>;
    fn neighbour(&self, port: PortId, addr: IpAddr) -> Option<MacAddr>;
    /// The MAC of a served port, the source of answers sent back out of it.
    fn port_mac(&self, _port: PortId) -> Option<MacAddr> {
        None
    }
    /// Whether the kernel itself owns `addr` (it is configured on an interface): then the
    /// kernel, not rvs, answers ARP, neighbour solicitations and pings for it.
    fn is_local(&self, _addr: IpAddr) -> bool {
        false
    }
}

/// A fixed table of prefix routes and neighbours (longest prefix wins).
#[derive(Clone, Debug, Default)]
pub struct StaticNet {
    pub routes: Vec<(IpAddr, u8, Route)>,
    pub neighbours: Vec<(PortId, IpAddr, MacAddr)>,
    /// The director's own addresses (each link's `src`).
    pub locals: Vec<IpAddr>,
    pub generation: u64,
}

impl StaticNet {
    /// An on-link prefix: the next hop is the destination itself.
    pub fn add_link(
        &mut self,
        net: IpAddr,
        prefix: u8,
        port: PortId,
        src: IpAddr,
        port_mac: MacAddr,
        mtu: u16,
    ) {
        self.routes.push((
            net,
            prefix,
            Route {
                port,
                next_hop: net,
                src,
                mtu,
                port_mac,
            },
        ));
        if !self.locals.contains(&src) {
            self.locals.push(src);
        }
        self.generation += 1;
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_via(
        &mut self,
        net: IpAddr,
        prefix: u8,
        gw: IpAddr,
        port: PortId,
        src: IpAddr,
        port_mac: MacAddr,
        mtu: u16,
    ) {
        self.routes.push((
            net,
            prefix,
            Route {
                port,
                next_hop: gw,
                src,
                mtu,
                port_mac,
            },
        ));
        self.generation += 1;
    }

    pub fn add_neighbour(&mut self, port: PortId, addr: IpAddr, mac: MacAddr) {
        self.neighbours.push((port, addr, mac));
        self.generation += 1;
    }
}

impl NetView for StaticNet {
    fn generation(&self) -> u64 {
        self.generation
    }

    fn route(&self, dst: IpAddr) -> Option<Route> {
        let (net, prefix, r) = self
            .routes
            .iter()
            .filter(|(net, prefix, _)| crate::config::prefix_match(*net, dst, *prefix))
            .max_by_key(|(_, prefix, _)| *prefix)?;
        let mut r = *r;
        // On-link routes were stored with the network as next hop.
        if r.next_hop == *net && (*prefix < if dst.is_ipv6() { 128 } else { 32 }) {
            r.next_hop = dst;
        }
        Some(r)
    }

    fn neighbour(&self, port: PortId, addr: IpAddr) -> Option<MacAddr> {
        self.neighbours
            .iter()
            .find(|(p, a, _)| *p == port && *a == addr)
            .map(|(_, _, m)| *m)
    }

    fn port_mac(&self, port: PortId) -> Option<MacAddr> {
        self.routes
            .iter()
            .find(|(_, _, r)| r.port == port)
            .map(|(_, _, r)| r.port_mac)
    }

    fn is_local(&self, addr: IpAddr) -> bool {
        self.locals.contains(&addr)
    }
}
