//! Direct routing (IPVS `ip_vs_dr_xmit`): only the destination MAC changes; the real server
//! holds the VIP on a non-ARPing interface and answers the client directly.

use super::{dec_ttl, Hdr, Hop, IcmpRequest, Sent};
use crate::packet::PacketBuf;

pub(crate) fn dr(pkt: &mut PacketBuf, h: &Hdr, hop: &Hop) -> Sent {
    if !dec_ttl(pkt.data_mut(), h) {
        return Err(IcmpRequest::TimeExceeded);
    }
    Ok(hop.finish(pkt.data_mut()))
}
