//! Replays the committed `decap` fuzz corpus through the fuzz target's body on stable Rust,
//! so every input the fuzzer kept stays a regression test; the hand-made `seed_*` inputs
//! (one per encapsulation the director sends) must also be delivered.

use std::path::PathBuf;

#[test]
fn decap_corpus_replays_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/decap");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} missing: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fuzz corpus {} is empty", dir.display());
    let mut seeds = 0;
    for path in files {
        let data = std::fs::read(&path).expect("corpus file");
        let r = std::panic::catch_unwind(|| rvs_decap::fuzzing::decap(&data));
        let delivered =
            r.unwrap_or_else(|_| panic!("decap fuzz body panicked on {}", path.display()));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("seed_") {
            assert!(delivered, "seed {} was not delivered", path.display());
            seeds += 1;
        }
    }
    assert!(seeds >= 9, "expected the 9 hand-made seeds, found {seeds}");
}
