//! Every sample Debian's keepalived package ships must load (warnings allowed), and so
//! must seed 002's keepalived.conf (unclosed block at EOF, `//` comments, `nb_get_retry`).

use rvs_keepalived::{config_test, parse_file, to_engine, Options, StdFs};
use std::path::{Path, PathBuf};

const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

/// The samples directory also holds helper scripts that keepalived.conf files refer to;
/// they are not configurations. Listed by name so a new file cannot slip past.
const HELPERS: &[&str] = &["sample.misccheck.smbcheck.sh", "sample_notify_fifo.sh.gz"];

#[test]
fn every_debian_sample_loads() {
    let dir = Path::new(SAMPLES);
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "{SAMPLES} is missing ({e}): install Debian's keepalived package, \
             which scripts/deps.sh does (run scripts/deps.sh)"
        )
    });
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("dir entry").path()).collect();
    files.sort();
    let mut configs = 0;
    let mut report = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if HELPERS.contains(&name.as_str()) {
            continue;
        }
        assert!(
            name.starts_with("keepalived.conf."),
            "unexpected file {name} in {SAMPLES}: a config (then name it keepalived.conf.*) or a helper (then list it in HELPERS)?"
        );
        // Both config ids the conditional sample is written for, and the default one.
        for id in [None, Some("high"), Some("low")] {
            let opts = Options {
                config_id: id.map(String::from),
                ..Options::default()
            };
            match config_test(&StdFs, f, &opts) {
                Ok(w) => {
                    if id.is_none() {
                        report.push(format!("{name}: {} warnings", w.len()));
                    }
                }
                Err(e) => panic!("{name} (config id {id:?}) refused:\n{:#?}", e.diags),
            }
        }
        configs += 1;
    }
    assert!(
        configs >= 25,
        "expected Debian's 25 sample configs, found {configs}"
    );
    println!("{}", report.join("\n"));
}

#[test]
fn sample_contents_are_understood() {
    if !Path::new(SAMPLES).exists() {
        panic!("{SAMPLES} is missing: run scripts/deps.sh (it installs keepalived)");
    }
    let p = |n: &str| parse_file(&StdFs, &Path::new(SAMPLES).join(n), &Options::default()).unwrap();
    // virtual_server_group: 3 addresses + a range of 8 + 2 fwmarks.
    let c = p("keepalived.conf.virtual_server_group");
    let t = to_engine(&c).unwrap();
    assert_eq!(t.services.len(), 1 + 1 + 1 + 8 + 2);
    // status_code ranges.
    let c = p("keepalived.conf.status_code");
    match &c.virtual_servers[0].real_servers[0].checks[0].kind {
        rvs_check::spec::CheckKind::Http { tls, urls, .. } => {
            assert!(*tls);
            assert_eq!(
                urls[0].status_codes,
                [(200, 299), (400, 499), (503, 503), (505, 505)]
            );
        }
        k => panic!("{k:?}"),
    }
    // SMTP_CHECK host blocks: one probe per host.
    let c = p("keepalived.conf.SMTP_CHECK");
    let rs = &c.virtual_servers[0].real_servers;
    assert_eq!(
        rs.iter().map(|r| r.checks.len()).collect::<Vec<_>>(),
        [1, 3, 3]
    );
    assert_eq!(rs[2].checks[2].endpoint.connect_port, Some(587));
    // quorum sample.
    let c = p("keepalived.conf.quorum");
    let vs = &c.virtual_servers[0];
    assert_eq!(
        (vs.quorum, vs.hysteresis, vs.alpha, vs.omega),
        (7, 2, true, true)
    );
    // alpha: every real server starts failed and is left out; quorum is lost.
    assert!(to_engine(&c).unwrap().services[0].dests.is_empty());
}

#[test]
fn seed_002_loads_with_warnings() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed002_keepalived.conf");
    let c = parse_file(&StdFs, &f, &Options::default()).expect("seed 002 loads");
    let kw: Vec<&str> = c.warnings.iter().map(|w| w.keyword.as_str()).collect();
    for want in ["//", "nb_get_retry", "virtual_server", "HTTP_GET"] {
        assert!(kw.contains(&want), "no warning about {want}: {kw:?}");
    }
    assert!(c.warnings.iter().any(|w| w.message.contains("missing '}'")));
    assert_eq!(c.global.router_id.as_deref(), Some("LVS_MASTER"));
    // The instance is typed (tests/vrrp.rs checks every field of seed 002's).
    assert_eq!(c.vrrp.instances.len(), 1);
    assert_eq!(c.vrrp.instances[0].vrid, 51);
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.sched, "wrr");
    assert_eq!(vs.fwd, rvs_engine::config::FwdMethod::Route);
    assert_eq!(vs.real_servers.len(), 2);
    // HTTP_GET without a url is dropped, as keepalived does.
    assert!(vs.real_servers[0].checks.is_empty());
    let t = to_engine(&c).unwrap();
    assert_eq!(t.services[0].dests.len(), 2);
}
