//! IPVS semantics through the engine: state transitions and timeouts, persistence
//! templates, port reuse, quiesce and drain, table pressure, thresholds, config swaps.

use proptest::prelude::*;
use rvs_engine::config::{FwdMethod, FwmarkRule, Settings};
use rvs_engine::testkit::*;
use rvs_engine::topo::*;
use rvs_engine::{Config, ConnInfo, DropReason, Verdict};
use rvs_proto::tcp::TcpState;
use rvs_proto::timeouts::Timeouts;
use rvs_proto::Proto;
use std::sync::Arc;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

fn cl(p: Pkt) -> Vec<u8> {
    p.macs(MAC_GW, MAC_DIRECTOR).build()
}

fn from_rs(n: u8, p: Pkt) -> Vec<u8> {
    p.macs(rs_mac(n), MAC_DIRECTOR_IN).build()
}

/// The one non-template conn of a client port.
fn conn(h: &Harness, cport: u16) -> Option<ConnInfo> {
    h.engine
        .conns(h.now)
        .into_iter()
        .find(|c| !c.template && c.cport == cport)
}

fn templates(h: &Harness) -> Vec<ConnInfo> {
    h.engine
        .conns(h.now)
        .into_iter()
        .filter(|c| c.template)
        .collect()
}

/// Which real server (last octet) a frame leaving toward the inside went to.
fn rs_of(out: &[u8]) -> u8 {
    out[5]
}

fn nat2(sched: &str) -> Arc<rvs_engine::ServiceConfig> {
    Svc::tcp("10.0.0.100", 80, sched)
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .dest("172.16.0.3", 80, FwdMethod::Masq, 1)
        .build()
}

fn nat1() -> Arc<rvs_engine::ServiceConfig> {
    Svc::tcp("10.0.0.100", 80, "rr")
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .build()
}

/// Config index of a real server of `nat2` (172.16.0.2 was added first).
fn idx(rs: u8) -> usize {
    (rs - 2) as usize
}

/// A full three-way handshake through a NAT VIP; returns the real server's last octet.
fn open(h: &mut Harness, caddr: &str, cport: u16, vip: &str) -> u8 {
    let (v, out) = h.send(&cl(Pkt::tcp(caddr, cport, vip, 80, SYN)), OUT);
    assert_eq!(v, Verdict::Tx(IN), "SYN {caddr}:{cport}");
    let rs = rs_of(&out);
    h.send(
        &from_rs(
            rs,
            Pkt::tcp(&format!("172.16.0.{rs}"), 80, caddr, cport, SYN | ACK),
        ),
        IN,
    );
    h.send(&cl(Pkt::tcp(caddr, cport, vip, 80, ACK)), OUT);
    rs
}

fn check(h: &Harness) {
    h.engine.check_invariants().expect("engine invariants");
}

#[test]
fn tcp_handshake_and_close_follow_ipvs_states_and_timeouts() {
    let mut h = Harness::new(vec![nat1()]);
    let c = "10.9.0.1";
    let t = Timeouts::default();
    let steps: [(bool, u8, TcpState); 6] = [
        (false, SYN, TcpState::SynRecv),
        // The kernel's OUTPUT table keeps SYN_RECV on the SYN-ACK; the client's ACK completes it.
        (true, SYN | ACK, TcpState::SynRecv),
        (false, ACK, TcpState::Established),
        // A client FIN moves ESTABLISHED to CLOSE_WAIT in IPVS's INPUT table, the server's
        // FIN then to TIME_WAIT.
        (false, FIN | ACK, TcpState::CloseWait),
        (true, FIN | ACK, TcpState::TimeWait),
        (false, ACK, TcpState::TimeWait),
    ];
    for (output, flags, want) in steps {
        let (v, _) = if output {
            h.send(&from_rs(2, Pkt::tcp("172.16.0.2", 80, c, 5000, flags)), IN)
        } else {
            h.send(&cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, flags)), OUT)
        };
        assert!(matches!(v, Verdict::Tx(_)), "{v:?}");
        let ci = conn(&h, 5000).unwrap();
        assert_eq!(
            ci.state, want as u8,
            "after flags {flags:#x} output={output}"
        );
        assert_eq!(
            ci.expires_ms,
            t.tcp(want) * 1000,
            "timeout of {}",
            want.name()
        );
        check(&h);
        h.advance_ms(10);
    }
    // TIME_WAIT lasts exactly 120 s from the last packet (10 ms ago).
    h.advance_ms(120_000 - 10 - 1);
    assert!(conn(&h, 5000).is_some());
    h.advance_ms(1);
    assert!(conn(&h, 5000).is_none());
    h.poll();
    assert_eq!(h.dest_counts(0), vec![(0, 0, 0)]);
    check(&h);
}

