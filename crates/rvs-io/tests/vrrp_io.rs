//! The VRRP runner on real sockets, in throwaway network namespaces: router `a` runs a
//! [`VrrpRunner`], peer `p` watches the wire with its own raw sockets (not the runner's
//! code), forges adverts, and shows its neighbour table. Addresses are checked with
//! iproute2. Needs root; without it the tests fail, they never skip.

use rvs_engine::VipOwnership;
use rvs_io::vrrp::{VrrpEvent, VrrpRunner};
use rvs_testnet::{wait_for, Lab, Ns, VethOpts};
use rvs_vrrp::{
    Auth, DropReason, GarpTiming, InitialState, InstanceConfig, InstanceStatus, Notify, State,
    Version, Vip, VipOwner, VrrpConfig,
};
use rvs_wire::vrrp::{VrrpAddrs, VrrpAuth, VrrpPacket, VrrpRepr};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const A: &str = "10.9.0.1";
const P: &str = "10.9.0.2";
const VIP: &str = "10.9.0.100";
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const LIMIT: Duration = Duration::from_secs(15);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Runs `f` on a thread inside `ns` (sockets it opens and threads it starts stay there).
fn in_ns<T: Send>(ns: &Ns, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/var/run/netns/{}", ns.name());
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).expect("netns file");
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns");
            f()
        })
        .join()
        .expect("namespace thread")
    })
}

struct Pair {
    _lab: Lab,
    a: Ns,
    p: Ns,
}

fn pair(tag: &str) -> Pair {
    let lab = Lab::new(tag).expect("lab (needs root)");
    let a = lab.ns("a").expect("ns a");
    let p = lab.ns("p").expect("ns p");
    for ns in [&a, &p] {
        // Link-local addresses usable at once (adverts leave from them).
        ns.sysctl("net.ipv6.conf.default.accept_dad", "0")
            .expect("accept_dad");
    }
    lab.veth((&a, "eth0"), (&p, "eth0"), VethOpts::default())
        .expect("veth");
    a.addr("eth0", &format!("{A}/24")).expect("addr a");
    p.addr("eth0", &format!("{P}/24")).expect("addr p");
    Pair { _lab: lab, a, p }
}

fn instance(priority: u8, owner: VipOwner) -> InstanceConfig {
    InstanceConfig {
        name: "VI_1".into(),
        interface: "eth0".into(),
        vrid: 51,
        version: Version::V2,
        ipv6: false,
        initial: InitialState::Backup,
        priority,
        advert_int_cs: 100,
        auth: Auth::None,
        nopreempt: false,
        preempt_delay_ms: 0,
        vips: vec![Vip {
            addr: ip(VIP),
            prefix: 32,
            brd: None,
            dev: None,
            scope: None,
            label: None,
        }],
        vips_excluded: vec![],
        vip_owner: owner,
        src: None,
        unicast_peers: vec![],
        track_interfaces: vec![],
        track_scripts: vec![],
        track_files: vec![],
        notify: Notify::default(),
        garp: GarpTiming {
            delay_ms: 0,
            ..GarpTiming::default()
        },
        accept: false,
        pos: "vrrp_io.rs:1".into(),
    }
}

fn start(
    ns: &Ns,
    inst: InstanceConfig,
    vips: &VipOwnership,
) -> (VrrpRunner, mpsc::Receiver<VrrpEvent>) {
    let cfg = VrrpConfig {
        instances: vec![inst],
        ..VrrpConfig::default()
    };
    let (tx, rx) = mpsc::channel();
    let vips = vips.clone();
    let runner = in_ns(ns, move || {
        VrrpRunner::start(cfg, vips, move |e| {
            let _ = tx.send(e);
        })
    })
    .expect("runner starts");
    (runner, rx)
}

fn wait_state(events: &mpsc::Receiver<VrrpEvent>, want: State) {
    let deadline = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match events.recv_timeout(left) {
            Ok(VrrpEvent::Transition { to, .. }) if to == want => return,
            Ok(e) => seen.push(e),
            Err(_) => break,
        }
    }
    panic!("no transition to {want:?}; saw {seen:?}");
}

