//! Fixture tables: description, input frame, expected verdict, expected output frame.
//!
//! Every expected frame is built from scratch by `testkit::Pkt` with full checksums, so a
//! byte-for-byte match also proves the engine's incremental checksum updates.

use rvs_engine::config::{FwdMethod, TunCsum, TunType};
use rvs_engine::testkit::*;
use rvs_engine::topo::*;
use rvs_engine::{DropReason, PortId, Verdict};
use rvs_proto::Proto;
use rvs_wire::ethernet;
use rvs_wire::ipv4::{self, Ipv4Packet};
use std::net::IpAddr;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const RST: u8 = 0x04;
const SYNACK: u8 = SYN | ACK;

/// A frame of a row: built in advance, or built when the row runs from what the engine
/// chose in the rows before it (a FULLNAT local port, read from its conn export).
enum Frame {
    Bytes(Vec<u8>),
    Later(BuildLater),
}

type BuildLater = Box<dyn Fn(&Harness) -> Vec<u8>>;

impl Frame {
    fn bytes(&self, h: &Harness) -> Vec<u8> {
        match self {
            Frame::Bytes(b) => b.clone(),
            Frame::Later(f) => f(h),
        }
    }
}

/// A frame whose fields depend on the engine's earlier choices.
fn later(f: impl Fn(&Harness) -> Pkt + 'static) -> Frame {
    Frame::Later(Box::new(move |h| f(h).build()))
}

struct Step {
    desc: &'static str,
    input: Frame,
    port: PortId,
    verdict: Verdict,
    output: Option<Frame>,
}

fn step(
    desc: &'static str,
    input: Pkt,
    port: PortId,
    verdict: Verdict,
    output: Option<Pkt>,
) -> Step {
    row(
        desc,
        Frame::Bytes(input.build()),
        port,
        verdict,
        output.map(|p| Frame::Bytes(p.build())),
    )
}

fn raw(
    desc: &'static str,
    input: Vec<u8>,
    port: PortId,
    verdict: Verdict,
    output: Option<Vec<u8>>,
) -> Step {
    row(
        desc,
        Frame::Bytes(input),
        port,
        verdict,
        output.map(Frame::Bytes),
    )
}

fn row(
    desc: &'static str,
    input: Frame,
    port: PortId,
    verdict: Verdict,
    output: Option<Frame>,
) -> Step {
    Step {
        desc,
        input,
        port,
        verdict,
        output,
    }
}