#[test]
fn counters_move_between_active_and_inactive_as_the_kernel_counts() {
    let mut h = Harness::new(vec![nat1()]);
    h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    // SYN_RECV counts as active in current kernels (tcp_state_active_table).
    assert_eq!(h.dest_counts(0)[0], (1, 0, 0));
    h.send(
        &cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, FIN | ACK)),
        OUT,
    );
    assert_eq!(h.dest_counts(0)[0], (0, 1, 0));
    // UDP is never active.
    let mut h = Harness::new(vec![Svc::new(Proto::Udp, "10.0.0.100", 53, "rr")
        .dest("172.16.0.2", 53, FwdMethod::Masq, 1)
        .build()]);
    h.send(&cl(Pkt::udp("10.9.0.1", 5000, "10.0.0.100", 53)), OUT);
    assert_eq!(h.dest_counts(0)[0], (0, 1, 0));
    check(&h);
}

#[test]
fn an_embryonic_conn_expires_after_syn_recv_timeout() {
    let mut h = Harness::new(vec![nat2("rr")]);
    h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    h.advance_ms(60_000 - 1);
    assert!(conn(&h, 5000).is_some());
    h.advance_ms(1);
    assert!(conn(&h, 5000).is_none());
    let (v, _) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, ACK)), OUT);
    assert_eq!(v, Verdict::Drop(DropReason::NoConn));
    check(&h);
}

#[test]
fn set_timeouts_apply_like_ipvsadm_set() {
    let mut s = Settings::default();
    s.timeouts.set(30, 5, 7);
    let mut h = Harness::with(
        config_with(
            vec![
                nat1(),
                Svc::new(Proto::Udp, "10.0.0.100", 53, "rr")
                    .dest("172.16.0.2", 53, FwdMethod::Masq, 1)
                    .build(),
            ],
            s,
        ),
        64,
    );
    h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    h.send(
        &from_rs(2, Pkt::tcp("172.16.0.2", 80, "10.9.0.1", 5000, SYN | ACK)),
        IN,
    );
    h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, ACK)), OUT);
    assert_eq!(conn(&h, 5000).unwrap().expires_ms, 30_000);
    // The server closes first: FIN_WAIT, whose timeout is ipvsadm's "tcpfin".
    h.send(
        &from_rs(2, Pkt::tcp("172.16.0.2", 80, "10.9.0.1", 5000, FIN | ACK)),
        IN,
    );
    assert_eq!(conn(&h, 5000).unwrap().state, TcpState::FinWait as u8);
    assert_eq!(conn(&h, 5000).unwrap().expires_ms, 5_000);
    h.send(&cl(Pkt::udp("10.9.0.1", 5001, "10.0.0.100", 53)), OUT);
    assert_eq!(conn(&h, 5001).unwrap().expires_ms, 7_000);
}

#[derive(Clone, Debug)]
struct Ev {
    output: bool,
    flags: u8,
    gap_ms: u64,
}

proptest! {
    /// Any sequence of segments in either direction drives the engine's conn exactly as
    /// the kernel's table (rvs-proto) and timeouts say, for NAT (both ways seen) and DR
    /// (input only).
    #[test]
    fn engine_state_matches_the_ipvs_tables(
        dr in any::<bool>(),
        evs in prop::collection::vec((any::<bool>(), prop::sample::select(vec![SYN, SYN|ACK, ACK, FIN|ACK, FIN, RST, RST|ACK, 0x08, 0]), 0u64..3000)
            .prop_map(|(output, flags, gap_ms)| Ev { output, flags, gap_ms }), 1..25)
    ) {
        let fwd = if dr { FwdMethod::Route } else { FwdMethod::Masq };
        let mut h = Harness::new(vec![Svc::tcp("10.0.0.100", 80, "rr").dest("172.16.0.2", 80, fwd, 1).build()]);
        let t = Timeouts::default();
        let (v, _) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
        prop_assert_eq!(v, Verdict::Tx(IN));
        let mut state = TcpState::SynRecv;
        let mut noout = dr;
        for ev in evs {
            h.advance_ms(ev.gap_ms);
            let alive = conn(&h, 5000).is_some();
            if !alive { break; }
            // DR replies do not cross the director; only NAT sees output.
            let output = ev.output && !dr;
            let frame = if output {
                from_rs(2, Pkt::tcp("172.16.0.2", 80, "10.9.0.1", 5000, ev.flags))
            } else {
                cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, ev.flags))
            };
            let reuse = !output && ev.flags & (SYN | ACK | RST) == SYN && matches!(state, TcpState::TimeWait | TcpState::Close);
            h.send(&frame, if output { IN } else { OUT });
            if reuse {
                // Rescheduled as a brand-new conn.
                state = TcpState::SynRecv;
                noout = dr;
            } else {
                state = rvs_proto::tcp::set_tcp_state(state, &mut noout, output, ev.flags, false);
            }
            let ci = conn(&h, 5000).expect("conn still there");
            prop_assert_eq!(ci.state, state as u8);
            prop_assert_eq!(ci.expires_ms, t.tcp(state) * 1000);
            h.engine.check_invariants().map_err(TestCaseError::fail)?;
        }
    }
}

