//! One test per feature of the keepalived.conf grammar, on in-memory files.

use rvs_keepalived::{parse_text, ConfigError, KeepalivedConfig, MemFs, Options, Severity, VsKey};
use std::path::Path;

const MAIN: &str = "/etc/keepalived/keepalived.conf";

fn opts() -> Options {
    Options::with_config_id("main")
}

fn parse_with(fs: &MemFs, text: &str, o: &Options) -> Result<KeepalivedConfig, ConfigError> {
    parse_text(fs, Path::new(MAIN), text, o)
}

fn ok(text: &str) -> KeepalivedConfig {
    parse_with(&MemFs::new(), text, &opts()).unwrap_or_else(|e| panic!("refused: {:#?}", e.diags))
}

fn err(text: &str) -> ConfigError {
    match parse_with(&MemFs::new(), text, &opts()) {
        Ok(c) => panic!("accepted, warnings {:#?}", c.warnings),
        Err(e) => e,
    }
}

fn vs_addrs(c: &KeepalivedConfig) -> Vec<String> {
    c.virtual_servers
        .iter()
        .map(|v| match &v.key {
            VsKey::Addr { addr, port } => format!("{addr}:{port}"),
            k => format!("{k:?}"),
        })
        .collect()
}

const VS: &str = "virtual_server 10.0.0.1 80 {\n  lvs_sched rr\n  lvs_method DR\n  protocol TCP\n  real_server 10.0.1.1 80 { weight 2 }\n}\n";

