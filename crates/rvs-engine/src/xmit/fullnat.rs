//! FULLNAT: both addresses are translated, the client's to a local address and port of the
//! director, so real servers need no route back through it (our extension; IPVS has it only
//! in out-of-tree patches).

use super::{dec_ttl, fix_sctp, set_addr, set_port, Hdr};
use crate::conn::{Conn, ConnAddr};
use crate::engine::Core;
use crate::packet::PacketBuf;
use crate::verdict::Verdict;

/// Client → real server: caddr:cport become laddr:lport, vaddr:vport become daddr:dport.
pub(crate) fn fullnat_in<A: ConnAddr>(
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
    set_addr(f, h, false, c.laddr.as_ref());
    set_port(f, h, false, c.lport);
    set_addr(f, h, true, c.daddr.as_ref());
    set_port(f, h, true, c.dport);
    fix_sctp(f, h);
    hop.finish(f)
}

/// Real server → client: the reverse of both translations.
pub(crate) fn fullnat_out<A: ConnAddr>(
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
    set_addr(f, h, true, c.caddr.as_ref());
    set_port(f, h, true, c.cport);
    fix_sctp(f, h);
    hop.finish(f)
}