#[test]
fn templates_keep_a_client_on_its_server_and_expire_exactly() {
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .persist(300, 32)
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .dest("172.16.0.3", 80, FwdMethod::Masq, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    let (_, out) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    let first = rs_of(&out);
    let tpl = templates(&h);
    assert_eq!(tpl.len(), 1);
    assert_eq!(tpl[0].expires_ms, 300_000);
    assert_eq!(tpl[0].cport, 0);
    assert_eq!(
        h.dest_counts(0).iter().map(|x| x.2).sum::<u32>(),
        1,
        "one persistent conn counted"
    );
    // rr would alternate; persistence keeps the client on the same server.
    for p in 5001..5005 {
        let (_, out) = h.send(&cl(Pkt::tcp("10.9.0.1", p, "10.0.0.100", 80, SYN)), OUT);
        assert_eq!(rs_of(&out), first);
    }
    // Another client is scheduled normally.
    let (_, out) = h.send(&cl(Pkt::tcp("10.9.0.2", 5000, "10.0.0.100", 80, SYN)), OUT);
    assert_ne!(rs_of(&out), first);
    // Let the half-open conns of client 1 expire (SYN_RECV, 60 s); the template outlives them.
    h.advance_ms(61_000);
    h.poll();
    check(&h);
    let t1 = templates(&h)
        .into_iter()
        .find(|t| t.caddr.to_string() == "10.9.0.1")
        .unwrap();
    // Re-armed to 300 s by the last conn that used it, 61 s ago and a few ms.
    assert_eq!(t1.expires_ms, 300_000 - 61_000);
    let deadline = h.now + t1.expires_ms as u64;
    h.now = deadline - 1;
    assert!(
        templates(&h)
            .iter()
            .any(|t| t.caddr.to_string() == "10.9.0.1"),
        "alive 1 ms before"
    );
    h.now = deadline;
    assert!(
        !templates(&h)
            .iter()
            .any(|t| t.caddr.to_string() == "10.9.0.1"),
        "gone exactly at the deadline"
    );
    h.poll();
    check(&h);
}

#[test]
fn a_template_lives_while_it_controls_conns() {
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .persist(5, 32)
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    h.send(
        &from_rs(2, Pkt::tcp("172.16.0.2", 80, "10.9.0.1", 5000, SYN | ACK)),
        IN,
    );
    h.advance_ms(6_000);
    h.poll();
    assert_eq!(
        templates(&h).len(),
        1,
        "the ESTABLISHED conn holds its template past 5 s"
    );
    check(&h);
}

#[test]
fn persistence_netmask_groups_clients() {
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .persist(300, 24)
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .dest("172.16.0.3", 80, FwdMethod::Masq, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    let (_, a) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    let (_, b) = h.send(&cl(Pkt::tcp("10.9.0.77", 5000, "10.0.0.100", 80, SYN)), OUT);
    let (_, c) = h.send(&cl(Pkt::tcp("10.9.1.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    assert_eq!(rs_of(&a), rs_of(&b), "same /24");
    assert_ne!(
        rs_of(&a),
        rs_of(&c),
        "another /24 is scheduled (rr moves on)"
    );
    assert_eq!(
        templates(&h)[0].caddr.to_string().rsplit('.').next(),
        Some("0")
    );
}

#[test]
fn fwmark_rules_group_ports_into_one_persistent_service() {
    let svc = Svc::fwmark(1, false, "rr")
        .persist(300, 32)
        .dest("172.16.0.2", 0, FwdMethod::Route, 1)
        .dest("172.16.0.3", 0, FwdMethod::Route, 1)
        .build();
    let rules = vec![
        FwmarkRule {
            proto: Some(Proto::Tcp),
            daddr: "10.0.0.100".parse().unwrap(),
            prefix: 32,
            dport_lo: 80,
            dport_hi: 80,
            mark: 1,
        },
        FwmarkRule {
            proto: Some(Proto::Tcp),
            daddr: "10.0.0.100".parse().unwrap(),
            prefix: 32,
            dport_lo: 443,
            dport_hi: 443,
            mark: 1,
        },
    ];
    let cfg = Config::new(vec![svc], rules, Settings::default(), 1).unwrap();
    let mut h = Harness::with(cfg, 64);
    let (v, a) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    assert_eq!(v, Verdict::Tx(IN));
    let (_, b) = h.send(&cl(Pkt::tcp("10.9.0.1", 5001, "10.0.0.100", 443, SYN)), OUT);
    assert_eq!(rs_of(&a), rs_of(&b), "80 and 443 share the fwmark template");
    let (v, _) = h.send(&cl(Pkt::tcp("10.9.0.1", 5002, "10.0.0.100", 22, SYN)), OUT);
    assert_eq!(v, Verdict::Pass, "unmarked port");
    assert_eq!(
        templates(&h)[0].proto,
        0,
        "fwmark templates use IPPROTO_IP as IPVS does"
    );
}

#[test]
fn a_syn_reusing_a_time_wait_tuple_is_rescheduled_at_once() {
    let mut h = Harness::new(vec![nat2("rr")]);
    let c = "10.9.0.1";
    let (_, first) = h.send(&cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, SYN)), OUT);
    h.send(
        &from_rs(
            rs_of(&first),
            Pkt::tcp(
                &format!("172.16.0.{}", rs_of(&first)),
                80,
                c,
                5000,
                SYN | ACK,
            ),
        ),
        IN,
    );
    h.send(&cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, FIN | ACK)), OUT);
    h.send(
        &from_rs(
            rs_of(&first),
            Pkt::tcp(
                &format!("172.16.0.{}", rs_of(&first)),
                80,
                c,
                5000,
                FIN | ACK,
            ),
        ),
        IN,
    );
    assert_eq!(conn(&h, 5000).unwrap().state, TcpState::TimeWait as u8);
    let (v, again) = h.send(&cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, SYN)), OUT);
    assert_eq!(v, Verdict::Tx(IN), "never dropped: no 1 s retransmit stall");
    assert_ne!(
        rs_of(&again),
        rs_of(&first),
        "a fresh scheduling decision (rr moved on)"
    );
    assert_eq!(conn(&h, 5000).unwrap().state, TcpState::SynRecv as u8);
    check(&h);
}

