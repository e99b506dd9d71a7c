//! NAT / masquerading (IPVS `ip_vs_nat_xmit`): DNAT toward the real server, with port
//! mapping, and SNAT of its replies back to VIP:vport.

use super::{dec_ttl, fix_sctp, set_addr, set_port, Hdr, Hop, IcmpRequest, Sent};
use crate::conn::{Conn, ConnAddr};
use crate::packet::PacketBuf;

/// Client → real server: daddr:dport replace vaddr:vport.
pub(crate) fn nat_in<A: ConnAddr>(pkt: &mut PacketBuf, h: &Hdr, c: &Conn<A>, hop: &Hop) -> Sent {
    if !dec_ttl(pkt.data_mut(), h) {
        return Err(IcmpRequest::TimeExceeded);
    }
    let f = pkt.data_mut();
    set_addr(f, h, true, c.daddr.as_ref());
    set_port(f, h, true, c.dport);
    fix_sctp(f, h);
    Ok(hop.finish(f))
}

/// Real server → client: the reply leaves as if from vaddr:vport.
pub(crate) fn nat_out<A: ConnAddr>(pkt: &mut PacketBuf, h: &Hdr, c: &Conn<A>, hop: &Hop) -> Sent {
    if !dec_ttl(pkt.data_mut(), h) {
        return Err(IcmpRequest::TimeExceeded);
    }
    let f = pkt.data_mut();
    set_addr(f, h, false, c.vaddr.as_ref());
    set_port(f, h, false, c.vport);
    fix_sctp(f, h);
    Ok(hop.finish(f))
}
