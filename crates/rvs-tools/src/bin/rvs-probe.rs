//! `rvs-probe`: the failover prober of the VRRP end-to-end tests and `bench-vrrp.sh`.
//!
//! It opens a new TCP connection to `--to` every `--interval-ms` (default 10 ms), sends an
//! HTTP/1.0 GET and records, per attempt, one stdout line:
//!
//! ```text
//! START_US END_US ok BODY        # a 200 answer; BODY is its first body line (the server's name)
//! START_US END_US fail WHY       # refused, timed out, reset, not a 200, ...
//! ```
//!
//! Times are microseconds since the Unix epoch, so a test can compare them with the moment
//! it killed a director. Attempts run on their own threads, so a lost SYN does not delay
//! the next attempt; the timeout (default 500 ms) stays under the kernel's first SYN
//! retransmission (1 s), so an attempt succeeds only if its first SYN got through and its
//! start time is an honest bound on when the path worked again. Lines appear in completion
//! order. It runs until SIGTERM/SIGINT or `--duration-ms`, then waits for the attempts in
//! flight. "probing" goes to stderr when the first attempt starts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "rvs-probe",
    about = "Open a new TCP connection (HTTP GET) every few ms and record each attempt"
)]
struct Cli {
    /// The address to probe (a VIP and port).
    #[arg(long)]
    to: SocketAddr,
    #[arg(long, default_value_t = 10)]
    interval_ms: u64,
    /// Connect + request + answer, per attempt.
    #[arg(long, default_value_t = 500)]
    timeout_ms: u64,
    /// Stop after this long instead of on a signal.
    #[arg(long)]
    duration_ms: Option<u64>,
    /// The path to GET.
    #[arg(long, default_value = "/")]
    path: String,
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// One attempt: Ok(first body line) for a 200 answer, Err(why) otherwise.
fn attempt(to: SocketAddr, path: &str, timeout: Duration) -> std::result::Result<String, String> {
    let t0 = Instant::now();
    let mut s =
        TcpStream::connect_timeout(&to, timeout).map_err(|e| format!("connect:{:?}", e.kind()))?;
    let left = timeout
        .saturating_sub(t0.elapsed())
        .max(Duration::from_millis(1));
    s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(left)).map_err(|e| e.to_string())?;
    let host = match to {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .map_err(|e| format!("write:{:?}", e.kind()))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .map_err(|e| format!("read:{:?}", e.kind()))?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no-header-end")?;
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("status:{}", status.replace(' ', "_")));
    }
    Ok(body.lines().next().unwrap_or("").trim().replace(' ', "_"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let timeout = Duration::from_millis(cli.timeout_ms);
    let interval = Duration::from_millis(cli.interval_ms.max(1));
    let t0 = Instant::now();
    let end = cli.duration_ms.map(|d| t0 + Duration::from_millis(d));
    let mut inflight = Vec::new();
    let mut next = t0;
    eprintln!("probing {} every {interval:?}", cli.to);
    while !stop.load(Ordering::Relaxed) && end.is_none_or(|e| Instant::now() < e) {
        let (to, path, out) = (cli.to, cli.path.clone(), out.clone());
        inflight.push(std::thread::spawn(move || {
            let start = now_us();
            let r = attempt(to, &path, timeout);
            let end = now_us();
            let line = match r {
                Ok(body) => format!("{start} {end} ok {body}"),
                Err(why) => format!("{start} {end} fail {why}"),
            };
            // A closed stdout (the harness went away) is no reason to panic a thread.
            let _ = writeln!(out.lock().unwrap(), "{line}");
        }));
        inflight.retain(|h| !h.is_finished());
        // Fixed-rate schedule: a slow spawn is caught up, not accumulated as drift.
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    for h in inflight {
        let _ = h.join();
    }
    Ok(())
}
