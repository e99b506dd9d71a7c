//! keepalived's VRRP keywords, one test per keyword: the value, the default, the error
//! and the warning (with FILE:LINE), on in-memory files; and seed 002's instance.

use rvs_keepalived::{parse_file, parse_text, plan, ConfigError, Diag, MemFs, Options, StdFs};
use rvs_vrrp::{
    Auth, GarpTiming, InitialState, InstanceConfig, Notify, NotifyScript, Tracked, Version, Vip,
    VipOwner, VrrpConfig,
};
use std::net::IpAddr;
use std::path::Path;

const MAIN: &str = "/etc/keepalived/keepalived.conf";

fn parse(text: &str) -> Result<rvs_keepalived::KeepalivedConfig, ConfigError> {
    parse_text(
        &MemFs::new(),
        Path::new(MAIN),
        text,
        &Options::with_config_id("main"),
    )
}

fn ok(text: &str) -> (VrrpConfig, Vec<Diag>) {
    let c = parse(text).unwrap_or_else(|e| panic!("refused: {:#?}", e.diags));
    for w in &c.warnings {
        assert!(w
            .to_string()
            .starts_with(&format!("{MAIN}:{}: warning: ", w.line)));
    }
    (c.vrrp, c.warnings)
}

/// The first error, as printed.
fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("accepted: {:#?} {:#?}", c.vrrp, c.warnings),
        Err(e) => e.first.to_string(),
    }
}

/// An instance whose lines 2..=4 are interface, VRID and one VIP; `body` starts on line 5.
fn instance_text(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{ 10.0.0.1 }}\n{body}\n}}\n"
    )
}

fn strings(w: &[Diag]) -> Vec<String> {
    w.iter().map(|d| d.to_string()).collect()
}

fn inst(body: &str) -> (InstanceConfig, Vec<String>) {
    let (v, w) = ok(&instance_text(body));
    assert_eq!(v.instances.len(), 1);
    (v.instances.into_iter().next().unwrap(), strings(&w))
}

fn inst_err(body: &str) -> String {
    err(&instance_text(body))
}

/// `line: warning: 'kw': ...` among `w`, containing `text`.
fn has(w: &[String], line: u32, kw: &str, text: &str) {
    let want = format!("{MAIN}:{line}: warning: '{kw}': ");
    assert!(
        w.iter().any(|d| d.starts_with(&want) && d.contains(text)),
        "no `{want}...{text}...` in {w:#?}"
    );
}

