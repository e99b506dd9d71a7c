//! A fixed workload for instruction-level profiling (`valgrind --tool=callgrind`):
//! N established DR packets of one warm flow, then N SYNs through rr. Not a benchmark.

use rvs_engine::config::FwdMethod;
use rvs_engine::testkit::{Pkt, MAC_DIRECTOR, MAC_GW};
use rvs_engine::topo::{self, Harness, Svc, HEADROOM, OUT};
use rvs_engine::PacketBuf;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    // A second argument sets the number of SYNs apart (0 profiles the established path alone).
    let syns: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(n);
    let mut s = Svc::tcp("10.0.0.100", 80, "rr");
    for i in 0..8u8 {
        s = s.dest(&format!("172.16.0.{}", 2 + i), 80, FwdMethod::Route, 1);
    }
    let mut h = Harness::with(topo::config(vec![s.build()]), 2 * n + 16);
    let syn = Pkt::tcp("10.9.0.1", 1000, "10.0.0.100", 80, 0x02)
        .macs(MAC_GW, MAC_DIRECTOR)
        .build();
    let ack = Pkt::tcp("10.9.0.1", 1000, "10.0.0.100", 80, 0x10)
        .macs(MAC_GW, MAC_DIRECTOR)
        .build();
    let mut buf = vec![0u8; HEADROOM + 128];
    buf[HEADROOM..HEADROOM + syn.len()].copy_from_slice(&syn);
    let mut p = PacketBuf::new(&mut buf, HEADROOM, syn.len());
    std::hint::black_box(h.engine.process(&mut p, OUT, h.now));
    for _ in 0..n {
        buf[HEADROOM..HEADROOM + ack.len()].copy_from_slice(&ack);
        let mut p = PacketBuf::new(&mut buf, HEADROOM, ack.len());
        std::hint::black_box(h.engine.process(&mut p, OUT, h.now));
    }
    for i in 0..syns {
        buf[HEADROOM..HEADROOM + syn.len()].copy_from_slice(&syn);
        buf[HEADROOM + 34..HEADROOM + 36]
            .copy_from_slice(&(2000 + (i % 60000) as u16).to_be_bytes());
        buf[HEADROOM + 29] = (i / 60000) as u8;
        // Keep the IPv4 header checksum valid after changing the source's last octet.
        let f = &mut buf[HEADROOM..];
        f[24] = 0;
        f[25] = 0;
        let c = rvs_wire::checksum::finish(rvs_wire::checksum::sum(&f[14..34]));
        f[24..26].copy_from_slice(&c.to_be_bytes());
        let mut p = PacketBuf::new(&mut buf, HEADROOM, syn.len());
        std::hint::black_box(h.engine.process(&mut p, OUT, h.now));
    }
    eprintln!("{:?}", h.engine.counters());
}
