//! The body of the `decap` fuzz target, shared with the corpus replay test
//! (`tests/fuzz_replay.rs`): arbitrary bytes as any socket could return them.

use crate::decap::{Decap, Source};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use rvs_wire::ip_proto;
use rvs_wire::ipv4::Ipv4Packet;
use rvs_wire::ipv6::Ipv6Packet;

/// First byte selects the socket kind and whether a vaddr filter is set; the rest is the
/// received datagram. Returns whether an inner packet would be delivered (the replay test
/// checks that the hand-made seeds are).
pub fn decap(data: &[u8]) -> bool {
    let Some((&sel, rest)) = data.split_first() else {
        return false;
    };
    let protos = [ip_proto::IPIP, ip_proto::IPV6, ip_proto::GRE, sel];
    let proto = protos[usize::from(sel >> 4) % protos.len()];
    let src = match sel % 3 {
        0 => Source::RawV4 { proto },
        1 => Source::RawV6 { proto },
        _ => Source::Gue,
    };
    let d = if sel & 8 != 0 {
        Decap::new(vec![
            IpAddr::V4(Ipv4Addr::new(10, 250, 0, 10)),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0xfa, 0, 0, 0, 0, 0, 0x10)),
        ])
    } else {
        Decap::new(vec![])
    };
    let Ok(r) = d.decap(src, rest) else {
        return false;
    };
    // What is delivered must be a whole IP packet of its own length, to a vaddr if any.
    let inner = &rest[r];
    let daddr: IpAddr = match inner[0] >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(inner).expect("delivered IPv4 checks");
            assert_eq!(usize::from(ip.total_len()), inner.len());
            ip.dst_addr().into()
        }
        6 => {
            let ip = Ipv6Packet::new_checked(inner).expect("delivered IPv6 checks");
            assert_eq!(40 + usize::from(ip.payload_len()), inner.len());
            ip.dst_addr().into()
        }
        v => panic!("delivered a packet of IP version {v}"),
    };
    assert!(d.vaddrs().is_empty() || d.vaddrs().contains(&daddr));
    true
}