fn is_err(e: &str, line: u32, kw: &str, text: &str) {
    let want = format!("{MAIN}:{line}: error: '{kw}': ");
    assert!(
        e.starts_with(&want) && e.contains(text),
        "`{e}` is not `{want}...{text}...`"
    );
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn vip(a: &str) -> Vip {
    let addr = ip(a);
    Vip {
        addr,
        prefix: if addr.is_ipv6() { 128 } else { 32 },
        brd: None,
        dev: None,
        scope: None,
        label: None,
    }
}

#[test]
fn keepalived_defaults() {
    let (i, w) = inst("");
    assert!(w.is_empty(), "{w:#?}");
    let want = InstanceConfig {
        name: "VI_1".into(),
        interface: "eth0".into(),
        vrid: 51,
        version: Version::V2,
        ipv6: false,
        initial: InitialState::Backup,
        priority: 100,
        advert_int_cs: 100,
        auth: Auth::None,
        nopreempt: false,
        preempt_delay_ms: 0,
        vips: vec![vip("10.0.0.1")],
        vips_excluded: vec![],
        vip_owner: VipOwner::Kernel,
        src: None,
        unicast_peers: vec![],
        track_interfaces: vec![],
        track_scripts: vec![],
        track_files: vec![],
        notify: Notify::default(),
        garp: GarpTiming {
            delay_ms: 5000,
            repeat: 5,
            refresh_ms: 0,
            refresh_repeat: 1,
        },
        // keepalived 2.2.7 without vrrp_strict: accept mode on.
        accept: true,
        pos: format!("{MAIN}:1"),
    };
    assert_eq!(i, want);
}

#[test]
fn state_and_priority() {
    let (i, w) = inst(" state BACKUP\n priority 1");
    assert_eq!((i.initial, i.priority), (InitialState::Backup, 1));
    assert!(w.is_empty(), "{w:#?}");
    // keepalived: no priority and state MASTER make the address owner.
    let (i, w) = inst(" state MASTER");
    assert_eq!((i.initial, i.priority), (InitialState::Master, 255));
    has(&w, 1, "vrrp_instance", "state MASTER makes it 255");
    let (i, w) = inst(" state MASTER\n priority 200");
    assert_eq!((i.initial, i.priority), (InitialState::Master, 200));
    has(&w, 1, "vrrp_instance", "starts as BACKUP");
    // No state: derived from the priority.
    let (i, _) = inst(" priority 255");
    assert_eq!(i.initial, InitialState::Master);
    let (i, w) = inst(" state BACKUP\n priority 255");
    assert_eq!(i.initial, InitialState::Backup);
    has(
        &w,
        1,
        "vrrp_instance",
        "priority 255 (the address owner) with state BACKUP",
    );
    let (i, w) = inst(" state MASTER\n state BACKUP\n priority 255");
    assert_eq!(i.initial, InitialState::Master);
    has(&w, 6, "state", "ignoring BACKUP");
    for bad in ["0", "256", "-1", "high"] {
        is_err(&inst_err(&format!(" priority {bad}")), 5, "priority", bad);
    }
    is_err(
        &inst_err(" state master"),
        5,
        "state",
        "unknown state 'master'",
    );
    is_err(&inst_err(" state"), 5, "state", "missing value");
    has(&inst(" priority 150 160").1, 5, "priority", "'160'");
}

#[test]
fn virtual_router_id_and_interface_are_required() {
    for bad in ["0", "256", "x"] {
        is_err(
            &inst_err(&format!(" virtual_router_id {bad}")),
            5,
            "virtual_router_id",
            bad,
        );
    }
    let e = err("vrrp_instance VI_1 {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\n");
    is_err(&e, 1, "vrrp_instance", "virtual_router_id is missing");
    let e = err("vrrp_instance VI_1 {\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1 }\n}\n");
    is_err(&e, 1, "vrrp_instance", "interface is missing");
    is_err(
        &inst_err(" interface a_very_long_ifname0"),
        5,
        "interface",
        "too long",
    );
    is_err(
        &err("vrrp_instance {\n}\n"),
        1,
        "vrrp_instance",
        "must have a name",
    );
}

#[test]
fn advert_int_by_version() {
    assert_eq!(inst(" advert_int 3").0.advert_int_cs, 300);
    // v2 carries whole seconds: keepalived rounds, and says so.
    let (i, w) = inst(" advert_int 1.5");
    assert_eq!(i.advert_int_cs, 200);
    has(&w, 1, "vrrp_instance", "rounding to 2");
    let (i, w) = inst(" version 3\n advert_int 0.1");
    assert_eq!((i.version, i.advert_int_cs), (Version::V3, 10));
    assert!(w.is_empty(), "{w:#?}");
    let (i, w) = inst(" version 3\n advert_int 0.015");
    assert_eq!(i.advert_int_cs, 2);
    has(&w, 1, "vrrp_instance", "units of 10 ms");
    let (i, w) = inst(" version 3\n advert_int 50");
    assert_eq!(i.advert_int_cs, 4095);
    has(&w, 1, "vrrp_instance", "out of range; setting 40.95");
    for bad in ["0", "0.001", "256", "1s"] {
        is_err(
            &inst_err(&format!(" advert_int {bad}")),
            5,
            "advert_int",
            bad,
        );
    }
}

#[test]
fn version_and_family() {
    assert_eq!(inst(" version 3").0.version, Version::V3);
    is_err(&inst_err(" version 4"), 5, "version", "2 or 3");
    // global_defs' vrrp_version is the default, wherever global_defs is.
    let (v, _) = ok(&format!(
        "{}global_defs {{\n vrrp_version 3\n}}\n",
        instance_text("")
    ));
    assert_eq!(v.instances[0].version, Version::V3);
    is_err(
        &err("global_defs {\n vrrp_version 1\n}\n"),
        2,
        "vrrp_version",
        "2 or 3",
    );
    // IPv6: always v3; an explicit v2 is changed, with a warning.
    let six = "vrrp_instance V6 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n fe80::1\n 2001:db8::1/64\n }\n";
    let (v, w) = ok(&format!("{six}}}\n"));
    assert_eq!(
        (v.instances[0].version, v.instances[0].ipv6),
        (Version::V3, true)
    );
    assert!(w.is_empty(), "{w:#?}");
    let (v, w) = ok(&format!("{six} version 2\n}}\n"));
    assert_eq!(v.instances[0].version, Version::V3);
    let w = strings(&w);
    has(&w, 1, "vrrp_instance", "setting version 3");
    // RFC 5798: the first IPv6 VIP of a multicast instance is link local.
    let (_, w) = ok("vrrp_instance V6 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n 2001:db8::1\n }\n}\n");
    let w = strings(&w);
    has(&w, 5, "2001:db8::1", "should be link local");
    // VIPs of mixed families: keepalived drops the odd one; rvs refuses the file.
    let e = inst_err(" virtual_ipaddress {\n 2001:db8::1\n }");
    is_err(&e, 6, "2001:db8::1", "address family must match");
    // Excluded addresses are not advertised: any family.
    let (i, _) = inst(" virtual_ipaddress_excluded {\n 2001:db8::1\n }");
    assert_eq!(i.vips_excluded, [vip("2001:db8::1")]);
    assert!(!i.ipv6);
    // No VIP: v3 refuses, v2 warns.
    let (v, w) = ok("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n}\n");
    assert!(v.instances[0].vips.is_empty());
    let w = strings(&w);
    has(&w, 1, "vrrp_instance", "no VIP specified");
    is_err(
        &err("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n version 3\n}\n"),
        1,
        "vrrp_instance",
        "at least one is required",
    );
    // native_ipv6.
    let (v, _) = ok("vrrp_instance V6 {\n interface eth0\n virtual_router_id 5\n native_ipv6\n unicast_peer {\n fe80::2\n }\n virtual_ipaddress {\n fe80::1\n }\n}\n");
    assert!(v.instances[0].ipv6);
    is_err(&inst_err(" native_ipv6"), 1, "native_ipv6", "IPv4");
}

#[test]
fn authentication() {
    let (i, w) = inst(" authentication {\n auth_type PASS\n auth_pass 1111\n }");
    assert_eq!(i.auth, Auth::Pass(*b"1111\0\0\0\0"));
    assert!(w.is_empty(), "{w:#?}");
    let (i, w) = inst(" authentication {\n auth_type PASS\n auth_pass 0123456789\n }");
    assert_eq!(i.auth, Auth::Pass(*b"01234567"));
    has(
        &w,
        7,
        "auth_pass",
        "truncating auth_pass to 8 characters ('01234567')",
    );
    // AH: refused at the keyword, said exactly.
    let (i, w) = inst(" authentication {\n auth_type AH\n auth_pass secret\n }");
    assert_eq!(i.auth, Auth::None);
    has(
        &w,
        6,
        "auth_type",
        "(VI_1) AH authentication is not supported by rvs: refused; the instance runs without authentication",
    );
    is_err(
        &inst_err(" authentication {\n auth_type MD5\n }"),
        6,
        "auth_type",
        "unknown authentication type 'MD5'",
    );
    let (i, w) = inst(" version 3\n authentication {\n auth_type PASS\n auth_pass x\n }");
    assert_eq!(i.auth, Auth::None);
    has(
        &w,
        1,
        "vrrp_instance",
        "version 3 does not support authentication",
    );
    let (i, w) = inst(" authentication {\n auth_type PASS\n }");
    assert_eq!(i.auth, Auth::None);
    has(&w, 1, "vrrp_instance", "no password given");
    let (i, w) = inst(" authentication {\n auth_pass x\n }");
    assert_eq!(i.auth, Auth::None);
    has(&w, 1, "vrrp_instance", "auth_pass without 'auth_type PASS'");
    has(
        &inst(" authentication {\n auth_type PASS\n auth_pass x\n frob 1\n }").1,
        8,
        "frob",
        "unknown",
    );
    is_err(
        &inst_err(" authentication PASS"),
        5,
        "authentication",
        "expects a '{ ... }' block",
    );
}

#[test]
fn preemption() {
    assert!(inst(" nopreempt").0.nopreempt);
    assert!(!inst(" nopreempt\n preempt").0.nopreempt);
    assert_eq!(inst(" preempt_delay 2.5").0.preempt_delay_ms, 2500);
    is_err(&inst_err(" preempt_delay 1001"), 5, "preempt_delay", "1001");
    // keepalived's clearing notes.
    let (i, w) = inst(" state MASTER\n priority 200\n nopreempt\n preempt_delay 3");
    assert_eq!((i.nopreempt, i.preempt_delay_ms), (false, 0));
    has(
        &w,
        1,
        "vrrp_instance",
        "nopreempt will not work with initial state MASTER",
    );
    has(
        &w,
        1,
        "vrrp_instance",
        "preempt_delay will not work with initial state MASTER",
    );
    let (i, w) = inst(" priority 255\n state BACKUP\n nopreempt");
    assert!(!i.nopreempt);
    has(
        &w,
        1,
        "vrrp_instance",
        "nopreempt is incompatible with priority 255",
    );
    let (i, w) = inst(" nopreempt\n preempt_delay 3");
    assert_eq!((i.nopreempt, i.preempt_delay_ms), (true, 0));
    has(
        &w,
        1,
        "vrrp_instance",
        "preempt_delay is incompatible with nopreempt",
    );
    has(&inst(" nopreempt yes").1, 5, "nopreempt", "takes no value");
}

#[test]
fn virtual_ipaddress_options() {
    let (i, w) = inst(
        " virtual_ipaddress_excluded {\n 10.0.1.5/24 brd + dev eth1 scope link label eth1:vip\n 10.0.2.5/24 broadcast - scope 42\n 10.0.3.5/24 brd 10.0.3.127\n }",
    );
    assert!(w.is_empty(), "{w:#?}");
    let v = &i.vips_excluded;
    assert_eq!(
        v[0],
        Vip {
            addr: ip("10.0.1.5"),
            prefix: 24,
            brd: Some(ip("10.0.1.255")),
            dev: Some("eth1".into()),
            scope: Some(253),
            label: Some("eth1:vip".into()),
        }
    );
    assert_eq!((v[1].brd, v[1].scope), (Some(ip("10.0.2.0")), Some(42)));
    assert_eq!(v[2].brd, Some(ip("10.0.3.127")));
    for (bad, text) in [
        ("10.0.0.256", "invalid IP address"),
        ("10.0.0.5/33", "invalid prefix length"),
        ("10.0.0.5/x", "invalid prefix length"),
        ("10.0.0.5 dev", "no dev parameter"),
        ("10.0.0.5 scope galaxy", "invalid scope"),
        ("10.0.0.5 brd x", "invalid broadcast"),
        ("fe80::5 brd +", "no broadcast"),
        ("10.0.0.5 label abcdefghijklmnop", "longer than 15"),
        ("10.0.0.5 dev a dev b", "more than once"),
    ] {
        let e = inst_err(&format!(" virtual_ipaddress_excluded {{\n {bad}\n }}"));
        let kw = bad.split(' ').next().unwrap();
        is_err(&e, 6, kw, text);
    }
    let (i, w) = inst(
        " virtual_ipaddress_excluded {\n fe80::5/64 scope link label x\n 10.0.0.6/31 brd +\n 10.0.0.7 home\n 10.0.0.8 frob\n }",
    );
    assert_eq!(
        (
            i.vips_excluded[0].scope,
            i.vips_excluded[0].label.as_deref()
        ),
        (None, None)
    );
    has(&w, 6, "fe80::5/64", "cannot specify scope for IPv6");
    has(&w, 6, "fe80::5/64", "cannot specify label for IPv6");
    has(&w, 7, "10.0.0.6/31", "too long for a broadcast");
    has(&w, 8, "10.0.0.7", "'home' is not supported by rvs");
    has(&w, 9, "10.0.0.8", "unknown address option 'frob'");
}

#[test]
fn too_many_vips_go_to_the_excluded_list() {
    // IPv6 in a 1500-byte frame: 89 addresses.
    let lines: String = (1..=90).map(|k| format!(" fe80::{k:x}\n")).collect();
    let (v, w) = ok(&format!(
        "vrrp_instance V6 {{\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {{\n{lines} }}\n}}\n"
    ));
    let i = &v.instances[0];
    assert_eq!((i.vips.len(), i.vips_excluded.len()), (89, 1));
    assert_eq!(i.vips_excluded[0].addr, ip("fe80::5a"));
    let w = strings(&w);
    has(&w, 1, "vrrp_instance", "max 89");
}

#[test]
fn unicast_and_source_addresses() {
    let (i, w) = inst(" unicast_src_ip 10.0.0.2\n unicast_peer {\n 10.0.0.3\n 10.0.0.4\n }");
    assert_eq!(i.src, Some(ip("10.0.0.2")));
    assert_eq!(i.unicast_peers, [ip("10.0.0.3"), ip("10.0.0.4")]);
    assert!(w.is_empty(), "{w:#?}");
    let (i, w) = inst(" mcast_src_ip 10.0.0.2");
    assert_eq!((i.src, i.unicast_peers.len()), (Some(ip("10.0.0.2")), 0));
    assert!(w.is_empty(), "{w:#?}");
    let (_, w) = inst(" unicast_src_ip 10.0.0.2");
    has(
        &w,
        1,
        "vrrp_instance",
        "unicast keyword without unicast peers",
    );
    let (i, w) = inst(" unicast_peer {\n 10.0.0.3 min_ttl 250\n 10.0.0.3\n }");
    assert_eq!(i.unicast_peers, [ip("10.0.0.3")]);
    has(
        &w,
        6,
        "10.0.0.3",
        "'min_ttl' (min_ttl/max_ttl) is not supported",
    );
    has(&w, 7, "10.0.0.3", "listed twice");
    is_err(
        &inst_err(" unicast_peer {\n 10.0.0.300\n }"),
        6,
        "10.0.0.300",
        "malformed unicast peer",
    );
    is_err(
        &inst_err(" unicast_peer {\n 2001:db8::3\n }"),
        6,
        "2001:db8::3",
        "must be IPv4",
    );
    is_err(
        &inst_err(" mcast_src_ip x"),
        5,
        "mcast_src_ip",
        "malformed source",
    );
    is_err(
        &inst_err(" mcast_src_ip fe80::1"),
        5,
        "fe80::1",
        "must be IPv4",
    );
}

#[test]
fn tracking() {
    let text = format!(
        "vrrp_script chk {{ script \"/bin/true\" }}\ntrack_file tf {{ file /run/x }}\n{}",
        instance_text(
            " track_interface {\n eth1\n eth2 weight -20\n eth3 weight 254 reverse\n }\n track_script {\n chk weight 10 reverse\n nochk\n }\n track_file {\n tf weight -254\n }"
        )
    );
    let (v, w) = ok(&text);
    let w = strings(&w);
    let i = &v.instances[0];
    let t = |n: &str, weight: Option<i32>, reverse| Tracked {
        name: n.into(),
        weight,
        reverse,
    };
    assert_eq!(
        i.track_interfaces,
        [
            t("eth1", None, false),
            t("eth2", Some(-20), false),
            t("eth3", Some(253), true)
        ]
    );
    has(&w, 10, "eth3", "setting it to 253");
    assert_eq!(i.track_scripts, [t("chk", Some(10), true)]);
    has(
        &w,
        14,
        "nochk",
        "vrrp_script nochk is not defined - ignoring it",
    );
    assert_eq!(i.track_files, [t("tf", Some(-254), false)]);
    // A script defined below the instance is found (rvs reads the file as a whole).
    let (v, _) = ok(&format!(
        "{}vrrp_script chk {{ script x }}\n",
        instance_text(" track_script {\n chk\n }")
    ));
    assert_eq!(v.instances[0].track_scripts[0].name, "chk");
    for (bad, text) in [
        ("eth1 weight", "weight without a value"),
        ("eth1 weight 255", "out of range"),
        ("eth1 weight x", "invalid number"),
        ("eth1 wait 3", "unknown option 'wait'"),
        ("eth1 weight 3 sideways", "unknown weight option"),
    ] {
        is_err(
            &inst_err(&format!(" track_interface {{\n {bad}\n }}")),
            6,
            "eth1",
            text,
        );
    }
    let (i, w) = inst(" track_interface {\n eth0 weight 10\n }");
    assert!(i.track_interfaces.is_empty());
    has(
        &w,
        1,
        "vrrp_instance",
        "ignoring track_interface eth0 since it is the instance's own",
    );
    let (_, w) = inst(" track_interface {\n eth1\n eth1\n }");
    has(&w, 7, "eth1", "duplicate track_interface eth1");
}

#[test]
fn notify_scripts() {
    let (i, w) = inst(
        " notify_master \"/bin/m arg\"\n notify_backup /bin/b\n notify_fault /bin/f nobody\n notify_stop /bin/s nobody nogroup\n notify /bin/n\n notify_master /bin/other",
    );
    let s = |c: &str, u: Option<(&str, Option<&str>)>| {
        Some(NotifyScript {
            command: c.into(),
            user: u.map(|(u, g)| (u.into(), g.map(String::from))),
        })
    };
    assert_eq!(
        i.notify,
        Notify {
            master: s("/bin/m arg", None),
            backup: s("/bin/b", None),
            fault: s("/bin/f", Some(("nobody", None))),
            stop: s("/bin/s", Some(("nobody", Some("nogroup")))),
            any: s("/bin/n", None),
        }
    );
    has(&w, 10, "notify_master", "already specified - ignoring");
    has(
        &inst(" notify /bin/n a b c").1,
        5,
        "notify",
        "quote a command",
    );
}

#[test]
fn garp_timing_instance_and_global() {
    let (i, w) = inst(
        " garp_master_delay 2\n garp_master_repeat 3\n garp_master_refresh 60\n garp_master_refresh_repeat 0",
    );
    assert_eq!(
        i.garp,
        GarpTiming {
            delay_ms: 2000,
            repeat: 3,
            refresh_ms: 60_000,
            refresh_repeat: 1
        }
    );
    has(&w, 8, "garp_master_refresh_repeat", "setting to 1");
    is_err(
        &inst_err(" garp_master_delay 1.5"),
        5,
        "garp_master_delay",
        "1.5",
    );
    let (v, w) = ok(&format!(
        "global_defs {{\n vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 0\n vrrp_garp_master_refresh 10\n vrrp_garp_master_refresh_repeat 2\n vrrp_strict\n}}\n{}",
        instance_text(" garp_master_repeat 4")
    ));
    assert_eq!(
        v.instances[0].garp,
        GarpTiming {
            delay_ms: 1000,
            repeat: 4,
            refresh_ms: 10_000,
            refresh_repeat: 2
        }
    );
    let w = strings(&w);
    has(&w, 3, "vrrp_garp_master_repeat", "setting to 1");
    // Other vrrp_* globals: warnings, not silence.
    has(&w, 6, "vrrp_strict", "not supported");
}

#[test]
fn accept_owner_mode_and_other_keywords() {
    assert!(!inst(" no_accept").0.accept);
    assert!(inst(" no_accept\n accept").0.accept);
    assert_eq!(inst(" rvs_vip_owner kernel").0.vip_owner, VipOwner::Kernel);
    let (i, w) = inst(
        " rvs_vip_owner engine\n virtual_ipaddress_excluded {\n 10.0.1.1/24 dev eth1 label eth1:x\n }",
    );
    assert_eq!(i.vip_owner, VipOwner::Engine);
    has(
        &w,
        7,
        "10.0.1.1",
        "dev, label ignored with rvs_vip_owner engine",
    );
    is_err(
        &inst_err(" rvs_vip_owner xdp"),
        5,
        "rvs_vip_owner",
        "kernel or engine",
    );
    let (_, w) = inst(" use_vmac\n smtp_alert\n frobnicate 1");
    has(&w, 5, "use_vmac", "not supported by rvs");
    has(&w, 6, "smtp_alert", "not supported by rvs");
    has(
        &w,
        7,
        "frobnicate",
        "unknown or unsupported keyword in vrrp_instance",
    );
}

#[test]
fn vrrp_script_section() {
    let (v, w) = ok(
        "vrrp_script chk {\n script /usr/bin/check \"a b\"\n interval 2\n timeout 5\n weight -30 reverse\n rise 3\n fall 4\n user nobody nogroup\n init_fail\n}\nvrrp_script d {\n script \"/bin/d arg\"\n interval 3\n}\n",
    );
    assert!(w.is_empty(), "{w:#?}");
    let s = &v.scripts[0];
    assert_eq!(s.command, "/usr/bin/check 'a b'");
    assert_eq!(
        (
            s.interval_ms,
            s.timeout_ms,
            s.weight,
            s.reverse,
            s.rise,
            s.fall,
            s.init_fail
        ),
        (2000, 5000, -30, true, 3, 4, true)
    );
    assert_eq!(s.user, Some(("nobody".into(), Some("nogroup".into()))));
    // Defaults: weight 0, rise/fall 1, timeout = interval.
    let d = &v.scripts[1];
    assert_eq!(d.command, "/bin/d arg");
    assert_eq!(
        (
            d.interval_ms,
            d.timeout_ms,
            d.weight,
            d.reverse,
            d.rise,
            d.fall,
            d.init_fail
        ),
        (3000, 3000, 0, false, 1, 1, false)
    );
    let (v, w) =
        ok("vrrp_script e {\n interval 0\n rise 0\n}\nvrrp_script f {\n script x\n frob\n}\n");
    let w = strings(&w);
    has(&w, 2, "interval", "setting to 1");
    has(&w, 3, "rise", "defaulting to 1");
    has(
        &w,
        1,
        "vrrp_script",
        "no script set for vrrp_script e - removing it",
    );
    has(&w, 7, "frob", "unknown");
    assert_eq!(v.scripts.len(), 1);
    for (bad, text) in [
        ("weight 254", "out of range"),
        ("weight 2 sideways", "unknown weight option"),
        ("interval 1.5", "invalid number"),
        ("fall x", "invalid number"),
    ] {
        let kw = bad.split(' ').next().unwrap();
        is_err(
            &err(&format!("vrrp_script s {{\n script x\n {bad}\n}}\n")),
            3,
            kw,
            text,
        );
    }
    is_err(
        &err("vrrp_script s { script x }\nvrrp_script s { script y }\n"),
        2,
        "vrrp_script",
        "already defined",
    );
}

#[test]
fn track_file_section() {
    let (v, w) = ok(
        "track_file a {\n file /run/a\n weight -5 reverse\n}\nvrrp_track_file b {\n file /run/b\n init_file 0 overwrite\n}\ntrack_file c {\n weight 2\n}\n",
    );
    let w = strings(&w);
    assert_eq!(v.track_files.len(), 2);
    let a = &v.track_files[0];
    assert_eq!(
        (a.name.as_str(), a.path.as_str(), a.weight, a.reverse),
        ("a", "/run/a", -5, true)
    );
    assert_eq!(
        (v.track_files[1].path.as_str(), v.track_files[1].weight),
        ("/run/b", 1)
    );
    has(&w, 5, "vrrp_track_file", "deprecated");
    has(&w, 7, "init_file", "not supported by rvs");
    has(&w, 9, "track_file", "no file set for track_file c");
    is_err(
        &err("track_file a {\n file x\n weight 255\n}\n"),
        3,
        "weight",
        "out of range",
    );
}

#[test]
fn sync_groups() {
    let two = format!(
        "{}{}",
        instance_text(""),
        "vrrp_instance VI_2 {\n interface eth1\n virtual_router_id 52\n virtual_ipaddress { 10.0.1.1 }\n}\n"
    );
    let (v, w) = ok(&format!(
        "{two}vrrp_sync_group G {{\n group {{\n VI_1\n VI_2\n }}\n notify_master /bin/m\n notify \"/bin/n x\"\n track_interface {{\n eth0\n }}\n}}\n"
    ));
    let w = strings(&w);
    let g = &v.sync_groups[0];
    assert_eq!(
        (g.name.as_str(), g.members.as_slice()),
        ("G", &["VI_1".to_string(), "VI_2".into()][..])
    );
    assert_eq!(g.notify.master.as_ref().unwrap().command, "/bin/m");
    assert_eq!(g.notify.any.as_ref().unwrap().command, "/bin/n x");
    has(&w, 19, "track_interface", "not supported by rvs");
    // Unknown member, member of two groups, empty group.
    is_err(
        &err(&format!(
            "{two}vrrp_sync_group G {{\n group {{ VI_1 VI_9 }}\n}}\n"
        )),
        12,
        "vrrp_sync_group",
        "vrrp instance VI_9 is not defined",
    );
    is_err(
        &err(&format!(
            "{two}vrrp_sync_group G {{ group {{ VI_1 VI_2 }} }}\nvrrp_sync_group H {{ group {{ VI_2 VI_1 }} }}\n"
        )),
        13,
        "vrrp_sync_group",
        "VI_2 is already in sync group G",
    );
    let (v, w) = ok(&format!("{two}vrrp_sync_group G {{\n group {{\n }}\n}}\n"));
    assert!(v.sync_groups.is_empty());
    let w = strings(&w);
    has(&w, 12, "vrrp_sync_group", "empty group block");
}

#[test]
fn one_router_per_interface_vrid_and_family() {
    let e = err(&format!(
        "{}vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{ 10.0.0.2 }}\n}}\n",
        instance_text("")
    ));
    is_err(
        &e,
        7,
        "vrrp_instance",
        "is already used by vrrp instance VI_1",
    );
    // The same VRID for IPv6 on the same link is another router.
    let (v, _) = ok(&format!(
        "{}vrrp_instance VI_6 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{ fe80::1 }}\n}}\n",
        instance_text("")
    ));
    assert_eq!(v.instances.len(), 2);
    let e = err(&format!(
        "{}vrrp_instance VI_1 {{\n interface eth1\n virtual_router_id 5\n virtual_ipaddress {{ 10.0.0.2 }}\n}}\n",
        instance_text("")
    ));
    is_err(&e, 7, "vrrp_instance", "vrrp instance VI_1 already defined");
}

#[test]
fn static_sections_warn() {
    let (_, w) = ok("static_ipaddress {\n 10.0.0.1/24 dev eth0\n}\nstatic_routes {\n 10.1.0.0/16 via 10.0.0.254\n}\nvrrp_track_process p {\n process x\n}\n");
    let w = strings(&w);
    has(&w, 1, "static_ipaddress", "not supported by rvs");
    has(&w, 4, "static_routes", "set it up with ip(8)");
    has(&w, 7, "vrrp_track_process", "not supported by rvs");
}

#[test]
fn seed_002_instance_and_the_plan() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed002_keepalived.conf");
    let c = parse_file(&StdFs, &f, &Options::default()).expect("seed 002 loads");
    let pos = format!("{}:5", f.display());
    let want = VrrpConfig {
        instances: vec![InstanceConfig {
            name: "VI_1".into(),
            interface: "eth1".into(),
            vrid: 51,
            version: Version::V2,
            ipv6: false,
            initial: InitialState::Master,
            priority: 200,
            advert_int_cs: 100,
            auth: Auth::Pass(*b"1111\0\0\0\0"),
            nopreempt: false,
            preempt_delay_ms: 0,
            vips: vec![vip("10.1.1.100")],
            vips_excluded: vec![],
            vip_owner: VipOwner::Kernel,
            src: None,
            unicast_peers: vec![],
            track_interfaces: vec![],
            track_scripts: vec![],
            track_files: vec![],
            notify: Notify::default(),
            garp: GarpTiming::default(),
            accept: true,
            pos: pos.clone(),
        }],
        ..VrrpConfig::default()
    };
    assert_eq!(c.vrrp, want);
    // The seed's "state MASTER" with priority 200 gets keepalived 2's start-as-BACKUP note.
    assert!(c
        .warnings
        .iter()
        .any(|w| w.to_string().starts_with(&format!(
            "{pos}: warning: 'vrrp_instance': (VI_1) state MASTER with priority 200"
        ))));
    assert_eq!(plan(&c).unwrap().vrrp, want);
    // Without VRRP sections the plan has none (rvsd runs no VRRP).
    let c = parse("global_defs {\n router_id x\n}\n").unwrap();
    assert!(plan(&c).unwrap().vrrp.is_empty());
}

