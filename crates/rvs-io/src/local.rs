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
use futures::stream::TryStreamExt;
use netlink_packet_route::route::{RouteMessage, RouteProtocol, RouteScope};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::{Handle, IpVersion, RouteMessageBuilder};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

pub const TUN_NAME: &str = "rvs0";
const MARK: u32 = 0x7276_7330;
const TABLE: u32 = 7276;
const PREF_MARK: u32 = 90;
const PREF_LOCAL: u32 = 100;
/// RT_TABLE_LOCAL: the kernel's table of its own and broadcast addresses.
const TABLE_LOCAL: u32 = 255;

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

/// One rule change of [`install_routing`] / [`remove_routing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RuleOp {
    /// `ip rule add pref P lookup local`
    AddLocal(u32),
    /// `ip rule add pref 90 fwmark MARK lookup TABLE`
    AddMark,
    /// Delete the rule at this index of the dump.
    Del(usize),
}

/// What the plans need of one dumped rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RuleInfo {
    pref: u32,
    /// `from all lookup local`: no selector, action "to table 255".
    local: bool,
    /// rvs's own mark rule.
    mark: bool,
}

impl RuleInfo {
    fn of(m: &RuleMessage) -> RuleInfo {
        let mut pref = 0; // the kernel leaves FRA_PRIORITY out for preference 0
        let mut table = u32::from(m.header.table);
        let mut selector = m.header.src_len != 0 || m.header.dst_len != 0 || m.header.tos != 0;
        let mut fwmark = None;
        for a in &m.attributes {
            match a {
                RuleAttribute::Priority(p) => pref = *p,
                RuleAttribute::Table(t) => table = *t,
                RuleAttribute::FwMark(f) => {
                    fwmark = Some(*f);
                    selector = true;
                }
                RuleAttribute::L3MDev(on) => selector |= *on,
                RuleAttribute::Source(_)
                | RuleAttribute::Destination(_)
                | RuleAttribute::Iifname(_)
                | RuleAttribute::Oifname(_)
                | RuleAttribute::UidRange(_)
                | RuleAttribute::IpProtocol(_)
                | RuleAttribute::SourcePortRange(_)
                | RuleAttribute::DestinationPortRange(_)
                | RuleAttribute::TunId(_) => selector = true,
                _ => {}
            }
        }
        let to_table = m.header.action == RuleAction::ToTable;
        RuleInfo {
            pref,
            local: to_table && !selector && table == TABLE_LOCAL,
            mark: to_table && pref == PREF_MARK && fwmark == Some(MARK) && table == TABLE,
        }
    }
}

/// The kernel's `local` rule moves from 0 to 100 (added before the old one goes, so that
/// no moment lacks it), then the mark rule goes in at 90 unless something holds that
/// preference already. Nothing to do on a second run.
fn install_plan(have: &[RuleInfo]) -> Vec<RuleOp> {
    let mut ops = Vec::new();
    if !have.iter().any(|r| r.local && r.pref == PREF_LOCAL) {
        ops.push(RuleOp::AddLocal(PREF_LOCAL));
    }
    ops.extend(
        (0..have.len())
            .filter(|&i| have[i].local && have[i].pref == 0)
            .map(RuleOp::Del),
    );
    if !have.iter().any(|r| r.pref == PREF_MARK) {
        ops.push(RuleOp::AddMark);
    }
    ops
}

/// The reverse: the mark rule goes (only rvs's own), `local` comes back at 0 before it
/// leaves 100.
fn remove_plan(have: &[RuleInfo]) -> Vec<RuleOp> {
    let mut ops: Vec<RuleOp> = (0..have.len())
        .filter(|&i| have[i].mark)
        .map(RuleOp::Del)
        .collect();
    if !have.iter().any(|r| r.local && r.pref == 0) {
        ops.push(RuleOp::AddLocal(0));
    }
    ops.extend(
        (0..have.len())
            .filter(|&i| have[i].local && have[i].pref == PREF_LOCAL)
            .map(RuleOp::Del),
    );
    ops
}

/// Runs `f` with a fresh rtnetlink connection on a thread and runtime of its own: the
/// callers are plain threads, and `block_on` would panic inside someone else's runtime.
fn netlink<F, Fut>(f: F) -> Result<(), SteerError>
where
    F: FnOnce(Handle) -> Fut + Send,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let run = move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        rt.block_on(async {
            let (conn, handle, _) =
                rtnetlink::new_connection().map_err(|e| format!("netlink socket: {e}"))?;
            tokio::spawn(conn);
            f(handle).await
        })
    };
    std::thread::scope(|s| {
        s.spawn(run)
            .join()
            .unwrap_or_else(|_| Err("netlink thread panicked".into()))
    })
    .map_err(SteerError::Routing)
}

async fn dump_rules(h: &Handle, v6: bool) -> Result<Vec<RuleMessage>, String> {
    let ver = if v6 { IpVersion::V6 } else { IpVersion::V4 };
    h.rule()
        .get(ver)
        .execute()
        .try_collect()
        .await
        .map_err(|e| format!("listing the IPv{} rules: {e}", if v6 { 6 } else { 4 }))
}

async fn apply_rules(
    h: &Handle,
    v6: bool,
    have: &[RuleMessage],
    ops: &[RuleOp],
) -> Result<(), String> {
    let fam = if v6 { 6 } else { 4 };
    for op in ops {
        let add = |pref: u32, table: u32| {
            h.rule()
                .add()
                .priority(pref)
                .table_id(table)
                .action(RuleAction::ToTable)
        };
        let r = match *op {
            RuleOp::AddLocal(pref) => {
                let req = add(pref, TABLE_LOCAL);
                if v6 {
                    req.v6().execute().await
                } else {
                    req.v4().execute().await
                }
            }
            RuleOp::AddMark => {
                let req = add(PREF_MARK, TABLE).fw_mark(MARK);
                if v6 {
                    req.v6().execute().await
                } else {
                    req.v4().execute().await
                }
            }
            RuleOp::Del(i) => h.rule().del(have[i].clone()).execute().await,
        };
        r.map_err(|e| format!("IPv{fam} rule {op:?}: {e}"))?;
    }
    Ok(())
}

