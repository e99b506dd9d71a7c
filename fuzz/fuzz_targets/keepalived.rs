#![no_main]
//! Arbitrary keepalived.conf text (a NUL splits off a second file to include) through the
//! preprocessor, parser and engine expansion.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rvs_keepalived::fuzzing::keepalived(data);
});