#[test]
fn comments_hash_and_bang_anywhere() {
    let c = ok("! top\n# top\nvirtual_server 10.0.0.1 80 { # c\n lvs_sched rr ! c\n lvs_method DR\n protocol TCP\n real_server 10.0.1.1 80 {\n weight 3 # three\n inhibit_on_failure ! set weight 0\n }\n}\n");
    let rs = &c.virtual_servers[0].real_servers[0];
    assert_eq!(rs.weight, 3);
    assert!(rs.inhibit_on_failure);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn slash_slash_is_cut_with_a_warning() {
    let c = ok("global_defs {\n router_id LVS_MASTER //on the backup use another name\n}\n");
    assert_eq!(c.global.router_id.as_deref(), Some("LVS_MASTER"));
    let w = &c.warnings[0];
    assert_eq!((w.line, w.keyword.as_str()), (2, "//"));
    // Inside a word (a URL) it is not a comment.
    let c = ok("virtual_server 10.0.0.1 80 {\n quorum_up http://x/y\n}\n");
    assert_eq!(
        c.virtual_servers[0].quorum_up.as_ref().unwrap().command,
        "http://x/y"
    );
}

#[test]
fn braces_glued_and_on_the_next_line() {
    let c = ok("virtual_server 10.0.0.1 80{lvs_sched rr\nprotocol TCP\nlvs_method NAT\nreal_server 10.0.1.1 80\n{\nweight 5}}\n");
    assert_eq!(c.virtual_servers[0].real_servers[0].weight, 5);
}

#[test]
fn quoted_strings_group_words_and_unescape() {
    let c = ok("virtual_server 10.0.0.1 80 {\n quorum_up \"/bin/up a  b\" nobody\n quorum_down ab\"c d\"e\n real_server 10.0.1.1 80 {\n  MISC_CHECK { misc_path '/bin/x \\\"q\\\"' }\n }\n}\n");
    let vs = &c.virtual_servers[0];
    let up = vs.quorum_up.as_ref().unwrap();
    assert_eq!(up.command, "/bin/up a  b");
    assert_eq!(up.user, Some(("nobody".to_string(), None)));
    assert_eq!(vs.quorum_down.as_ref().unwrap().command, "abc de");
    match &vs.real_servers[0].checks[0].kind {
        rvs_check::spec::CheckKind::Misc { path, .. } => assert_eq!(path, "/bin/x \"q\""),
        k => panic!("{k:?}"),
    }
}

#[test]
fn include_with_glob_relative_to_the_including_file() {
    let fs = MemFs::new()
        .with(
            "/etc/keepalived/conf.d/b.conf",
            VS.replace("10.0.0.1", "10.0.0.2"),
        )
        .with(
            "/etc/keepalived/conf.d/a.conf",
            VS.replace("10.0.0.1", "10.0.0.3") + "include ../sub/*.inc\n",
        )
        .with(
            "/etc/keepalived/sub/x.inc",
            VS.replace("10.0.0.1", "10.0.0.4"),
        )
        .with("/etc/keepalived/conf.d/c.txt", "garbage {{{");
    let c = parse_with(&fs, &format!("{VS}include conf.d/*.conf\n"), &opts()).expect("loads");
    // Sorted glob order, depth first, as keepalived reads them.
    assert_eq!(
        vs_addrs(&c),
        ["10.0.0.1:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.2:80"]
    );
    assert_eq!(
        &*c.virtual_servers[2].pos.file,
        "/etc/keepalived/conf.d/../sub/x.inc"
    );
}

#[test]
fn include_brace_expansion_and_missing_files() {
    let fs = MemFs::new()
        .with("/etc/keepalived/a.conf", VS)
        .with("/etc/keepalived/b.conf", VS.replace("10.0.0.1", "10.0.0.2"));
    let c =
        parse_with(&fs, "include {a,b}.conf\ninclude nothing/*.conf\n", &opts()).expect("loads");
    assert_eq!(vs_addrs(&c), ["10.0.0.1:80", "10.0.0.2:80"]);
    // Plain `include` of nothing is a warning, `includea` an error.
    assert_eq!(c.warnings[0].line, 2);
    assert!(parse_with(&fs, "includea nothing.conf\n", &opts()).is_err());
}

#[test]
fn include_cycle_is_an_error() {
    let fs = MemFs::new()
        .with("/etc/keepalived/a.conf", "include b.conf\n")
        .with("/etc/keepalived/b.conf", "include a.conf\n");
    let e = parse_with(&fs, "include a.conf\n", &opts()).unwrap_err();
    assert!(e.first.message.contains("cycle"), "{}", e.first);
    assert_eq!(&*e.first.file, "/etc/keepalived/b.conf");
}

#[test]
fn variables_single_multi_line_and_nested() {
    let c = ok(concat!(
        "$BASE=10.2.${SUB}\n",
        "$SUB=0\n",
        "$SCHED=rr\n",
        "$RS= \\\n",
        "real_server 10.1.${VS_NUM}.${RS_NUM} 80 { \\\n",
        "  weight ${RS_NUM} \\\n",
        "} \n",
        "$VS= \\\n",
        "virtual_server ${BASE}.${VS_NUM} 80 { \\\n",
        "  lvs_sched $SCHED \\\n",
        "  protocol TCP \\\n",
        "  lvs_method NAT \\\n",
        "  $RS_NUM=1 \\\n",
        "  $RS \\\n",
        "  $RS_NUM=2 \\\n",
        "  $RS \\\n",
        "}\n",
        "$VS_NUM=1\n",
        "$VS\n",
        "$SUB=10\n",
        "$VS_NUM=2\n",
        "$VS\n",
        "virtual_server 10.3.0.1 80 { quorum_up \"echo $UNDEFINED ${UNDEF2}\" }\n",
    ));
    assert_eq!(vs_addrs(&c)[..2], ["10.2.0.1:80", "10.2.10.2:80"]);
    let rs: Vec<(String, u32)> = c.virtual_servers[1]
        .real_servers
        .iter()
        .map(|r| (r.addr.to_string(), r.weight))
        .collect();
    assert_eq!(rs, [("10.1.2.1".into(), 1), ("10.1.2.2".into(), 2)]);
    assert_eq!(c.virtual_servers[0].sched, "rr");
    // Undefined parameters stay as written.
    assert_eq!(
        c.virtual_servers[2].quorum_up.as_ref().unwrap().command,
        "echo $UNDEFINED ${UNDEF2}"
    );
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let text = "global_defs {\n @main router_id main_router\n @backup router_id backup_router\n}\n$IF_MAIN=@main\nvirtual_server 10.0.0.1 80 {\n @^main quorum 5\n $IF_MAIN quorum 7\n}\n";
    let c = parse_with(&MemFs::new(), text, &Options::with_config_id("main")).unwrap();
    assert_eq!(c.global.router_id.as_deref(), Some("main_router"));
    assert_eq!(c.virtual_servers[0].quorum, 7);
    let c = parse_with(&MemFs::new(), text, &Options::with_config_id("backup")).unwrap();
    assert_eq!(c.global.router_id.as_deref(), Some("backup_router"));
    assert_eq!(c.virtual_servers[0].quorum, 5);
    // Default: the hostname's first label, through the ConfigFs.
    let mut fs = MemFs::new();
    fs.hostname = Some("backup.example.org\n".into());
    let c = parse_with(&fs, text, &Options::default()).unwrap();
    assert_eq!(c.global.router_id.as_deref(), Some("backup_router"));
}

#[test]
fn seq_and_lst_repeat_lines() {
    let c = ok("virtual_server_group G {\n ~SEQ(N, 1, 2, 5) 10.0.0.${N} 80\n ~SEQx(H, 10, 11) ae00::${H} 80\n ~LST({A, P}, {1, 81}, {2, 82}) 10.9.0.${A} ${P}\n}\n");
    let e: Vec<String> = c.groups[0]
        .entries
        .iter()
        .map(|e| match e {
            rvs_keepalived::GroupEntry::Range { first, port, .. } => format!("{first} {port}"),
            o => format!("{o:?}"),
        })
        .collect();
    assert_eq!(
        e,
        [
            "10.0.0.1 80",
            "10.0.0.3 80",
            "10.0.0.5 80",
            "ae00::a 80",
            "ae00::b 80",
            "10.9.0.1 81",
            "10.9.0.2 82"
        ]
    );
}

#[test]
fn unclosed_block_at_eof_is_a_warning() {
    let c =
        ok("virtual_server 10.0.0.1 80 {\n lvs_sched rr\n real_server 10.0.1.1 80 {\n weight 1\n");
    assert_eq!(c.virtual_servers[0].real_servers.len(), 1);
    let w = c
        .warnings
        .iter()
        .find(|w| w.message.contains("missing"))
        .expect("warned");
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("2 missing"), "{w}");
}

