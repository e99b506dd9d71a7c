//! Expansion into engine tables: groups and ranges, families, initial state, stable ids,
//! and errors the engine would raise reported with the virtual server's line.

use rvs_engine::config::{DestId, FwdMethod, SvcKey, TunCsum, TunType};
use rvs_keepalived::{parse_text, to_engine, EngineTables, KeepalivedConfig, MemFs, Options};
use rvs_proto::Proto;
use std::net::IpAddr;
use std::path::Path;

fn cfg(text: &str) -> KeepalivedConfig {
    parse_text(
        &MemFs::new(),
        Path::new("/k.conf"),
        text,
        &Options::with_config_id("x"),
    )
    .unwrap_or_else(|e| panic!("{:#?}", e.diags))
}

fn tables(text: &str) -> EngineTables {
    to_engine(&cfg(text)).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const GROUP: &str = "virtual_server_group G {
    10.0.0.1 80
    10.0.0.5-7 443
    10.0.1.0/30
    ae00::8-a 80
    fwmark 3
    fwmark 4 inet6
}
virtual_server group G {
    protocol TCP
    lvs_sched sh
    sh-port
    sh-fallback
    lvs_method TUN type gue port 6080 csum
    persistence_timeout
    persistence_granularity 255.255.255.0
    real_server 192.168.0.1 8080 { weight 3 }
    real_server 192.168.0.2 8080 {
        weight 4
        uthreshold 100
        lthreshold 10
        lvs_method TUN
    }
}
";

#[test]
fn group_ranges_and_fwmarks_expand_to_services() {
    let t = tables(GROUP);
    let keys: Vec<SvcKey> = t.services.iter().map(|s| s.key).collect();
    let addr = |a: &str, port| SvcKey::Addr {
        proto: Proto::Tcp,
        addr: ip(a),
        port,
    };
    let want = vec![
        addr("10.0.0.1", 80),
        addr("10.0.0.5", 443),
        addr("10.0.0.6", 443),
        addr("10.0.0.7", 443),
        addr("10.0.1.0", 0),
        addr("10.0.1.1", 0),
        addr("10.0.1.2", 0),
        addr("10.0.1.3", 0),
        addr("ae00::8", 80),
        addr("ae00::9", 80),
        addr("ae00::a", 80),
        SvcKey::Fwmark { mark: 3, v6: false },
        SvcKey::Fwmark { mark: 4, v6: true },
    ];
    assert_eq!(keys, want);
    let s = &t.services[0];
    assert_eq!(s.sched, "sh");
    assert_eq!(
        s.sched_flags.0,
        rvs_sched::SchedFlags::PORT | rvs_sched::SchedFlags::FALLBACK
    );
    let p = s.persistence.unwrap();
    assert_eq!((p.timeout_s, p.prefix), (360, 24));
    // An IPv6 service of the same group keeps per-client persistence of its family.
    assert_eq!(t.services[8].persistence.unwrap().prefix, 24);
    let d = &s.dests;
    assert_eq!(
        d[0].fwd,
        FwdMethod::Tunnel {
            tun: TunType::Gue { port: 6080 },
            csum: TunCsum::Csum
        }
    );
    assert_eq!(
        (d[1].fwd, d[1].weight, d[1].u_threshold, d[1].l_threshold),
        (
            FwdMethod::Tunnel {
                tun: TunType::Ipip,
                csum: TunCsum::NoCsum
            },
            4,
            100,
            10
        )
    );
}

#[test]
fn dest_ids_are_stable_across_reloads_and_distinct() {
    let a = tables(GROUP);
    // Another real server added, another order: unchanged servers keep their ids.
    let edited = GROUP.replace(
        "    real_server 192.168.0.1 8080 { weight 3 }\n",
        "    real_server 192.168.0.9 8080 { weight 1 }\n    real_server 192.168.0.1 8080 { weight 7 }\n",
    );
    let b = tables(&edited);
    let id_of = |t: &EngineTables, svc: usize, addr: &str| -> DestId {
        t.services[svc]
            .dests
            .iter()
            .find(|d| d.addr == ip(addr))
            .unwrap()
            .id
    };
    for svc in 0..a.services.len() {
        assert_eq!(id_of(&a, svc, "192.168.0.1"), id_of(&b, svc, "192.168.0.1"));
        assert_eq!(id_of(&a, svc, "192.168.0.2"), id_of(&b, svc, "192.168.0.2"));
    }
    let mut all: Vec<u32> = b
        .services
        .iter()
        .flat_map(|s| s.dests.iter().map(|d| d.id.0))
        .collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "ids are unique");
    assert!(all.iter().all(|id| id & 0x8000_0000 != 0));
}