fn swap_weights(h: &Harness, w: [u32; 2], remove_second: bool) {
    // Same dest ids: rebuild the config from the current one with new weights.
    let cur = h.shared.load_full();
    let mut s = (*cur.services()[0]).clone();
    s.dests[0].weight = w[0];
    s.dests[1].weight = w[1];
    if remove_second {
        s.dests.remove(1);
    }
    let mut svcs: Vec<_> = cur.services().to_vec();
    svcs[0] = Arc::new(s);
    h.swap(
        Config::new(
            svcs,
            cur.fwmark_rules().to_vec(),
            cur.settings().clone(),
            cur.generation() + 1,
        )
        .unwrap(),
    );
}

#[test]
fn a_syn_on_the_tuple_of_a_quiesced_or_removed_server_goes_elsewhere() {
    let mut h = Harness::new(vec![nat2("rr")]);
    // The kernel lists dests newest first, so rr starts with the last one added.
    let held = open(&mut h, "10.9.0.1", 5000, "10.0.0.100");
    assert_eq!(held, 3);
    // A retransmitted SYN of a half-open conn stays where it was, even while draining.
    let (_, first) = h.send(&cl(Pkt::tcp("10.9.0.1", 5001, "10.0.0.100", 80, SYN)), OUT);
    let mut w = [1, 1];
    w[idx(held)] = 0;
    w[idx(rs_of(&first))] = 0;
    swap_weights(&h, w, false);
    let (_, again) = h.send(&cl(Pkt::tcp("10.9.0.1", 5001, "10.0.0.100", 80, SYN)), OUT);
    assert_eq!(rs_of(&again), rs_of(&first));
    swap_weights(
        &h,
        {
            let mut w = [1, 1];
            w[idx(held)] = 0;
            w
        },
        false,
    );
    // A SYN on the tuple of the established conn is a new connection: rescheduled at once.
    let (v, again) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT);
    assert_eq!(v, Verdict::Tx(IN));
    assert_eq!(rs_of(&again), 2);
    assert_eq!(h.engine.counters().conns_reused, 1);
    check(&h);
}

