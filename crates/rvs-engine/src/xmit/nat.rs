//! NAT / masquerading (IPVS `ip_vs_nat_xmit`): DNAT toward the real server, with port
//! mapping, and SNAT of its replies back to VIP:vport.

use super::{dec_ttl, fix_sctp, set_addr, set_port, Hdr};
use crate::conn::{Conn, ConnAddr};
use crate::engine::Core;
use crate::packet::PacketBuf;
use crate::verdict::Verdict;

/// Client → real server: daddr:dport replace vaddr:vport.
pub(crate) fn nat_in<A: ConnAddr>(
    core: &mut Core,
    pkt: &mut PacketBuf,
    h: &Hdr,
    c: &Conn<A>,
) -> Verdict {
    let hop = match core.hop_to_dest(c.dest) {
        Ok(hop) => hop,
        Err(r) => return Verdict::Drop(r),
    };
    if !dec_ttl(pkt.data_mut(), h) {
        return core.icmp_time_exceeded(pkt, h);
    }
    let f = pkt.data_mut();
    set_addr(f, h, true, c.daddr.as_ref());
    set_port(f, h, true, c.dport);
    fix_sctp(f, h);
    hop.finish(f)
}

/// Real server → client: the reply leaves as if from vaddr:vport.
pub(crate) fn nat_out<A: ConnAddr>(
    core: &mut Core,
    pkt: &mut PacketBuf,
    h: &Hdr,
    c: &Conn<A>,
) -> Verdict {
    let hop = match core.hop_to(c.caddr.to_ip()) {
        Ok(hop) => hop,
        Err(r) => return Verdict::Drop(r),
    };
    if !dec_ttl(pkt.data_mut(), h) {
        return core.icmp_time_exceeded(pkt, h);
    }
    let f = pkt.data_mut();
    set_addr(f, h, false, c.vaddr.as_ref());
    set_port(f, h, false, c.vport);
    fix_sctp(f, h);
    hop.finish(f)
}
