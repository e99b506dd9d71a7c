//! FULLNAT: both addresses are translated, the client's to a local address and port of the
//! director, so real servers need no route back through it (our extension; IPVS has it only
//! in out-of-tree patches).

use super::{dec_ttl, fix_sctp, set_addr, set_port, Hdr, Hop, IcmpRequest, Sent};
use crate::config::{Config, ServiceConfig};
use crate::conn::{Conn, ConnAddr, ConnKey, ConnTable};
use crate::packet::PacketBuf;

/// Client → real server: caddr:cport become laddr:lport, vaddr:vport become daddr:dport.
pub(crate) fn fullnat_in<A: ConnAddr>(
    pkt: &mut PacketBuf,
    h: &Hdr,
    c: &Conn<A>,
    hop: &Hop,
) -> Sent {
    if !dec_ttl(pkt.data_mut(), h) {
        return Err(IcmpRequest::TimeExceeded);
    }
    let f = pkt.data_mut();
    set_addr(f, h, false, c.laddr.as_ref());
    set_port(f, h, false, c.lport);
    set_addr(f, h, true, c.daddr.as_ref());
    set_port(f, h, true, c.dport);
    fix_sctp(f, h);
    Ok(hop.finish(f))
}

/// Real server → client: the reverse of both translations.
pub(crate) fn fullnat_out<A: ConnAddr>(
    pkt: &mut PacketBuf,
    h: &Hdr,
    c: &Conn<A>,
    hop: &Hop,
) -> Sent {
    if !dec_ttl(pkt.data_mut(), h) {
        return Err(IcmpRequest::TimeExceeded);
    }
    let f = pkt.data_mut();
    set_addr(f, h, false, c.vaddr.as_ref());
    set_port(f, h, false, c.vport);
    set_addr(f, h, true, c.caddr.as_ref());
    set_port(f, h, true, c.cport);
    fix_sctp(f, h);
    Ok(hop.finish(f))
}

/// The lowest local port FULLNAT hands out; below are the well-known and registered ports a
/// real server may itself use toward the director.
const LPORT_MIN: u16 = 1024;

/// Pick a FULLNAT local address and port whose reply key is free.
pub(crate) fn alloc_local_port<A: ConnAddr>(
    table: &ConnTable<A>,
    cfg: &Config,
    svc: &ServiceConfig,
    c: &Conn<A>,
    seed: u64,
) -> Option<(A, u16)> {
    let pool = if svc.laddrs.is_empty() {
        &cfg.settings().laddrs
    } else {
        &svc.laddrs
    };
    let span = (u16::MAX - LPORT_MIN) as u64 + 1;
    let h = ConnKey {
        proto: c.proto,
        template: false,
        a1: c.caddr,
        p1: c.cport,
        a2: c.daddr,
        p2: c.dport,
    }
    .hash([seed, !seed]);
    for laddr in pool.iter().filter_map(|a| A::from_ip(*a)) {
        for probe in 0..64u64 {
            let lport =
                LPORT_MIN + ((h.wrapping_add(probe.wrapping_mul(0x9e37_79b9))) % span) as u16;
            let key = ConnKey {
                proto: c.proto,
                template: false,
                a1: c.daddr,
                p1: c.dport,
                a2: laddr,
                p2: lport,
            };
            if !table.out_key_taken(&key) {
                return Some((laddr, lport));
            }
        }
    }
    None
}
