//! `cargo run -p rvs-keepalived --example config_test -- FILE [CONFIG_ID]`: what
//! `rvsd --config-test --config FILE` will print, until rvsd wires it in.

use rvs_keepalived::{config_test, Options, StdFs};
use std::path::Path;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: config_test FILE [CONFIG_ID]");
        std::process::exit(2);
    };
    let opts = Options {
        config_id: args.next(),
        ..Options::default()
    };
    match config_test(&StdFs, Path::new(&file), &opts) {
        Ok(warnings) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            eprintln!("{file}: configuration OK ({} warnings)", warnings.len());
        }
        Err(e) => {
            for d in &e.diags {
                eprintln!("{d}");
            }
            std::process::exit(1);
        }
    }
}
