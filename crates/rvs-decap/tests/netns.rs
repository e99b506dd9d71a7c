//! End to end, as root, in the spirit of the kernel's `ipvs.sh`: a client netns plays the
//! director's role and sends tunnelled packets (IPIP, GRE with checksum, GUE, and IPv6
//! inside IPv4 and IPv6) to a real-server netns running the built `rvs-decap`; the inner
//! packets are ICMP echo requests from the caddr to the VIP on the real server's `lo`, and
//! the echo replies must come straight back to the client from the VIP. Only private
//! addresses (10.x, fd00::/8) are used, on a veth pair between the two namespaces.
//! Without root this test fails; it never skips.
#![forbid(unsafe_code)]

use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::num::NonZeroU32;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{AddressFamily, Protocol, RecvFlags, SendFlags, SocketType};
use rvs_wire::gre::GreRepr;
use rvs_wire::ip_proto;
use rvs_wire::ipv4::{Ipv4Packet, Ipv4Repr};
use rvs_wire::ipv6::Ipv6Repr;

const CADDR: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
const RADDR: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 2);
const VADDR: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 10);
/// On the real server's `lo` too, but not a `--vip`: must not be delivered.
const OTHER: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 11);
const CADDR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x200, 0, 0, 0, 0, 0, 1);
const RADDR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x200, 0, 0, 0, 0, 0, 2);
const VADDR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xfa, 0, 0, 0, 0, 0, 0x10);
const GUE_PORT: u16 = 6080;
const TUN: &str = "rvsdecap0";

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The two namespaces and the agent; torn down even when an assertion panics.
struct Topo {
    client: String,
    server: String,
    agent: Option<Child>,
    log: std::path::PathBuf,
}

