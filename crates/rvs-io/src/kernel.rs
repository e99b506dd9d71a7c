//! The kernel's routes, neighbours, links and addresses, seen through rtnetlink, as the
//! engine's [`NetView`].
//!
//! A background thread dumps the four tables into an immutable [`Snapshot`] and swaps it
//! in whenever a netlink event says something changed (debounced), bumping the generation
//! so that the engine drops its cached hops. Lookups on the data path read the current
//! snapshot without locks. The FIB is the main table only, matched by longest prefix in
//! userspace: policy routing on the director is not consulted (ARCHITECTURE.md).

use arc_swap::ArcSwap;
use futures::stream::{StreamExt, TryStreamExt};
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourState,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteType};
use rtnetlink::{Handle, MulticastGroup, RouteMessageBuilder};
use rvs_engine::{NetView, PortId, Route};
use rvs_wire::ethernet::MacAddr;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<MacAddr>,
    pub mtu: u32,
    pub up: bool,
}

#[derive(Clone, Debug)]
struct FibEntry {
    dst: IpAddr,
    plen: u8,
    /// (oif, gateway) per next hop; more than one for a multipath route.
    hops: Vec<(u32, Option<IpAddr>)>,
    prefsrc: Option<IpAddr>,
    metric: u32,
}

/// One consistent view of the kernel's tables.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub generation: u64,
    pub links: HashMap<u32, Link>,
    /// (ifindex, address, prefix length)
    pub addrs: Vec<(u32, IpAddr, u8)>,
    pub locals: HashSet<IpAddr>,
    neigh: HashMap<(u32, IpAddr), MacAddr>,
    fib: Vec<FibEntry>,
}

impl Snapshot {
    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        self.links.values().find(|l| l.name == name)
    }
}

/// The served interfaces, in port order: `PortId(i)` is `ports[i]`.
pub struct KernelNet {
    // Set once, right after the first dump names the interfaces.
    ports: std::sync::OnceLock<Vec<u32>>,
    snap: ArcSwap<Snapshot>,
    generation: AtomicU64,
    resolve_tx: std::sync::Mutex<Option<mpsc::Sender<(u32, IpAddr)>>>,
    /// The port of rvs's TUN device: the way to the kernel's own addresses (replies to
    /// connections the director opened itself, and real servers that are the director).
    local_port: std::sync::OnceLock<PortId>,
}

/// The MAC the engine writes on frames for the TUN port; the TUN device never sees it.
pub const LOCAL_MAC: MacAddr = MacAddr([0x02, 0x72, 0x76, 0x73, 0x00, 0x01]);

fn prefix_match(net: IpAddr, addr: IpAddr, plen: u8) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let m = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - plen.min(32))
            };
            u32::from(n) & m == u32::from(a) & m
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let m = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen.min(128))
            };
            u128::from(n) & m == u128::from(a) & m
        }
        _ => false,
    }
}

impl KernelNet {
    /// Dump the kernel's tables once and start following their changes. `ifaces` are the
    /// interfaces rvs serves, in port order.
    pub fn start(ifaces: &[String]) -> Result<Arc<KernelNet>, crate::IoError> {
        let (snap_tx, snap_rx) = mpsc::channel::<Result<Snapshot, String>>();
        let (resolve_tx, resolve_rx) = mpsc::channel::<(u32, IpAddr)>();
        let net = Arc::new(KernelNet {
            ports: std::sync::OnceLock::new(),
            snap: ArcSwap::from_pointee(Snapshot::default()),
            generation: AtomicU64::new(1),
            resolve_tx: std::sync::Mutex::new(Some(resolve_tx)),
            local_port: std::sync::OnceLock::new(),
        });
        let weak = Arc::downgrade(&net);
        let failed = snap_tx.clone();
        runtime_thread(
            "rvs-netlink",
            move |e| {
                let _ = failed.send(Err(e));
            },
            move || follow(weak, snap_tx, resolve_rx),
        )
        .map_err(|e| crate::IoError::Netlink(e.to_string()))?;
        let first = snap_rx
            .recv()
            .map_err(|_| crate::IoError::Netlink("netlink thread died".into()))?
            .map_err(crate::IoError::Netlink)?;
        let mut ports = Vec::new();
        for name in ifaces {
            let link = first
                .link_by_name(name)
                .ok_or_else(|| crate::IoError::UnknownInterface(name.clone()))?;
            ports.push(link.index);
        }
        let _ = net.ports.set(ports);
        net.snap.store(Arc::new(first));
        Ok(net)
    }

    /// Route the kernel's own addresses to `port` (rvs's TUN device) from now on.
    pub fn set_local_port(&self, port: PortId) {
        let _ = self.local_port.set(port);
    }

    pub fn local_port(&self) -> Option<PortId> {
        self.local_port.get().copied()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snap.load_full()
    }

    pub fn ports(&self) -> &[u32] {
        self.ports.get().map(Vec::as_slice).unwrap_or(&[])
    }

    fn port_of(&self, ifindex: u32) -> Option<PortId> {
        self.ports()
            .iter()
            .position(|&i| i == ifindex)
            .map(|p| PortId(p as u16))
    }

