//! `make bench-engine`: the engine's figures, one `name value unit` line each, with a
//! baseline (one hash lookup plus a 64-byte frame copy) measured in the same run so that
//! ratios survive a noisy machine. Each figure is the median of several timed rounds.
//!
//! Set RVS_BENCH_CONNS to change the 1,000,000 live connections of the random case, and
//! RVS_BENCH_ONLY to a comma-separated list of parts (dr,nat,tun,syn,bytes,sweep) to run
//! fewer; RVS_BENCH_FEED=1 to run with the conn change feed on. `sweep` is not in the default run: it measures the longest engine-lock hold while
//! the whole table expires (see `sweep_holds`).

use rvs_engine::config::{FwdMethod, TunCsum, TunType};
use rvs_engine::testkit::{Pkt, MAC_DIRECTOR, MAC_GW};
use rvs_engine::topo::{self, Harness, Svc, HEADROOM, OUT};
use rvs_engine::{PacketBuf, Verdict};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes, for the bytes-per-conn figure.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn report(name: &str, value: f64, unit: &str) {
    println!("{name} {value:.1} {unit}");
}

/// xorshift, for a repeatable random order.
fn shuffle(v: &mut [u32], mut s: u64) {
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
}

/// Client i of the big population: 10.128.0.0/9 addresses, 64 ports each.
fn client(i: u32) -> ([u8; 4], u16) {
    let a = 0x0a80_0000u32 + (i >> 6);
    (a.to_be_bytes(), 1024 + (i & 63) as u16)
}

/// Put client i in a frame built for client 0, keeping the IPv4 header checksum valid (the
/// parser checks it, as `ip_rcv` does). The TCP checksum is left stale: nothing verifies it.
fn patch_client(f: &mut [u8], i: u32) {
    let (a, p) = client(i);
    let old: [u8; 4] = f[14 + 12..14 + 16].try_into().unwrap();
    let c = u16::from_be_bytes([f[24], f[25]]);
    let c = rvs_wire::checksum::update_addr(c, &old, &a);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[14 + 12..14 + 16].copy_from_slice(&a);
    f[34..36].copy_from_slice(&p.to_be_bytes());
}

fn harness(fwd: FwdMethod, sched: &str, ndest: u8, cap: u32) -> Harness {
    let mut s = Svc::tcp("10.0.0.100", 80, sched);
    for i in 0..ndest {
        // 172.16.0.2-9 are resolved in the bench topology; more dests share those hosts on
        // other ports, which costs the scheduler the same.
        s = s.dest(
            &format!("172.16.0.{}", 2 + i % 8),
            80 + (i / 8) as u16,
            fwd,
            1 + (i % 3) as u32,
        );
    }
    let mut h = Harness::with(topo::config(vec![s.build()]), cap);
    if feed_on() {
        h.engine.enable_feed(FEED_CAPACITY);
    }
    h
}

/// RVS_BENCH_FEED=1: every engine runs with the conn change feed on, drained the way a sync
/// sender would (all pending events every `FEED_DRAIN_EVERY` packets), to show its cost.
fn feed_on() -> bool {
    std::env::var("RVS_BENCH_FEED").is_ok_and(|v| v == "1")
}

const FEED_CAPACITY: u32 = 1 << 16;
const FEED_DRAIN_EVERY: usize = 8192;

fn drain_feed(h: &mut Harness, events: &mut Vec<rvs_engine::ConnEvent>) {
    events.clear();
    while h.engine.drain_events(events, 1024) > 0 {
        black_box(&events);
        events.clear();
    }
}

