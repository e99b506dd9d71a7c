//! Bodies of the fuzz targets, shared by cargo-fuzz (`fuzz/`) and by the corpus replay test
//! that CI runs on stable, so a crash found once stays a regression test.

use crate::config::{FwdMethod, Settings, TunCsum, TunType};
use crate::topo::{self, Harness, Svc, HEADROOM};
use crate::{PacketBuf, PortId, Verdict};
use rvs_proto::Proto;
use rvs_wire::frame::parse_frame;

/// Services of every forwarding method, persistence, one-packet scheduling and thresholds.
fn services(weight: u32) -> Vec<std::sync::Arc<crate::ServiceConfig>> {
    vec![
        Svc::tcp("10.0.0.100", 80, "rr")
            .dest("172.16.0.2", 8080, FwdMethod::Masq, 1)
            .dest("172.16.0.3", 80, FwdMethod::Masq, weight)
            .thresholds(3, 1)
            .build(),
        Svc::tcp("10.0.0.101", 80, "wlc")
            .persist(30, 24)
            .dest("172.16.0.4", 80, FwdMethod::Route, 1)
            .build(),
        Svc::tcp("10.0.0.102", 0, "sh")
            .persist(60, 32)
            .dest(
                "172.16.0.5",
                0,
                topo::tun(TunType::Ipip, TunCsum::NoCsum),
                weight,
            )
            .build(),
        // mh is covered by rvs-sched; rebuilding its 65537-slot table (~1 ms) for every
        // input would hold this target near 150 runs a second.
        Svc::tcp("10.0.0.103", 80, "sh")
            .dest(
                "172.16.0.6",
                80,
                topo::tun(TunType::Gue { port: 6080 }, TunCsum::Csum),
                1,
            )
            .build(),
        Svc::tcp("10.0.0.104", 80, "lblcr")
            .dest("172.16.0.7", 80, topo::tun(TunType::Gre, TunCsum::Csum), 1)
            .build(),
        Svc::tcp("10.0.0.105", 80, "twos")
            .laddr("172.16.0.250")
            .dest("172.16.0.8", 80, FwdMethod::FullNat, 1)
            .build(),
        Svc::new(Proto::Udp, "10.0.0.100", 53, "sed")
            .ops()
            .dest("172.16.0.2", 53, FwdMethod::Route, 1)
            .build(),
        Svc::new(Proto::Udp, "10.0.0.100", 54, "nq")
            .dest("172.16.0.3", 53, FwdMethod::Masq, weight)
            .build(),
        Svc::new(Proto::Sctp, "10.0.0.100", 9, "fo")
            .dest("172.16.0.2", 9, FwdMethod::Masq, 1)
            .build(),
        // Port 0 and fwmark services: conns whose ports may be 0, and quoted-packet lookups.
        Svc::tcp("10.0.0.106", 0, "wlc")
            .persist(20, 32)
            .dest("172.16.0.9", 0, FwdMethod::Masq, 1)
            .build(),
        Svc::fwmark(7, false, "lc")
            .persist(30, 24)
            .dest("172.16.0.3", 0, FwdMethod::Masq, weight)
            .build(),
        Svc::tcp("fd00::100", 80, "ovf")
            .dest("fd16::2", 8080, FwdMethod::Masq, 1)
            .build(),
        Svc::tcp("fd00::101", 80, "dh")
            .dest("fd16::3", 80, FwdMethod::Route, 1)
            .build(),
        Svc::tcp("fd00::102", 80, "lblc")
            .dest(
                "172.16.0.4",
                80,
                topo::tun(TunType::Ipip, TunCsum::NoCsum),
                1,
            )
            .build(),
        Svc::new(Proto::Udp, "fd00::100", 53, "wrr")
            .dest("fd16::2", 53, FwdMethod::Masq, weight)
            .build(),
    ]
}

fn settings(sloppy: bool) -> Settings {
    Settings {
        sloppy_tcp: sloppy,
        sloppy_sctp: sloppy,
        expire_nodest_conn: sloppy,
        secure_tcp: 3,
        laddrs: vec!["172.16.0.251".parse().unwrap()],
        ..Settings::default()
    }
}

fn config(weight: u32, sloppy: bool) -> crate::Config {
    let rule = crate::FwmarkRule {
        proto: None,
        daddr: "10.0.0.107".parse().unwrap(),
        prefix: 32,
        dport_lo: 0,
        dport_hi: 65535,
        mark: 7,
    };
    crate::Config::new(services(weight), vec![rule], settings(sloppy), 1)
        .expect("valid fuzz config")
}

/// Input: a sequence of `[ctl, len_lo, len_hi, frame…]`. `ctl` advances the clock, picks the
/// ingress port, polls timers and swaps configs, so that expiry, reconcile and the
/// two-way paths are all reachable from bytes.
pub fn engine(data: &[u8]) {
    let mut h = Harness::with(config(1, false), 64);
    let mut rest = data;
    let mut flip = false;
    while rest.len() >= 3 {
        let ctl = rest[0];
        let len = (u16::from_le_bytes([rest[1], rest[2]]) as usize % 2048).min(rest.len() - 3);
        let frame = &rest[3..3 + len];
        rest = &rest[3 + len..];
        h.advance_ms((ctl & 0x0f) as u64 * 700);
        if ctl & 0x40 != 0 {
            h.poll();
        }
        if ctl & 0x80 != 0 {
            flip = !flip;
            h.swap(topo::config_with(
                services(if flip { 0 } else { 2 }),
                settings(flip),
            ));
        }
        let port = PortId(((ctl >> 4) & 1) as u16);
        let mut buf = vec![0u8; HEADROOM + len.max(1600) + 64];
        buf[HEADROOM..HEADROOM + len].copy_from_slice(frame);
        let mut pkt = PacketBuf::new(&mut buf, HEADROOM, len);
        let v = h.engine.process(&mut pkt, port, h.now);
        if let Verdict::Tx(_) | Verdict::TxPending { .. } = v {
            // Whatever the engine sends must itself be a well-formed frame.
            assert!(
                parse_frame(pkt.data()).is_ok(),
                "engine emitted a malformed frame for {v:?}"
            );
        }
    }
    h.poll();
    if let Err(e) = h.engine.check_invariants() {
        panic!("engine state inconsistent: {e}");
    }
}