fn hex(b: &[u8]) -> String {
    b.chunks(16)
        .map(|c| {
            c.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An untagged IPv4 frame with its IP header edited through rvs-wire's view and its
/// header checksum redone: inputs the builder cannot make (fragments, lying lengths).
fn edit_ipv4(mut frame: Vec<u8>, edit: impl FnOnce(&mut Ipv4Packet<&mut [u8]>)) -> Vec<u8> {
    let mut ip = Ipv4Packet::new_unchecked(&mut frame[ethernet::HEADER_LEN..]);
    edit(&mut ip);
    ip.fill_checksum();
    frame
}

fn run(h: &mut Harness, steps: Vec<Step>) {
    for s in steps {
        let (v, out) = h.send(&s.input.bytes(h), s.port);
        assert_eq!(v, s.verdict, "{}: verdict", s.desc);
        if let Some(exp) = s.output {
            assert_eq!(hex(&out), hex(&exp.bytes(h)), "{}: output frame", s.desc);
        }
        h.advance_ms(1);
    }
}

/// From a client behind the gateway to the director.
fn cl(p: Pkt) -> Pkt {
    p.macs(MAC_GW, MAC_DIRECTOR)
}

/// From real server N to the director's inside port.
fn rs(n: u8, p: Pkt) -> Pkt {
    p.macs(rs_mac(n), MAC_DIRECTOR_IN)
}

/// Toward real server N.
fn to_rs(n: u8, p: Pkt) -> Pkt {
    p.macs(MAC_DIRECTOR_IN, rs_mac(n))
}

/// Toward the clients' gateway.
fn to_cl(p: Pkt) -> Pkt {
    p.macs(MAC_DIRECTOR, MAC_GW)
}

fn v4_services() -> Vec<std::sync::Arc<rvs_engine::ServiceConfig>> {
    vec![
        Svc::tcp("10.0.0.100", 80, "rr")
            .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
            .build(),
        // Seed 000's port mapping: VIP:80 → RS:8000.
        Svc::tcp("10.0.0.110", 80, "wlc")
            .dest("172.16.0.3", 8000, FwdMethod::Masq, 2)
            .build(),
        Svc::new(Proto::Udp, "10.0.0.100", 53, "rr")
            .dest("172.16.0.2", 5353, FwdMethod::Masq, 1)
            .build(),
        Svc::new(Proto::Sctp, "10.0.0.100", 9, "rr")
            .dest("172.16.0.2", 9999, FwdMethod::Masq, 1)
            .build(),
        Svc::tcp("10.0.0.101", 80, "wrr")
            .dest("172.16.0.3", 80, FwdMethod::Route, 1)
            .build(),
        Svc::tcp("10.0.0.102", 80, "rr")
            .dest("172.16.0.4", 80, tun(TunType::Ipip, TunCsum::NoCsum), 1)
            .build(),
        Svc::tcp("10.0.0.103", 80, "rr")
            .dest(
                "172.16.0.5",
                80,
                tun(TunType::Gue { port: 6080 }, TunCsum::Csum),
                1,
            )
            .build(),
        Svc::tcp("10.0.0.104", 80, "rr")
            .dest("172.16.0.6", 80, tun(TunType::Gre, TunCsum::Csum), 1)
            .build(),
        Svc::tcp("10.0.0.106", 80, "rr")
            .dest("fd16::8", 80, tun(TunType::Ipip, TunCsum::NoCsum), 1)
            .build(),
        Svc::tcp("10.0.0.107", 80, "rr")
            .dest("172.16.0.2", 80, FwdMethod::Masq, 0)
            .build(),
    ]
}

#[test]
fn nat_both_directions_ipv4() {
    let mut h = Harness::new(v4_services());
    let c = "10.9.0.5";
    run(
        &mut h,
        vec![
            step(
                "SYN to the VIP is DNATed to the real server",
                cl(Pkt::tcp(c, 40000, "10.0.0.100", 80, SYN)),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(2, Pkt::tcp(c, 40000, "172.16.0.2", 80, SYN).ttl(63))),
            ),
            step(
                "SYN-ACK from the real server is SNATed to VIP:80",
                rs(2, Pkt::tcp("172.16.0.2", 80, c, 40000, SYNACK)),
                IN,
                Verdict::Tx(OUT),
                Some(to_cl(Pkt::tcp("10.0.0.100", 80, c, 40000, SYNACK).ttl(63))),
            ),
            step(
                "data from the client follows the conn",
                cl(Pkt::tcp(c, 40000, "10.0.0.100", 80, ACK | PSH)
                    .payload(b"GET / HTTP/1.0\r\n\r\n")),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(
                    2,
                    Pkt::tcp(c, 40000, "172.16.0.2", 80, ACK | PSH)
                        .payload(b"GET / HTTP/1.0\r\n\r\n")
                        .ttl(63),
                )),
            ),
            step(
                "port mapping, seed 000: VIP:80 to 172.16.0.3:8000",
                cl(Pkt::tcp(c, 40001, "10.0.0.110", 80, SYN)),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(
                    3,
                    Pkt::tcp(c, 40001, "172.16.0.3", 8000, SYN).ttl(63),
                )),
            ),
            step(
                "the mapped reply leaves from VIP:80",
                rs(
                    3,
                    Pkt::tcp("172.16.0.3", 8000, c, 40001, SYNACK).payload(b"odd"),
                ),
                IN,
                Verdict::Tx(OUT),
                Some(to_cl(
                    Pkt::tcp("10.0.0.110", 80, c, 40001, SYNACK)
                        .payload(b"odd")
                        .ttl(63),
                )),
            ),
            step(
                "UDP with a checksum, port mapped",
                cl(Pkt::udp(c, 5000, "10.0.0.100", 53).payload(b"query")),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(
                    2,
                    Pkt::udp(c, 5000, "172.16.0.2", 5353)
                        .payload(b"query")
                        .ttl(63),
                )),
            ),
            step(
                "UDP reply",
                rs(2, Pkt::udp("172.16.0.2", 5353, c, 5000).payload(b"answer!")),
                IN,
                Verdict::Tx(OUT),
                Some(to_cl(
                    Pkt::udp("10.0.0.100", 53, c, 5000)
                        .payload(b"answer!")
                        .ttl(63),
                )),
            ),
            step(
                "UDP without a checksum keeps none",
                cl(Pkt::udp(c, 5001, "10.0.0.100", 53)
                    .payload(b"q")
                    .no_udp_csum()),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(
                    2,
                    Pkt::udp(c, 5001, "172.16.0.2", 5353)
                        .payload(b"q")
                        .no_udp_csum()
                        .ttl(63),
                )),
            ),
            step(
                "SCTP INIT: ports mapped and CRC32c recomputed",
                cl(Pkt::sctp(c, 7000, "10.0.0.100", 9, 1)),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(2, Pkt::sctp(c, 7000, "172.16.0.2", 9999, 1).ttl(63))),
            ),
            step(
                "SCTP INIT-ACK back",
                rs(2, Pkt::sctp("172.16.0.2", 9999, c, 7000, 2)),
                IN,
                Verdict::Tx(OUT),
                Some(to_cl(Pkt::sctp("10.0.0.100", 9, c, 7000, 2).ttl(63))),
            ),
        ],
    );
}