#[test]
fn quiesce_keeps_existing_conns_and_drain_empties_the_server() {
    let mut h = Harness::new(vec![nat2("rr")]);
    let mut to2 = vec![];
    for p in 0..4 {
        if open(&mut h, "10.9.0.1", 6000 + p, "10.0.0.100") == 2 {
            to2.push(6000 + p);
        }
    }
    assert_eq!(h.dest_counts(0), vec![(2, 0, 0), (2, 0, 0)]);
    swap_weights(&h, [0, 1], false);
    // Existing conns to .2 go on.
    let (v, out) = h.send(
        &cl(Pkt::tcp("10.9.0.1", to2[0], "10.0.0.100", 80, ACK)),
        OUT,
    );
    assert_eq!((v, rs_of(&out)), (Verdict::Tx(IN), 2));
    // New conns only to .3.
    for p in 0..10 {
        let (_, out) = h.send(
            &cl(Pkt::tcp("10.9.0.2", 7000 + p, "10.0.0.100", 80, SYN)),
            OUT,
        );
        assert_eq!(rs_of(&out), 3);
    }
    // Drain: the conns to .2 close and expire; the server is then empty.
    for &p in &to2 {
        h.send(&cl(Pkt::tcp("10.9.0.1", p, "10.0.0.100", 80, RST)), OUT);
    }
    h.advance_ms(10_001);
    h.poll();
    assert_eq!(h.dest_counts(0)[0], (0, 0, 0));
    check(&h);
}

#[test]
fn a_removed_server_keeps_its_conns_unless_expire_nodest_conn() {
    for expire in [false, true] {
        let s = Settings {
            expire_nodest_conn: expire,
            ..Settings::default()
        };
        let udp = Svc::new(Proto::Udp, "10.0.0.100", 53, "rr")
            .dest("172.16.0.2", 53, FwdMethod::Masq, 1)
            .dest("172.16.0.3", 53, FwdMethod::Masq, 1)
            .build();
        let mut h = Harness::with(config_with(vec![udp], s), 64);
        let (_, a) = h.send(&cl(Pkt::udp("10.9.0.1", 5000, "10.0.0.100", 53)), OUT);
        let held = rs_of(&a);
        // Remove the server that holds the conn.
        let cur = h.shared.load_full();
        let mut svc = (*cur.services()[0]).clone();
        svc.dests.remove(idx(held));
        h.swap(Config::new(vec![Arc::new(svc)], vec![], cur.settings().clone(), 2).unwrap());
        let (v, b) = h.send(&cl(Pkt::udp("10.9.0.1", 5000, "10.0.0.100", 53)), OUT);
        assert_eq!(v, Verdict::Tx(IN));
        assert_eq!(rs_of(&b) == held, !expire, "expire_nodest_conn={expire}");
        check(&h);
    }
}

#[test]
fn udp_to_a_removed_server_moves_after_the_grace_period() {
    let udp = Svc::new(Proto::Udp, "10.0.0.100", 53, "rr")
        .dest("172.16.0.2", 53, FwdMethod::Masq, 1)
        .dest("172.16.0.3", 53, FwdMethod::Masq, 1)
        .build();
    let mut h = Harness::new(vec![udp]);
    let (_, a) = h.send(&cl(Pkt::udp("10.9.0.1", 5000, "10.0.0.100", 53)), OUT);
    let held = rs_of(&a);
    let mut w = [1, 1];
    w[idx(held)] = 0;
    swap_weights(&h, w, false);
    // A steady stream, one datagram a second: stays for the 5 s grace, then moves.
    let mut seen = vec![];
    for _ in 0..8 {
        h.advance_ms(1000);
        let (_, out) = h.send(&cl(Pkt::udp("10.9.0.1", 5000, "10.0.0.100", 53)), OUT);
        seen.push(rs_of(&out));
    }
    assert_eq!(&seen[..4], &[held; 4]);
    assert_eq!(*seen.last().unwrap(), 5 - held, "{seen:?}");
    check(&h);
}

