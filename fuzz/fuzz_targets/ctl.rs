#![no_main]
//! Untrusted bytes at the control socket, and arbitrary rvsadm argument lists and -R input.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rvs_ctl::fuzzing::ctl(data));