impl Drop for Topo {
    fn drop(&mut self) {
        if let Some(mut c) = self.agent.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("rvs-decap log:\n{}", self.log_text());
        }
        for ns in [&self.client, &self.server] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Topo {
    fn new() -> Topo {
        let pid = std::process::id();
        let prefix = format!("rvsdc{pid}");
        let t = Topo {
            client: format!("{prefix}c"),
            server: format!("{prefix}r"),
            agent: None,
            log: std::env::temp_dir().join(format!("{prefix}-decap.log")),
        };
        let (c, s) = (t.client.as_str(), t.server.as_str());
        let (va, vb) = (format!("dc{pid}a"), format!("dc{pid}b"));
        run("ip", &["netns", "add", c]);
        run("ip", &["netns", "add", s]);
        run(
            "ip",
            &[
                "link", "add", &va, "netns", c, "type", "veth", "peer", "name", &vb, "netns", s,
            ],
        );
        run("ip", &["-n", c, "addr", "add", "10.200.0.1/24", "dev", &va]);
        run("ip", &["-n", s, "addr", "add", "10.200.0.2/24", "dev", &vb]);
        // ULA addresses (fd00::/8), the IPv6 private range; nodad so they work at once.
        run(
            "ip",
            &[
                "-n",
                c,
                "addr",
                "add",
                "fd00:200::1/64",
                "dev",
                &va,
                "nodad",
            ],
        );
        run(
            "ip",
            &[
                "-n",
                s,
                "addr",
                "add",
                "fd00:200::2/64",
                "dev",
                &vb,
                "nodad",
            ],
        );
        for (ns, dev) in [(c, &va), (s, &vb)] {
            // Neighbour solicitations for a reply from the VIP (an address on lo) leave
            // from the veth's link-local address, which DAD would hold back for a second
            // or two: skip DAD so the IPv6 replies go out at once.
            let dad = format!("net.ipv6.conf.{dev}.accept_dad=0");
            run("ip", &["netns", "exec", ns, "sysctl", "-qw", &dad]);
            run("ip", &["-n", ns, "link", "set", "lo", "up"]);
            run("ip", &["-n", ns, "link", "set", dev, "up"]);
        }
        // The VIPs (and one more address that is not a --vip) on the real server's lo.
        for addr in ["10.250.0.10/32", "10.250.0.11/32", "fd00:fa::10/128"] {
            run("ip", &["-n", s, "addr", "add", addr, "dev", "lo"]);
        }
        // The usual LVS real-server settings, so the VIP on lo is never ARPed for.
        run(
            "ip",
            &[
                "netns",
                "exec",
                s,
                "sysctl",
                "-qw",
                "net.ipv4.conf.all.arp_ignore=1",
                "net.ipv4.conf.all.arp_announce=2",
            ],
        );
        t
    }

    fn start_agent(&mut self) {
        let log = std::fs::File::create(&self.log).expect("agent log file");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.server,
                env!("CARGO_BIN_EXE_rvs-decap"),
            ])
            .args(["--tun", TUN, "--vip", "10.250.0.10", "--vip", "fd00:fa::10"])
            .args(["--ipip", "--gre", "--ipv6"])
            .args(["--gue-port", &GUE_PORT.to_string(), "--stats-interval", "1"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn rvs-decap");
        self.agent = Some(child);
        // The agent opens its sockets before it creates the device, so an UP device means
        // it is listening.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(st) = self
                .agent
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("rvs-decap exited early ({st}): {}", self.log_text());
            }
            let out = Command::new("ip")
                .args(["-n", &self.server, "link", "show", TUN])
                .output()
                .expect("ip link show");
            let s = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && s.contains(",UP") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{TUN} not up after 5 s: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

/// Runs `f` on a thread that has entered netns `ns`: sockets it opens live there.
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // Only this thread changes namespace, and it ends when `f` returns.
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .unwrap_or_else(|e| panic!("setns {ns}: {e}"));
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn raw_socket(proto: u8) -> OwnedFd {
    raw_socket_af(AddressFamily::INET, proto)
}

fn raw_socket_af(af: AddressFamily, proto: u8) -> OwnedFd {
    let p = NonZeroU32::new(u32::from(proto)).map(Protocol::from_raw);
    rustix::net::socket(af, SocketType::RAW, p)
        .unwrap_or_else(|e| panic!("raw socket {proto}: {e}"))
}

/// Sends `payload` as the body of an IPv4 packet of protocol `proto` to the real server;
/// the kernel writes the outer header, as a director's would be.
fn send_raw(sock: &OwnedFd, payload: &[u8]) {
    let n = rustix::net::sendto(
        sock,
        payload,
        SendFlags::empty(),
        &SocketAddrV4::new(RADDR, 0),
    )
    .unwrap_or_else(|e| panic!("sendto: {e}"));
    assert_eq!(n, payload.len(), "sendto: short");
}

/// Like [`send_raw`], over IPv6: the outer header is the kernel's.
fn send_raw6(sock: &OwnedFd, payload: &[u8]) {
    let n = rustix::net::sendto(
        sock,
        payload,
        SendFlags::empty(),
        &SocketAddrV6::new(RADDR6, 0, 0, 0),
    )
    .unwrap_or_else(|e| panic!("sendto6: {e}"));
    assert_eq!(n, payload.len(), "sendto6: short");
}

/// Waits until `sock` is readable or `deadline` passes.
fn readable(sock: &OwnedFd, deadline: Instant) -> bool {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let timeout = Timespec::try_from(left).expect("a short wait");
    let mut pfd = [PollFd::new(sock, PollFlags::IN)];
    matches!(rustix::event::poll(&mut pfd, Some(&timeout)), Ok(n) if n > 0)
}

/// An ICMPv6 echo request from the IPv6 caddr to the IPv6 VIP, identified by `ident`.
fn echo_request6(ident: u16) -> Vec<u8> {
    let mut b = vec![0u8; 40 + 16];
    Ipv6Repr {
        src: CADDR6,
        dst: VADDR6,
        next_header: ip_proto::ICMPV6,
        payload_len: 16,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut b)
    .expect("inner header");
    let icmp = &mut b[40..];
    icmp[0] = 128;
    icmp[4..6].copy_from_slice(&ident.to_be_bytes());
    icmp[6..8].copy_from_slice(&1u16.to_be_bytes());
    icmp[8..].copy_from_slice(b"rvsdecap");
    let ps = rvs_wire::checksum::pseudo_v6(CADDR6.octets(), VADDR6.octets(), ip_proto::ICMPV6, 16);
    let c = rvs_wire::checksum::finish(ps.wrapping_add(rvs_wire::checksum::sum(icmp)));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    b
}

/// Waits up to `wait` for an ICMPv6 echo reply with `ident`; returns its saddr. Raw
/// ICMPv6 sockets get no IPv6 header, so the saddr comes from recvfrom.
fn await_reply6(icmp: &OwnedFd, ident: u16, wait: Duration) -> Option<Ipv6Addr> {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if !readable(icmp, deadline) {
            continue;
        }
        let Ok((n, _, from)) = rustix::net::recvfrom(icmp, &mut buf[..], RecvFlags::empty()) else {
            continue;
        };
        if n < 8 {
            continue;
        }
        if buf[0] == 129 && buf[4..6] == ident.to_be_bytes() {
            return from
                .and_then(|a| SocketAddrV6::try_from(a).ok())
                .map(|a| *a.ip());
        }
    }
    None
}

/// An ICMP echo request from the caddr to `daddr`, identified by `ident`.
fn echo_request(daddr: Ipv4Addr, ident: u16) -> Vec<u8> {
    let mut b = vec![0u8; 20 + 16];
    Ipv4Repr {
        src: CADDR,
        dst: daddr,
        protocol: ip_proto::ICMP,
        payload_len: 16,
        ttl: 64,
        dont_frag: true,
        ident,
        dscp_ecn: 0,
    }
    .emit(&mut b)
    .expect("inner header");
    let icmp = &mut b[20..];
    icmp[0] = 8;
    icmp[4..6].copy_from_slice(&ident.to_be_bytes());
    icmp[6..8].copy_from_slice(&1u16.to_be_bytes());
    icmp[8..].copy_from_slice(b"rvsdecap");
    let c = rvs_wire::checksum::finish(rvs_wire::checksum::sum(icmp));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    b
}

/// Waits up to `wait` for an echo reply with `ident`; returns its saddr.
fn await_reply(icmp: &OwnedFd, ident: u16, wait: Duration) -> Option<Ipv4Addr> {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if !readable(icmp, deadline) {
            continue;
        }
        let Ok((n, _)) = rustix::net::recv(icmp, &mut buf[..], RecvFlags::empty()) else {
            continue;
        };
        if n == 0 {
            continue;
        }
        let Ok(ip) = Ipv4Packet::new_checked(&buf[..n]) else {
            continue;
        };
        let p = ip.payload();
        if p.len() >= 8 && p[0] == 0 && p[4..6] == ident.to_be_bytes() {
            return Some(ip.src_addr());
        }
    }
    None
}

