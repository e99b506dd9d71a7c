//! The advert sockets: one raw IP-protocol-112 socket per (interface, family), bound to
//! its interface (SO_BINDTODEVICE), joined to 224.0.0.18 / ff02::12 there when a multicast
//! instance uses it, TTL / hop limit 255 both ways, multicast loop off (a router must not
//! hear its own adverts). IPv4 adverts carry an IP header rvs writes (IP_HDRINCL, as
//! keepalived does) so any configured source goes out as written; IPv6 ones name their
//! source and interface in an IPV6_PKTINFO control message. On receive, IPv4's TTL and
//! addresses come from the IP header the raw socket hands over, IPv6's hop limit and
//! destination from IPV6_RECVHOPLIMIT / IPV6_RECVPKTINFO.

use nix::sys::socket::{
    recvmsg, sendmsg, sockopt, ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn,
    SockaddrIn6,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// IANA's protocol number for VRRP.
pub const IPPROTO_VRRP: u8 = 112;
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// RFC 5798 5.1.1.3 / 5.1.2.3 (and RFC 3768): sent with 255, received only with 255.
const TTL: u32 = 255;
/// IPTOS_PREC_INTERNETCONTROL, as keepalived marks its adverts.
const TOS: u8 = 0xc0;

/// A received advert: where its VRRP bytes are in the caller's buffer and what only the
/// socket knows about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// The VRRP message is `buf[start..end]`.
    pub start: usize,
    pub end: usize,
}

pub struct VrrpSocket {
    sock: Socket,
    pub iface: String,
    pub ifindex: u32,
    pub v6: bool,
    pub multicast: bool,
}

