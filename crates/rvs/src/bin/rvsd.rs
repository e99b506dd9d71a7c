//! rvsd: the rvs director daemon. Runs in the foreground and logs to stderr. It wires the
//! pieces together: the control socket, the data path, the daemon core and its event loop.

#![forbid(unsafe_code)]

use clap::Parser;
use rvs::daemon::core::{Core, CoreOptions, Event, Signal};
use rvs::daemon::event_loop::EventLoop;
use rvs::daemon::server;
use rvs::daemon::store::{DirStore, NoStore, Store};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "rvsd",
    version,
    about = "rvs director daemon: the control plane and (with --iface) the data path"
)]
struct Args {
    /// An interface to serve (repeatable): rvs forwards the virtual services' traffic that
    /// arrives on it. Without any, rvsd is a control plane only.
    #[arg(long = "iface", value_name = "DEV")]
    ifaces: Vec<String>,
    /// Packet I/O: afxdp (an XDP program steers service traffic to AF_XDP sockets) or
    /// afpacket (raw sockets, with nftables keeping the kernel off service traffic).
    #[arg(long = "io", value_name = "MODE", default_value = "afxdp")]
    io: rvs_io::IoMode,
    /// Where the conn tables live (shared memory that a restarted rvsd re-attaches, so no
    /// connection is lost); `none` keeps them in private memory. Used with --iface.
    #[arg(long = "conn-shm", value_name = "DIR", default_value = "/dev/shm/rvs")]
    conn_shm: PathBuf,
    /// The bpffs where the XDP links are pinned, so that they outlive a crashed rvsd.
    #[arg(long, value_name = "DIR", default_value = rvs_io::steer::BPFFS)]
    bpffs: PathBuf,
    /// Remove the XDP program a killed rvsd left pinned on the --iface interfaces, and exit.
    #[arg(long)]
    detach: bool,
    /// The control socket.
    #[arg(long, value_name = "PATH", default_value = rvs_ctl::proto::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// A keepalived.conf: its virtual servers make the table, its checkers keep it healthy;
    /// SIGHUP reloads it (a file with an error changes nothing).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Check --config like `keepalived -t` and exit: 0 if it loads (warnings allowed).
    #[arg(long = "config-test", requires = "config")]
    config_test: bool,
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
    if args.config_test {
        let path = args.config.as_deref().unwrap_or(std::path::Path::new(""));
        std::process::exit(rvs::daemon::keepalived::config_test(path));
    }
    if args.detach {
        for i in &args.ifaces {
            match rvs_io::steer::detach_pinned(i, &args.bpffs) {
                Ok(true) => println!("{i}: detached rvs's pinned XDP program"),
                Ok(false) => println!("{i}: no pinned rvs XDP program"),
                Err(e) => anyhow::bail!("{i}: {e}"),
            }
            rvs_io::steer::nft_remove(i);
        }
        return Ok(());
    }
    if !args.ifaces.is_empty() && !rustix::process::geteuid().is_root() {
        anyhow::bail!("{}", rvs_io::IoError::NotRoot);
    }
    // Refuse a second rvsd before touching any interface.
    let listener = server::bind(&args.socket)?;
    let socket = args.socket.clone();
    let result = serve(&args, listener);
    let _ = std::fs::remove_file(&socket);
    result
}

/// Everything after the socket is bound; the caller removes it however this ends.
fn serve(args: &Args, listener: std::os::unix::net::UnixListener) -> anyhow::Result<()> {
    let net = if args.ifaces.is_empty() {
        None
    } else {
        Some(rvs_io::KernelNet::start(&args.ifaces).map_err(|e| anyhow::anyhow!("{e}"))?)
    };
    let clock = std::time::Instant::now();
    let mem = match &net {
        Some(_) if args.conn_shm.as_os_str() != "none" => {
            // The CLOCK_MONOTONIC instant at which this process's now_ms is 0.
            let origin = rvs_io::shm::monotonic_ms() - clock.elapsed().as_millis() as i64 - 1;
            let cap6 = (args.conn_capacity / 4).max(1024);
            Some(
                rvs_io::shm::open(&args.conn_shm, args.conn_capacity, cap6, origin).map_err(
                    |e| anyhow::anyhow!("conn table in {}: {e}", args.conn_shm.display()),
                )?,
            )
        }
        _ => None,
    };
    let store: Box<dyn Store> = match &args.state_dir {
        Some(dir) => Box::new(DirStore::new(dir.clone())),
        None => Box::new(NoStore),
    };
    let view: Arc<dyn rvs_engine::NetView> = match &net {
        Some(n) => n.clone(),
        None => Arc::new(rvs_engine::StaticNet::default()),
    };
    let opts = CoreOptions {
        conn_capacity: args.conn_capacity,
        seed: seed(),
        keepalived: args.config.clone(),
        steering: net.is_some(),
    };
    let (core, adopted) = Core::new(store, view, mem, opts)?;
    if adopted.kept + adopted.orphaned > 0 {
        tracing::info!(
            kept = adopted.kept,
            orphaned = adopted.orphaned,
            "adopted the connections of the previous rvsd"
        );
    }
    let mut event_loop = EventLoop::new(core, clock);
    let events = event_loop.sender();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])?;
    let to_loop = events.clone();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let sig = match sig {
                signal_hook::consts::SIGHUP => Signal::Hup,
                signal_hook::consts::SIGINT => Signal::Int,
                _ => Signal::Term,
            };
            if to_loop.send(Event::Signal(sig)).is_err() {
                return;
            }
        }
    });
    // The configuration before the data path: its VRRP instances' VIPs are marked not owned
    // (and the runner started) before the data path first steers ARP/NS and announces the
    // table's addresses, so a standby is silent from its first moment. A file with an
    // error also stops rvsd before any interface is touched.
    event_loop.start()?;
    let what = match &net {
        Some(n) => {
            let core = event_loop.core();
            let started = rvs_io::DataPath::start(
                args.io,
                &args.ifaces,
                core.engine(),
                n.clone(),
                clock,
                &core.config(),
                &args.bpffs,
            );
            let dp = match started {
                Ok(dp) => dp,
                Err(e) => {
                    event_loop.abort();
                    anyhow::bail!("{e}");
                }
            };
            for m in dp.modes() {
                tracing::info!("data path: {m}");
            }
            event_loop.attach(dp);
            "serving"
        }
        None => "control plane only",
    };
    std::thread::spawn(move || server::serve(listener, events));
    tracing::info!(socket = %args.socket.display(), state_dir = ?args.state_dir, ifaces = ?args.ifaces, "rvsd ready ({what})");
    event_loop.run()?;
    Ok(())
}

/// The engine's hash seed: different in every process, so that a client cannot aim at one
/// hash chain.
fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ u64::from(std::process::id())
}
