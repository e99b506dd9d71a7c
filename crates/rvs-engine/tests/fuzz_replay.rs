//! Replays the committed engine fuzz corpus (rvs-wire replays its own) through the fuzz targets' bodies on stable Rust, so
//! every input the fuzzers kept (and every crash they found) stays a regression test.

use std::path::PathBuf;

fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fuzz corpus {} is empty", dir.display());
    files
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn engine_corpus_replays_cleanly() {
    for (path, data) in corpus("engine") {
        let r = std::panic::catch_unwind(|| rvs_engine::fuzzing::engine(&data));
        assert!(r.is_ok(), "engine fuzz body panicked on {}", path.display());
    }
}