    /// Ask the kernel to resolve `addr` on `port` (RTM_NEWNEIGH with NTF_USE, which starts
    /// the kernel's own ARP/NS without inventing an entry); the answer arrives as a
    /// neighbour event and a new snapshot.
    pub fn resolve(&self, port: PortId, addr: IpAddr) {
        let Some(&ifindex) = self.ports().get(port.0 as usize) else {
            return;
        };
        if let Ok(g) = self.resolve_tx.lock() {
            if let Some(tx) = g.as_ref() {
                let _ = tx.send((ifindex, addr));
            }
        }
    }

    fn publish(&self, mut s: Snapshot) {
        s.generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.snap.store(Arc::new(s));
    }
}

impl NetView for KernelNet {
    fn generation(&self) -> u64 {
        self.snap.load().generation
    }

    fn route(&self, dst: IpAddr) -> Option<Route> {
        let s = self.snap.load();
        if let Some(&port) = self.local_port.get() {
            if s.locals.contains(&dst) {
                return Some(Route {
                    port,
                    next_hop: dst,
                    src: dst,
                    mtu: u16::MAX,
                    port_mac: LOCAL_MAC,
                });
            }
        }
        let best = s
            .fib
            .iter()
            .filter(|r| prefix_match(r.dst, dst, r.plen))
            .min_by_key(|r| (u8::MAX - r.plen, r.metric))?;
        // A multipath route: hash the destination over the hops rvs can send on.
        let usable: Vec<_> = best
            .hops
            .iter()
            .filter(|(oif, _)| self.port_of(*oif).is_some())
            .collect();
        if usable.is_empty() {
            return None;
        }
        let h = match dst {
            IpAddr::V4(a) => u32::from(a) as usize,
            IpAddr::V6(a) => (u128::from(a) as u64 ^ (u128::from(a) >> 64) as u64) as usize,
        };
        let &(oif, gw) = usable[h % usable.len()];
        let link = s.links.get(&oif)?;
        let src = best.prefsrc.or_else(|| {
            s.addrs
                .iter()
                .filter(|(i, a, _)| *i == oif && a.is_ipv6() == dst.is_ipv6())
                .find(|(_, a, p)| gw.is_none() && prefix_match(*a, dst, *p))
                .or_else(|| {
                    s.addrs
                        .iter()
                        .find(|(i, a, _)| *i == oif && a.is_ipv6() == dst.is_ipv6())
                })
                .map(|(_, a, _)| *a)
        })?;
        Some(Route {
            port: self.port_of(oif)?,
            next_hop: gw.unwrap_or(dst),
            src,
            mtu: link.mtu.min(u16::MAX as u32) as u16,
            port_mac: link.mac?,
        })
    }

    fn neighbour(&self, port: PortId, addr: IpAddr) -> Option<MacAddr> {
        if self.local_port.get() == Some(&port) {
            return Some(LOCAL_MAC);
        }
        let ifindex = *self.ports().get(port.0 as usize)?;
        self.snap.load().neigh.get(&(ifindex, addr)).copied()
    }

    fn port_mac(&self, port: PortId) -> Option<MacAddr> {
        if self.local_port.get() == Some(&port) {
            return Some(LOCAL_MAC);
        }
        let ifindex = *self.ports().get(port.0 as usize)?;
        self.snap.load().links.get(&ifindex)?.mac
    }

    fn is_local(&self, addr: IpAddr) -> bool {
        self.snap.load().locals.contains(&addr)
    }
}