/// Open `n` conns (SYN from client i), returning the time per SYN in ns.
fn open_conns(h: &mut Harness, n: u32, order: &[u32]) -> f64 {
    let tmpl = Pkt::tcp("10.128.0.0", 1024, "10.0.0.100", 80, 0x02)
        .macs(MAC_GW, MAC_DIRECTOR)
        .build();
    let mut buf = vec![0u8; HEADROOM + 128];
    let mut events = Vec::with_capacity(1024);
    let t = Instant::now();
    for (k, &i) in order[..n as usize].iter().enumerate() {
        if k % FEED_DRAIN_EVERY == 0 {
            drain_feed(h, &mut events);
        }
        buf[HEADROOM..HEADROOM + tmpl.len()].copy_from_slice(&tmpl);
        patch_client(&mut buf[HEADROOM..], i);
        let mut p = PacketBuf::new(&mut buf, HEADROOM, tmpl.len());
        let v = h.engine.process(&mut p, OUT, h.now);
        assert!(matches!(v, Verdict::Tx(_)), "{v:?}");
        black_box(v);
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Established packets (ACK) for the clients in `order`, one at a time or in batches.
fn established(h: &mut Harness, order: &[u32], batch: usize) -> f64 {
    let tmpl = Pkt::tcp("10.128.0.0", 1024, "10.0.0.100", 80, 0x10)
        .macs(MAC_GW, MAC_DIRECTOR)
        .build();
    let len = tmpl.len();
    let stride = HEADROOM + 128;
    let mut bufs = vec![0u8; stride * batch];
    let mut verdicts = vec![Verdict::Pass; batch];
    let mut tx = 0u64;
    let mut events = Vec::with_capacity(1024);
    let t = Instant::now();
    for (k, chunk) in order.chunks(batch).enumerate() {
        if (k * batch) % FEED_DRAIN_EVERY < batch {
            drain_feed(h, &mut events);
        }
        for (k, &i) in chunk.iter().enumerate() {
            let f = &mut bufs[k * stride + HEADROOM..k * stride + HEADROOM + len];
            f.copy_from_slice(&tmpl);
            patch_client(f, i);
        }
        if batch == 1 {
            let mut p = PacketBuf::new(&mut bufs[..stride], HEADROOM, len);
            verdicts[0] = h.engine.process(&mut p, OUT, h.now);
        } else {
            let mut pkts: Vec<PacketBuf> = bufs
                .chunks_mut(stride)
                .take(chunk.len())
                .map(|b| PacketBuf::new(b, HEADROOM, len))
                .collect();
            h.engine.process_batch(&mut pkts, OUT, h.now, &mut verdicts);
        }
        tx += verdicts[..chunk.len()]
            .iter()
            .filter(|v| matches!(v, Verdict::Tx(_)))
            .count() as u64;
    }
    let ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
    assert_eq!(
        tx,
        order.len() as u64,
        "every established packet must be forwarded"
    );
    ns
}

/// One hash lookup over the same population plus a 64-byte frame copy.
fn baseline(n: u32, order: &[u32]) -> f64 {
    let map: HashMap<u64, u32> = (0..n).map(|i| (mix(i as u64), i)).collect();
    let src = [0x5au8; 64];
    let mut dst = [0u8; 64];
    let mut acc = 0u64;
    let t = Instant::now();
    for &i in order {
        dst.copy_from_slice(black_box(&src));
        acc += *map.get(&mix(i as u64)).unwrap() as u64 + dst[5] as u64;
    }
    black_box(acc);
    t.elapsed().as_nanos() as f64 / order.len() as f64
}

/// The longest single `poll` while all `n` conns of a NAT table expire at once, driven the
/// way rvsd drives it: every 100 ms of simulated time, `poll` again while `poll_timeout` is
/// due (RVS_SWEEP_TICK=1: one `poll` per 100 ms, as rvsd did before the bounded sweep).
/// Next to it, one `process_batch` of 64 established frames on the same table: a worker
/// holds the engine lock that long per batch, so a poll should not hold it longer.
fn sweep_holds(n: u32, order: &[u32], random: &[u32]) {
    let mut h = harness(FwdMethod::Masq, "rr", 8, n + n / 8);
    open_conns(&mut h, n, order);
    h.advance_ms(1);
    established(&mut h, random, 32);
    let mut batches = Vec::new();
    for chunk in random.chunks(64).take(2000) {
        let t = Instant::now();
        established(&mut h, chunk, 64);
        batches.push(t.elapsed().as_nanos() as f64);
    }
    // Up to just before every conn's deadline (ESTABLISHED: 900 s from now, the same for
    // all), polled as rvsd would have; then a tick every 100 ms until the table is empty.
    let settle = |h: &mut Harness| {
        h.engine.poll(h.now);
        while h.engine.poll_timeout().is_some_and(|t| t <= h.now) {
            h.engine.poll(h.now);
        }
    };
    settle(&mut h);
    h.advance_ms(899_900);
    settle(&mut h);
    let tick_only = std::env::var("RVS_SWEEP_TICK").is_ok_and(|v| v == "1");
    let mut polls = Vec::new();
    let timed = |h: &mut Harness, polls: &mut Vec<f64>| {
        let t = Instant::now();
        h.engine.poll(h.now);
        polls.push(t.elapsed().as_nanos() as f64);
    };
    while h.engine.conn_count() != (0, 0) {
        h.advance_ms(100);
        timed(&mut h, &mut polls);
        while !tick_only && h.engine.poll_timeout().is_some_and(|t| t <= h.now) {
            timed(&mut h, &mut polls);
        }
    }
    let mode = if tick_only { "tick" } else { "loop" };
    let total: f64 = polls.iter().sum();
    report(
        &format!("sweep_{n}_conns_{mode}_polls"),
        polls.len() as f64,
        "polls",
    );
    report(
        &format!("sweep_{n}_conns_{mode}_total_poll"),
        total / 1e6,
        "ms",
    );
    // On a shared machine the single longest call may include a preemption; the high
    // percentiles show what the code itself costs.
    quantiles(&format!("sweep_{n}_conns_{mode}_poll"), polls);
    quantiles("process_batch_64_established", batches);
}

fn quantiles(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize] / 1e3;
    report(&format!("{name}_median"), q(0.5), "us");
    report(&format!("{name}_p99"), q(0.99), "us");
    report(&format!("{name}_p999"), q(0.999), "us");
    report(&format!("{name}_longest"), q(1.0), "us");
}

fn mix(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (x >> 29)
}

fn main() {
    let n: u32 = std::env::var("RVS_BENCH_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut order: Vec<u32> = (0..n).collect();
    shuffle(&mut order, 0x1234_5678);
    let mut random: Vec<u32> = (0..n).collect();
    shuffle(&mut random, 0xdead_beef);
    let warm = vec![order[0]; n as usize];

    let only = std::env::var("RVS_BENCH_ONLY").ok();
    let want = |part: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p == part))
    };
    if only
        .as_deref()
        .is_some_and(|o| o.split(',').any(|p| p == "sweep"))
    {
        sweep_holds(n, &order, &random);
    }
    let base = median((0..ROUNDS).map(|_| baseline(n, &random)).collect());
    report("baseline_hash_lookup_plus_copy_random", base, "ns/op");

    let methods: [(&str, FwdMethod); 3] = [
        ("dr", FwdMethod::Route),
        ("nat", FwdMethod::Masq),
        (
            "tun",
            FwdMethod::Tunnel {
                tun: TunType::Ipip,
                csum: TunCsum::NoCsum,
            },
        ),
    ];
    for (name, fwd) in methods {
        if !want(name) {
            continue;
        }
        let mut h = harness(fwd, "rr", 8, n + n / 8);
        open_conns(&mut h, n, &order);
        h.advance_ms(1);
        let r1 = median(
            (0..ROUNDS)
                .map(|_| established(&mut h, &random, 1))
                .collect(),
        );
        let rb = median(
            (0..ROUNDS)
                .map(|_| established(&mut h, &random, 32))
                .collect(),
        );
        let w1 = median((0..ROUNDS).map(|_| established(&mut h, &warm, 1)).collect());
        let wb = median(
            (0..ROUNDS)
                .map(|_| established(&mut h, &warm, 32))
                .collect(),
        );
        report(
            &format!("{name}_established_random_{n}_conns"),
            r1,
            "ns/pkt",
        );
        report(
            &format!("{name}_established_random_{n}_conns_batch32"),
            rb,
            "ns/pkt",
        );
        report(&format!("{name}_established_one_warm_flow"), w1, "ns/pkt");
        report(
            &format!("{name}_established_one_warm_flow_batch32"),
            wb,
            "ns/pkt",
        );
        report(
            &format!("{name}_established_random_batch32_vs_baseline"),
            rb / base,
            "x",
        );
    }

    let syns = (n / 2).max(1);
    for sched in ["rr", "wlc", "mh"] {
        if !want("syn") {
            break;
        }
        let v = median(
            (0..ROUNDS)
                .map(|_| {
                    let mut h = harness(FwdMethod::Route, sched, 100, syns + syns / 8);
                    open_conns(&mut h, syns, &order)
                })
                .collect(),
        );
        report(&format!("new_conn_syn_{sched}_100_dests"), v, "ns/conn");
    }

    for (name, v6) in [("v4", false), ("v6", true)] {
        if !want("bytes") {
            break;
        }
        let before = LIVE.load(Ordering::Relaxed);
        let cap = n;
        let cfg = if v6 {
            topo::config(vec![Svc::tcp("fd00::100", 80, "rr")
                .dest("fd16::2", 80, FwdMethod::Masq, 1)
                .build()])
        } else {
            topo::config(vec![Svc::tcp("10.0.0.100", 80, "rr")
                .dest("172.16.0.2", 80, FwdMethod::Masq, 1)
                .build()])
        };
        let shared = std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(cfg));
        let opts = rvs_engine::EngineOptions {
            conn_capacity_v4: if v6 { 1 } else { cap },
            conn_capacity_v6: if v6 { cap } else { 1 },
            seed: 1,
        };
        let mut e = rvs_engine::Engine::new(shared, std::sync::Arc::new(topo::net()), opts);
        let tmpl = if v6 {
            Pkt::tcp("fd09::", 1024, "fd00::100", 80, 0x02)
                .macs(MAC_GW, MAC_DIRECTOR)
                .build()
        } else {
            Pkt::tcp("10.128.0.0", 1024, "10.0.0.100", 80, 0x02)
                .macs(MAC_GW, MAC_DIRECTOR)
                .build()
        };
        let mut buf = vec![0u8; HEADROOM + 128];
        for i in 0..cap {
            buf[HEADROOM..HEADROOM + tmpl.len()].copy_from_slice(&tmpl);
            let f = &mut buf[HEADROOM..];
            if v6 {
                f[14 + 8 + 12..14 + 8 + 16].copy_from_slice(&(i >> 6).to_be_bytes());
                f[54..56].copy_from_slice(&(1024 + (i & 63) as u16).to_be_bytes());
            } else {
                patch_client(f, i);
            }
            let mut p = PacketBuf::new(&mut buf, HEADROOM, tmpl.len());
            black_box(e.process(&mut p, OUT, 1000));
        }
        let (c4, c6) = e.conn_count();
        let conns = if v6 { c6 } else { c4 };
        assert_eq!(conns, cap, "every SYN must have made a conn");
        let grown = LIVE.load(Ordering::Relaxed) - before;
        report(
            &format!("conn_entry_bytes_{name}"),
            grown as f64 / conns as f64,
            "bytes/conn",
        );
        drop(e);
    }
}
