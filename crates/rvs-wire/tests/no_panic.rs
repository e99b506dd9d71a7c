//! Arbitrary and mutated bytes through every parser and accessor: no panics, and the
//! offsets `parse_frame` returns always lie within the frame.

mod exercise;
mod seeds;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        exercise::exercise(&data);
    }

    // Random bytes rarely get past the version and checksum checks, so also start from
    // valid frames, overwrite a few bytes, cut the end, and optionally repair the IPv4
    // header checksum so the damage reaches the deeper layers.
    #[test]
    fn mutated_frames(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        repair in any::<bool>(),
    ) {
        let frames = seeds::seed_frames();
        let mut f = frames[which.index(frames.len())].1.clone();
        for (at, v) in edits {
            let at = at.index(f.len());
            f[at] = v;
        }
        if repair {
            let l3 = if f[12..14] == [0x81, 0x00] { 18 } else { 14 };
            if let Ok(mut p) = rvs_wire::ipv4::Ipv4Packet::new_checked(&mut f[l3..]) {
                p.fill_checksum();
            }
        }
        let keep = f.len() - cut.index(f.len() / 4 + 1);
        f.truncate(keep);
        exercise::exercise(&f);
        for start in [14, 18, 34, 42, 54] {
            if let Some(rest) = f.get(start..) {
                exercise::exercise(rest);
            }
        }
    }
}

/// Replays the committed fuzz corpus (`fuzz/corpus/wire/`), including any crash
/// reproducers added there, without nightly or cargo-fuzz.
#[test]
fn fuzz_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/wire");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_file() {
            exercise::exercise(&std::fs::read(&path).unwrap());
        }
    }
}
