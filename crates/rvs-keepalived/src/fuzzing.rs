//! The body of the `keepalived` fuzz target, shared with the corpus replay test: arbitrary
//! bytes as a keepalived.conf (with a second in-memory file to include), through the
//! preprocessor, parser and engine expansion. Nothing may panic or run away.

use crate::fs::MemFs;
use crate::lexer::Options;
use std::path::Path;

/// Returns whether the input parsed (so seeds can assert they are accepted).
pub fn keepalived(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    // A split at the first NUL gives the fuzzer a second file for `include`s.
    let (main, inc) = match text.split_once('\0') {
        Some((m, i)) => (m.to_string(), i.to_string()),
        None => (text.into_owned(), String::new()),
    };
    let fs = MemFs::new()
        .with("/etc/keepalived/keepalived.conf", main.clone())
        .with("/etc/keepalived/conf.d/a.conf", inc);
    let opts = Options {
        config_id: Some("main".into()),
        max_include_depth: 8,
        // Small enough that ~SEQ and $VAR bombs end quickly.
        max_lines: 20_000,
    };
    match crate::parse_file(&fs, Path::new("/etc/keepalived/keepalived.conf"), &opts) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                assert!(!w.is_error(), "an error among the warnings: {w}");
                let _ = w.to_string();
            }
            vrrp_invariants(&cfg.vrrp);
            if let Ok(t) = crate::engine::to_engine_limited(&cfg, 512) {
                // Whatever to_engine returns, the engine accepts.
                let svcs = t.services.into_iter().map(std::sync::Arc::new).collect();
                rvs_engine::config::Config::new(svcs, t.fwmark_rules, t.settings, 1)
                    .expect("to_engine output is a valid engine config");
            }
            true
        }
        Err(e) => {
            assert!(e.first.is_error());
            let _ = e.to_string();
            false
        }
    }
}

/// What the VRRP machines may take for granted about an accepted configuration.
fn vrrp_invariants(v: &rvs_vrrp::VrrpConfig) {
    use rvs_vrrp::Version;
    for i in &v.instances {
        assert!(
            i.vrid >= 1 && i.priority >= 1,
            "{}: VRID/priority 0",
            i.name
        );
        assert!(!i.interface.is_empty(), "{}: no interface", i.name);
        assert!(
            i.advert_int_cs >= 1 && i.advert_int_cs <= 4095,
            "{}",
            i.name
        );
        if i.version == Version::V2 {
            assert!(!i.ipv6 && i.advert_int_cs % 100 == 0, "{}: v2", i.name);
        } else {
            assert_eq!(i.auth, rvs_vrrp::Auth::None, "{}: v3 with auth", i.name);
        }
        assert!(i.vips.len() <= 255, "{}: too many VIPs", i.name);
        assert!(
            i.vips.iter().all(|a| a.addr.is_ipv6() == i.ipv6)
                && i.unicast_peers.iter().all(|a| a.is_ipv6() == i.ipv6)
                && i.src.is_none_or(|a| a.is_ipv6() == i.ipv6),
            "{}: mixed families",
            i.name
        );
    }
    for g in &v.sync_groups {
        assert!(
            g.members
                .iter()
                .all(|m| v.instances.iter().any(|i| &i.name == m)),
            "{}: unknown member",
            g.name
        );
    }
}
