//! The runner's rtnetlink side, on a thread of its own (`rvs-vrrp-nl`, a current-thread
//! tokio runtime, as [`crate::kernel`] does): dumps of links and addresses, VIPs added to
//! and removed from interfaces, and the link subscription.
//!
//! Links are watched through an RTNLGRP_LINK subscription rather than by reading
//! `/sys/class/net/IF/{operstate,carrier}` every 100 ms: a change arrives at once instead
//! of up to 100 ms late (it counts against the failover gap), nothing runs while nothing
//! changes, and a netlink socket sees the network namespace of the thread that opened it,
//! whereas sysfs shows the namespace of whoever mounted it. Each event batch triggers a
//! fresh link dump, handed to the callback whole (the runner keeps what changed).
//!
//! VIP additions and removals are queued, not waited for: the real-time VRRP thread must
//! never sit behind this normal-priority thread (a new MASTER's gratuitous ARP, the next
//! advert). They run in order here; a failure is logged here; [`Netlink::flush`] waits
//! for the queue where the caller needs the kernel's addresses settled (start, stop).

use futures::stream::{StreamExt, TryStreamExt};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressScope,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::{AddressMessageBuilder, Handle, MulticastGroup};
use rvs_vrrp::Vip;
use rvs_wire::ethernet::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::Duration;

/// How long the VRRP thread waits for a netlink answer before calling it failed.
const REPLY_WAIT: Duration = Duration::from_secs(5);
const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const EADDRNOTAVAIL: i32 = 99;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub mac: Option<MacAddr>,
    /// Administratively up and with carrier (IFF_UP and IFF_LOWER_UP).
    pub up: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    pub index: u32,
    pub addr: IpAddr,
    pub prefix: u8,
    /// IFA_F_SECONDARY: not the interface's primary address of its subnet.
    pub secondary: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetState {
    pub links: Vec<LinkInfo>,
    /// In the kernel's order (primary addresses before their secondaries).
    pub addrs: Vec<AddrInfo>,
}

impl NetState {
    pub fn link(&self, name: &str) -> Option<&LinkInfo> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The address adverts leave from when the instance names none: the interface's
    /// primary IPv4 address, or its IPv6 link-local one (RFC 5798 5.1.2.1 requires it).
    pub fn default_src(&self, index: u32, v6: bool) -> Option<IpAddr> {
        self.addrs
            .iter()
            .filter(|a| a.index == index)
            .find(|a| match a.addr {
                IpAddr::V4(_) => !v6 && !a.secondary,
                IpAddr::V6(x) => v6 && (x.segments()[0] & 0xffc0) == 0xfe80,
            })
            .map(|a| a.addr)
    }
}

enum Req {
    Dump(mpsc::Sender<Result<NetState, String>>),
    Addr {
        instance: String,
        add: bool,
        index: u32,
        vip: Vip,
    },
    /// Answered once every request before it is done.
    Flush(mpsc::Sender<()>),
}

/// The handle the VRRP thread keeps. Dropping it ends the netlink thread once its queue
/// is done; it is not joined, so a kernel that does not answer cannot hold up a stop
/// ([`Netlink::flush`] waits, with a deadline, where it matters).
pub struct Netlink {
    tx: tokio::sync::mpsc::UnboundedSender<Req>,
}

impl Netlink {
    /// Starts the thread; `on_links` gets every link after each change (from that thread).
    pub fn start(on_links: impl Fn(Vec<LinkInfo>) + Send + 'static) -> Result<Netlink, String> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let failed = ready_tx.clone();
        crate::kernel::runtime_thread(
            "rvs-vrrp-nl",
            move |e| {
                let _ = failed.send(Err(e));
            },
            move || serve(rx, ready_tx, on_links),
        )
        .map_err(|e| format!("netlink thread: {e}"))?;
        match ready_rx.recv_timeout(REPLY_WAIT) {
            Ok(Ok(())) => Ok(Netlink { tx }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("netlink thread did not start".into()),
        }
    }

    fn ask<T>(
        &self,
        make: impl FnOnce(mpsc::Sender<Result<T, String>>) -> Req,
    ) -> Result<T, String> {
        let (reply, rx) = mpsc::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| "netlink thread gone".to_string())?;
        rx.recv_timeout(REPLY_WAIT)
            .map_err(|_| "no answer from the netlink thread".to_string())?
    }

    pub fn dump(&self) -> Result<NetState, String> {
        self.ask(Req::Dump)
    }

    /// Queues adding (`add`) or removing `vip` on interface `index` (for `instance`'s
    /// log lines). Adding an address that is there, or removing one that is not, succeeds.
    pub fn set_addr(&self, instance: &str, add: bool, index: u32, vip: &Vip) {
        let req = Req::Addr {
            instance: instance.to_string(),
            add,
            index,
            vip: vip.clone(),
        };
        if self.tx.send(req).is_err() {
            tracing::warn!(
                "VRRP {instance}: netlink thread gone; {} not changed",
                vip.addr
            );
        }
    }