#[test]
fn a_full_table_evicts_embryonic_conns_first_then_refuses() {
    let mut h = Harness::with(config(vec![nat2("rr")]), 8);
    // 4 established conns.
    for p in 0..4u16 {
        open(&mut h, "10.9.0.1", 100 + p, "10.0.0.100");
    }
    // 4 half-open ones fill the table.
    for p in 0..4u16 {
        h.send(
            &cl(Pkt::tcp("10.9.0.66", 200 + p, "10.0.0.100", 80, SYN)),
            OUT,
        );
    }
    assert_eq!(h.engine.conn_count().0, 8);
    // A new client still gets in: a SYN_RECV entry makes room.
    let (v, _) = h.send(&cl(Pkt::tcp("10.9.0.2", 300, "10.0.0.100", 80, SYN)), OUT);
    assert_eq!(v, Verdict::Tx(IN));
    assert_eq!(h.engine.table_counters().0.evicted_embryonic, 1);
    assert!(
        conn(&h, 100).is_some() && conn(&h, 103).is_some(),
        "established conns untouched"
    );
    check(&h);
    // Once only established conns are left, a new one is refused and counted.
    let mut h = Harness::with(config(vec![nat2("rr")]), 2);
    for p in 0..2u16 {
        open(&mut h, "10.9.0.1", 100 + p, "10.0.0.100");
    }
    let (v, _) = h.send(&cl(Pkt::tcp("10.9.0.2", 300, "10.0.0.100", 80, SYN)), OUT);
    assert_eq!(v, Verdict::Drop(DropReason::TableFull));
    assert_eq!(h.engine.counters().drop_count(DropReason::TableFull), 1);
    check(&h);
}

#[test]
fn thresholds_stop_and_resume_new_conns_with_the_three_quarter_rule() {
    // Upper threshold 4 only: overloaded at 4 conns, open again below 3 (total*4 < 12).
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .thresholds(4, 0)
        .dest("172.16.0.3", 80, FwdMethod::Masq, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    let mut to2 = vec![];
    for p in 0..8u16 {
        if open(&mut h, "10.9.0.1", 100 + p, "10.0.0.100") == 2 {
            to2.push(100 + p);
        }
    }
    assert_eq!(to2.len(), 4);
    assert!(h.engine.services()[0].dests[0].overloaded);
    let (_, out) = h.send(&cl(Pkt::tcp("10.9.0.1", 200, "10.0.0.100", 80, SYN)), OUT);
    assert_eq!(rs_of(&out), 3, "overloaded server skipped");
    // Close one: 3 left, 3*4 = 12 is not < 12: still overloaded.
    let close = |h: &mut Harness, p: u16| {
        // RST on an established conn: CLOSE, 10 s.
        h.send(&cl(Pkt::tcp("10.9.0.1", p, "10.0.0.100", 80, RST)), OUT);
        h.advance_ms(10_001);
        h.poll();
    };
    close(&mut h, to2[0]);
    assert!(h.engine.services()[0].dests[0].overloaded);
    close(&mut h, to2[1]);
    assert!(
        !h.engine.services()[0].dests[0].overloaded,
        "2*4 < 12: open again"
    );
    check(&h);
}

#[test]
fn a_lower_threshold_reopens_below_it() {
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .thresholds(2, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    for p in 0..2u16 {
        open(&mut h, "10.9.0.1", 100 + p, "10.0.0.100");
    }
    let (v, _) = h.send(&cl(Pkt::tcp("10.9.0.1", 102, "10.0.0.100", 80, SYN)), OUT);
    assert!(
        matches!(v, Verdict::Tx(OUT)),
        "no server left: ICMP unreachable back ({v:?})"
    );
    h.send(&cl(Pkt::tcp("10.9.0.1", 100, "10.0.0.100", 80, RST)), OUT);
    h.advance_ms(10_001);
    h.poll();
    assert!(
        h.engine.services()[0].dests[0].overloaded,
        "1 is not below the lower threshold 1"
    );
    h.send(&cl(Pkt::tcp("10.9.0.1", 101, "10.0.0.100", 80, RST)), OUT);
    h.advance_ms(10_001);
    h.poll();
    assert!(!h.engine.services()[0].dests[0].overloaded);
}

#[test]
fn a_config_change_to_one_service_leaves_the_others_alone() {
    let a = nat2("rr");
    let b = Svc::tcp("10.0.0.101", 80, "rr")
        .dest("172.16.0.4", 80, FwdMethod::Route, 1)
        .dest("172.16.0.5", 80, FwdMethod::Route, 1)
        .build();
    let mut h = Harness::new(vec![a, b.clone()]);
    let (_, o1) = h.send(&cl(Pkt::tcp("10.9.0.1", 100, "10.0.0.101", 80, SYN)), OUT);
    let first = rs_of(&o1);
    // Change service A only (weights), keep B's Arc as it was.
    let cur = h.shared.load_full();
    let mut sa = (*cur.services()[0]).clone();
    sa.dests[0].weight = 5;
    h.swap(Config::new(vec![Arc::new(sa), b], vec![], Settings::default(), 2).unwrap());
    // B's round robin continues where it was, and its conn still forwards.
    let (_, o2) = h.send(&cl(Pkt::tcp("10.9.0.1", 101, "10.0.0.101", 80, SYN)), OUT);
    assert_eq!(rs_of(&o2), 9 - first, "rr went on to the other server");
    let (v, o3) = h.send(&cl(Pkt::tcp("10.9.0.1", 100, "10.0.0.101", 80, ACK)), OUT);
    assert_eq!((v, rs_of(&o3)), (Verdict::Tx(IN), first));
    check(&h);
}

#[test]
fn one_packet_scheduling_makes_no_conn() {
    let svc = Svc::new(Proto::Udp, "10.0.0.100", 53, "rr")
        .ops()
        .dest("172.16.0.2", 53, FwdMethod::Route, 1)
        .dest("172.16.0.3", 53, FwdMethod::Route, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    let (_, a) = h.send(&cl(Pkt::udp("10.9.0.1", 5000, "10.0.0.100", 53)), OUT);
    let (_, b) = h.send(&cl(Pkt::udp("10.9.0.1", 5000, "10.0.0.100", 53)), OUT);
    assert_ne!(rs_of(&a), rs_of(&b), "each datagram scheduled");
    assert_eq!(h.engine.conn_count().0, 0);
    assert_eq!(h.engine.services()[0].stats.conns, 2);
    // Replies of NAT would need conntrack, which rvs has not: refused up front.
    let nat = Svc::new(Proto::Udp, "10.0.0.100", 53, "rr")
        .ops()
        .dest("172.16.0.2", 53, FwdMethod::Masq, 1)
        .build();
    assert_eq!(
        Config::new(vec![nat], vec![], Settings::default(), 1).unwrap_err(),
        rvs_engine::ConfigError::OpsNeedsDirectReplies
    );
}

#[test]
fn sloppy_tcp_accepts_a_mid_stream_packet() {
    let s = Settings {
        sloppy_tcp: true,
        ..Settings::default()
    };
    let mut h = Harness::with(config_with(vec![nat2("rr")], s), 64);
    let (v, _) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, ACK)), OUT);
    assert_eq!(v, Verdict::Tx(IN));
    let (v, _) = h.send(&cl(Pkt::tcp("10.9.0.1", 5001, "10.0.0.100", 80, RST)), OUT);
    assert_eq!(v, Verdict::Drop(DropReason::NoConn), "never on RST");
}