fn addrs(ns: &Ns) -> String {
    let o = ns
        .ip(&["-4", "addr", "show", "dev", "eth0"])
        .expect("ip addr");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Waits until `ip -4 addr` of `ns`'s eth0 shows (`present`) or no longer shows `what`.
fn wait_vip(ns: &Ns, what: &str, present: bool) {
    wait_for("a's addresses", LIMIT, || {
        let a = addrs(ns);
        Ok(if a.contains(what) == present {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(a)
        })
    })
    .expect("VIP address")
}

/// A raw socket of the peer, joined to the VRRP group: what the wire carries.
struct Capture(Socket);

/// One captured advert: IP header fields and the VRRP message.
struct Seen {
    ttl: u8,
    src: IpAddr,
    dst: IpAddr,
    vrrp: Vec<u8>,
}

impl Capture {
    fn open(ns: &Ns) -> Capture {
        in_ns(ns, || {
            let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
            s.bind_device(Some(b"eth0")).unwrap();
            let idx = nix::net::if_::if_nametoindex("eth0").unwrap();
            s.join_multicast_v4_n(&GROUP, &InterfaceIndexOrAddress::Index(idx))
                .unwrap();
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            Capture(s)
        })
    }

    /// The next advert from `src` that `pred` accepts.
    fn next(&mut self, src: &str, pred: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + LIMIT;
        let mut buf = vec![0u8; 2048];
        while Instant::now() < deadline {
            let Ok(n) = self.0.read(&mut buf) else {
                continue;
            };
            let ipp = rvs_wire::ipv4::Ipv4Packet::new_checked(&buf[..n]).expect("IPv4 header");
            let seen = Seen {
                ttl: ipp.ttl(),
                src: IpAddr::V4(ipp.src_addr()),
                dst: IpAddr::V4(ipp.dst_addr()),
                vrrp: ipp.payload().to_vec(),
            };
            if seen.src == ip(src) && pred(&seen) {
                return seen;
            }
        }
        panic!("no advert from {src} seen");
    }
}

/// A v2 advert from the peer, with the checksum right unless `corrupt`.
fn forge(priority: u8, vrid: u8, corrupt: bool) -> Vec<u8> {
    let vips = [ip(VIP)];
    let r = VrrpRepr {
        version: rvs_wire::vrrp::Version::V2,
        vrid,
        priority,
        adver_int_cs: 100,
        auth: VrrpAuth::None,
        addrs: VrrpAddrs::from_list(&vips),
    };
    let mut b = vec![0u8; r.buffer_len()];
    let n = r
        .emit(&mut b, &ip(P), &IpAddr::V4(GROUP))
        .expect("emit advert");
    b.truncate(n);
    if corrupt {
        b[6] ^= 0x5a;
    }
    b
}

/// Sends `vrrp` from the peer to the group with this TTL (IP header written here).
fn send_from_peer(ns: &Ns, ttl: u8, vrrp: &[u8]) {
    in_ns(ns, || {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.set_header_included_v4(true).unwrap();
        s.bind_device(Some(b"eth0")).unwrap();
        let mut pkt = vec![0u8; 20 + vrrp.len()];
        rvs_wire::ipv4::Ipv4Repr {
            src: P.parse().unwrap(),
            dst: GROUP,
            protocol: 112,
            payload_len: vrrp.len(),
            ttl,
            dont_frag: false,
            ident: 0,
            dscp_ecn: 0xc0,
        }
        .emit(&mut pkt)
        .unwrap();
        pkt[20..].copy_from_slice(vrrp);
        s.send_to(&pkt, &SocketAddrV4::new(GROUP, 0).into())
            .expect("send forged advert");
    });
}

fn dropped(st: &InstanceStatus, why: DropReason) -> u64 {
    st.counters
        .drops
        .iter()
        .find(|(r, _)| *r == why)
        .map_or(0, |(_, n)| *n)
}

#[test]
fn adverts_leave_with_ttl_255_and_a_valid_checksum_and_the_kernel_vip_follows_mastership() {
    let lab = pair("vad");
    let mut cap = Capture::open(&lab.p);
    let vips = VipOwnership::new();
    // Priority 255: the address owner is MASTER at once.
    let (runner, events) = start(&lab.a, instance(255, VipOwner::Kernel), &vips);
    wait_state(&events, State::Master);
    // The advert thread runs SCHED_FIFO (1) wherever a thread of this process may.
    let want = if fifo_allowed() { "1" } else { "0" };
    wait_vrrp_policy(want);

    let adv = cap.next(A, |s| s.vrrp.get(2) == Some(&255));
    assert_eq!(adv.ttl, 255, "TTL");
    assert_eq!(adv.dst, IpAddr::V4(GROUP));
    let pkt = VrrpPacket::new_checked(&adv.vrrp[..]).expect("VRRP header");
    assert!(pkt.verify_checksum(&adv.src, &adv.dst), "checksum");
    let r = VrrpRepr::parse(&pkt, &adv.src, &adv.dst).expect("a valid advert");
    assert_eq!((r.vrid, r.priority, r.adver_int_cs), (51, 255, 100));
    assert_eq!(r.addrs.iter().collect::<Vec<_>>(), [ip(VIP)]);

    wait_for("the VIP on a's eth0", LIMIT, || {
        let a = addrs(&lab.a);
        Ok(if a.contains(&format!("{VIP}/32")) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(a)
        })
    })
    .expect("VIP added on MASTER");
    assert!(vips.owns(ip(VIP)));
    let st = runner.status();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].state, State::Master);
    assert!(st[0].counters.adverts_tx >= 1, "{st:?}");

    runner.stop();
    // The handover: one advert with priority 0, then the VIP is gone.
    cap.next(A, |s| s.vrrp.get(2) == Some(&0));
    let a = addrs(&lab.a);
    assert!(!a.contains(VIP), "VIP removed on stop: {a}");
    assert!(!vips.owns(ip(VIP)));
}

