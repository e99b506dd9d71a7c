//! No argument list makes the parser (or the restore reader) panic: ipvsadm's option
//! grammar has many corners (clusters, optional values, `--x=y`, `[v6]:port`).

mod common;

use proptest::prelude::*;
use rvs_ctl::parse::parse_with;
use rvs_ctl::restore::parse_restore;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "-A",
            "-E",
            "-D",
            "-C",
            "-R",
            "-S",
            "-a",
            "-e",
            "-d",
            "-L",
            "-l",
            "-Z",
            "--set",
            "--start-daemon",
            "--stop-daemon",
            "-h",
            "-v",
            "-t",
            "-u",
            "--sctp-service",
            "-f",
            "-6",
            "-s",
            "-p",
            "-M",
            "-b",
            "--pe",
            "-o",
            "-r",
            "-g",
            "-i",
            "-m",
            "--tun-type",
            "--tun-port",
            "--tun-nocsum",
            "--tun-csum",
            "--tun-remcsum",
            "-w",
            "-x",
            "-y",
            "-c",
            "--timeout",
            "--daemon",
            "--stats",
            "--rate",
            "--thresholds",
            "--persistent-conn",
            "--tun-info",
            "--exact",
            "--sort",
            "--nosort",
            "-n",
            "--syncid",
            "--sync-maxlen",
            "--mcast-interface",
            "--mcast-group",
            "--mcast-port",
            "--mcast-ttl",
            "--fullnat",
            "--laddr",
            "--fwmark-rule",
            "--del-fwmark-rule",
            "--vs-set",
            "-Lnc",
            "-p60",
            "10.0.0.1:80",
            "[2001:db8::1]:80",
            "[",
            "]:",
            "::1",
            "0",
            "65536",
            "-1",
            "gue",
            "gre",
            "ipip",
            "master",
            "backup",
            "sh",
            "sh-port,mh-port",
            ",",
            "--",
            "",
            "255.255.255.0",
            "129",
            "tcp,10.0.0.0/24,80-90,5",
            "sloppy_tcp=1",
            "http",
            "web1",
            "ipvsadm",
            "#",
        ])
        .prop_map(str::to_string),
        ".{0,12}",
        "-[A-Za-z0-9]{1,4}",
        "--[a-z-]{1,12}(=.{0,6})?",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn parse_never_panics(words in prop::collection::vec(word(), 0..10)) {
        let mut argv = vec!["ipvsadm".to_string()];
        argv.extend(words.iter().cloned());
        let _ = parse_with(&argv, &common::Fake);
        let _ = parse_restore(&words.join(" "), "ipvsadm", &common::Fake);
    }

    #[test]
    fn arbitrary_strings_never_panic(words in prop::collection::vec(any::<String>(), 0..6)) {
        let mut argv = vec!["ipvsadm".to_string()];
        argv.extend(words.iter().cloned());
        let _ = parse_with(&argv, &common::Fake);
        let _ = parse_restore(&words.join("\n"), "ipvsadm", &common::Fake);
    }
}

/// Replays the committed `ctl` fuzz corpus (control requests, argv, -R input).
#[test]
fn ctl_fuzz_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ctl");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        rvs_ctl::fuzzing::ctl(&std::fs::read(&p).unwrap());
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}
