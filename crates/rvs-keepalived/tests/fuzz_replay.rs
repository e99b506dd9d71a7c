//! Replays the committed `keepalived` fuzz corpus through the fuzz target's body on stable
//! Rust, so every input the fuzzer kept stays a regression test; the hand-made `seed_*`
//! inputs (Debian's samples, seed 002, a feature mix) must also be accepted.

use std::path::PathBuf;

#[test]
fn keepalived_corpus_replays_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/keepalived");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} missing: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fuzz corpus {} is empty", dir.display());
    let mut seeds = 0;
    for path in files {
        let data = std::fs::read(&path).expect("corpus file");
        let r = std::panic::catch_unwind(|| rvs_keepalived::fuzzing::keepalived(&data));
        let accepted =
            r.unwrap_or_else(|_| panic!("keepalived fuzz body panicked on {}", path.display()));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("seed_") {
            assert!(accepted, "seed {} was refused", path.display());
            seeds += 1;
        }
    }
    assert!(
        seeds >= 28,
        "expected the 28 hand-made seeds, found {seeds}"
    );
}