impl VrrpSocket {
    /// Opens the socket of `iface` (index `ifindex`) for one family, non-blocking.
    /// `multicast`: join the VRRP group on the interface.
    pub fn open(iface: &str, ifindex: u32, v6: bool, multicast: bool) -> std::io::Result<Self> {
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let sock = Socket::new(
            domain,
            Type::RAW.cloexec(),
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )?;
        sock.set_nonblocking(true)?;
        sock.bind_device(Some(iface.as_bytes()))?;
        if v6 {
            sock.set_multicast_hops_v6(TTL)?;
            sock.set_unicast_hops_v6(TTL)?;
            sock.set_multicast_loop_v6(false)?;
            sock.set_multicast_if_v6(ifindex)?;
            sock.set_recv_hoplimit_v6(true)?;
            nix::sys::socket::setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)
                .map_err(std::io::Error::from)?;
            if multicast {
                sock.join_multicast_v6(&MCAST_V6, ifindex)?;
            }
        } else {
            sock.set_header_included_v4(true)?;
            sock.set_multicast_ttl_v4(TTL)?;
            sock.set_ttl_v4(TTL)?;
            sock.set_multicast_loop_v4(false)?;
            // Only the groups joined on this socket, not every group of the host.
            sock.set_multicast_all_v4(false)?;
            if multicast {
                sock.join_multicast_v4_n(&MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
            }
        }
        Ok(VrrpSocket {
            sock,
            iface: iface.to_string(),
            ifindex,
            v6,
            multicast,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// Sends one advert (`payload`: the VRRP message, checksum filled) from `src` to `dst`.
    pub fn send(&self, src: IpAddr, dst: IpAddr, payload: &[u8]) -> std::io::Result<()> {
        let fd = self.sock.as_raw_fd();
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) if !self.v6 => {
                let mut pkt = vec![0u8; rvs_wire::ipv4::HEADER_LEN + payload.len()];
                let ip = rvs_wire::ipv4::Ipv4Repr {
                    src,
                    dst,
                    protocol: IPPROTO_VRRP,
                    payload_len: payload.len(),
                    ttl: TTL as u8,
                    dont_frag: false,
                    // 0: the kernel picks one (IP_HDRINCL's rule).
                    ident: 0,
                    dscp_ecn: TOS,
                };
                let n = ip
                    .emit(&mut pkt)
                    .map_err(|e| std::io::Error::other(format!("IPv4 header: {e}")))?;
                pkt[n..].copy_from_slice(payload);
                let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
                sendmsg(
                    fd,
                    &[IoSlice::new(&pkt)],
                    &[],
                    MsgFlags::MSG_DONTWAIT,
                    Some(&to),
                )?;
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) if self.v6 => {
                let scope = if is_link_scope(dst) { self.ifindex } else { 0 };
                let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, scope));
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                let cmsg = [ControlMessage::Ipv6PacketInfo(&info)];
                sendmsg(
                    fd,
                    &[IoSlice::new(payload)],
                    &cmsg,
                    MsgFlags::MSG_DONTWAIT,
                    Some(&to),
                )?;
            }
            _ => {
                return Err(std::io::Error::other(format!(
                    "{src} -> {dst} on an IPv{} socket",
                    if self.v6 { 6 } else { 4 }
                )))
            }
        }
        Ok(())
    }

    /// Reads one datagram into `buf`; `Ok(None)` when nothing is queued. A datagram too
    /// short for its IPv4 header is returned with an empty range (the router counts it).
    pub fn recv(&self, buf: &mut [u8]) -> std::io::Result<Option<Received>> {
        let fd = self.sock.as_raw_fd();
        if self.v6 {
            let mut cbuf = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
            let mut iov = [IoSliceMut::new(buf)];
            let msg = match recvmsg::<SockaddrIn6>(
                fd,
                &mut iov,
                Some(&mut cbuf),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            ) {
                Ok(m) => m,
                Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let len = msg.bytes;
            let Some(src) = msg.address else {
                return Ok(None);
            };
            let mut dst = None;
            let mut ttl = None;
            for c in msg.cmsgs()? {
                match c {
                    ControlMessageOwned::Ipv6PacketInfo(i) => {
                        dst = Some(Ipv6Addr::from(i.ipi6_addr.s6_addr))
                    }
                    ControlMessageOwned::Ipv6HopLimit(h) => ttl = u8::try_from(h).ok(),
                    _ => {}
                }
            }
            let (Some(dst), Some(ttl)) = (dst, ttl) else {
                return Err(std::io::Error::other(
                    "IPv6 advert without its pktinfo / hop limit control messages",
                ));
            };
            Ok(Some(Received {
                src: IpAddr::V6(src.ip()),
                dst: IpAddr::V6(dst),
                ttl,
                start: 0,
                end: len.min(buf.len()),
            }))
        } else {
            let len = {
                let mut iov = [IoSliceMut::new(buf)];
                match recvmsg::<SockaddrIn>(fd, &mut iov, None, MsgFlags::MSG_DONTWAIT) {
                    Ok(m) => m.bytes,
                    Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
            };
            let pkt = &buf[..len.min(buf.len())];
            let Ok(ip) = rvs_wire::ipv4::Ipv4Packet::new_checked(pkt) else {
                // The kernel checked the header before handing it over; only a
                // truncated read gets here.
                return Ok(Some(Received {
                    src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    ttl: 0,
                    start: 0,
                    end: 0,
                }));
            };
            let start = ip.header_len();
            let end = usize::from(ip.total_len()).clamp(start, pkt.len());
            Ok(Some(Received {
                src: IpAddr::V4(ip.src_addr()),
                dst: IpAddr::V4(ip.dst_addr()),
                ttl: ip.ttl(),
                start,
                end,
            }))
        }
    }
}

/// Link-local and multicast destinations need the interface as their scope.
fn is_link_scope(a: Ipv6Addr) -> bool {
    a.is_multicast() || (a.segments()[0] & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert!(is_link_scope(MCAST_V6));
        assert!(is_link_scope("fe80::1".parse().unwrap()));
        assert!(!is_link_scope("fd00::1".parse().unwrap()));
    }
}
