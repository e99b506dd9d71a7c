//! Route and next-hop resolution (the `__ip_vs_get_out_rt` part of IPVS `ip_vs_xmit.c`):
//! the hop toward a dest or a client, cached until routes or neighbours change. Apart from
//! the transmitters so that they are handed a resolved [`Hop`] and never look one up.

use crate::rt::Core;
use crate::verdict::DropReason;
use crate::xmit::Hop;
use core::net::IpAddr;

/// Slots of the direct-mapped next-hop cache toward clients.
pub(crate) const CLIENT_HOP_CACHE: usize = 1024;

impl Core {
    /// The route and neighbour toward `ip`, uncached.
    pub(crate) fn resolve(&self, ip: IpAddr) -> Result<Hop, DropReason> {
        let r = self.net.route(ip).ok_or(DropReason::NoRoute)?;
        let dst_mac = self.net.neighbour(r.port, r.next_hop);
        Ok(Hop {
            port: r.port,
            src_mac: r.port_mac,
            dst_mac,
            next_hop: r.next_hop,
            src: r.src,
            mtu: r.mtu,
        })
    }

    /// The next hop toward a dest, cached in its slot until routes or neighbours change.
    pub(crate) fn hop_to_dest(&mut self, slot: u32) -> Result<Hop, DropReason> {
        let gen = self.net_gen;
        let d = &self.dests[slot as usize];
        if let Some((g, hop)) = d.hop {
            if g == gen && hop.dst_mac.is_some() {
                return Ok(hop);
            }
        }
        let hop = self.resolve(d.cfg.addr)?;
        self.dests[slot as usize].hop = Some((gen, hop));
        Ok(hop)
    }

    /// The next hop toward a client, from a small direct-mapped cache.
    pub(crate) fn hop_to(&mut self, ip: IpAddr) -> Result<Hop, DropReason> {
        let gen = self.net_gen;
        let slot = match ip {
            IpAddr::V4(a) => (u32::from(a).wrapping_mul(0x9e37_79b1) >> 22) as usize,
            IpAddr::V6(a) => {
                ((u128::from(a) as u64 ^ (u128::from(a) >> 64) as u64)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    >> 54) as usize
            }
        } % CLIENT_HOP_CACHE;
        if let Some((a, g, hop)) = self.client_hops[slot] {
            if a == ip && g == gen && hop.dst_mac.is_some() {
                return Ok(hop);
            }
        }
        let hop = self.resolve(ip)?;
        self.client_hops[slot] = Some((ip, gen, hop));
        Ok(hop)
    }
}