#[test]
fn a_backup_starts_silent_clears_leftovers_and_takes_over_when_no_master_speaks() {
    let lab = pair("vbk");
    // A crashed MASTER's address is still there.
    lab.a
        .addr("eth0", &format!("{VIP}/32"))
        .expect("leftover VIP");
    let vips = VipOwnership::new();
    let (runner, events) = start(&lab.a, instance(100, VipOwner::Kernel), &vips);
    let a = addrs(&lab.a);
    assert!(
        !a.contains(VIP),
        "a BACKUP removes the leftover at start: {a}"
    );
    assert!(!vips.owns(ip(VIP)), "and is silent from its first moment");
    assert_eq!(runner.status()[0].state, State::Backup);
    // Nobody else advertises: master-down, then MASTER with the VIP (the kernel address
    // is queued to the netlink thread, not waited for).
    wait_state(&events, State::Master);
    assert!(vips.owns(ip(VIP)));
    wait_vip(&lab.a, &format!("{VIP}/32"), true);
    runner.stop();
    assert!(!addrs(&lab.a).contains(VIP));
}

#[test]
fn gratuitous_arp_teaches_the_peer_the_vip_in_engine_mode() {
    let lab = pair("vga");
    // Linux only creates a neighbour entry from a gratuitous ARP with arp_accept.
    lab.p
        .sysctl("net.ipv4.conf.eth0.arp_accept", "1")
        .expect("arp_accept");
    let mac = lab.a.mac("eth0").expect("a's MAC");
    let vips = VipOwnership::new();
    let (runner, events) = start(&lab.a, instance(255, VipOwner::Engine), &vips);
    wait_state(&events, State::Master);
    wait_for("the peer's neighbour entry for the VIP", LIMIT, || {
        let o = lab.p.ip(&["neigh", "show", VIP, "dev", "eth0"])?;
        let n = String::from_utf8_lossy(&o.stdout).into_owned();
        Ok(if n.contains(&mac) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(n)
        })
    })
    .expect("GARP learnt");
    assert!(vips.owns(ip(VIP)));
    let a = addrs(&lab.a);
    assert!(
        !a.contains(VIP),
        "engine mode never puts the VIP in the kernel: {a}"
    );
    runner.stop();
    assert!(!vips.owns(ip(VIP)));
}