async fn tun_index(h: &Handle) -> Result<u32, String> {
    let mut links = h.link().get().match_name(TUN_NAME.to_string()).execute();
    match links.try_next().await {
        Ok(Some(l)) => Ok(l.header.index),
        Ok(None) => Err(format!("no interface {TUN_NAME}")),
        Err(e) => Err(format!("looking up {TUN_NAME}: {e}")),
    }
}

/// Route marked output traffic into the TUN device (idempotent: a restarted rvsd finds
/// the rules of its predecessor in place).
pub fn install_routing() -> Result<(), SteerError> {
    netlink(|h| async move {
        let oif = tun_index(&h).await?;
        for v6 in [false, true] {
            let have = dump_rules(&h, v6).await?;
            let info: Vec<RuleInfo> = have.iter().map(RuleInfo::of).collect();
            apply_rules(&h, v6, &have, &install_plan(&info)).await?;
            // `ip route replace default dev rvs0 table TABLE`: link scope, boot protocol.
            fn via_tun<T>(b: RouteMessageBuilder<T>, oif: u32) -> RouteMessage {
                b.table_id(TABLE)
                    .output_interface(oif)
                    .scope(RouteScope::Link)
                    .protocol(RouteProtocol::Boot)
                    .build()
            }
            let route = if v6 {
                via_tun(RouteMessageBuilder::<Ipv6Addr>::new(), oif)
            } else {
                via_tun(RouteMessageBuilder::<Ipv4Addr>::new(), oif)
            };
            h.route()
                .add(route)
                .replace()
                .execute()
                .await
                .map_err(|e| {
                    format!(
                        "IPv{} default route via {TUN_NAME}: {e}",
                        if v6 { 6 } else { 4 }
                    )
                })?;
        }
        Ok(())
    })?;
    // The TUN device hands the kernel packets whose source may be its own address (a VIP
    // it owns) and that come from "outside": accept them as they are.
    for (k, v) in [("rp_filter", "0"), ("accept_local", "1")] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{TUN_NAME}/{k}"), v);
    }
    Ok(())
}

/// Undo [`install_routing`] and the marking table (a clean stop). The route goes with the
/// device.
pub fn remove_routing() {
    let undone = netlink(|h| async move {
        for v6 in [false, true] {
            let have = dump_rules(&h, v6).await?;
            let info: Vec<RuleInfo> = have.iter().map(RuleInfo::of).collect();
            apply_rules(&h, v6, &have, &remove_plan(&info)).await?;
        }
        Ok(())
    });
    if let Err(e) = undone {
        tracing::warn!("removing the policy rules of {TUN_NAME}: {e}");
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

    fn rule(pref: u32, local: bool, mark: bool) -> RuleInfo {
        RuleInfo { pref, local, mark }
    }

    #[test]
    fn rule_plans_move_local_add_the_mark_and_undo_both() {
        use RuleOp::*;
        let other = |pref| rule(pref, false, false);
        let boot = [rule(0, true, false), other(32766), other(32767)];
        assert_eq!(install_plan(&boot), [AddLocal(100), Del(0), AddMark]);
        assert_eq!(remove_plan(&boot), [], "nothing of rvs's to undo");
        let installed = [rule(90, false, true), rule(100, true, false), other(32766)];
        assert_eq!(install_plan(&installed), [], "idempotent");
        assert_eq!(remove_plan(&installed), [Del(0), AddLocal(0), Del(1)]);
        // Someone else's rule at 90: no second rule there, and it is not removed on stop.
        assert_eq!(
            install_plan(&[rule(0, true, false), other(90)]),
            [AddLocal(100), Del(0)]
        );
        assert_eq!(
            remove_plan(&[other(90), rule(100, true, false)]),
            [AddLocal(0), Del(1)]
        );
    }

    #[test]
    fn dumped_rules_are_classified() {
        let to_table = |table: u8, attrs: Vec<RuleAttribute>| {
            let mut m = RuleMessage::default();
            m.header.action = RuleAction::ToTable;
            m.header.table = table;
            m.attributes = attrs;
            m
        };
        // `0: from all lookup local`: the kernel sends no FRA_PRIORITY for 0.
        let local0 = to_table(255, vec![RuleAttribute::Table(255)]);
        assert_eq!(RuleInfo::of(&local0), rule(0, true, false));
        let local100 = to_table(
            255,
            vec![RuleAttribute::Priority(100), RuleAttribute::Table(255)],
        );
        assert_eq!(RuleInfo::of(&local100), rule(100, true, false));
        // Tables above 255 are only in FRA_TABLE (the header says RT_TABLE_COMPAT).
        let mark = to_table(
            252,
            vec![
                RuleAttribute::Priority(90),
                RuleAttribute::FwMark(MARK),
                RuleAttribute::FwMask(u32::MAX),
                RuleAttribute::Table(TABLE),
            ],
        );
        assert_eq!(RuleInfo::of(&mark), rule(90, false, true));
        // A selector makes it another rule than the plain `local` one.
        let iif = to_table(
            255,
            vec![
                RuleAttribute::Priority(100),
                RuleAttribute::Iifname("lo".into()),
                RuleAttribute::Table(255),
            ],
        );
        assert_eq!(RuleInfo::of(&iif), rule(100, false, false));
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