#[test]
fn defences_drop_packets_and_embryonic_entries_when_on() {
    let s = Settings {
        drop_packet: 3,
        ..Settings::default()
    };
    let mut h = Harness::with(config_with(vec![nat2("rr")], s), 64);
    let mut dropped = 0;
    for p in 0..8u16 {
        let (v, _) = h.send(
            &cl(Pkt::tcp("10.9.0.1", 100 + p, "10.0.0.100", 80, SYN)),
            OUT,
        );
        dropped += (v == Verdict::Drop(DropReason::Defence)) as u32;
    }
    assert_eq!(dropped, 6);
    let s = Settings {
        drop_entry: 3,
        ..Settings::default()
    };
    let mut h = Harness::with(config_with(vec![nat2("rr")], s), 64);
    for p in 0..5u16 {
        h.send(
            &cl(Pkt::tcp("10.9.0.1", 100 + p, "10.0.0.100", 80, SYN)),
            OUT,
        );
    }
    h.poll();
    assert_eq!(h.engine.conn_count().0, 0, "half-open conns dropped");
    check(&h);
    // secure_tcp switches to the stricter table.
    let s = Settings {
        secure_tcp: 3,
        ..Settings::default()
    };
    let mut h = Harness::with(config_with(vec![nat2("rr")], s), 64);
    h.send(&cl(Pkt::tcp("10.9.0.1", 100, "10.0.0.100", 80, SYN)), OUT);
    let mut noout = false;
    let want = rvs_proto::tcp::set_tcp_state(TcpState::None, &mut noout, false, SYN, true);
    assert_eq!(conn(&h, 100).unwrap().state, want as u8);
}

#[test]
fn stats_and_rates_count_packets_bytes_and_conns() {
    let mut h = Harness::new(vec![nat2("rr")]);
    for i in 0..10u16 {
        h.send(
            &cl(Pkt::tcp("10.9.0.1", 100 + i, "10.0.0.100", 80, SYN)),
            OUT,
        );
    }
    let s = &h.engine.services()[0];
    assert_eq!(s.stats.conns, 10);
    assert_eq!(s.stats.inpkts, 10);
    assert_eq!(s.stats.inbytes, 400);
    assert_eq!(s.dests[0].stats.conns + s.dests[1].stats.conns, 10);
    h.poll();
    for _ in 0..40 {
        h.advance_ms(2000);
        for i in 0..4u16 {
            h.send(
                &cl(Pkt::tcp("10.9.0.1", 1000 + i, "10.0.0.100", 80, SYN)),
                OUT,
            );
            h.send(
                &cl(Pkt::tcp("10.9.0.1", 1000 + i, "10.0.0.100", 80, RST)),
                OUT,
            );
        }
        h.poll();
    }
    let r = h.engine.services()[0].rates;
    assert_eq!(r.inpps, 4, "8 packets per 2 s");
    assert_eq!(r.inbps, 160);
    h.engine.zero(None);
    assert_eq!(h.engine.services()[0].stats.conns, 0);
}

