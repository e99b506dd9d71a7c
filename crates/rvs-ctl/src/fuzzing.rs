//! The body of the `ctl` fuzz target, shared with the corpus replay test: what rvsd does
//! with a request body from its socket, and what rvsadm does with argv and `-R` input.

use crate::proto::{decode_request, RequestBody};
use crate::resolve::NoResolver;

/// First byte selects the surface; the rest is its input.
pub fn ctl(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => {
            if let Ok(req) = decode_request(rest) {
                // Whatever decodes must encode again (the daemon echoes commands in logs).
                let back = serde_json::to_vec(&req).expect("a decoded request re-encodes");
                let again = decode_request(&back).expect("a re-encoded request decodes");
                assert_eq!(again, req);
                if let RequestBody::Apply(cmds) = req.body {
                    for c in &cmds {
                        let _ = crate::reply::strerror(c, crate::reply::Errno::Invalid);
                    }
                }
            }
        }
        1 => {
            let text = String::from_utf8_lossy(rest);
            let args: Vec<String> = std::iter::once("ipvsadm".to_string())
                .chain(text.split([' ', '\0']).map(String::from))
                .collect();
            let _ = crate::parse::parse_with(&args, &NoResolver);
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let _ = crate::restore::parse_restore(&text, "ipvsadm", &NoResolver);
        }
    }
}
