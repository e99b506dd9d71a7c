//! Direct routing (IPVS `ip_vs_dr_xmit`): only the destination MAC changes; the real server
//! holds the VIP on a non-ARPing interface and answers the client directly.

use super::{dec_ttl, Hdr};
use crate::engine::Core;
use crate::packet::PacketBuf;
use crate::verdict::Verdict;

pub(crate) fn dr(core: &mut Core, pkt: &mut PacketBuf, h: &Hdr, dest: u32) -> Verdict {
    let hop = match core.hop_to_dest(dest) {
        Ok(hop) => hop,
        Err(r) => return Verdict::Drop(r),
    };
    if !dec_ttl(pkt.data_mut(), h) {
        return core.icmp_time_exceeded(pkt, h);
    }
    hop.finish(pkt.data_mut())
}
