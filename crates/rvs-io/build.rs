//! Builds the XDP steering program from bpf/steer.c with `clang -target bpf`.
//!
//! Why C and clang: the toolchain here has no rust-src, so aya-ebpf (eBPF in Rust) cannot
//! build; the program is small and self-contained (no kernel headers), so clang is the only
//! tool it needs. `scripts/deps.sh` (run by `make test` / `make demo`) installs it.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "bpf/steer.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CLANG");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("steer.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let status = Command::new(&clang)
        .args([
            "-O2", "-g", "-Wall", "-Werror", "-target", "bpf", "-c", src, "-o",
        ])
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{clang} failed to build {src} ({s})"),
        Err(e) => panic!(
            "cannot run {clang} to build the XDP program {src}: {e}\n\
             install it with scripts/deps.sh (apt-get install clang), or set CLANG"
        ),
    }
}
