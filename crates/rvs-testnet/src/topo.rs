//! The standard topologies of the end-to-end tests and the e2e bench, from the seeds, on
//! private addresses: LVS/NAT ([`nat`]) and LVS/DR ([`dr`]). Real servers run nginx
//! answering their name (`rs1`, `rs2`, …).
//!
//! Checksums: the client and real-server veths get `ethtool -K tx off`, so the frames a
//! local TCP stack sends carry complete checksums (rvs updates checksums incrementally and
//! does not complete partial ones; real NICs deliver complete checksums).

use std::net::SocketAddr;

use crate::{Lab, Ns, Proc, Result, VethOpts};

/// The client (both topologies).
pub const CLIENT: &str = "10.0.0.2";
/// The director's outside address, also the NAT topology's VIP (as in seed 001).
pub const DIRECTOR: &str = "10.0.0.1";
/// The director's inside address: the NAT real servers' default gateway.
pub const DIRECTOR_IN: &str = "172.16.0.1";

/// Real server `i` (0-based) of the NAT topology.
pub fn nat_rs_addr(i: usize) -> String {
    format!("172.16.0.{}", i + 2)
}

/// Real server `i` (0-based) of the DR topology.
pub fn dr_rs_addr(i: usize) -> String {
    format!("10.0.0.{}", i + 11)
}

/// A built topology. Dropping it stops nginx and removes the namespaces.
pub struct Topo {
    // Field order is drop order: nginx before the namespaces it runs in.
    pub nginx: Vec<Proc>,
    pub client: Ns,
    pub dir: Ns,
    pub rs: Vec<Ns>,
    pub lab: Lab,
}

/// What varies between the users of [`nat`].
#[derive(Debug, Clone)]
pub struct NatOpts {
    pub real_servers: usize,
    /// fd00::/64 outside and fd16::/64 inside as well (the real servers route back via
    /// fd16::1).
    pub ipv6: bool,
    /// What nginx listens on, on each real server.
    pub listen: Vec<SocketAddr>,
    /// The client routes 172.16.0.0/24 via the director, so it can reach a real server
    /// through the director's kernel forwarding (the bench's direct path).
    pub client_routes_inside: bool,
    /// `ip_local_port_range` 1024–65535 on the client and the director, for runs that
    /// open tens of thousands of connections.
    pub wide_port_range: bool,
}

impl NatOpts {
    /// `n` real servers, IPv4 only, nginx on port 80.
    pub fn new(real_servers: usize) -> NatOpts {
        NatOpts {
            real_servers,
            ipv6: false,
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 80))],
            client_routes_inside: false,
            wide_port_range: false,
        }
    }
}

/// Seed 001 (LVS/NAT): the client 10.0.0.2 and the director 10.0.0.1 on the outside veth
/// (`cl` eth0 – `dir` eth0), the director 172.16.0.1 and the real servers 172.16.0.2.. on
/// the inside, a bridge in namespace `sw` (`dir` eth1 – p0, `rsN` eth0 – pN). The
/// director's kernel forwards nothing (ip_forward 0): the negative control.
pub fn nat(tag: &str, o: &NatOpts) -> Result<Topo> {
    let mut b = Builder::new(tag, &["dir"])?;
    let (client, dir) = (b.client.clone(), b.dirs[0].clone());
    b.lab
        .veth((&client, "eth0"), (&dir, "eth0"), VethOpts::default())?;
    b.switch_port(&dir, "eth1")?;
    client.addr("eth0", &format!("{CLIENT}/24"))?;
    client.tx_off("eth0")?;
    dir.addr("eth0", &format!("{DIRECTOR}/24"))?;
    dir.addr("eth1", &format!("{DIRECTOR_IN}/24"))?;
    dir.sysctl("net.ipv4.ip_forward", "0")?;
    if o.ipv6 {
        client.addr("eth0", "fd00::2/64")?;
        dir.addr("eth0", "fd00::1/64")?;
        dir.addr("eth1", "fd16::1/64")?;
        dir.sysctl("net.ipv6.conf.all.forwarding", "0")?;
    }
    if o.client_routes_inside {
        client.route(&format!("172.16.0.0/24 via {DIRECTOR}"))?;
    }
    if o.wide_port_range {
        // A new-connection run opens tens of thousands of connections; a wide port range
        // keeps it from waiting on ports still held by an earlier run's conns.
        client.sysctl("net.ipv4.ip_local_port_range", "1024 65535")?;
        dir.sysctl("net.ipv4.ip_local_port_range", "1024 65535")?;
    }
    for i in 0..o.real_servers {
        let r = b.real_server(i)?;
        r.addr("eth0", &format!("{}/24", nat_rs_addr(i)))?;
        r.route(&format!("default via {DIRECTOR_IN}"))?;
        if o.ipv6 {
            r.addr("eth0", &format!("fd16::{}/64", i + 2))?;
            r.ip(&["-6", "route", "add", "default", "via", "fd16::1"])?;
        }
        b.serve(r, &o.listen)?;
    }
    b.finish()
}

