#![no_main]
//! Arbitrary datagrams as a raw IPv4/IPv6 or GUE UDP socket returns them, through the
//! real server's decapsulation (`rvs_decap::fuzzing::decap`, shared with the corpus replay
//! in `crates/rvs-decap/tests/fuzz_replay.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rvs_decap::fuzzing::decap(data);
});