#[test]
fn dr_and_tunnels_ipv4() {
    let mut h = Harness::new(v4_services());
    let c = "10.9.0.6";
    let syn = |vip: &str| cl(Pkt::tcp(c, 41000, vip, 80, SYN).payload(b"x"));
    let inner = |vip: &str| {
        Pkt::tcp(c, 41000, vip, 80, SYN)
            .payload(b"x")
            .ttl(63)
            .ip_bytes()
    };
    // GUE: UDP (entropy source port, 6080) + GUE header (version 0, proto 4).
    let gue_inner = inner("10.0.0.103");
    // The engine hashes the frame as it leaves: TTL already decremented.
    let hdr_for_entropy = cl(Pkt::tcp(c, 41000, "10.0.0.103", 80, SYN)
        .payload(b"x")
        .ttl(63))
    .build();
    let ent = rvs_engine::xmit::tun::flow_entropy(
        &hdr_for_entropy,
        &rvs_engine::xmit::Hdr {
            l3: 14,
            l4: 34,
            v6: false,
            proto: 6,
            l4_ok: true,
            ip_len: gue_inner.len(),
        },
    );
    let mut udp = Vec::new();
    udp.extend_from_slice(&(0xc000 | (ent & 0x3fff)).to_be_bytes());
    udp.extend_from_slice(&6080u16.to_be_bytes());
    udp.extend_from_slice(&((12 + gue_inner.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0, 0, 4, 0, 0]);
    let mut sum_buf = udp.clone();
    sum_buf.extend_from_slice(&gue_inner);
    let ps = rvs_wire::checksum::pseudo(
        &"172.16.0.1".parse().unwrap(),
        &"172.16.0.5".parse().unwrap(),
        17,
        sum_buf.len() as u32,
    );
    let csum = rvs_wire::checksum::finish(ps.wrapping_add(rvs_wire::checksum::sum(&sum_buf)));
    udp[6..8].copy_from_slice(&csum.to_be_bytes());
    // GRE with checksum: C bit, protocol 0x0800, checksum over GRE header and payload.
    let gre_inner = inner("10.0.0.104");
    let mut gre = vec![0x80, 0, 0x08, 0x00, 0, 0, 0, 0];
    let mut gbuf = gre.clone();
    gbuf.extend_from_slice(&gre_inner);
    let gc = rvs_wire::checksum::finish(rvs_wire::checksum::sum(&gbuf));
    gre[4..6].copy_from_slice(&gc.to_be_bytes());
    // The engine's IPv4 ident counter starts at its seed (7) and counts up per packet made.
    run(
        &mut h,
        vec![
            step(
                "DR rewrites only the MACs (and TTL, as a router)",
                syn("10.0.0.101"),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(
                    3,
                    Pkt::tcp(c, 41000, "10.0.0.101", 80, SYN)
                        .payload(b"x")
                        .ttl(63),
                )),
            ),
            raw(
                "IPIP toward the real server, DF copied from the inner header",
                syn("10.0.0.102").build(),
                OUT,
                Verdict::Tx(IN),
                Some(encap(
                    MAC_DIRECTOR_IN,
                    rs_mac(4),
                    "172.16.0.1",
                    "172.16.0.4",
                    4,
                    8,
                    true,
                    0,
                    &[],
                    &inner("10.0.0.102"),
                )),
            ),
            raw(
                "GUE with UDP checksum",
                syn("10.0.0.103").build(),
                OUT,
                Verdict::Tx(IN),
                Some(encap(
                    MAC_DIRECTOR_IN,
                    rs_mac(5),
                    "172.16.0.1",
                    "172.16.0.5",
                    17,
                    9,
                    true,
                    0,
                    &udp,
                    &gue_inner,
                )),
            ),
            raw(
                "GRE with checksum",
                syn("10.0.0.104").build(),
                OUT,
                Verdict::Tx(IN),
                Some(encap(
                    MAC_DIRECTOR_IN,
                    rs_mac(6),
                    "172.16.0.1",
                    "172.16.0.6",
                    47,
                    10,
                    true,
                    0,
                    &gre,
                    &gre_inner,
                )),
            ),
            raw(
                "an IPv4 service with an IPv6 tunnel server: IPv4-in-IPv6",
                syn("10.0.0.106").build(),
                OUT,
                Verdict::Tx(IN),
                Some(encap(
                    MAC_DIRECTOR_IN,
                    rs_mac(8),
                    "fd16::1",
                    "fd16::8",
                    4,
                    0,
                    true,
                    0,
                    &[],
                    &inner("10.0.0.106"),
                )),
            ),
        ],
    );
}