/// Seeds 002 and 004 (LVS/DR): the client 10.0.0.2, the director 10.0.0.1 and the real
/// servers 10.0.0.11.. on one L2 segment (a bridge in `sw`), with fd00::/64 as well. The
/// real servers hold `vips` on `lo` and, as the seeds do, do not answer ARP for them
/// (arp_ignore=1, arp_announce=2); nginx listens on port 80 (IPv4 and IPv6).
pub fn dr(tag: &str, real_servers: usize, vips: &[&str]) -> Result<Topo> {
    let mut b = Builder::new(tag, &["dir"])?;
    let (client, dir) = (b.client.clone(), b.dirs[0].clone());
    b.switch_port(&client, "eth0")?;
    b.switch_port(&dir, "eth0")?;
    client.addr("eth0", &format!("{CLIENT}/24"))?;
    client.addr("eth0", "fd00::2/64")?;
    client.tx_off("eth0")?;
    dir.addr("eth0", &format!("{DIRECTOR}/24"))?;
    dir.addr("eth0", "fd00::1/64")?;
    dir.sysctl("net.ipv4.ip_forward", "0")?;
    for i in 0..real_servers {
        b.dr_real_server(i, vips)?;
    }
    b.finish()
}

/// What the topologies share: namespaces `cl`, the directors (`dir`, or `d1` and `d2`)
/// and `sw` (the switch: a bridge of ports p0, p1, …), and real servers `rsN` on port pN.
pub(crate) struct Builder {
    pub(crate) lab: Lab,
    pub(crate) client: Ns,
    pub(crate) dirs: Vec<Ns>,
    pub(crate) sw: Ns,
    pub(crate) ports: Vec<String>,
    pub(crate) rs: Vec<Ns>,
    pub(crate) nginx: Vec<Proc>,
}

impl Builder {
    pub(crate) fn new(tag: &str, dirs: &[&str]) -> Result<Builder> {
        let lab = Lab::new(tag)?;
        Ok(Builder {
            client: lab.ns("cl")?,
            dirs: dirs.iter().map(|d| lab.ns(d)).collect::<Result<_>>()?,
            sw: lab.ns("sw")?,
            lab,
            ports: Vec::new(),
            rs: Vec::new(),
            nginx: Vec::new(),
        })
    }

    /// Plugs `iface` of `ns` into the next port of the switch; returns the port's name.
    pub(crate) fn switch_port(&mut self, ns: &Ns, iface: &str) -> Result<String> {
        let p = format!("p{}", self.ports.len());
        self.lab
            .veth((ns, iface), (&self.sw, &p), VethOpts::default())?;
        self.ports.push(p.clone());
        Ok(p)
    }

    /// Real server `i` (`rs{i+1}`), its eth0 on the switch.
    fn real_server(&mut self, i: usize) -> Result<Ns> {
        let r = self.lab.ns(&format!("rs{}", i + 1))?;
        self.switch_port(&r, "eth0")?;
        Ok(r)
    }

    /// DR real server `i` at [`dr_rs_addr`] and fd00::(11+i): `vips` on `lo`, not
    /// answering ARP for them, nginx on port 80 (IPv4 and IPv6).
    pub(crate) fn dr_real_server(&mut self, i: usize, vips: &[&str]) -> Result<()> {
        let r = self.real_server(i)?;
        r.addr("eth0", &format!("{}/24", dr_rs_addr(i)))?;
        r.addr("eth0", &format!("fd00::{}/64", i + 11))?;
        for (k, v) in [
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.all.arp_announce", "2"),
            ("net.ipv4.conf.lo.arp_ignore", "1"),
            ("net.ipv4.conf.lo.arp_announce", "2"),
        ] {
            r.sysctl(k, v)?;
        }
        for vip in vips {
            let plen = if vip.contains(':') { 128 } else { 32 };
            r.addr("lo", &format!("{vip}/{plen}"))?;
        }
        self.serve(r, &DUAL_STACK_80)
    }

    /// Complete checksums on what the real server sends, and nginx answering its name.
    fn serve(&mut self, r: Ns, listen: &[SocketAddr]) -> Result<()> {
        r.tx_off("eth0")?;
        let name = format!("rs{}", self.rs.len() + 1);
        self.nginx.push(r.nginx(listen, &name)?);
        self.rs.push(r);
        Ok(())
    }

    /// Bridges the switch's ports.
    pub(crate) fn bridge(&self) -> Result<()> {
        let refs: Vec<&str> = self.ports.iter().map(String::as_str).collect();
        self.lab.bridge(&self.sw, "br0", &refs)
    }

    fn finish(mut self) -> Result<Topo> {
        self.bridge()?;
        Ok(Topo {
            nginx: self.nginx,
            client: self.client,
            dir: self.dirs.remove(0),
            rs: self.rs,
            lab: self.lab,
        })
    }
}

/// nginx on port 80, IPv4 and IPv6.
pub(crate) const DUAL_STACK_80: [SocketAddr; 2] = [
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 80),
    SocketAddr::new(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 80),
];
