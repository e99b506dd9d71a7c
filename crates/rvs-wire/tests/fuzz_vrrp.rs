//! Replays the committed `vrrp` fuzz corpus (`fuzz/corpus/vrrp/`) through the fuzz
//! target's body on stable Rust, so every input the fuzzer kept stays a regression test.
//! The hand-made inputs say by their names what must happen: `seed_ka_*` (keepalived
//! 2.2.7 captures) and `ok_*` parse, `bad_*` do not. Arbitrary bytes go through the same
//! body here too.

use std::path::PathBuf;

use proptest::prelude::*;
use rvs_wire::vrrp::fuzzing::vrrp;

#[test]
fn vrrp_corpus_replays_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/vrrp");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} missing: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    let (mut seeds, mut edges) = (0, 0);
    for path in &files {
        let data = std::fs::read(path).expect("corpus file");
        let r = std::panic::catch_unwind(|| vrrp(&data));
        let parsed = r.unwrap_or_else(|_| panic!("vrrp fuzz body panicked on {}", path.display()));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("seed_ka_") {
            assert!(
                parsed,
                "keepalived capture {} does not parse",
                path.display()
            );
            seeds += 1;
        } else if name.starts_with("ok_") {
            assert!(parsed, "{} does not parse", path.display());
            edges += 1;
        } else if name.starts_with("bad_") {
            assert!(!parsed, "{} parses", path.display());
            edges += 1;
        }
    }
    assert!(
        seeds >= 4,
        "expected the 4 keepalived captures, found {seeds}"
    );
    assert!(
        edges >= 20,
        "expected the 20 hand-made edge cases, found {edges}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        vrrp(&data);
    }
}
