#![no_main]
//! Arbitrary frames, clock jumps, timer polls and config swaps through `Engine::process`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rvs_engine::fuzzing::engine(data));