#[test]
fn debian_vrrp_samples_are_typed() {
    let dir = Path::new("/usr/share/doc/keepalived/samples");
    assert!(
        dir.exists(),
        "{} is missing: run scripts/deps.sh (it installs keepalived)",
        dir.display()
    );
    let p = |n: &str| parse_file(&StdFs, &dir.join(n), &Options::default()).unwrap();
    let c = p("keepalived.conf.vrrp");
    let names: Vec<&str> = c.vrrp.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2", "VI_3", "VI_4"]);
    let i = &c.vrrp.instances[0];
    assert_eq!(
        (i.interface.as_str(), i.vrid, i.priority),
        ("eth0", 51, 100)
    );
    assert_eq!(i.auth, Auth::Pass(*b"1111\0\0\0\0"));
    // 192.168.200.18 is listed twice (the second time with a label): kept once.
    assert_eq!(i.vips.len(), 3);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.line == 32 && w.message.contains("already a VIP")));
    let c = p("keepalived.conf.vrrp.sync");
    assert_eq!(c.vrrp.sync_groups.len(), 2);
    let sizes: Vec<usize> = c.vrrp.sync_groups.iter().map(|g| g.members.len()).collect();
    assert_eq!(sizes, [7, 2]);
    let c = p("keepalived.conf.vrrp.scripts");
    let g = &c.vrrp.sync_groups[0];
    assert_eq!(g.members, ["VI_2", "VI_3"]);
    assert_eq!(
        g.notify.master.as_ref().unwrap().command,
        "/usr/local/bin/vrrp.mast arg1 arg2"
    );
    assert_eq!(
        c.vrrp.instances[0].notify.fault.as_ref().unwrap().command,
        "/usr/local/bin/vrrp.sh  FAULT  VI_1"
    );
}