#[test]
fn errors_and_refusals_ipv4() {
    let mut h = Harness::new(v4_services());
    let c = "10.9.0.7";
    let big = cl(Pkt::tcp(c, 42000, "10.0.0.102", 80, SYN).payload_len(1460));
    let quote = {
        let b = big.ip_bytes();
        b[..548].to_vec()
    };
    // A TCP header cut short after 10 bytes, the IP total length agreeing with the cut.
    let garbage = {
        let mut f = cl(Pkt::tcp(c, 1, "10.0.0.100", 80, SYN)).build();
        f.truncate(ethernet::HEADER_LEN + ipv4::HEADER_LEN + 10);
        edit_ipv4(f, |ip| ip.set_total_len(ipv4::HEADER_LEN as u16 + 10))
    };
    run(
        &mut h,
        vec![
            step(
                "a DF packet too big for the tunnel gets frag-needed with MTU minus overhead",
                big.clone(),
                OUT,
                Verdict::Tx(OUT),
                Some(
                    Pkt::icmp("10.0.0.102", c, 3, 4, 1480, quote)
                        .macs(MAC_DIRECTOR, MAC_GW)
                        .tos(0xc0)
                        .df(false)
                        .ident(8),
                ),
            ),
            step(
                "the same without DF is counted, not fragmented",
                big.clone().df(false).sport(42001),
                OUT,
                Verdict::Drop(DropReason::TooBig),
                None,
            ),
            step(
                "no available real server: ICMP port unreachable, as ip_vs_leave",
                cl(Pkt::tcp(c, 42002, "10.0.0.107", 80, SYN)),
                OUT,
                Verdict::Tx(OUT),
                Some(
                    Pkt::icmp(
                        "10.0.0.107",
                        c,
                        3,
                        3,
                        0,
                        Pkt::tcp(c, 42002, "10.0.0.107", 80, SYN).ip_bytes(),
                    )
                    .macs(MAC_DIRECTOR, MAC_GW)
                    .tos(0xc0)
                    .df(false)
                    .ident(9),
                ),
            ),
            step(
                "TTL 1 through NAT: ICMP time exceeded",
                cl(Pkt::tcp(c, 42003, "10.0.0.100", 80, SYN).ttl(1)),
                OUT,
                Verdict::Tx(OUT),
                Some(
                    Pkt::icmp(
                        "10.0.0.100",
                        c,
                        11,
                        0,
                        0,
                        Pkt::tcp(c, 42003, "10.0.0.100", 80, SYN).ttl(1).ip_bytes(),
                    )
                    .macs(MAC_DIRECTOR, MAC_GW)
                    .tos(0xc0)
                    .df(false)
                    .ident(10),
                ),
            ),
            step(
                "an ACK without a conn is dropped, not left to the kernel's RST",
                cl(Pkt::tcp(c, 42004, "10.0.0.100", 80, ACK)),
                OUT,
                Verdict::Drop(DropReason::NoConn),
                None,
            ),
            step(
                "a RST without a conn likewise",
                cl(Pkt::tcp(c, 42005, "10.0.0.100", 80, RST)),
                OUT,
                Verdict::Drop(DropReason::NoConn),
                None,
            ),
            step(
                "traffic for an address that is not a VIP passes",
                cl(Pkt::tcp(c, 42006, "10.0.0.1", 22, SYN)),
                OUT,
                Verdict::Pass,
                None,
            ),
            step(
                "a port with no service on a VIP passes",
                cl(Pkt::tcp(c, 42007, "10.0.0.100", 81, SYN)),
                OUT,
                Verdict::Pass,
                None,
            ),
            raw(
                "a truncated TCP header to a VIP is dropped as malformed",
                garbage,
                OUT,
                Verdict::Drop(DropReason::Malformed),
                None,
            ),
            raw(
                "a runt frame is malformed",
                vec![0u8; 5],
                OUT,
                Verdict::Drop(DropReason::Malformed),
                None,
            ),
            raw(
                "ARP for an address rvs does not serve passes to the kernel",
                {
                    let mut f = vec![0xff; 6];
                    f.extend_from_slice(&MAC_GW.0);
                    f.extend_from_slice(&[0x08, 0x06]);
                    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
                    f.extend_from_slice(&MAC_GW.0);
                    f.extend_from_slice(&[10, 0, 0, 254, 0, 0, 0, 0, 0, 0, 10, 0, 0, 77]);
                    f
                },
                OUT,
                Verdict::Pass,
                None,
            ),
        ],
    );
    let counters = h.engine.counters();
    assert_eq!(
        counters.drop_count(DropReason::TooBig),
        2,
        "frag-needed and the non-DF drop are both counted"
    );
    assert_eq!(counters.drop_count(DropReason::NoDest), 1);
    assert_eq!(counters.drop_count(DropReason::TtlExceeded), 1);
    assert_eq!(counters.drop_count(DropReason::NoConn), 2);
    assert_eq!(counters.drop_count(DropReason::Malformed), 2);
    assert_eq!(counters.pass, 3);
    assert_eq!(counters.icmp_sent, 3);
}

