#![no_main]
//! Arbitrary VRRP adverts (a selector byte picks the IP header around them) through the
//! view's accessors, `VrrpRepr::parse` and the re-emit round trip
//! (`rvs_wire::vrrp::fuzzing::vrrp`, shared with the corpus replay in
//! `crates/rvs-wire/tests/fuzz_vrrp.rs`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rvs_wire::vrrp::fuzzing::vrrp(data);
});
