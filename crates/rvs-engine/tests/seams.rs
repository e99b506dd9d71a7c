//! The engine's seams for high availability: the conn change feed, the bulk export, the
//! import of a peer's conns (fixture rows: an imported conn forwards the next packet
//! byte for byte like the native one), and `poll_timeout`.

use proptest::prelude::*;
use rvs_engine::config::FwdMethod;
use rvs_engine::testkit::*;
use rvs_engine::topo::*;
use rvs_engine::{
    ConnEvent, ConnEventKind, ConnRecord, ExportCursor, ImportError, Imported, PortId,
    ServiceConfig, Verdict,
};
use rvs_proto::tcp::TcpState;
use std::sync::Arc;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const RST: u8 = 0x04;
const SYNACK: u8 = SYN | ACK;

fn cl(p: Pkt) -> Pkt {
    p.macs(MAC_GW, MAC_DIRECTOR)
}

fn rs(n: u8, p: Pkt) -> Pkt {
    p.macs(rs_mac(n), MAC_DIRECTOR_IN)
}

fn to_rs(n: u8, p: Pkt) -> Pkt {
    p.macs(MAC_DIRECTOR_IN, rs_mac(n))
}

fn to_cl(p: Pkt) -> Pkt {
    p.macs(MAC_DIRECTOR, MAC_GW)
}

fn nat() -> Arc<ServiceConfig> {
    Svc::tcp("10.0.0.100", 80, "rr")
        .dest("172.16.0.2", 8000, FwdMethod::Masq, 1)
        .build()
}

fn drain(h: &mut Harness) -> Vec<ConnEvent> {
    let mut v = Vec::new();
    while h.engine.drain_events(&mut v, 2) > 0 {}
    v
}

#[test]
fn the_feed_reports_create_state_changes_and_expiry_in_order() {
    let mut h = Harness::new(vec![nat()]);
    assert_eq!(h.engine.feed_stats(), None, "off until enabled");
    h.send(
        &cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)).build(),
        OUT,
    );
    h.engine.enable_feed(64);
    let c = "10.9.0.2";
    h.send(&cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, SYN)).build(), OUT);
    h.send(
        &rs(2, Pkt::tcp("172.16.0.2", 8000, c, 5000, SYNACK)).build(),
        IN,
    );
    h.send(&cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, ACK)).build(), OUT);
    h.send(
        &cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, ACK | PSH)).build(),
        OUT,
    );
    h.send(&cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, RST)).build(), OUT);
    let ev = drain(&mut h);
    let kinds: Vec<_> = ev.iter().map(|e| (e.kind, e.record.state)).collect();
    assert_eq!(
        kinds,
        [
            (ConnEventKind::Created, TcpState::None as u8),
            (ConnEventKind::State, TcpState::SynRecv as u8),
            (ConnEventKind::State, TcpState::Established as u8),
            (ConnEventKind::State, TcpState::Close as u8),
        ],
        "{ev:#?}"
    );
    let r = ev[0].record;
    assert_eq!(r.caddr.to_string(), c);
    assert_eq!((r.cport, r.vport, r.dport), (5000, 80, 8000));
    assert_eq!(r.vaddr.to_string(), "10.0.0.100");
    assert_eq!(r.daddr.to_string(), "172.16.0.2");
    assert_eq!(r.flags.fwd(), rvs_engine::conn::FwdKind::Masq);
    assert_eq!(r.proto, 6);
    assert!(r.dest.is_some() && r.template.is_none());
    assert_eq!(ev[3].record.timeout_ms, 10_000, "CLOSE is armed for 10 s");
    // The first client's conn (made before the feed) and this one expire.
    h.advance_ms(61_000);
    h.poll();
    let ev = drain(&mut h);
    assert_eq!(ev.len(), 2, "{ev:#?}");
    assert!(ev.iter().all(|e| e.kind == ConnEventKind::Expired));
    assert!(ev.iter().any(|e| e.record.caddr.to_string() == c));
    let st = h.engine.feed_stats().unwrap();
    assert_eq!((st.queued, st.overflow, st.pending), (6, 0, 0));
}

#[test]
fn a_full_feed_counts_an_overflow_and_keeps_the_oldest() {
    let mut h = Harness::new(vec![nat()]);
    h.engine.enable_feed(3);
    for p in 0..3u16 {
        h.send(
            &cl(Pkt::tcp("10.9.0.1", 100 + p, "10.0.0.100", 80, SYN)).build(),
            OUT,
        );
    }
    let st = h.engine.feed_stats().unwrap();
    assert_eq!((st.pending, st.queued, st.overflow), (3, 3, 3));
    let ev = drain(&mut h);
    let seen: Vec<_> = ev.iter().map(|e| (e.kind, e.record.cport)).collect();
    assert_eq!(
        seen,
        [
            (ConnEventKind::Created, 100),
            (ConnEventKind::State, 100),
            (ConnEventKind::Created, 101),
        ]
    );
    // Room again: new events queue.
    h.send(
        &cl(Pkt::tcp("10.9.0.1", 100, "10.0.0.100", 80, ACK)).build(),
        OUT,
    );
    assert_eq!(h.engine.feed_stats().unwrap().pending, 1);
}

