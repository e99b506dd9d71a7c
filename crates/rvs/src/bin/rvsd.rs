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
    // SAFETY: geteuid has no preconditions.
    if !args.ifaces.is_empty() && unsafe { libc::geteuid() } != 0 {
        anyhow::bail!("{}", rvs_io::IoError::NotRoot);
    }
    // Refuse a second rvsd before touching any interface.
    let listener = server::bind(&args.socket)?;
    let socket = args.socket.clone();
    let net = if args.ifaces.is_empty() {
        None
    } else {
        Some(rvs_io::KernelNet::start(&args.ifaces).map_err(|e| {
            let _ = std::fs::remove_file(&socket);
            anyhow::anyhow!("{e}")
        })?)
    };
    let clock = std::time::Instant::now();
    let mut daemon = match &net {
        Some(n) => {
            let mem = if args.conn_shm.as_os_str() == "none" {
                None
            } else {
                // The CLOCK_MONOTONIC instant at which this process's now_ms is 0.
                let origin = rvs_io::shm::monotonic_ms() - clock.elapsed().as_millis() as i64 - 1;
                let cap6 = (args.conn_capacity / 4).max(1024);
                Some(
                    rvs_io::shm::open(&args.conn_shm, args.conn_capacity, cap6, origin).map_err(
                        |e| {
                            let _ = std::fs::remove_file(&socket);
                            anyhow::anyhow!("conn table in {}: {e}", args.conn_shm.display())
                        },
                    )?,
                )
            };
            let (d, adopted) = Daemon::with_parts(
                args.state_dir.clone(),
                args.conn_capacity,
                n.clone(),
                mem,
                clock,
            )?;
            if adopted.kept + adopted.orphaned > 0 {
                tracing::info!(
                    kept = adopted.kept,
                    orphaned = adopted.orphaned,
                    "adopted the connections of the previous rvsd"
                );
            }
            d
        }
        None => Daemon::new(args.state_dir.clone(), args.conn_capacity)?,
    };
    let engine = daemon.engine();
    let clock = daemon.clock();
    let datapath = match &net {
        Some(n) => {
            let dp = rvs_io::DataPath::start(
                args.io,
                &args.ifaces,
                engine.clone(),
                n.clone(),
                clock,
                &daemon.config(),
                &args.bpffs,
            )
            .map_err(|e| {
                let _ = std::fs::remove_file(&socket);
                anyhow::anyhow!("{e}")
            })?;
            for m in dp.modes() {
                tracing::info!("data path: {m}");
            }
            let dp = Arc::new(dp);
            daemon.set_datapath(dp.clone());
            Some(dp)
        }
        None => None,
    };
    let shared_cfg = daemon.shared_config();
    let daemon = Arc::new(Mutex::new(daemon));
    let ka = match &args.config {
        Some(path) => match rvs::daemon::keepalived::Keepalived::start(path, daemon.clone()) {
            Ok(k) => {
                tracing::info!(config = %path.display(), "keepalived configuration loaded");
                let k = Arc::new(k);
                let ks = k.clone();
                daemon
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .set_check_status(Box::new(move || ks.status()));
                Some(k)
            }
            Err(e) => {
                if let Some(dp) = &datapath {
                    dp.stop();
                }
                let _ = std::fs::remove_file(&socket);
                return Err(e);
            }
        },
        None => None,
    };
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])?;
    let dp_sig = datapath.clone();
    let ka_sig = ka.clone();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if sig == signal_hook::consts::SIGHUP {
                match &ka_sig {
                    Some(k) => k.reload(),
                    None => tracing::info!("SIGHUP: no --config to reload"),
                }
                continue;
            }
            tracing::info!(signal = sig, "stopping");
            if let Some(k) = &ka_sig {
                k.stop();
            }
            // A clean stop detaches XDP; a killed rvsd leaves it pinned for the next one.
            if let Some(dp) = dp_sig {
                dp.stop();
            }
            let _ = std::fs::remove_file(&socket);
            std::process::exit(0);
        }
    });
    // Engine timers (expiry sweeps, scheduler ageing, rate estimation) and, once a second,
    // re-steering for address changes and draining real servers.
    let dp_timer = datapath.clone();
    std::thread::spawn(move || {
        let mut ticks = 0u32;
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = clock.elapsed().as_millis() as u64 + 1;
            // One poll does a bounded share of the sweep: poll again while more is due,
            // releasing the lock in between so that the workers get their turn.
            loop {
                let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
                e.poll(now);
                if e.poll_timeout().is_none_or(|t| t > now) {
                    break;
                }
            }
            ticks += 1;
            if ticks.is_multiple_of(10) {
                if let Some(dp) = &dp_timer {
                    if let Err(e) = dp.sync(&shared_cfg.load()) {
                        tracing::warn!("data path steering update failed: {e}");
                    }
                }
            }
        }
    });
    let what = if datapath.is_some() {
        "serving"
    } else {
        "control plane only"
    };
    tracing::info!(socket = %args.socket.display(), state_dir = ?args.state_dir, ifaces = ?args.ifaces, "rvsd ready ({what})");
    server::serve(listener, daemon);
    Ok(())
}