#[test]
fn fragments_to_a_vip_are_dropped_and_counted() {
    let mut h = Harness::new(v4_services());
    let dgram = cl(Pkt::udp("10.9.0.8", 5000, "10.0.0.100", 53).payload(b"abcdefgh"))
        .df(false)
        .build();
    run(
        &mut h,
        vec![raw(
            "a later fragment (offset 8) of a datagram to a VIP",
            edit_ipv4(dgram, |ip| ip.set_frag_offset(8)),
            OUT,
            Verdict::Drop(DropReason::Fragment),
            None,
        )],
    );
    assert_eq!(h.engine.counters().drop_count(DropReason::Fragment), 1);
}

#[test]
fn icmp_errors_follow_their_conn_ipv4() {
    let mut h = Harness::new(v4_services());
    let c = "10.9.0.9";
    // Open a TCP and a UDP conn through NAT.
    run(
        &mut h,
        vec![
            step(
                "tcp syn",
                cl(Pkt::tcp(c, 43000, "10.0.0.100", 80, SYN)),
                OUT,
                Verdict::Tx(IN),
                None,
            ),
            step(
                "udp",
                cl(Pkt::udp(c, 43001, "10.0.0.100", 53).payload(b"q")),
                OUT,
                Verdict::Tx(IN),
                None,
            ),
        ],
    );
    // The client's router says our reply (VIP:80 → client) was too big.
    let reply_seen_by_client = Pkt::tcp("10.0.0.100", 80, c, 43000, SYNACK)
        .ttl(50)
        .ip_bytes();
    let reply_as_rs_sent = Pkt::tcp("172.16.0.2", 80, c, 43000, SYNACK)
        .ttl(50)
        .ip_bytes();
    // The real server says the client's datagram hit a closed port.
    let dgram_seen_by_rs = Pkt::udp(c, 43001, "172.16.0.2", 5353)
        .payload(b"q")
        .ttl(63)
        .ip_bytes();
    let dgram_as_client_sent = Pkt::udp(c, 43001, "10.0.0.100", 53)
        .payload(b"q")
        .ttl(63)
        .ip_bytes();
    run(
        &mut h,
        vec![
            step(
                "frag-needed from the client side goes to the real server, quote translated",
                cl(Pkt::icmp(
                    "10.9.0.254",
                    "10.0.0.100",
                    3,
                    4,
                    1400,
                    reply_seen_by_client[..28].to_vec(),
                )),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(
                    2,
                    Pkt::icmp(
                        "10.9.0.254",
                        "172.16.0.2",
                        3,
                        4,
                        1400,
                        reply_as_rs_sent[..28].to_vec(),
                    )
                    .ttl(63),
                )),
            ),
            step(
                "port unreachable from the real server goes to the client, from the VIP",
                rs(
                    2,
                    Pkt::icmp("172.16.0.2", c, 3, 3, 0, dgram_seen_by_rs.clone()),
                ),
                IN,
                Verdict::Tx(OUT),
                Some(to_cl(
                    Pkt::icmp("10.0.0.100", c, 3, 3, 0, dgram_as_client_sent.clone()).ttl(63),
                )),
            ),
            step(
                "an error about no conn passes",
                cl(Pkt::icmp(
                    "10.9.0.254",
                    "10.0.0.100",
                    3,
                    4,
                    1400,
                    Pkt::tcp("10.0.0.100", 80, c, 1, SYNACK).ip_bytes()[..28].to_vec(),
                )),
                OUT,
                Verdict::Pass,
                None,
            ),
        ],
    );
    assert_eq!(h.engine.counters().icmp_related, 2);
}

fn v6_services() -> Vec<std::sync::Arc<rvs_engine::ServiceConfig>> {
    vec![
        Svc::tcp("fd00::100", 80, "rr")
            .dest("fd16::2", 8080, FwdMethod::Masq, 1)
            .build(),
        Svc::tcp("fd00::101", 80, "rr")
            .dest("fd16::3", 80, FwdMethod::Route, 1)
            .build(),
        Svc::tcp("fd00::102", 80, "rr")
            .dest("172.16.0.4", 80, tun(TunType::Ipip, TunCsum::NoCsum), 1)
            .build(),
        Svc::tcp("fd00::103", 80, "rr")
            .dest("fd16::5", 80, tun(TunType::Ipip, TunCsum::NoCsum), 1)
            .build(),
        Svc::new(Proto::Udp, "fd00::100", 53, "rr")
            .dest("fd16::2", 53, FwdMethod::Masq, 1)
            .build(),
        Svc::tcp("fd00::107", 80, "rr")
            .dest("fd16::2", 80, FwdMethod::Masq, 0)
            .build(),
    ]
}