#[test]
fn a_persistent_conn_reports_its_template_first() {
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .persist(300, 32)
        .dest("172.16.0.2", 80, FwdMethod::Route, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    h.engine.enable_feed(16);
    h.send(
        &cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)).build(),
        OUT,
    );
    let ev = drain(&mut h);
    assert_eq!(ev[0].kind, ConnEventKind::TemplateCreated);
    assert!(ev[0].record.is_template());
    assert_eq!(ev[0].record.timeout_ms, 300_000);
    assert_eq!(ev[1].kind, ConnEventKind::Created);
    let t = ev[1].record.template.expect("linked to its template");
    assert_eq!(t.caddr, ev[0].record.caddr);
    assert_eq!((t.vaddr, t.vport), (ev[0].record.vaddr, ev[0].record.vport));
}

/// Every live record of `h`, in export order, a few per call.
fn export_all(h: &Harness) -> Vec<ConnRecord> {
    let mut out = Vec::new();
    let mut cursor = Some(ExportCursor::START);
    let mut calls = 0;
    while let Some(c) = cursor {
        cursor = h.engine.export_records(c, 3, h.now, &mut out);
        calls += 1;
        assert!(calls < 10_000, "the export must end");
    }
    out
}

#[test]
fn the_export_walks_the_table_in_pieces_templates_first() {
    let svc = Svc::tcp("10.0.0.100", 80, "rr")
        .persist(300, 24)
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .build();
    let mut h = Harness::new(vec![svc]);
    for i in 0..10u8 {
        let c = format!("10.9.{i}.1");
        h.send(&cl(Pkt::tcp(&c, 5000, "10.0.0.100", 80, SYN)).build(), OUT);
        h.send(&cl(Pkt::tcp(&c, 5001, "10.0.0.100", 80, SYN)).build(), OUT);
    }
    let recs = export_all(&h);
    assert_eq!(recs.len(), 30);
    assert!(recs[..10].iter().all(|r| r.is_template()));
    assert!(recs[10..]
        .iter()
        .all(|r| !r.is_template() && r.template.is_some()));
    assert_eq!(recs.len(), h.engine.conns(h.now).len());
}

