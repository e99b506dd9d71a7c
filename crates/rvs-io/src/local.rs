//! Traffic the director itself sends to a virtual service (seed 001 runs curl on the
//! director). XDP never sees locally generated packets, so they are routed into rvs's TUN
//! device instead: an nftables `route` chain marks output packets to a service, and a
//! policy rule sends marked packets to a table whose default route is the TUN device.
//! The kernel's `local` rule moves from preference 0 to 100 so that the mark rule (90)
//! comes first even for a VIP the kernel owns; a clean stop puts it back.
//!
//! The replies of such conns (NAT) come back addressed to the kernel's own address;
//! [`LconnSink`] tells the steering about each one, so that they reach rvs and not the
//! kernel (which would answer them with a RST).

use crate::steer::{SteerError, SteerSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;

pub const TUN_NAME: &str = "rvs0";
const MARK: u32 = 0x7276_7330;
const TABLE: u32 = 7276;
const PREF_MARK: &str = "90";
const PREF_LOCAL: &str = "100";

/// rvs's TUN device, up and non-blocking (the workers poll its fd along with their
/// sockets). tun-rs, as rvs-decap's device: `IFF_TUN | IFF_NO_PI`, one packet per read or
/// write. A restarted rvsd attaches to the name again; the device goes when rvsd exits.
pub fn open_tun() -> std::io::Result<tun_rs::SyncDevice> {
    let dev = tun_rs::DeviceBuilder::new()
        .name(TUN_NAME)
        .layer(tun_rs::Layer::L3)
        .packet_information(false)
        .enable(true)
        .build_sync()?;
    dev.set_nonblocking(true)?;
    Ok(dev)
}

fn ip(args: &[&str]) -> Result<(), SteerError> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| SteerError::Nft(format!("cannot run ip: {e}")))?;
    if !o.status.success() {
        return Err(SteerError::Nft(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(())
}

fn rules(fam: &str) -> String {
    Command::new("ip")
        .args([fam, "rule", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The AF_PACKET counterpart of the `lconns` map: per interface, a table whose sets the
/// workers fill and whose ingress chain drops those replies before the kernel sees them.
pub fn nft_lconn_table(ifname: &str) -> (String, String) {
    let t = format!("{}_l", crate::steer::nft_table(ifname));
    let script = format!(
        "table netdev {t}\ndelete table netdev {t}\ntable netdev {t} {{\n  \
         set lconn4 {{ type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service; flags timeout; timeout 15m; }}\n  \
         set lconn6 {{ type ipv6_addr . inet_proto . inet_service . ipv6_addr . inet_service; flags timeout; timeout 15m; }}\n  \
         chain ingress {{\n    type filter hook ingress device \"{ifname}\" priority -499; policy accept;\n    \
         ip saddr . meta l4proto . th sport . ip daddr . th dport @lconn4 drop\n    \
         ip6 saddr . meta l4proto . th sport . ip6 daddr . th dport @lconn6 drop\n  }}\n}}\n"
    );
    (t, script)
}

/// Route marked output traffic into the TUN device (idempotent: a restarted rvsd finds
/// the rules of its predecessor in place).
pub fn install_routing() -> Result<(), SteerError> {
    for fam in ["-4", "-6"] {
        let have = rules(fam);
        if !have.contains(&format!("{PREF_LOCAL}:\tfrom all lookup local")) {
            ip(&[fam, "rule", "add", "pref", PREF_LOCAL, "lookup", "local"])?;
        }
        if rules(fam)
            .lines()
            .any(|l| l.starts_with("0:\tfrom all lookup local"))
        {
            ip(&[fam, "rule", "del", "pref", "0", "lookup", "local"])?;
        }
        if !rules(fam).contains(&format!("{PREF_MARK}:\t")) {
            let mark = format!("{MARK:#x}");
            let table = TABLE.to_string();
            ip(&[
                fam, "rule", "add", "pref", PREF_MARK, "fwmark", &mark, "lookup", &table,
            ])?;
        }
        let table = TABLE.to_string();
        ip(&[
            fam, "route", "replace", "default", "dev", TUN_NAME, "table", &table,
        ])?;
    }
    // The TUN device hands the kernel packets whose source may be its own address (a VIP
    // it owns) and that come from "outside": accept them as they are.
    for (k, v) in [("rp_filter", "0"), ("accept_local", "1")] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{TUN_NAME}/{k}"), v);
    }
    Ok(())
}

/// Undo [`install_routing`] and the marking table (a clean stop).
pub fn remove_routing() {
    for fam in ["-4", "-6"] {
        let _ = ip(&[fam, "rule", "del", "pref", PREF_MARK]);
        if !rules(fam)
            .lines()
            .any(|l| l.starts_with("0:\tfrom all lookup local"))
        {
            let _ = ip(&[fam, "rule", "add", "pref", "0", "lookup", "local"]);
        }
        let _ = ip(&[fam, "rule", "del", "pref", PREF_LOCAL, "lookup", "local"]);
    }
    let _ = crate::steer::nft_apply("table inet rvs_local\ndelete table inet rvs_local\n");
}

/// The output marking for the current services.
pub fn nft_output(set: &SteerSet) -> String {
    let mut svc4 = Vec::new();
    let mut svc6 = Vec::new();
    for k in &set.svcs {
        if k.proto == 0 {
            continue;
        }
        let e = format!("{} . {} . {}", k.ip(), k.proto, k.port());
        if k.ip().is_ipv6() {
            svc6.push(e)
        } else {
            svc4.push(e)
        }
    }
    let mut r =
        String::from("table inet rvs_local\ndelete table inet rvs_local\ntable inet rvs_local {\n");
    for (name, ty, els) in [
        ("svc4", "ipv4_addr . inet_proto . inet_service", &svc4),
        ("svc6", "ipv6_addr . inet_proto . inet_service", &svc6),
    ] {
        let _ = write!(r, "  set {name} {{ type {ty};");
        if !els.is_empty() {
            let _ = write!(r, " elements = {{ {} }};", els.join(", "));
        }
        let _ = writeln!(r, " }}");
    }
    let _ = writeln!(
        r,
        "  chain out {{\n    type route hook output priority mangle; policy accept;\n    \
         ip daddr . meta l4proto . th dport @svc4 meta mark set {MARK:#x}\n    \
         ip6 daddr . meta l4proto . th dport @svc6 meta mark set {MARK:#x}\n  }}\n}}"
    );
    r
}

/// A reply the steering must hand to rvs: (proto, saddr, sport, daddr, dport) as it
/// arrives from the real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lconn {
    pub proto: u8,
    pub saddr: IpAddr,
    pub sport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
}

/// The `lconns` key of bpf/steer.c.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LconnKey {
    pub family: u8,
    pub proto: u8,
    pub sport_be: u16,
    pub dport_be: u16,
    pub pad: [u8; 2],
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
}

impl LconnKey {
    pub fn new(c: &Lconn) -> LconnKey {
        let a = |ip: IpAddr| -> [u8; 16] {
            let mut b = [0u8; 16];
            match ip {
                IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
                IpAddr::V6(v6) => b = v6.octets(),
            }
            b
        };
        LconnKey {
            family: if c.saddr.is_ipv6() { 6 } else { 4 },
            proto: c.proto,
            sport_be: c.sport.to_be(),
            dport_be: c.dport.to_be(),
            pad: [0; 2],
            saddr: a(c.saddr),
            daddr: a(c.daddr),
        }
    }
}

/// Where a worker records the replies to expect.
pub struct LconnSink {
    kind: SinkKind,
    /// Tuples recorded lately: a UDP flow notes every datagram, which must not cost a
    /// syscall (or an nft run) each.
    seen: std::sync::Mutex<std::collections::HashSet<Lconn>>,
}

pub enum SinkKind {
    /// The `lconns` maps of the steering programs (one per interface).
    Xdp(Vec<OwnedFd>),
    /// Elements of an nftables set with a timeout, one table per interface.
    Nft(Vec<String>),
}

/// BPF_MAP_UPDATE_ELEM by hand: the worker holds only a map fd (aya's map types are not
/// shared across threads), and this is one syscall.
fn bpf_update(fd: i32, key: &LconnKey) -> std::io::Result<()> {
    #[repr(C)]
    struct Attr {
        map_fd: u32,
        _pad: u32,
        key: u64,
        value: u64,
        flags: u64,
    }
    let value: u8 = 1;
    let attr = Attr {
        map_fd: fd as u32,
        _pad: 0,
        key: key as *const LconnKey as u64,
        value: &value as *const u8 as u64,
        flags: 0,
    };
    const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
    // SAFETY: attr points at a valid key and value for the map's sizes (40 and 1 bytes).
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_UPDATE_ELEM,
            &attr as *const Attr,
            std::mem::size_of::<Attr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl LconnSink {
    pub fn new(kind: SinkKind) -> LconnSink {
        LconnSink {
            kind,
            seen: Default::default(),
        }
    }

    pub fn add(&self, c: &Lconn) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() > 4096 {
                seen.clear();
            }
            if !seen.insert(*c) {
                return;
            }
        }
        match &self.kind {
            SinkKind::Xdp(fds) => {
                let k = LconnKey::new(c);
                for fd in fds {
                    if let Err(e) = bpf_update(fd.as_raw_fd(), &k) {
                        tracing::warn!("lconns update: {e}");
                    }
                }
            }
            SinkKind::Nft(tables) => {
                let set = if c.saddr.is_ipv6() {
                    "lconn6"
                } else {
                    "lconn4"
                };
                let mut script = String::new();
                for t in tables {
                    let _ = writeln!(
                        script,
                        "add element netdev {t} {set} {{ {} . {} . {} . {} . {} }}",
                        c.saddr, c.proto, c.sport, c.daddr, c.dport
                    );
                }
                if let Err(e) = crate::steer::nft_apply(&script) {
                    tracing::warn!("lconn nft update: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steer::EpKey;

    #[test]
    fn output_marking_names_each_service_once() {
        let mut set = SteerSet::default();
        let vip: IpAddr = "10.0.0.1".parse().unwrap();
        set.svcs.insert(EpKey::new(6, vip, 80));
        set.svcs.insert(EpKey::new(0, vip, 0));
        set.svcs
            .insert(EpKey::new(17, "fd00::1".parse().unwrap(), 53));
        let r = nft_output(&set);
        assert!(r.contains("elements = { 10.0.0.1 . 6 . 80 }"), "{r}");
        assert!(r.contains("elements = { fd00::1 . 17 . 53 }"), "{r}");
        assert!(r.contains("hook output"), "{r}");
    }

    #[test]
    fn lconn_keys_have_the_c_layout() {
        let k = LconnKey::new(&Lconn {
            proto: 6,
            saddr: "172.16.0.2".parse().unwrap(),
            sport: 80,
            daddr: "10.0.0.1".parse().unwrap(),
            dport: 40000,
        });
        assert_eq!(std::mem::size_of::<LconnKey>(), 40);
        assert_eq!((k.family, k.proto), (4, 6));
        assert_eq!(u16::from_be(k.sport_be), 80);
        assert_eq!(&k.saddr[..4], &[172, 16, 0, 2]);
        assert_eq!(&k.daddr[..4], &[10, 0, 0, 1]);
    }
}