#[test]
fn a_quiesced_template_holds_clients_unless_expire_quiescent_template() {
    for expire in [false, true] {
        let s = Settings {
            expire_quiescent_template: expire,
            ..Settings::default()
        };
        let svc = Svc::tcp("10.0.0.100", 80, "rr")
            .persist(300, 32)
            .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
            .dest("172.16.0.3", 80, FwdMethod::Masq, 1)
            .build();
        let mut h = Harness::with(config_with(vec![svc], s), 64);
        let held = open(&mut h, "10.9.0.1", 5000, "10.0.0.100");
        let mut w = [1, 1];
        w[idx(held)] = 0;
        swap_weights(&h, w, false);
        let (v, out) = h.send(&cl(Pkt::tcp("10.9.0.1", 5001, "10.0.0.100", 80, SYN)), OUT);
        assert_eq!(v, Verdict::Tx(IN));
        assert_eq!(
            rs_of(&out) == held,
            !expire,
            "expire_quiescent_template={expire}"
        );
        // The first conn still goes to its server either way.
        let (_, out) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, ACK)), OUT);
        assert_eq!(rs_of(&out), held);
        check(&h);
    }
}

#[test]
fn a_template_of_a_removed_server_is_replaced_while_its_conns_finish() {
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .persist(300, 32)
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .dest("172.16.0.3", 80, FwdMethod::Masq, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    let held = open(&mut h, "10.9.0.1", 5000, "10.0.0.100");
    swap_weights(&h, [1, 1], false);
    let cur = h.shared.load_full();
    let mut s = (*cur.services()[0]).clone();
    s.dests.remove(idx(held));
    h.swap(Config::new(vec![Arc::new(s)], vec![], Settings::default(), 9).unwrap());
    let (_, out) = h.send(&cl(Pkt::tcp("10.9.0.1", 5001, "10.0.0.100", 80, SYN)), OUT);
    assert_ne!(
        rs_of(&out),
        held,
        "new conns of the client leave the removed server"
    );
    let (_, out) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, ACK)), OUT);
    assert_eq!(
        rs_of(&out),
        held,
        "the established conn finishes where it was"
    );
    assert_eq!(
        templates(&h).len(),
        2,
        "the old template lingers, unfindable, while it controls a conn"
    );
    check(&h);
    // Once the old conn closes and expires, the old template and the removed dest go away.
    h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, RST)), OUT);
    h.advance_ms(10_001);
    h.poll();
    h.advance_ms(300_000);
    h.poll();
    check(&h);
    assert!(templates(&h).iter().all(|t| t.dest.is_some()));
}

#[test]
fn a_changed_forwarding_method_applies_to_new_conns_only() {
    let svc = Svc::tcp("10.0.0.101", 80, "rr")
        .dest("172.16.0.4", 80, FwdMethod::Route, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    let dr_frame = cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.101", 80, SYN));
    let (_, out) = h.send(&dr_frame, OUT);
    assert_eq!(out.len(), dr_frame.len(), "DR: same frame, new MACs");
    // ipvsadm -e … -i: the same dest id, now a tunnel.
    let cur = h.shared.load_full();
    let mut s = (*cur.services()[0]).clone();
    s.dests[0].fwd = tun(rvs_engine::TunType::Ipip, rvs_engine::TunCsum::NoCsum);
    h.swap(Config::new(vec![Arc::new(s)], vec![], Settings::default(), 2).unwrap());
    let (v, out) = h.send(&cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.101", 80, ACK)), OUT);
    assert_eq!(
        (v, out.len()),
        (Verdict::Tx(IN), dr_frame.len()),
        "the old conn stays DR"
    );
    let (v, out) = h.send(&cl(Pkt::tcp("10.9.0.1", 5001, "10.0.0.101", 80, SYN)), OUT);
    assert_eq!(
        (v, out.len()),
        (Verdict::Tx(IN), dr_frame.len() + 20),
        "a new conn is tunnelled"
    );
    check(&h);
}
