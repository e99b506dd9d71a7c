//! ICMP errors the engine sends itself (IPVS `ip_vs_leave`'s port unreachable, and the
//! time-exceeded and fragmentation-needed errors of `ip_vs_xmit.c`): built in the frame's
//! own buffer and sent back the way it came. Apart from the packet path because it is the
//! only place that builds a packet from nothing, and from the transmitters so that they
//! only ask for an error ([`IcmpRequest`]) and never call back into the engine.

use crate::packet::PacketBuf;
use crate::rt::Core;
use crate::verdict::{DropReason, Verdict};
use crate::xmit::{Hdr, IcmpRequest, Sent};
use rvs_wire::ipv4::{Ipv4Packet, Ipv4Repr};
use rvs_wire::ipv6::{Ipv6Packet, Ipv6Repr};
use rvs_wire::{icmpv4, icmpv6, ip_proto};

/// The TTL / hop limit of the errors the engine sends.
const ICMP_TTL: u8 = 64;

impl Core {
    /// Act on a transmitter's result: send the ICMP error it asked for, or its verdict.
    #[inline]
    pub(crate) fn sent(&mut self, pkt: &mut PacketBuf, h: &Hdr, sent: Sent) -> Verdict {
        match sent {
            Ok(v) => v,
            Err(IcmpRequest::TimeExceeded) => self.icmp_time_exceeded(pkt, h),
            Err(IcmpRequest::TooBig { mtu }) => self.icmp_too_big(pkt, h, mtu),
        }
    }

    /// No real server: IPVS `ip_vs_leave` answers with ICMP port unreachable.
    pub(crate) fn no_dest(&mut self, pkt: &mut PacketBuf, h: &Hdr) -> Verdict {
        let t4 = (icmpv4::kind::DEST_UNREACH, icmpv4::kind::PORT_UNREACH);
        let t6 = (icmpv6::kind::DST_UNREACH, icmpv6::kind::PORT_UNREACH);
        self.answer(pkt, h, t4, t6, 0, DropReason::NoDest)
    }

    pub(crate) fn icmp_time_exceeded(&mut self, pkt: &mut PacketBuf, h: &Hdr) -> Verdict {
        let t4 = (icmpv4::kind::TIME_EXCEEDED, 0);
        let t6 = (icmpv6::kind::TIME_EXCEEDED, 0);
        self.answer(pkt, h, t4, t6, 0, DropReason::TtlExceeded)
    }

    pub(crate) fn icmp_too_big(&mut self, pkt: &mut PacketBuf, h: &Hdr, mtu: u32) -> Verdict {
        let t4 = (icmpv4::kind::DEST_UNREACH, icmpv4::kind::FRAG_NEEDED);
        let t6 = (icmpv6::kind::PACKET_TOO_BIG, 0);
        let rest = if h.v6 { mtu.max(1280) } else { mtu & 0xffff };
        self.answer(pkt, h, t4, t6, rest, DropReason::TooBig)
    }

    /// The packet is dropped for `reason`; the sender hears of it by ICMP when one can be
    /// built. Counted once either way: here when answered (the verdict is then a Tx), by
    /// the caller's verdict count when not.
    pub(crate) fn answer(
        &mut self,
        pkt: &mut PacketBuf,
        h: &Hdr,
        t4: (u8, u8),
        t6: (u8, u8),
        rest: u32,
        reason: DropReason,
    ) -> Verdict {
        match self.icmp_reply(pkt, h, t4, t6, rest) {
            Some(v) => {
                self.counters.drops[reason as usize] += 1;
                v
            }
            None => Verdict::Drop(reason),
        }
    }

    /// Build an ICMP error about the frame in its place and send it back the way it came,
    /// to the sender's MAC. Its source is the address the packet was sent to.
    pub(crate) fn icmp_reply(
        &mut self,
        pkt: &mut PacketBuf,
        h: &Hdr,
        t4: (u8, u8),
        t6: (u8, u8),
        rest: u32,
    ) -> Option<Verdict> {
        let f = pkt.data();
        // RFC 1122 3.2.2 / RFC 4443 2.4: no ICMP error about an ICMP error.
        if matches!(h.proto, ip_proto::ICMP | ip_proto::ICMPV6) {
            let t = *f.get(h.l4)?;
            let informational = if h.v6 {
                t >= 128
            } else {
                matches!(t, 0 | 8 | 13 | 14)
            };
            if !informational {
                return None;
            }
        }
        let ip_end = (h.l3 + h.ip_len).min(f.len());
        // RFC 1812 (576 bytes) and RFC 4443 (1280 bytes) bound the whole error packet.
        let max_orig = if h.v6 { 1280 - 40 - 8 } else { 576 - 20 - 8 };
        let orig_len = (ip_end - h.l3).min(max_orig);
        let ident = if h.v6 { 0 } else { self.ip_ident.next() };
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&pkt.data()[h.l3..h.l3 + orig_len]);
        let l2 = h.l3;
        let mut mac = [0u8; 12];
        mac.copy_from_slice(&f[..12]);
        let room = pkt.room_mut();
        let ip_hdr = if h.v6 { 40 } else { 20 };
        if room.len() < l2 + ip_hdr + 8 + orig_len {
            return None;
        }
        room[..6].copy_from_slice(&mac[6..12]);
        room[6..12].copy_from_slice(&mac[..6]);
        let o = &self.scratch;
        // The quoted packet was validated by the one-pass parse (its header is complete), so
        // its addresses are read through unchecked views.
        let icmp_len = if h.v6 {
            let orig = Ipv6Packet::new_unchecked(&o[..]);
            let (src, dst) = (orig.dst_addr(), orig.src_addr());
            let n = icmpv6::emit_icmpv6_error(&mut room[l2 + 40..], src, dst, t6.0, t6.1, rest, o)
                .ok()?;
            Ipv6Repr {
                src,
                dst,
                next_header: ip_proto::ICMPV6,
                payload_len: n,
                hop_limit: ICMP_TTL,
                traffic_class: 0,
                flow_label: 0,
            }
            .emit(&mut room[l2..])
            .ok()?;
            n
        } else {
            let orig = Ipv4Packet::new_unchecked(&o[..]);
            let (src, dst) = (orig.dst_addr(), orig.src_addr());
            let n = icmpv4::emit_icmpv4_error(&mut room[l2 + 20..], t4.0, t4.1, rest, o).ok()?;
            Ipv4Repr {
                src,
                dst,
                protocol: ip_proto::ICMP,
                payload_len: n,
                ttl: ICMP_TTL,
                dont_frag: false,
                ident,
                // Internetwork control precedence, as the kernel's icmp_send uses.
                dscp_ecn: 0xc0,
            }
            .emit(&mut room[l2..])
            .ok()?;
            n
        };
        pkt.set_len(l2 + ip_hdr + icmp_len);
        self.counters.icmp_sent += 1;
        Some(Verdict::Tx(self.ingress))
    }
}
