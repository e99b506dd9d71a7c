//! Writes seed inputs for the engine fuzz target into fuzz/corpus/engine: realistic
//! conversations (handshakes both ways, tunnels, ICMP errors) in the target's
//! `[ctl, len_lo, len_hi, frame]` format. Run: cargo run -p rvs-engine --example fuzz_seeds

use rvs_engine::testkit::*;
use rvs_engine::topo::rs_mac;

fn rec(out: &mut Vec<u8>, ctl: u8, frame: &[u8]) {
    out.push(ctl);
    out.extend_from_slice(&(frame.len() as u16).to_le_bytes());
    out.extend_from_slice(frame);
}

fn main() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/engine");
    std::fs::create_dir_all(&dir).unwrap();
    let cl = |p: Pkt| p.macs(MAC_GW, MAC_DIRECTOR).build();
    let rs = |n: u8, p: Pkt| p.macs(rs_mac(n), MAC_DIRECTOR_IN).build();
    let port_in = 0x10;
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![];
    for (name, vip, rsn, rsa, rport) in [
        ("nat", "10.0.0.100", 2u8, "172.16.0.2", 8080u16),
        ("dr_persist", "10.0.0.101", 4, "172.16.0.4", 80),
        ("tun_port0", "10.0.0.102", 5, "172.16.0.5", 80),
        ("gue", "10.0.0.103", 6, "172.16.0.6", 80),
        ("gre", "10.0.0.104", 7, "172.16.0.7", 80),
        ("fullnat", "10.0.0.105", 8, "172.16.0.8", 80),
    ] {
        let mut s = vec![];
        rec(&mut s, 0, &cl(Pkt::tcp("10.9.0.1", 4000, vip, 80, 0x02)));
        rec(
            &mut s,
            port_in,
            &rs(rsn, Pkt::tcp(rsa, rport, "10.9.0.1", 4000, 0x12)),
        );
        rec(
            &mut s,
            0x01,
            &cl(Pkt::tcp("10.9.0.1", 4000, vip, 80, 0x18).payload(b"GET / HTTP/1.1\r\n\r\n")),
        );
        rec(&mut s, 0x41, &cl(Pkt::tcp("10.9.0.1", 4000, vip, 80, 0x11)));
        rec(&mut s, 0x8f, &cl(Pkt::tcp("10.9.0.1", 4000, vip, 80, 0x02)));
        seeds.push((name, s));
    }
    let mut s = vec![];
    rec(
        &mut s,
        0,
        &cl(Pkt::udp("10.9.0.1", 4000, "10.0.0.100", 54).payload(b"q")),
    );
    rec(
        &mut s,
        port_in,
        &rs(
            3,
            Pkt::icmp(
                "172.16.0.3",
                "10.9.0.1",
                3,
                3,
                0,
                Pkt::udp("10.9.0.1", 4000, "172.16.0.3", 53)
                    .payload(b"q")
                    .ip_bytes(),
            ),
        ),
    );
    rec(
        &mut s,
        0,
        &cl(Pkt::icmp(
            "10.9.0.254",
            "10.0.0.100",
            3,
            4,
            1400,
            Pkt::udp("10.0.0.100", 54, "10.9.0.1", 4000).ip_bytes(),
        )),
    );
    rec(
        &mut s,
        0,
        &cl(Pkt::udp("10.9.0.1", 4001, "10.0.0.100", 53).payload(b"ops")),
    );
    rec(
        &mut s,
        0,
        &cl(Pkt::sctp("10.9.0.1", 4002, "10.0.0.100", 9, 1)),
    );
    seeds.push(("udp_icmp_sctp", s));
    let mut s = vec![];
    rec(
        &mut s,
        0,
        &cl(Pkt::tcp("fd09::1", 4000, "fd00::100", 80, 0x02)),
    );
    rec(
        &mut s,
        port_in,
        &rs(2, Pkt::tcp("fd16::2", 8080, "fd09::1", 4000, 0x12)),
    );
    rec(
        &mut s,
        0,
        &cl(Pkt::tcp("fd09::1", 4000, "fd00::101", 80, 0x02)),
    );
    rec(
        &mut s,
        0,
        &cl(Pkt::tcp("fd09::1", 4000, "fd00::102", 80, 0x02).payload_len(1400)),
    );
    rec(&mut s, 0, &cl(Pkt::udp("fd09::1", 4000, "fd00::100", 53)));
    rec(
        &mut s,
        0,
        &cl(Pkt::icmp(
            "fd09::fe",
            "fd00::100",
            2,
            0,
            1280,
            Pkt::tcp("fd00::100", 80, "fd09::1", 4000, 0x12).ip_bytes(),
        )),
    );
    seeds.push(("ipv6", s));
    let mut s = vec![];
    rec(
        &mut s,
        0,
        &cl(Pkt::tcp("10.9.0.1", 4000, "10.0.0.100", 80, 0x02).ttl(1)),
    );
    rec(
        &mut s,
        0,
        &cl(Pkt::tcp("10.9.0.1", 4000, "10.0.0.102", 80, 0x02).payload_len(1480)),
    );
    rec(
        &mut s,
        0,
        &cl(Pkt::tcp("10.9.0.1", 4000, "10.0.0.100", 80, 0x02).vlan(7)),
    );
    rec(&mut s, 0, &[0u8; 10]);
    seeds.push(("edges", s));
    for (name, data) in seeds {
        std::fs::write(dir.join(format!("seed_{name}")), data).unwrap();
    }
    println!("wrote seeds to {}", dir.display());
}
