//! rvsd: the rvs director daemon. Runs in the foreground and logs to stderr.

use clap::Parser;
use rvs::daemon::{server, state::Daemon};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "rvsd",
    version,
    about = "rvs director daemon: the control plane and (with --iface) the data path"
)]
struct Args {
    /// An interface to serve (repeatable). The packet I/O arrives with the data-path issue.
    #[arg(long = "iface", value_name = "DEV")]
    ifaces: Vec<String>,
    /// The control socket.
    #[arg(long, value_name = "PATH", default_value = rvs_ctl::proto::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// A keepalived.conf to load (not supported yet).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the virtual server table, timeouts and sync settings are kept across restarts.
    #[arg(long = "state-dir", value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// IPv4 connection table capacity (IPv6 gets a quarter).
    #[arg(long = "conn-capacity", default_value_t = 1 << 20)]
    conn_capacity: u32,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RVS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(c) = &args.config {
        anyhow::bail!(
            "--config {}: keepalived configuration is not supported yet",
            c.display()
        );
    }
    if !args.ifaces.is_empty() {
        anyhow::bail!("--iface: the packet data path is not built yet; run without --iface as a control plane");
    }
    let daemon = Daemon::new(args.state_dir.clone(), args.conn_capacity)?;
    let engine = daemon.engine();
    let clock = daemon.clock();
    let listener = server::bind(&args.socket)?;
    let socket = args.socket.clone();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            tracing::info!(signal = sig, "stopping");
            let _ = std::fs::remove_file(&socket);
            std::process::exit(0);
        }
    });
    // Engine timers: expiry sweeps, scheduler ageing, rate estimation.
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = clock.elapsed().as_millis() as u64 + 1;
        engine.lock().unwrap_or_else(|p| p.into_inner()).poll(now);
    });
    tracing::info!(socket = %args.socket.display(), state_dir = ?args.state_dir, "rvsd ready (control plane only)");
    server::serve(listener, Arc::new(Mutex::new(daemon)));
    Ok(())
}