/// Review 8: rvs does not drop packets to the VIPs, so `no_accept` says so at its line.
#[test]
fn no_accept_is_a_warning() {
    let (i, w) = inst(" no_accept");
    assert!(!i.accept, "kept as written, status shows it");
    has(&w, 5, "no_accept", "(VI_1) not supported by rvs");
    let (_, w) = inst(" accept");
    assert!(w.is_empty(), "{w:#?}");
}

/// Review 5: `global_defs`' `script_user` is the user of every VRRP script without its
/// own (wherever global_defs stands); `enable_script_security` is a warning, not silence.
#[test]
fn script_user_is_the_default_user_of_vrrp_scripts() {
    let text = "vrrp_script mine {\n script /bin/a\n user alice\n}\n\
        vrrp_script dflt {\n script /bin/b\n}\n\
        vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
        virtual_ipaddress { 10.0.0.1 }\n track_script {\n mine\n dflt\n }\n \
        notify_master /bin/m\n notify \"/bin/n x\" carol\n}\n\
        vrrp_sync_group G {\n group { VI_1 }\n notify_fault /bin/f\n}\n\
        global_defs {\n script_user nobody nogroup\n enable_script_security\n}\n";
    let (v, w) = ok(text);
    let nobody = Some(("nobody".to_string(), Some("nogroup".to_string())));
    let user = |name: &str| {
        v.scripts
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .user
            .clone()
    };
    assert_eq!(user("mine"), Some(("alice".into(), None)));
    assert_eq!(user("dflt"), nobody);
    let n = &v.instances[0].notify;
    assert_eq!(n.master.as_ref().unwrap().user, nobody);
    assert_eq!(n.any.as_ref().unwrap().user, Some(("carol".into(), None)));
    assert_eq!(v.sync_groups[0].notify.fault.as_ref().unwrap().user, nobody);
    let line = text
        .lines()
        .position(|l| l.contains("enable_script_security"))
        .unwrap() as u32
        + 1;
    has(
        &strings(&w),
        line,
        "enable_script_security",
        "not enforced by rvs",
    );

    // without script_user: as before, the runner's own user
    let (v, _) = ok(&text.replace(" script_user nobody nogroup\n", ""));
    assert_eq!(v.scripts[1].user, None);
    assert_eq!(v.instances[0].notify.master.as_ref().unwrap().user, None);
}