#[test]
fn forged_adverts_from_the_peer_are_counted_and_change_nothing() {
    let lab = pair("vfg");
    let vips = VipOwnership::new();
    let (runner, _events) = start(&lab.a, instance(100, VipOwner::Engine), &vips);
    // Priority 200 would win; with TTL 64 or a broken checksum it must not count.
    send_from_peer(&lab.p, 64, &forge(200, 51, false));
    send_from_peer(&lab.p, 255, &forge(200, 51, true));
    let st = wait_for("both drops counted", LIMIT, || {
        let st = runner.status().remove(0);
        Ok(
            if dropped(&st, DropReason::Ttl) >= 1 && dropped(&st, DropReason::Checksum) >= 1 {
                ControlFlow::Break(st)
            } else {
                ControlFlow::Continue(format!("{:?}", st.counters))
            },
        )
    })
    .expect("drops");
    assert_ne!(st.master, Some(ip(P)), "{st:?}");
    assert_ne!(st.master_priority, Some(200), "{st:?}");

    // The same advert, well formed: the peer is master (the receive path works).
    let st = wait_for("the peer as master", LIMIT, || {
        send_from_peer(&lab.p, 255, &forge(200, 51, false));
        let st = runner.status().remove(0);
        Ok(if st.master == Some(ip(P)) {
            ControlFlow::Break(st)
        } else {
            ControlFlow::Continue(format!("{st:?}"))
        })
    })
    .expect("valid advert accepted");
    assert_eq!(st.state, State::Backup);
    assert!(st.counters.adverts_rx >= 1);
    assert!(!vips.owns(ip(VIP)));
    runner.stop();
}

fn link_local(ns: &Ns) -> IpAddr {
    wait_for("a link-local address", LIMIT, || {
        let o = ns.ip(&["-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"])?;
        let t = String::from_utf8_lossy(&o.stdout).into_owned();
        let found = t
            .split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .filter(|_| !t.contains("tentative"))
            .and_then(|a| a.split('/').next()?.parse().ok());
        Ok(match found {
            Some(a) => ControlFlow::Break(a),
            None => ControlFlow::Continue(t),
        })
    })
    .expect("link-local")
}

#[test]
fn two_runners_elect_over_ipv6_v3_and_the_winner_holds_the_vip() {
    let lab = pair("v6e");
    let (lla, llp) = (link_local(&lab.a), link_local(&lab.p));
    let v6 = |priority| {
        let mut i = instance(priority, VipOwner::Kernel);
        i.version = Version::V3;
        i.ipv6 = true;
        i.advert_int_cs = 10;
        i.vips[0].addr = ip("fd00:9::100");
        i.vips[0].prefix = 128;
        i
    };
    let (vips_a, vips_p) = (VipOwnership::new(), VipOwnership::new());
    let (runner_p, _ev_p) = start(&lab.p, v6(100), &vips_p);
    let (runner_a, _ev_a) = start(&lab.a, v6(200), &vips_a);
    let (sa, sp) = wait_for("a MASTER, p BACKUP following a", LIMIT, || {
        let (sa, sp) = (runner_a.status().remove(0), runner_p.status().remove(0));
        Ok(
            if sa.state == State::Master && sp.state == State::Backup && sp.master == Some(lla) {
                ControlFlow::Break((sa, sp))
            } else {
                ControlFlow::Continue(format!("{sa:?}\n{sp:?}"))
            },
        )
    })
    .expect("election");
    assert_eq!(sa.master, Some(lla));
    assert!(sp.counters.adverts_rx >= 1, "{sp:?}");
    assert_ne!(lla, llp);
    assert!(vips_a.owns(ip("fd00:9::100")) && !vips_p.owns(ip("fd00:9::100")));
    // The kernel address is queued to the netlink thread, not waited for.
    wait_for("the VIP on a's eth0", LIMIT, || {
        let o = lab.a.ip(&["-6", "addr", "show", "dev", "eth0"])?;
        let shown = String::from_utf8_lossy(&o.stdout).into_owned();
        Ok(if shown.contains("fd00:9::100/128") {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(shown)
        })
    })
    .expect("IPv6 VIP added on MASTER");
    // The clean stop hands over: p becomes MASTER.
    runner_a.stop();
    wait_for("p MASTER after a's priority 0", LIMIT, || {
        let sp = runner_p.status().remove(0);
        Ok(if sp.state == State::Master {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(format!("{sp:?}"))
        })
    })
    .expect("handover");
    assert!(vips_p.owns(ip("fd00:9::100")));
    runner_p.stop();
}

