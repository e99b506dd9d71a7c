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