/// One fixture row: the packets that make a conn natively, the next packet, and what that
/// next packet must become.
struct Row {
    desc: &'static str,
    svc: Arc<ServiceConfig>,
    drive: Vec<(Pkt, PortId)>,
    next: (Pkt, PortId),
    verdict: Verdict,
    output: Pkt,
    /// The next packet opens a conn on the imported template (else it uses the imported
    /// conn): a director without the import would send it elsewhere.
    via_template: bool,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Drive the conn natively on engine A, import A's records into engine B (which never saw
/// a packet), and send the next packet to both: same verdict, byte-identical output, the
/// row's expected output.
fn run_row(row: Row) {
    let mut a = Harness::new(vec![row.svc.clone()]);
    let mut b = Harness::new(vec![row.svc.clone()]);
    for (p, port) in &row.drive {
        let (v, _) = a.send(&p.build(), *port);
        assert!(matches!(v, Verdict::Tx(_)), "{}: driving: {v:?}", row.desc);
        a.advance_ms(1);
    }
    b.now = a.now;
    b.engine.enable_feed(64);
    for r in export_all(&a) {
        assert!(
            b.engine.import(&r, b.now).is_ok(),
            "{}: import {r:?}",
            row.desc
        );
    }
    b.engine.check_invariants().unwrap();
    let imported = drain(&mut b);
    assert!(!imported.is_empty());
    assert!(imported
        .iter()
        .all(|e| e.record.flags.contains(rvs_engine::conn::ConnFlags::SYNCED)));
    let frame = row.next.0.build();
    let (va, out_a) = a.send(&frame, row.next.1);
    let (vb, out_b) = b.send(&frame, row.next.1);
    assert_eq!(va, row.verdict, "{}: native verdict", row.desc);
    assert_eq!(vb, row.verdict, "{}: imported verdict", row.desc);
    assert_eq!(
        hex(&out_a),
        hex(&row.output.build()),
        "{}: native",
        row.desc
    );
    assert_eq!(hex(&out_b), hex(&out_a), "{}: imported", row.desc);
    assert_eq!(
        b.engine.counters().conns_new,
        row.via_template as u64,
        "{}: B forwarded on what it imported",
        row.desc
    );
    if row.via_template {
        let mut fresh = Harness::new(vec![row.svc.clone()]);
        let (_, out) = fresh.send(&frame, row.next.1);
        assert_ne!(hex(&out), hex(&out_a), "{}: the template decides", row.desc);
    }
    b.engine.check_invariants().unwrap();
}

#[test]
fn imported_conns_forward_like_native_ones() {
    let c = "10.9.0.7";
    let dr = Svc::tcp("10.0.0.101", 80, "rr")
        .dest("172.16.0.3", 80, FwdMethod::Route, 1)
        .build();
    // Two servers: B's fresh rr would pick .3 for a client it never saw; the imported
    // template must send that client to .2, where A's template sends it.
    let persistent = Svc::tcp("10.0.0.100", 80, "rr")
        .persist(300, 32)
        .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
        .dest("172.16.0.3", 80, FwdMethod::Masq, 1)
        .build();
    let rows = vec![
        Row {
            desc: "NAT: client data on an established conn",
            svc: nat(),
            drive: vec![
                (cl(Pkt::tcp(c, 40000, "10.0.0.100", 80, SYN)), OUT),
                (rs(2, Pkt::tcp("172.16.0.2", 8000, c, 40000, SYNACK)), IN),
            ],
            next: (
                cl(Pkt::tcp(c, 40000, "10.0.0.100", 80, ACK | PSH).payload(b"GET /")),
                OUT,
            ),
            verdict: Verdict::Tx(IN),
            output: to_rs(
                2,
                Pkt::tcp(c, 40000, "172.16.0.2", 8000, ACK | PSH)
                    .payload(b"GET /")
                    .ttl(63),
            ),
            via_template: false,
        },
        Row {
            desc: "NAT: the real server's reply",
            svc: nat(),
            drive: vec![
                (cl(Pkt::tcp(c, 40000, "10.0.0.100", 80, SYN)), OUT),
                (rs(2, Pkt::tcp("172.16.0.2", 8000, c, 40000, SYNACK)), IN),
                (cl(Pkt::tcp(c, 40000, "10.0.0.100", 80, ACK)), OUT),
            ],
            next: (
                rs(
                    2,
                    Pkt::tcp("172.16.0.2", 8000, c, 40000, ACK).payload(b"200"),
                ),
                IN,
            ),
            verdict: Verdict::Tx(OUT),
            output: to_cl(
                Pkt::tcp("10.0.0.100", 80, c, 40000, ACK)
                    .payload(b"200")
                    .ttl(63),
            ),
            via_template: false,
        },
        Row {
            desc: "DR: client data",
            svc: dr,
            drive: vec![(cl(Pkt::tcp(c, 41000, "10.0.0.101", 80, SYN)), OUT)],
            next: (cl(Pkt::tcp(c, 41000, "10.0.0.101", 80, ACK)), OUT),
            verdict: Verdict::Tx(IN),
            output: to_rs(3, Pkt::tcp(c, 41000, "10.0.0.101", 80, ACK).ttl(63)),
            via_template: false,
        },
        Row {
            desc: "persistence: a new conn of a client follows its imported template",
            svc: persistent,
            drive: vec![
                (cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)), OUT),
                (cl(Pkt::tcp(c, 5000, "10.0.0.100", 80, SYN)), OUT),
            ],
            next: (cl(Pkt::tcp(c, 5001, "10.0.0.100", 80, SYN)), OUT),
            verdict: Verdict::Tx(IN),
            output: to_rs(2, Pkt::tcp(c, 5001, "172.16.0.2", 80, SYN).ttl(63)),
            via_template: true,
        },
    ];
    for row in rows {
        run_row(row);
    }
}

