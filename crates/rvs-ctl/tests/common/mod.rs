//! A fixed resolver for tests, so results never depend on the machine's /etc files or DNS.

#![allow(dead_code)]

use rvs_ctl::cmd::Protocol;
use rvs_ctl::resolve::{Resolver, ReverseResolver};
use std::net::IpAddr;

pub struct Fake;

const HOSTS: &[(&str, &str)] = &[
    ("web1", "10.0.0.1"),
    ("web2", "10.0.0.2"),
    ("vip.example", "192.168.0.101"),
    ("v6only", "2001:db8::99"),
    ("a-very-long-real-server-name.example.com", "10.0.0.3"),
    ("a-very-long-virtual-service.example.org", "192.168.0.200"),
];
const SERVICES: &[(&str, u16)] = &[("http", 80), ("https", 443), ("ftp", 21), ("telnet", 23)];

impl Resolver for Fake {
    fn resolve_host(&self, name: &str) -> Option<IpAddr> {
        HOSTS
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, a)| a.parse().ok())
    }
    fn resolve_service(&self, name: &str, proto: Protocol) -> Option<u16> {
        if proto == Protocol::Sctp {
            return None;
        }
        SERVICES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

impl ReverseResolver for Fake {
    fn host_name(&self, addr: IpAddr) -> Option<String> {
        HOSTS
            .iter()
            .find(|(_, a)| a.parse::<IpAddr>().ok() == Some(addr))
            .map(|(n, _)| n.to_string())
    }
    fn service_name(&self, port: u16, proto: Protocol) -> Option<String> {
        if proto == Protocol::Sctp {
            return None;
        }
        SERVICES
            .iter()
            .find(|(_, p)| *p == port)
            .map(|(n, _)| n.to_string())
    }
}

/// Splits a command line on blanks into an argv (no shell quoting needed in these tests).
pub fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}
