//! `cargo run --release -p rvs-keepalived --example repro -- FILE...`: time the fuzz body on
//! saved inputs (libFuzzer artifacts), on stable Rust.

fn main() {
    for f in std::env::args().skip(1) {
        let d = std::fs::read(&f).unwrap();
        let t = std::time::Instant::now();
        let ok = rvs_keepalived::fuzzing::keepalived(&d);
        println!("{f}: {ok} {:?}", t.elapsed());
    }
}