async fn dump(h: &Handle) -> Result<Snapshot, rtnetlink::Error> {
    let mut s = Snapshot::default();
    let mut links = h.link().get().execute();
    while let Some(m) = links.try_next().await? {
        let mut l = Link {
            index: m.header.index,
            name: String::new(),
            mac: None,
            mtu: 1500,
            up: m
                .header
                .flags
                .contains(netlink_packet_route::link::LinkFlags::Up),
        };
        for a in m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n,
                LinkAttribute::Address(b) => l.mac = MacAddr::from_bytes(&b),
                LinkAttribute::Mtu(m) => l.mtu = m,
                _ => {}
            }
        }
        s.links.insert(l.index, l);
    }
    let mut addrs = h.address().get().execute();
    while let Some(m) = addrs.try_next().await? {
        let mut local = None;
        let mut address = None;
        for a in m.attributes {
            match a {
                AddressAttribute::Local(ip) => local = Some(ip),
                AddressAttribute::Address(ip) => address = Some(ip),
                _ => {}
            }
        }
        // IFA_LOCAL is the interface's own address on point-to-point links; else IFA_ADDRESS.
        if let Some(ip) = local.or(address) {
            s.addrs.push((m.header.index, ip, m.header.prefix_len));
            s.locals.insert(ip);
        }
    }
    for fam in [false, true] {
        let msg = if fam {
            RouteMessageBuilder::<Ipv6Addr>::new().build()
        } else {
            RouteMessageBuilder::<Ipv4Addr>::new().build()
        };
        let mut routes = h.route().get(msg).execute();
        while let Some(m) = routes.try_next().await? {
            if m.header.table != RouteHeader::RT_TABLE_MAIN || m.header.kind != RouteType::Unicast {
                continue;
            }
            let mut e = FibEntry {
                dst: if fam {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                },
                plen: m.header.destination_prefix_length,
                hops: Vec::new(),
                prefsrc: None,
                metric: 0,
            };
            let mut oif = None;
            let mut gw = None;
            for a in m.attributes {
                match a {
                    RouteAttribute::Destination(d) => {
                        if let Some(ip) = route_ip(&d) {
                            e.dst = ip;
                        }
                    }
                    RouteAttribute::Gateway(g) => gw = route_ip(&g),
                    RouteAttribute::Oif(i) => oif = Some(i),
                    RouteAttribute::PrefSource(p) => e.prefsrc = route_ip(&p),
                    RouteAttribute::Priority(p) => e.metric = p,
                    RouteAttribute::MultiPath(hops) => {
                        for nh in hops {
                            let g = nh.attributes.iter().find_map(|a| match a {
                                RouteAttribute::Gateway(g) => route_ip(g),
                                _ => None,
                            });
                            e.hops.push((nh.interface_index, g));
                        }
                    }
                    _ => {}
                }
            }
            if let Some(i) = oif {
                e.hops.push((i, gw));
            }
            if !e.hops.is_empty() {
                s.fib.push(e);
            }
        }
    }
    let mut neigh = h.neighbours().get().execute();
    while let Some(m) = neigh.try_next().await? {
        let usable = matches!(
            m.header.state,
            NeighbourState::Reachable
                | NeighbourState::Stale
                | NeighbourState::Delay
                | NeighbourState::Probe
                | NeighbourState::Permanent
                | NeighbourState::Noarp
        );
        if !usable {
            continue;
        }
        let mut dst = None;
        let mut mac = None;
        for a in m.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                    dst = Some(IpAddr::V4(v4))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                    dst = Some(IpAddr::V6(v6))
                }
                NeighbourAttribute::LinkLayerAddress(b) => mac = MacAddr::from_bytes(&b),
                _ => {}
            }
        }
        if let (Some(d), Some(m2)) = (dst, mac) {
            s.neigh.insert((m.header.ifindex, d), m2);
        }
    }
    Ok(s)
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// A thread named `name` that runs `task` on a current-thread tokio runtime of its own
/// (rtnetlink wants one; the callers are plain threads); `failed` hears why if there is
/// no runtime.
pub(crate) fn runtime_thread<F, Fut>(
    name: &str,
    failed: impl FnOnce(String) + Send + 'static,
    task: F,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(task()),
                Err(e) => failed(format!("tokio runtime: {e}")),
            }
        })
}

/// The events of `groups`, and a handle for requests on a second connection (replies on
/// the multicast socket would mix with the events). Call inside a tokio runtime.
pub(crate) type NlEvents = futures::channel::mpsc::UnboundedReceiver<(
    rtnetlink::packet_core::NetlinkMessage<netlink_packet_route::RouteNetlinkMessage>,
    rtnetlink::sys::SocketAddr,
)>;

pub(crate) fn subscribe(groups: &[MulticastGroup]) -> Result<(NlEvents, Handle), String> {
    let (conn, _, events) =
        rtnetlink::new_multicast_connection(groups).map_err(|e| format!("netlink: {e}"))?;
    tokio::spawn(conn);
    let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| format!("netlink: {e}"))?;
    tokio::spawn(conn);
    Ok((events, handle))
}

async fn follow(
    net: std::sync::Weak<KernelNet>,
    first: mpsc::Sender<Result<Snapshot, String>>,
    resolve_rx: mpsc::Receiver<(u32, IpAddr)>,
) {
    let groups = [
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
        MulticastGroup::Neigh,
    ];
    let (mut events, handle) = match subscribe(&groups) {
        Ok(c) => c,
        Err(e) => {
            let _ = first.send(Err(e));
            return;
        }
    };
    match dump(&handle).await {
        Ok(s) => {
            if first.send(Ok(s)).is_err() {
                return;
            }
        }
        Err(e) => {
            let _ = first.send(Err(format!("netlink dump: {e}")));
            return;
        }
    }
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let mut dirty = false;
    loop {
        tokio::select! {
            ev = events.next() => {
                if ev.is_none() { return; }
                dirty = true;
            }
            _ = tick.tick() => {
                let Some(net) = net.upgrade() else { return };
                while let Ok((ifindex, addr)) = resolve_rx.try_recv() {
                    let req = handle
                        .neighbours()
                        .add(ifindex, addr)
                        .state(NeighbourState::None)
                        .flags(NeighbourFlags::Use)
                        .replace();
                    if let Err(e) = req.execute().await {
                        tracing::debug!(%addr, "neighbour resolution request failed: {e}");
                    }
                }
                if dirty {
                    dirty = false;
                    match dump(&handle).await {
                        Ok(s) => net.publish(s),
                        Err(e) => tracing::warn!("netlink dump failed: {e}"),
                    }
                }
            }
        }
    }
}