/// Sends with `send` until an echo reply for `ident` comes back (up to 8 s of tries: the
/// first packet may wait for ARP or NDP, and CI machines can be loaded), and checks it came
/// from the VIP.
fn expect_reply(name: &str, icmp: &OwnedFd, ident: u16, send: &dyn Fn()) {
    for _ in 0..20 {
        send();
        if let Some(src) = await_reply(icmp, ident, Duration::from_millis(400)) {
            assert_eq!(src, VADDR, "{name}: the reply must come from the VIP");
            return;
        }
    }
    panic!("{name}: no echo reply from the real server");
}

fn expect_reply6(name: &str, icmp: &OwnedFd, ident: u16, send: &dyn Fn()) {
    for _ in 0..20 {
        send();
        if let Some(src) = await_reply6(icmp, ident, Duration::from_millis(400)) {
            assert_eq!(src, VADDR6, "{name}: the reply must come from the VIP");
            return;
        }
    }
    panic!("{name}: no echo reply from the real server");
}

#[test]
fn tunnelled_echo_is_answered_directly_from_the_vip() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (network namespaces, raw sockets, TUN): run it as root, e.g. \
         `sudo -E cargo test -p rvs-decap --test netns`"
    );
    let started = Instant::now();
    let mut topo = Topo::new();
    topo.start_agent();

    in_netns(&topo.client, || {
        let icmp = raw_socket(ip_proto::ICMP);
        let ipip = raw_socket(ip_proto::IPIP);
        let gre = raw_socket(ip_proto::GRE);
        let udp = UdpSocket::bind(SocketAddrV4::new(CADDR, 0)).expect("client UDP socket");

        // (a) IPIP: the outer payload is the inner packet.
        let inner = echo_request(VADDR, 0x4401);
        expect_reply("IPIP", &icmp, 0x4401, &|| send_raw(&ipip, &inner));

        // (b) GRE with the checksum, as `--tun-type gre --tun-csum` sends it.
        let inner = echo_request(VADDR, 0x4702);
        let repr = GreRepr {
            protocol: 0x0800,
            csum: true,
            key: None,
            seq: None,
        };
        let mut g = vec![0u8; repr.header_len() + inner.len()];
        g[repr.header_len()..].copy_from_slice(&inner);
        repr.emit(&mut g, inner.len()).expect("GRE header");
        expect_reply("GRE", &icmp, 0x4702, &|| send_raw(&gre, &g));

        // (c) GUE variant 0, proto IPIP, as `--tun-type gue --tun-port 6080` sends it.
        let inner = echo_request(VADDR, 0x1103);
        let mut u = vec![0, ip_proto::IPIP, 0, 0];
        u.extend_from_slice(&inner);
        expect_reply("GUE", &icmp, 0x1103, &|| {
            udp.send_to(&u, SocketAddrV4::new(RADDR, GUE_PORT))
                .expect("GUE send");
        });

        // (d) IPv6-in-IPv4 (proto 41), as `--tun-type ipip` sends an IPv6 service to an
        // IPv4 real server, and (e) IPv6-in-IPv6 (`--ipv6`, an IPv6 raw socket).
        let icmp6 = raw_socket_af(AddressFamily::INET6, ip_proto::ICMPV6);
        let sit = raw_socket(ip_proto::IPV6);
        let inner = echo_request6(0x6401);
        expect_reply6("6in4", &icmp6, 0x6401, &|| send_raw(&sit, &inner));
        let ip6ip6 = raw_socket_af(AddressFamily::INET6, ip_proto::IPV6);
        let inner = echo_request6(0x6602);
        expect_reply6("6in6", &icmp6, 0x6602, &|| send_raw6(&ip6ip6, &inner));

        // An address the server has but that is not a --vip is filtered.
        let inner = echo_request(OTHER, 0x0999);
        send_raw(&ipip, &inner);
        assert_eq!(
            await_reply(&icmp, 0x0999, Duration::from_millis(500)),
            None,
            "a non-VIP inner daddr must not be delivered"
        );
    });

    // SIGTERM: clean exit, final counters, and the device goes away with the fd.
    let mut agent = topo.agent.take().expect("agent running");
    // Our own child, not reaped yet: the pid is still its.
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&agent),
        rustix::process::Signal::TERM,
    )
    .expect("SIGTERM to rvs-decap");
    let deadline = Instant::now() + Duration::from_secs(3);
    let status = loop {
        if let Some(st) = agent.try_wait().expect("wait rvs-decap") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = agent.kill();
            panic!("rvs-decap did not exit on SIGTERM: {}", topo.log_text());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = topo.log_text();
    assert!(status.success(), "rvs-decap exit {status}: {log}");
    let last = log
        .lines()
        .rfind(|l| l.contains("exiting"))
        .unwrap_or_else(|| panic!("no final counters in the log: {log}"));
    let field = |k: &str| -> u64 {
        let v = last
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {last}"));
        v.parse().unwrap_or_else(|_| panic!("bad {k} in {last}"))
    };
    assert!(field("delivered") >= 5, "{last}");
    assert!(field("received") > field("delivered"), "{last}");
    assert!(last.contains("not_vip=1"), "{last}");
    let gone = Command::new("ip")
        .args(["-n", &topo.server, "link", "show", TUN])
        .output()
        .expect("ip link show");
    assert!(!gone.status.success(), "{TUN} still exists after exit");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}