#[test]
fn bad_records_get_typed_errors_and_duplicates_update() {
    let mut a = Harness::new(vec![nat()]);
    a.send(
        &cl(Pkt::tcp("10.9.0.1", 5000, "10.0.0.100", 80, SYN)).build(),
        OUT,
    );
    let mut rec = export_all(&a)[0];
    // ESTABLISHED, so that a full table has nothing to evict.
    rec.state = TcpState::Established as u8;
    rec.flags.remove(rvs_engine::conn::ConnFlags::INACTIVE);
    let mut b = Harness::new(vec![nat()]);
    let imp = |b: &mut Harness, r: &ConnRecord| b.engine.import(r, b.now);
    let mut r = rec;
    r.vport = 81;
    assert_eq!(imp(&mut b, &r), Err(ImportError::NoService));
    let mut r = rec;
    r.daddr = "172.16.0.9".parse().unwrap();
    assert_eq!(imp(&mut b, &r), Err(ImportError::NoDest));
    let mut r = rec;
    r.daddr = "fd16::2".parse().unwrap();
    assert_eq!(imp(&mut b, &r), Err(ImportError::Family));
    let mut r = rec;
    r.proto = 99;
    assert!(matches!(imp(&mut b, &r), Err(ImportError::Malformed(_))));
    assert_eq!(b.engine.conn_count(), (0, 0), "nothing half-inserted");
    let mut r = rec;
    r.state = TcpState::SynRecv as u8;
    r.flags.insert(rvs_engine::conn::ConnFlags::INACTIVE);
    assert_eq!(imp(&mut b, &r), Ok(Imported::Inserted));
    assert_eq!(b.dest_counts(0)[0], (0, 1, 0), "inactive");
    assert_eq!(imp(&mut b, &rec), Ok(Imported::Updated));
    assert_eq!(b.engine.conn_count(), (1, 0), "updated, not duplicated");
    assert_eq!(b.dest_counts(0)[0], (1, 0, 0), "now active");
    b.engine.check_invariants().unwrap();
    // A full table refuses with a typed error.
    let mut c = Harness::with(config(vec![nat()]), 1);
    assert_eq!(imp(&mut c, &rec), Ok(Imported::Inserted));
    let mut r = rec;
    r.cport = 5001;
    assert_eq!(imp(&mut c, &r), Err(ImportError::TableFull));
    c.engine.check_invariants().unwrap();
}

#[test]
fn poll_timeout_follows_the_work() {
    let mut h = Harness::with(config(vec![nat()]), 8192);
    assert_eq!(h.engine.poll_timeout(), Some(0), "never polled: due");
    h.poll();
    let idle = h.engine.poll_timeout().unwrap();
    assert!(idle > h.now, "nothing to sweep: the estimator's step");
    for p in 0..4000u16 {
        h.send(
            &cl(Pkt::tcp("10.9.0.1", 1000 + p, "10.0.0.100", 80, SYN)).build(),
            OUT,
        );
    }
    h.poll();
    let next = h.engine.poll_timeout().unwrap();
    assert!(
        next > h.now && next <= h.now + 100,
        "conns to age: the next tick"
    );
    // All 4000 expire together: more than one poll's share, so "now" until swept.
    h.advance_ms(61_000);
    h.engine.poll(h.now);
    assert_eq!(h.engine.poll_timeout(), Some(h.now), "more sweeping owed");
    let mut polls = 1;
    while h.engine.poll_timeout().is_some_and(|t| t <= h.now) {
        h.engine.poll(h.now);
        polls += 1;
    }
    assert!(polls > 1, "bounded: {polls} polls");
    assert_eq!(h.engine.conn_count(), (0, 0));
    h.engine.check_invariants().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random opens, closes and time steps: every conn the feed saw created yields exactly
    /// one expiry, and `poll_timeout` never names a past instant unless work is owed.
    #[test]
    fn every_created_conn_expires_exactly_once(
        ops in prop::collection::vec((0u8..4, 0u16..24, 0u64..30_000), 1..120)
    ) {
        let mut h = Harness::with(config(vec![nat()]), 16);
        h.engine.enable_feed(4096);
        for (op, port, dt) in ops {
            let flags = [SYN, ACK, RST, SYN][op as usize];
            if op == 3 {
                h.advance_ms(dt);
                h.poll();
                let t = h.engine.poll_timeout();
                prop_assert!(t.is_none_or(|t| t > h.now), "idle after polling, got {t:?}");
            } else {
                h.send(&cl(Pkt::tcp("10.9.0.1", 1000 + port, "10.0.0.100", 80, flags)).build(), OUT);
                h.advance_ms(1);
            }
        }
        h.advance_ms(1_000_000);
        h.poll();
        prop_assert_eq!(h.engine.conn_count(), (0, 0));
        let ev = drain(&mut h);
        prop_assert_eq!(h.engine.feed_stats().unwrap().overflow, 0);
        let mut live = std::collections::HashSet::new();
        for e in ev {
            let k = e.record.cport;
            match e.kind {
                ConnEventKind::Created => prop_assert!(live.insert(k), "created twice: {}", k),
                ConnEventKind::Expired => prop_assert!(live.remove(&k), "expired unseen: {}", k),
                ConnEventKind::State => prop_assert!(live.contains(&k)),
                ConnEventKind::TemplateCreated => prop_assert!(false, "no persistence here"),
            }
        }
        prop_assert!(live.is_empty(), "never expired: {:?}", live);
        h.engine.check_invariants().unwrap();
    }
}