#[test]
fn defaults_are_keepalived_defaults() {
    let c = cfg("virtual_server 10.0.0.1 80 {
        real_server 10.0.1.1 80 {
            TCP_CHECK { }
            HTTP_GET { url { path / } }
            DNS_CHECK { }
            MISC_CHECK { misc_path /bin/true }
            UDP_CHECK { }
        }
    }");
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.protocol, Proto::Udp, "keepalived 2.2.7 defaults to UDP");
    assert_eq!((vs.sched.as_str(), vs.fwd), ("wlc", FwdMethod::Masq));
    assert_eq!((vs.quorum, vs.hysteresis), (1, 0));
    let rs = &vs.real_servers[0];
    assert_eq!(rs.weight, 1);
    let t: Vec<(u64, u64, u32, u64, u64)> = rs
        .checks
        .iter()
        .map(|c| {
            let t = &c.timing;
            (
                t.delay_loop_ms,
                t.connect_timeout_ms,
                t.retry,
                t.delay_before_retry_ms,
                t.warmup_ms,
            )
        })
        .collect();
    assert_eq!(
        t,
        [
            (60_000, 5_000, 1, 1_000, 60_000),  // TCP
            (60_000, 5_000, 1, 3_000, 60_000),  // HTTP
            (60_000, 5_000, 3, 60_000, 60_000), // DNS
            (60_000, 60_000, 0, 1_000, 60_000), // MISC
            (60_000, 5_000, 1, 1_000, 60_000),  // UDP
        ]
    );
    let w: Vec<&str> = c.warnings.iter().map(|w| w.keyword.as_str()).collect();
    assert_eq!(w, ["protocol", "lvs_sched", "lvs_method"]);
}

#[test]
fn timing_inherits_virtual_then_real_then_checker() {
    let c = cfg("virtual_server 10.0.0.1 80 {
        protocol TCP
        delay_loop 6
        connect_timeout 2.5
        real_server 10.0.1.1 80 {
            retry 4
            TCP_CHECK {
 delay_before_retry 0.25
 warmup 0
 }
        }
    }");
    let t = &c.virtual_servers[0].real_servers[0].checks[0].timing;
    assert_eq!(
        (
            t.delay_loop_ms,
            t.connect_timeout_ms,
            t.retry,
            t.delay_before_retry_ms,
            t.warmup_ms
        ),
        (6_000, 2_500, 4, 250, 0)
    );
}

#[test]
fn initial_state_alpha_inhibit_quorum_and_sorry_server() {
    let base = "virtual_server 10.0.0.1 80 {
        protocol TCP
        quorum 2
        sorry_server 10.9.9.9 8080
        sorry_server_lvs_method DR
        real_server 10.0.1.1 80 { weight 1 }
        real_server 10.0.1.2 80 {
 weight 1
 ALPHA
 inhibit_on_failure
 }
    }";
    // Without alpha both count: quorum 2 met, the sorry server is not used.
    let t = tables(&base.replace("ALPHA", ""));
    assert_eq!(
        t.services[0]
            .dests
            .iter()
            .map(|d| d.weight)
            .collect::<Vec<_>>(),
        [1, 1]
    );
    // The second starts failed: quorum lost, the sorry server takes over.
    let t = tables(&base.replace("ALPHA", "alpha"));
    let d = &t.services[0].dests;
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].addr, d[0].port, d[0].fwd),
        (ip("10.9.9.9"), 8080, FwdMethod::Route)
    );
    // Without a sorry server, a failed inhibit_on_failure server stays at weight 0.
    let t = tables(
        &base
            .replace("ALPHA", "alpha")
            .replace("sorry_server 10.9.9.9 8080", ""),
    );
    assert_eq!(
        t.services[0]
            .dests
            .iter()
            .map(|d| d.weight)
            .collect::<Vec<_>>(),
        [1, 0]
    );
}

#[test]
fn global_lvs_settings() {
    let c = cfg("global_defs {
        lvs_timeouts tcp 7200 udp 60
        lvs_sync_daemon eth1 VI_1 id 5 port 8848
        lvs_flush
        script_user nobody nogroup
    }");
    let g = &c.global;
    assert!(g.lvs_flush);
    let s = g.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!(
        (s.interface.as_str(), s.instance.as_deref(), s.id, s.port),
        ("eth1", Some("VI_1"), Some(5), Some(8848))
    );
    assert_eq!(
        g.script_user,
        Some(("nobody".into(), Some("nogroup".into())))
    );
    let t = to_engine(&c).unwrap();
    assert_eq!(t.settings.timeouts.get(), (7200, 120, 60));
}

#[test]
fn engine_refusals_name_the_virtual_server_line() {
    let e = to_engine(&cfg(
        "\n\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n ops\n real_server 10.0.1.1 80 { }\n}\n",
    ))
    .unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("UDP"), "{e}");
    let e = to_engine(&cfg(
        "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server ::1 80 { }\n}\n",
    ))
    .unwrap_err();
    assert!(e.message.contains("family"), "{e}");
    let twice = "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 80 { }\n}\n";
    let e = to_engine(&cfg(&format!("{twice}{twice}"))).unwrap_err();
    assert_eq!(e.line, 5);
    assert!(e.message.contains("already defined at /k.conf:1"), "{e}");
}

#[test]
fn fwmark_service_family_and_rules() {
    let t = tables(
        "rvs_fwmark_rules { rule tcp 2001:db8::/64 80 mark 9 }
    virtual_server fwmark 9 {
        lvs_method DR
        real_server 2001:db8:1::1 { }
    }",
    );
    assert_eq!(t.services[0].key, SvcKey::Fwmark { mark: 9, v6: true });
    assert_eq!(t.fwmark_rules.len(), 1);
    assert_eq!(t.services[0].dests[0].port, 0);
}