    /// Waits up to `wait` for every queued address change to be done.
    pub fn flush(&self, wait: Duration) -> Result<(), String> {
        let (reply, rx) = mpsc::channel();
        self.tx
            .send(Req::Flush(reply))
            .map_err(|_| "netlink thread gone".to_string())?;
        rx.recv_timeout(wait)
            .map_err(|_| "the netlink thread did not finish the address changes in time".into())
    }
}

async fn serve(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Req>,
    ready: mpsc::Sender<Result<(), String>>,
    on_links: impl Fn(Vec<LinkInfo>),
) {
    // Subscribed before the first dump, so no change falls between the two.
    let (mut events, h) = match crate::kernel::subscribe(&[MulticastGroup::Link]) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut subscribed = true;
    loop {
        tokio::select! {
            ev = events.next(), if subscribed => {
                if ev.is_none() {
                    tracing::warn!("VRRP: the netlink link subscription ended; link changes are no longer seen");
                    // Keep serving requests.
                    subscribed = false;
                    continue;
                }
                while events.try_recv().is_ok() {}
                match dump_links(&h).await {
                    Ok(links) => on_links(links),
                    Err(e) => tracing::warn!("VRRP: netlink link dump: {e}"),
                }
            }
            req = rx.recv() => match req {
                None => return,
                Some(Req::Dump(reply)) => {
                    let r = dump(&h).await.map_err(|e| format!("netlink dump: {e}"));
                    let _ = reply.send(r);
                }
                Some(Req::Addr { instance, add, index, vip }) => {
                    if let Err(e) = set_addr(&h, add, index, &vip).await {
                        tracing::warn!("VRRP {instance}: {e}");
                    }
                }
                Some(Req::Flush(reply)) => {
                    let _ = reply.send(());
                }
            }
        }
    }
}

async fn dump_links(h: &Handle) -> Result<Vec<LinkInfo>, rtnetlink::Error> {
    let mut out = Vec::new();
    let mut links = h.link().get().execute();
    while let Some(m) = links.try_next().await? {
        let f = m.header.flags;
        let mut l = LinkInfo {
            index: m.header.index,
            name: String::new(),
            mac: None,
            up: f.contains(LinkFlags::Up) && f.contains(LinkFlags::LowerUp),
        };
        for a in m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n,
                LinkAttribute::Address(b) => l.mac = MacAddr::from_bytes(&b),
                _ => {}
            }
        }
        out.push(l);
    }
    Ok(out)
}

async fn dump(h: &Handle) -> Result<NetState, rtnetlink::Error> {
    let links = dump_links(h).await?;
    let mut addrs = Vec::new();
    let mut req = h.address().get().execute();
    while let Some(m) = req.try_next().await? {
        let mut local = None;
        let mut address = None;
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(ip) => local = Some(*ip),
                AddressAttribute::Address(ip) => address = Some(*ip),
                _ => {}
            }
        }
        if let Some(addr) = local.or(address) {
            addrs.push(AddrInfo {
                index: m.header.index,
                addr,
                prefix: m.header.prefix_len,
                secondary: m.header.flags.contains(AddressHeaderFlags::Secondary),
            });
        }
    }
    Ok(NetState { links, addrs })
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

/// `ip addr add ADDR/PREFIX [brd B] [scope S] [label L] dev IF` (IPv6 with `nodad`, so the
/// address serves at once, keepalived's way), or its removal.
async fn set_addr(h: &Handle, add: bool, index: u32, vip: &Vip) -> Result<(), String> {
    let what = || {
        format!(
            "{} {}/{} on interface #{index}",
            if add { "adding" } else { "removing" },
            vip.addr,
            vip.prefix
        )
    };
    if add {
        let mut req = h.address().add(index, vip.addr, vip.prefix);
        let m = req.message_mut();
        if let Some(s) = vip.scope {
            m.header.scope = AddressScope::from(s);
        }
        if let Some(l) = &vip.label {
            m.attributes.push(AddressAttribute::Label(l.clone()));
        }
        if let Some(IpAddr::V4(b)) = vip.brd {
            m.attributes
                .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
            m.attributes.push(AddressAttribute::Broadcast(b));
        }
        if vip.addr.is_ipv6() {
            m.header.flags |= AddressHeaderFlags::Nodad;
            m.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        return match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            Err(e) => Err(format!("{}: {e}", what())),
        };
    }
    // The exact address, no dump first (one round trip). IPv4: by IFA_LOCAL alone, so the
    // kernel removes it whatever its prefix (a leftover of an older configuration); IPv6
    // matches address and prefix.
    let m = match vip.addr {
        IpAddr::V4(a) => {
            let mut m = AddressMessageBuilder::<Ipv4Addr>::new()
                .index(index)
                .address(a, vip.prefix)
                .build();
            m.attributes
                .retain(|a| matches!(a, AddressAttribute::Local(_)));
            m
        }
        IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(index)
            .address(a, vip.prefix)
            .build(),
    };
    match h.address().del(m).execute().await {
        Ok(()) => {}
        Err(e) if matches!(errno(&e), Some(EADDRNOTAVAIL | ENODEV)) => {}
        Err(e) => return Err(format!("{}: {e}", what())),
    }
    Ok(())
}
