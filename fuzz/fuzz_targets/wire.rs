#![no_main]
//! Every rvs-wire parser, view accessor, option/chunk iterator and in-place fix on
//! arbitrary bytes. The body is shared with rvs-wire's no-panic proptest and corpus
//! replay (`crates/rvs-wire/tests/no_panic.rs`), so the two cannot drift apart; it also
//! asserts the offset invariants the engine relies on after `parse_frame`.

use libfuzzer_sys::fuzz_target;

include!("../../crates/rvs-wire/tests/exercise/mod.rs");

fuzz_target!(|data: &[u8]| exercise(data));