#[test]
fn stray_closing_brace_is_an_error_with_its_line() {
    let e = err(&format!("{VS}}}\n"));
    assert_eq!(e.first.line, 7);
    assert_eq!(
        e.first.to_string(),
        format!("{MAIN}:7: error: '}}': extra '}}' found")
    );
}

#[test]
fn bad_address_is_an_error_with_its_line() {
    let e = err("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.300 80 {\n }\n}\n");
    assert_eq!((e.first.line, e.first.keyword.as_str()), (2, "real_server"));
    assert!(e.first.message.contains("10.0.0.300"));
    let e = err("virtual_server 10.0.0.256 80 {\n}\n");
    assert_eq!(e.first.line, 1);
}

#[test]
fn unknown_scheduler_is_an_error() {
    let e = err("virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo fastest\n}\n");
    assert_eq!((e.first.line, e.first.keyword.as_str()), (3, "lb_algo"));
    assert!(e.first.message.contains("unknown scheduler 'fastest'"));
}

#[test]
fn unknown_keyword_is_a_warning_naming_file_line_keyword() {
    let c = ok("virtual_server 10.0.0.1 80 {\n frobnicate 3\n}\nnot_a_section { x }\n");
    let w: Vec<String> = c
        .warnings
        .iter()
        .map(|w| format!("{}:{}:{}", w.file, w.line, w.keyword))
        .collect();
    assert!(w.contains(&format!("{MAIN}:2:frobnicate")), "{w:?}");
    assert!(w.contains(&format!("{MAIN}:4:not_a_section")), "{w:?}");
}

#[test]
fn bad_numbers_are_errors() {
    for bad in [
        "delay_loop abc",
        "quorum -1",
        "persistence_granularity 255.0.255.0",
        "lvs_method TUN type gue",
        "lvs_method FOO",
        "protocol ICMP",
    ] {
        let e = err(&format!("virtual_server 10.0.0.1 80 {{\n {bad}\n}}\n"));
        assert_eq!(e.first.line, 2, "{bad}: {}", e.first);
    }
}

#[test]
fn vrrp_sections_are_typed_static_ones_warned() {
    // Once kept untyped and silent; now typed (tests/vrrp.rs has one test per keyword),
    // and the static network sections rvs does not implement are warnings.
    let c = ok("vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 7\n priority 150\n virtual_ipaddress {\n 10.0.0.1/24\n }\n}\nvrrp_sync_group G { group { VI_1 VI_1 } }\nstatic_routes { 10.0.0.0/8 via 10.9.9.9 }\nvrrp_script s { script \"x\" }\n");
    assert_eq!(c.vrrp.instances.len(), 1);
    let vip = &c.vrrp.instances[0].vips[0];
    assert_eq!((vip.addr.to_string(), vip.prefix), ("10.0.0.1".into(), 24));
    assert_eq!(c.vrrp.sync_groups[0].members, ["VI_1"]);
    assert_eq!(c.vrrp.scripts[0].command, "x");
    let w: Vec<String> = c
        .warnings
        .iter()
        .map(|w| format!("{}:{}", w.line, w.keyword))
        .collect();
    // static_routes (top-level pass), then the VRRP pass: state MASTER below 255, VI_1
    // named twice, a group of one.
    assert_eq!(
        w,
        [
            "11:static_routes",
            "1:vrrp_instance",
            "10:VI_1",
            "10:vrrp_sync_group"
        ]
    );
    assert_eq!(c.other[0].keyword, "static_routes");
}

#[test]
fn fwmark_rules_extension() {
    let c = ok("rvs_fwmark_rules {\n rule tcp 10.0.0.0/24 80-90 mark 1\n rule any 2001:db8::1 53 mark 2\n}\nvirtual_server fwmark 1 {\n lvs_sched rr\n lvs_method DR\n real_server 10.1.0.1 { weight 1 }\n}\n");
    let r = &c.fwmark_rules[0].rule;
    assert_eq!((r.prefix, r.dport_lo, r.dport_hi, r.mark), (24, 80, 90, 1));
    assert_eq!(r.proto, Some(rvs_proto::Proto::Tcp));
    assert_eq!(c.fwmark_rules[1].rule.proto, None);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let e = err("rvs_fwmark_rules {\n rule tcp 10.0.0.0/33 80 mark 1\n}\n");
    assert_eq!(e.first.line, 2);
}