#[test]
fn ipv6_nat_dr_tun_and_errors() {
    let mut h = Harness::new(v6_services());
    let c = "fd09::5";
    let inner = |vip: &str| Pkt::tcp(c, 44000, vip, 80, SYN).ttl(63).ip_bytes();
    run(
        &mut h,
        vec![
            step(
                "IPv6 NAT in, port mapped",
                cl(Pkt::tcp(c, 44000, "fd00::100", 80, SYN)),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(2, Pkt::tcp(c, 44000, "fd16::2", 8080, SYN).ttl(63))),
            ),
            step(
                "IPv6 NAT out",
                rs(2, Pkt::tcp("fd16::2", 8080, c, 44000, SYNACK)),
                IN,
                Verdict::Tx(OUT),
                Some(to_cl(Pkt::tcp("fd00::100", 80, c, 44000, SYNACK).ttl(63))),
            ),
            step(
                "IPv6 UDP NAT",
                cl(Pkt::udp(c, 44001, "fd00::100", 53).payload(b"v6q")),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(
                    2,
                    Pkt::udp(c, 44001, "fd16::2", 53).payload(b"v6q").ttl(63),
                )),
            ),
            step(
                "IPv6 DR",
                cl(Pkt::tcp(c, 44000, "fd00::101", 80, SYN)),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(3, Pkt::tcp(c, 44000, "fd00::101", 80, SYN).ttl(63))),
            ),
            raw(
                "an IPv6 service with an IPv4 tunnel server: IPv6-in-IPv4 (proto 41), DF set",
                cl(Pkt::tcp(c, 44000, "fd00::102", 80, SYN)).build(),
                OUT,
                Verdict::Tx(IN),
                Some(encap(
                    MAC_DIRECTOR_IN,
                    rs_mac(4),
                    "172.16.0.1",
                    "172.16.0.4",
                    41,
                    8,
                    true,
                    0,
                    &[],
                    &inner("fd00::102"),
                )),
            ),
            raw(
                "IPv6-in-IPv6",
                cl(Pkt::tcp(c, 44000, "fd00::103", 80, SYN)).build(),
                OUT,
                Verdict::Tx(IN),
                Some(encap(
                    MAC_DIRECTOR_IN,
                    rs_mac(5),
                    "fd16::1",
                    "fd16::5",
                    41,
                    0,
                    true,
                    0,
                    &[],
                    &inner("fd00::103"),
                )),
            ),
            step(
                "no real server: ICMPv6 port unreachable",
                cl(Pkt::tcp(c, 44002, "fd00::107", 80, SYN)),
                OUT,
                Verdict::Tx(OUT),
                Some(
                    Pkt::icmp(
                        "fd00::107",
                        c,
                        1,
                        4,
                        0,
                        Pkt::tcp(c, 44002, "fd00::107", 80, SYN).ip_bytes(),
                    )
                    .macs(MAC_DIRECTOR, MAC_GW),
                ),
            ),
            step(
                "hop limit 1: ICMPv6 time exceeded",
                cl(Pkt::tcp(c, 44003, "fd00::100", 80, SYN).ttl(1)),
                OUT,
                Verdict::Tx(OUT),
                Some(
                    Pkt::icmp(
                        "fd00::100",
                        c,
                        3,
                        0,
                        0,
                        Pkt::tcp(c, 44003, "fd00::100", 80, SYN).ttl(1).ip_bytes(),
                    )
                    .macs(MAC_DIRECTOR, MAC_GW),
                ),
            ),
            step(
                "packet too big from the client side follows the NAT conn (ICMPv6 checksum redone)",
                cl(Pkt::icmp(
                    "fd09::fe",
                    "fd00::100",
                    2,
                    0,
                    1280,
                    Pkt::tcp("fd00::100", 80, c, 44000, SYNACK)
                        .ttl(60)
                        .ip_bytes(),
                )),
                OUT,
                Verdict::Tx(IN),
                Some(to_rs(
                    2,
                    Pkt::icmp(
                        "fd09::fe",
                        "fd16::2",
                        2,
                        0,
                        1280,
                        Pkt::tcp("fd16::2", 8080, c, 44000, SYNACK)
                            .ttl(60)
                            .ip_bytes(),
                    )
                    .ttl(63),
                )),
            ),
        ],
    );
}

