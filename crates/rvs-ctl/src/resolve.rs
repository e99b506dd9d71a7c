//! Name lookups, behind traits so that parsing and formatting stay deterministic in tests.
//! ipvsadm uses gethostbyname/getservbyname forwards and gethostbyaddr/getservbyport in
//! listings without `-n`; [`StdResolver`] is the std-only equivalent.

use crate::cmd::Protocol;
use std::net::{IpAddr, ToSocketAddrs};

/// Forward lookups used while parsing arguments.
pub trait Resolver {
    /// A host name to an address. ipvsadm only accepts IPv4 answers here
    /// (`host_to_addr()`), so the parser ignores IPv6 results.
    fn resolve_host(&self, name: &str) -> Option<IpAddr>;
    /// A service name (`http`) to a port for the protocol.
    fn resolve_service(&self, name: &str, proto: Protocol) -> Option<u16>;
}

/// Reverse lookups used by listings without `-n`.
pub trait ReverseResolver {
    fn host_name(&self, addr: IpAddr) -> Option<String>;
    fn service_name(&self, port: u16, proto: Protocol) -> Option<String>;
}

/// A resolver that answers nothing: what `-n` amounts to, and handy in tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn resolve_host(&self, _: &str) -> Option<IpAddr> {
        None
    }
    fn resolve_service(&self, _: &str, _: Protocol) -> Option<u16> {
        None
    }
}

impl ReverseResolver for NoResolver {
    fn host_name(&self, _: IpAddr) -> Option<String> {
        None
    }
    fn service_name(&self, _: u16, _: Protocol) -> Option<String> {
        None
    }
}

/// The system's resolver: `ToSocketAddrs` for hosts, /etc/hosts for reverse host names
/// (std has no reverse DNS), /etc/services for ports.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdResolver;

fn read_etc(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Iterates the (name, port, proto, aliases) entries of an /etc/services text.
fn services_entries(text: &str) -> impl Iterator<Item = (Vec<&str>, u16, &str)> {
    text.lines().filter_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let name = fields.next()?;
        let (port, proto) = fields.next()?.split_once('/')?;
        let port = port.parse().ok()?;
        let mut names = vec![name];
        names.extend(fields);
        Some((names, port, proto))
    })
}

/// Looks a service name up in /etc/services-format text.
pub fn service_port_in(text: &str, name: &str, proto: Protocol) -> Option<u16> {
    services_entries(text)
        .find(|(names, _, p)| *p == proto.services_name() && names.contains(&name))
        .map(|(_, port, _)| port)
}

/// Looks a port up in /etc/services-format text; the first entry wins, as with getservbyport.
pub fn service_name_in(text: &str, port: u16, proto: Protocol) -> Option<String> {
    services_entries(text)
        .find(|(_, p, pr)| *p == port && *pr == proto.services_name())
        .map(|(names, _, _)| names[0].to_string())
}

impl Resolver for StdResolver {
    fn resolve_host(&self, name: &str) -> Option<IpAddr> {
        // Port 0 only satisfies the API; the first IPv4 answer is ipvsadm's h_addr_list[0].
        let addrs = (name, 0).to_socket_addrs().ok()?;
        addrs.map(|a| a.ip()).find(|ip| ip.is_ipv4())
    }
    fn resolve_service(&self, name: &str, proto: Protocol) -> Option<u16> {
        service_port_in(&read_etc("/etc/services"), name, proto)
    }
}

impl ReverseResolver for StdResolver {
    fn host_name(&self, addr: IpAddr) -> Option<String> {
        let hosts = read_etc("/etc/hosts");
        hosts.lines().find_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let ip: IpAddr = fields.next()?.parse().ok()?;
            if ip == addr {
                fields.next().map(str::to_string)
            } else {
                None
            }
        })
    }
    fn service_name(&self, port: u16, proto: Protocol) -> Option<String> {
        service_name_in(&read_etc("/etc/services"), port, proto)
    }
}