/// The scheduling policy (stat field 41) of this process's `rvs-vrrp` threads.
fn vrrp_thread_policy() -> Vec<String> {
    threads_policy("rvs-vrrp")
}

/// Waits until every `rvs-vrrp` thread (there is at least one) has policy `want`: other
/// tests of this process start runners too, whose threads are named before they ask
/// for real-time priority.
fn wait_vrrp_policy(want: &str) {
    wait_for("the VRRP threads' policy", LIMIT, || {
        let policies = vrrp_thread_policy();
        Ok(
            if !policies.is_empty() && policies.iter().all(|p| p == want) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(format!("{policies:?}"))
            },
        )
    })
    .expect("SCHED_FIFO VRRP threads")
}

/// Whether a throwaway thread of this process gets SCHED_FIFO 1.
fn fifo_allowed() -> bool {
    std::thread::spawn(|| {
        let param = libc::sched_param { sched_priority: 1 };
        // SAFETY: this live thread and a valid sched_param.
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0 }
    })
    .join()
    .unwrap()
}

/// The scheduling policy (stat field 41) of the threads of this process named `name`.
fn threads_policy(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            out.push(stat_policy(&stat));
        }
    }
    out
}

fn stat_policy(stat: &str) -> String {
    let after = stat.rsplit(')').next().unwrap_or("");
    after.split_whitespace().nth(38).unwrap_or("?").to_string()
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rvs-vrrp-io-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn scripts_and_their_waiter_threads_never_run_real_time() {
    assert!(
        fifo_allowed(),
        "this test needs SCHED_FIFO for the VRRP thread (root with real-time budget)"
    );
    let lab = pair("vrt");
    let dir = scratch("rt");
    let (policy, go) = (dir.join("policy"), dir.join("go"));
    // The script writes its own policy, then holds its waiter thread until told to end.
    let script = format!(
        "cat /proc/$$/stat >{p}.tmp && mv {p}.tmp {p}; i=0; while [ ! -e {g} ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done",
        p = policy.display(),
        g = go.display()
    );
    let mut inst = instance(255, VipOwner::Engine);
    inst.notify.master = Some(rvs_vrrp::NotifyScript {
        command: script,
        user: None,
    });
    let vips = VipOwnership::new();
    let (runner, events) = start(&lab.a, inst, &vips);
    wait_state(&events, State::Master);
    wait_vrrp_policy("1");
    let stat = wait_for("the notify script's policy", LIMIT, || {
        Ok(match std::fs::read_to_string(&policy) {
            Ok(s) if !s.is_empty() => ControlFlow::Break(s),
            _ => ControlFlow::Continue(String::new()),
        })
    })
    .expect("notify_master ran");
    assert_eq!(
        stat_policy(&stat),
        "0",
        "the script runs SCHED_OTHER: {stat}"
    );
    let waiters = threads_policy("rvs-vrrp-script");
    assert!(
        !waiters.is_empty() && waiters.iter().all(|p| p == "0"),
        "the waiter thread runs SCHED_OTHER: {waiters:?}"
    );
    std::fs::write(&go, "").unwrap();
    runner.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_leftover_vip_is_removed_whatever_its_ipv4_prefix() {
    let lab = pair("vlp");
    // An older configuration's /24 (a secondary address next to a's own).
    lab.a
        .addr("eth0", &format!("{VIP}/24"))
        .expect("leftover VIP");
    let vips = VipOwnership::new();
    let (runner, _events) = start(&lab.a, instance(100, VipOwner::Kernel), &vips);
    let a = addrs(&lab.a);
    assert!(!a.contains(VIP), "removed at start: {a}");
    assert!(a.contains(&format!("{A}/24")), "a's own address stays: {a}");
    runner.stop();
}