#[test]
fn vlan_tagged_frames_keep_their_tag() {
    let mut h = Harness::new(v4_services());
    let c = "10.9.0.10";
    run(
        &mut h,
        vec![step(
            "DR keeps the VLAN tag",
            cl(Pkt::tcp(c, 45000, "10.0.0.101", 80, SYN)).vlan(42),
            OUT,
            Verdict::Tx(IN),
            Some(to_rs(3, Pkt::tcp(c, 45000, "10.0.0.101", 80, SYN).ttl(63)).vlan(42)),
        )],
    );
}

/// The FULLNAT local address and port of the conn of client `caddr:cport`, from the
/// engine's conn export: the engine picks the port, so the rows read it from there.
fn local_of(h: &Harness, caddr: &str, cport: u16) -> (IpAddr, u16) {
    let caddr: IpAddr = caddr.parse().unwrap();
    h.engine
        .conns(h.now)
        .into_iter()
        .find(|x| !x.template && x.caddr == caddr && x.cport == cport)
        .unwrap_or_else(|| panic!("no conn of {caddr}:{cport}"))
        .laddr
        .expect("a FULLNAT local address")
}

/// FULLNAT rows for one family: a client's SYN, the real server's reply to the local
/// address, and a second client on the same port, which needs a local port of its own.
fn fullnat_rows(
    c: &'static str,
    c2: &'static str,
    vip: &'static str,
    la: &'static str,
    rs7: &'static str,
) -> Vec<Step> {
    vec![
        row(
            "SYN: the client becomes a local address and port, the VIP the real server",
            Frame::Bytes(cl(Pkt::tcp(c, 46000, vip, 80, SYN)).build()),
            OUT,
            Verdict::Tx(IN),
            Some(later(move |h| {
                let lport = local_of(h, c, 46000).1;
                to_rs(7, Pkt::tcp(la, lport, rs7, 8080, SYN).ttl(63))
            })),
        ),
        row(
            "the real server answers the local address; the client sees the VIP",
            later(move |h| {
                let lport = local_of(h, c, 46000).1;
                rs(7, Pkt::tcp(rs7, 8080, la, lport, SYNACK))
            }),
            IN,
            Verdict::Tx(OUT),
            Some(Frame::Bytes(
                to_cl(Pkt::tcp(vip, 80, c, 46000, SYNACK).ttl(63)).build(),
            )),
        ),
        row(
            "a second client on the same port gets its own local port",
            Frame::Bytes(cl(Pkt::tcp(c2, 46000, vip, 80, SYN)).build()),
            OUT,
            Verdict::Tx(IN),
            Some(later(move |h| {
                let lport = local_of(h, c2, 46000).1;
                to_rs(7, Pkt::tcp(la, lport, rs7, 8080, SYN).ttl(63))
            })),
        ),
    ]
}

#[test]
fn fullnat_translates_both_ends() {
    let svcs = vec![Svc::tcp("10.0.0.105", 80, "rr")
        .laddr("172.16.0.250")
        .dest("172.16.0.7", 8080, FwdMethod::FullNat, 1)
        .build()];
    let mut h = Harness::new(svcs);
    let (c, c2) = ("10.9.0.11", "10.9.0.12");
    run(
        &mut h,
        fullnat_rows(c, c2, "10.0.0.105", "172.16.0.250", "172.16.0.7"),
    );
    let (laddr, lport) = local_of(&h, c, 46000);
    assert_eq!(laddr.to_string(), "172.16.0.250");
    assert!(lport >= 1024, "local port {lport}");
    assert_ne!(
        local_of(&h, c2, 46000).1,
        lport,
        "two clients' reply keys must not collide"
    );
}

#[test]
fn fullnat_ipv6() {
    let svcs = vec![Svc::tcp("fd00::105", 80, "rr")
        .laddr("fd16::fa")
        .dest("fd16::7", 8080, FwdMethod::FullNat, 1)
        .build()];
    let mut h = Harness::new(svcs);
    let (c, c2) = ("fd09::11", "fd09::12");
    run(
        &mut h,
        fullnat_rows(c, c2, "fd00::105", "fd16::fa", "fd16::7"),
    );
    assert_eq!(local_of(&h, c, 46000).0.to_string(), "fd16::fa");
    assert_ne!(local_of(&h, c2, 46000).1, local_of(&h, c, 46000).1);
}

