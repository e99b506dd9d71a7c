//! A restarted rvsd adopts the conn table its predecessor left in shared memory: every conn
//! (and persistence template) whose service and real server still exist keeps going to the
//! same real server, on the new process's clock.

use rvs_engine::config::FwdMethod;
use rvs_engine::conn::Conn;
use rvs_engine::testkit::*;
use rvs_engine::topo::*;
use rvs_engine::{ConnMemory, Engine, EngineOptions, Verdict};
use std::sync::Arc;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// Memory standing in for the shared-memory file: leaked, handed to one engine at a time.
struct Region {
    v4: *mut Conn<[u8; 4]>,
    v6: *mut Conn<[u8; 16]>,
    n: usize,
}

impl Region {
    fn new(n: usize) -> Region {
        let v4 = Box::leak(vec![Conn::<[u8; 4]>::EMPTY; n].into_boxed_slice()).as_mut_ptr();
        let v6 = Box::leak(vec![Conn::<[u8; 16]>::EMPTY; n].into_boxed_slice()).as_mut_ptr();
        Region { v4, v6, n }
    }

    /// # Safety
    /// The engine that held the previous views must be gone.
    unsafe fn memory(&self, shift: Option<i64>) -> ConnMemory {
        ConnMemory {
            v4: std::slice::from_raw_parts_mut(self.v4, self.n),
            v6: std::slice::from_raw_parts_mut(self.v6, self.n),
            clock_shift_ms: shift,
        }
    }
}

fn services() -> Vec<Arc<rvs_engine::ServiceConfig>> {
    vec![
        Svc::tcp("10.0.0.100", 80, "rr")
            .dest("172.16.0.2", 8000, FwdMethod::Masq, 1)
            .dest("172.16.0.3", 8000, FwdMethod::Masq, 1)
            .build(),
        Svc::tcp("10.0.0.101", 443, "rr")
            .persist(300, 32)
            .dest("172.16.0.4", 443, FwdMethod::Route, 1)
            .dest("172.16.0.5", 443, FwdMethod::Route, 1)
            .build(),
    ]
}

fn engine(
    mem: ConnMemory,
    svcs: Vec<Arc<rvs_engine::ServiceConfig>>,
) -> (Engine, rvs_engine::Adopted) {
    let shared = Arc::new(arc_swap::ArcSwap::from_pointee(config(svcs)));
    let opts = EngineOptions {
        conn_capacity_v4: 64,
        conn_capacity_v6: 64,
        seed: 99,
    };
    Engine::with_conn_memory(shared, Arc::new(net()), opts, mem)
}

fn send(e: &mut Engine, frame: &[u8], now: u64) -> (Verdict, Vec<u8>) {
    let mut buf = vec![0u8; 256 + 1600];
    buf[256..256 + frame.len()].copy_from_slice(frame);
    let mut pkt = rvs_engine::PacketBuf::new(&mut buf, 256, frame.len());
    let v = e.process(&mut pkt, OUT, now);
    (v, pkt.data().to_vec())
}

fn cl(sport: u16, dst: &str, dport: u16, flags: u8) -> Vec<u8> {
    Pkt::tcp("10.9.0.7", sport, dst, dport, flags)
        .macs(MAC_GW, MAC_DIRECTOR)
        .build()
}

#[test]
fn a_successor_adopts_every_conn_and_template() {
    let region = Region::new(64);
    // SAFETY: first user of the region.
    let (mut a, adopted) = engine(unsafe { region.memory(None) }, services());
    assert_eq!(adopted.kept, 0);
    let t0 = 50_000;
    let mut rs = Vec::new();
    for sport in 1000..1006u16 {
        let (v, out) = send(&mut a, &cl(sport, "10.0.0.100", 80, SYN), t0);
        assert_eq!(v, Verdict::Tx(IN));
        send(&mut a, &cl(sport, "10.0.0.100", 80, ACK), t0 + 1);
        rs.push(out[5]);
    }
    let (v, out) = send(&mut a, &cl(2000, "10.0.0.101", 443, SYN), t0);
    assert_eq!(v, Verdict::Tx(IN));
    let sticky = out[5];
    let before = a.conns(t0 + 2).len();
    assert_eq!(before, 8, "6 NAT conns, 1 DR conn, 1 template");
    drop(a);

    // The successor's clock started 40 s after its predecessor's: deadlines move back 40 s.
    // SAFETY: the previous engine is gone.
    let (mut b, adopted) = engine(unsafe { region.memory(Some(-40_000)) }, services());
    assert_eq!((adopted.kept, adopted.orphaned), (8, 0));
    b.check_invariants().unwrap();
    let now = t0 + 2 - 40_000;
    assert_eq!(b.conns(now).len(), before);
    for (k, sport) in (1000..1006u16).enumerate() {
        let (v, out) = send(&mut b, &cl(sport, "10.0.0.100", 80, ACK), now);
        assert_eq!(
            v,
            Verdict::Tx(IN),
            "established conn {sport} still forwarded"
        );
        assert_eq!(out[5], rs[k], "to the same real server");
    }
    // Persistence survives too: a new conn of the same client sticks.
    let (v, out) = send(&mut b, &cl(2001, "10.0.0.101", 443, SYN), now);
    assert_eq!(v, Verdict::Tx(IN));
    assert_eq!(out[5], sticky);
    b.check_invariants().unwrap();
    // Counters are rebuilt from the table: 3+3 active NAT conns.
    let st = b.services();
    let active: u32 = st[0].dests.iter().map(|d| d.activeconns).sum();
    assert_eq!(active, 6);
    drop(b);

    // A successor whose config lost a real server drops that server's conns only.
    let mut fewer = services();
    fewer[0] = Svc::tcp("10.0.0.100", 80, "rr")
        .dest("172.16.0.2", 8000, FwdMethod::Masq, 1)
        .build();
    // SAFETY: the previous engine is gone.
    let (c, adopted) = engine(unsafe { region.memory(Some(0)) }, fewer);
    assert_eq!(adopted.kept + adopted.orphaned, 9);
    assert!(adopted.orphaned >= 3, "{adopted:?}");
    c.check_invariants().unwrap();
}

#[test]
fn garbage_left_in_memory_never_breaks_the_successor() {
    let region = Region::new(64);
    // SAFETY: nobody else holds the region; fill it with arbitrary bytes flagged in use.
    unsafe {
        let bytes = std::slice::from_raw_parts_mut(
            region.v4 as *mut u8,
            64 * std::mem::size_of::<Conn<[u8; 4]>>(),
        );
        let mut x = 0x1234_5678u32;
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
    }
    // SAFETY: first engine on the region.
    let (mut e, _) = engine(unsafe { region.memory(Some(0)) }, services());
    e.check_invariants().unwrap();
    let (v, _) = send(&mut e, &cl(3000, "10.0.0.100", 80, SYN), 1000);
    assert_eq!(v, Verdict::Tx(IN));
    e.poll(1_000_000);
    e.check_invariants().unwrap();
}
