//! Gratuitous ARP (the request form keepalived sends: sender = target = VIP, broadcast)
//! and unsolicited NA (to all nodes, override set) on a send-only AF_PACKET socket of the
//! interface. The frames are the engine's own (`rvs_engine::local::{garp, unsolicited_na}`,
//! built with rvs-wire's ARP and ND reprs), so a VIP the data path announces and one VRRP
//! announces look alike on the wire.

use rvs_wire::ethernet::MacAddr;
use std::net::IpAddr;
use std::os::fd::OwnedFd;

/// One interface's announcer.
pub struct Announcer {
    fd: OwnedFd,
    pub ifindex: u32,
}

impl Announcer {
    pub fn open(ifindex: u32) -> std::io::Result<Announcer> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType};
        // Protocol 0: the socket receives nothing, it only sends.
        let fd = rustix::net::socket_with(
            AddressFamily::PACKET,
            SocketType::RAW,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        crate::afpacket::bind(&fd, ifindex, 0)?;
        Ok(Announcer { fd, ifindex })
    }

    /// One announcement of `addr` from `mac`.
    pub fn announce(&self, mac: MacAddr, addr: IpAddr) -> std::io::Result<()> {
        let f = frame(mac, addr);
        rustix::net::send(&self.fd, &f, rustix::net::SendFlags::DONTWAIT)?;
        Ok(())
    }
}

pub fn frame(mac: MacAddr, addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => rvs_engine::local::garp(mac, a),
        IpAddr::V6(a) => rvs_engine::local::unsolicited_na(mac, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_wire::arp::{ArpPacket, ArpRepr};

    #[test]
    fn garp_is_the_request_form_keepalived_sends() {
        let mac = MacAddr([2, 0, 0, 0, 0, 7]);
        let f = frame(mac, "10.0.0.100".parse().unwrap());
        assert_eq!(&f[..6], &[0xff; 6], "broadcast");
        assert_eq!(&f[6..12], &mac.0);
        let arp = ArpRepr::parse(&ArpPacket::new_checked(&f[14..42]).unwrap()).unwrap();
        assert_eq!(arp.op, rvs_wire::arp::op::REQUEST);
        assert_eq!(arp.sender_hw, mac);
        assert_eq!(arp.sender_ip, arp.target_ip);
        assert_eq!(arp.sender_ip.to_string(), "10.0.0.100");
    }

    #[test]
    fn na_goes_to_all_nodes_with_override() {
        let mac = MacAddr([2, 0, 0, 0, 0, 7]);
        let f = frame(mac, "fd00::100".parse().unwrap());
        assert_eq!(&f[..6], &[0x33, 0x33, 0, 0, 0, 1]);
        let nd = rvs_wire::ndisc::NdiscPacket::new_checked(&f[54..]).unwrap();
        assert!(nd.is_advert() && nd.override_flag() && !nd.solicited_flag());
        assert_eq!(nd.target_addr().to_string(), "fd00::100");
        assert_eq!(nd.target_lladdr(), Some(mac));
    }
}