#[test]
fn an_icmp_error_quoting_only_an_ip_header_is_passed_not_parsed_past() {
    // Regression: a port-0 persistent NAT service accepts a conn from port 0, and an ICMP
    // error quoting just the IP header of a packet of that conn used to be rewritten at
    // offsets beyond the frame.
    let svcs = vec![Svc::tcp("10.0.0.106", 0, "wlc")
        .persist(20, 32)
        .dest("172.16.0.9", 0, FwdMethod::Masq, 1)
        .build()];
    let mut h = Harness::new(svcs);
    let ip_header_only = Pkt::tcp("10.0.0.106", 0, "10.9.0.1", 0, SYNACK).ip_bytes()
        [..rvs_wire::ipv4::HEADER_LEN]
        .to_vec();
    run(
        &mut h,
        vec![
            step(
                "a conn from port 0 to a port-0 persistent NAT service",
                cl(Pkt::tcp("10.9.0.1", 0, "10.0.0.106", 0, SYN)),
                OUT,
                Verdict::Tx(IN),
                None,
            ),
            step(
                "an ICMP error quoting only the IP header of its reply passes",
                cl(Pkt::icmp(
                    "10.9.0.254",
                    "10.0.0.106",
                    3,
                    4,
                    1400,
                    ip_header_only,
                )),
                OUT,
                Verdict::Pass,
                None,
            ),
        ],
    );
}

#[test]
fn no_icmp_error_is_sent_about_an_icmp_error() {
    let mut h = Harness::new(v4_services());
    let c = "10.9.0.20";
    let quote = Pkt::tcp("10.0.0.101", 80, c, 47000, SYNACK).ip_bytes()[..28].to_vec();
    run(
        &mut h,
        vec![
            step(
                "a DR conn",
                cl(Pkt::tcp(c, 47000, "10.0.0.101", 80, SYN)),
                OUT,
                Verdict::Tx(IN),
                None,
            ),
            step(
                "its ICMP error relayed with TTL 1 is dropped silently (RFC 1122), not answered",
                cl(Pkt::icmp("10.9.0.254", "10.0.0.101", 3, 4, 1400, quote).ttl(1)),
                OUT,
                Verdict::Drop(DropReason::TtlExceeded),
                None,
            ),
        ],
    );
    assert_eq!(h.engine.counters().icmp_sent, 0);
}

#[test]
fn process_batch_gives_the_same_verdicts_and_frames_as_process() {
    // Mixed directions, families, new and established conns, and junk, in batches that
    // straddle the engine's internal stage size.
    let mut frames = vec![];
    for i in 0..40u16 {
        let c = format!("10.9.1.{}", i % 7);
        frames.push((
            cl(Pkt::tcp(&c, 3000 + i, "10.0.0.100", 80, SYN)).build(),
            OUT,
        ));
        frames.push((
            rs(2, Pkt::tcp("172.16.0.2", 80, &c, 3000 + i, SYNACK)).build(),
            IN,
        ));
        frames.push((
            cl(Pkt::tcp(&c, 3000 + i, "10.0.0.100", 80, ACK)).build(),
            OUT,
        ));
        frames.push((
            cl(Pkt::tcp(&c, 3000 + i, "10.0.0.102", 80, SYN)).build(),
            OUT,
        ));
        frames.push((cl(Pkt::udp(&c, 3000 + i, "10.0.0.100", 53)).build(), OUT));
        if i % 5 == 0 {
            frames.push((vec![0xab; 30], OUT));
            frames.push((cl(Pkt::tcp(&c, 1, "10.0.0.1", 22, SYN)).build(), OUT));
        }
    }
    let mut one = Harness::new(v4_services());
    let expected: Vec<_> = frames.iter().map(|(f, p)| one.send(f, *p)).collect();
    let mut batch = Harness::new(v4_services());
    let mut got = vec![];
    // Batches are per ingress port: cut the sequence into runs of one port, 45 at most.
    let mut i = 0;
    while i < frames.len() {
        let port = frames[i].1;
        let mut j = i;
        while j < frames.len() && frames[j].1 == port && j - i < 45 {
            j += 1;
        }
        let mut bufs: Vec<Vec<u8>> = frames[i..j]
            .iter()
            .map(|(f, _)| {
                let mut b = vec![0u8; HEADROOM + 1600];
                b[HEADROOM..HEADROOM + f.len()].copy_from_slice(f);
                b
            })
            .collect();
        let lens: Vec<usize> = frames[i..j].iter().map(|(f, _)| f.len()).collect();
        let mut pkts: Vec<rvs_engine::PacketBuf> = bufs
            .iter_mut()
            .zip(&lens)
            .map(|(b, &l)| rvs_engine::PacketBuf::new(b, HEADROOM, l))
            .collect();
        let mut verdicts = vec![Verdict::Pass; pkts.len()];
        batch
            .engine
            .process_batch(&mut pkts, port, batch.now, &mut verdicts);
        for (p, v) in pkts.iter().zip(verdicts) {
            got.push((v, p.data().to_vec()));
        }
        i = j;
    }
    assert_eq!(got.len(), expected.len());
    for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g.0, e.0, "frame {k}: verdict");
        assert_eq!(hex(&g.1), hex(&e.1), "frame {k}: bytes");
    }
    assert_eq!(batch.engine.counters(), one.engine.counters());
    batch.engine.check_invariants().unwrap();
}
