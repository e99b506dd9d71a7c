//! `rvs-decap`: run on a real server behind a TUN-forwarding director, on a kernel without
//! the ipip/gre/fou modules. Thin: arguments, sockets, one reader thread per socket, and
//! the stats/shutdown loop; the decisions are in `rvs_decap::decap`.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use rvs_decap::sys::{self, RawSocket, Tun};
use rvs_decap::{Counters, Decap, Source};
use rvs_wire::ip_proto;
use tracing::{error, info, warn};

/// Decapsulate IPIP / IPv6-in-IP / GRE / GUE tunnelled packets from an LVS director and
/// deliver them to the local stack through a TUN device.
///
/// With none of --ipip, --gre, --gue-port, it listens for IPIP, IPv6-in-IP and GRE; with
/// any of them, for exactly those.
#[derive(Debug, Parser)]
#[command(name = "rvs-decap", version)]
struct Args {
    /// TUN device to create and deliver inner packets through.
    #[arg(long, default_value = "rvsdecap0", value_name = "NAME")]
    tun: String,
    /// Deliver only inner packets addressed to this VIP (repeatable; none = any address).
    #[arg(long = "vip", value_name = "ADDR")]
    vaddrs: Vec<IpAddr>,
    /// Listen for IPIP (IP proto 4) and IPv6-in-IP (proto 41).
    #[arg(long)]
    ipip: bool,
    /// Listen for GRE (IP proto 47).
    #[arg(long)]
    gre: bool,
    /// Listen for GUE on this UDP port (repeatable; ipvsadm --tun-port).
    #[arg(long = "gue-port", value_name = "PORT")]
    gue_ports: Vec<u16>,
    /// Also accept tunnels whose outer header is IPv6 (and GUE over IPv6).
    #[arg(long)]
    ipv6: bool,
    /// Log the counters every this many seconds (0 = only at exit).
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    stats_interval: u64,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = run(Args::parse()) {
        error!("{e:#}");
        std::process::exit(1);
    }
}

/// One socket and what its bytes are.
enum Listener {
    Raw(RawSocket, Source),
    Udp(std::net::UdpSocket),
}

fn run(args: Args) -> Result<()> {
    // First, so that a SIGTERM during setup also ends in the clean exit path.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }

    let any_selected = args.ipip || args.gre || !args.gue_ports.is_empty();
    let (ipip, gre) = if any_selected {
        (args.ipip, args.gre)
    } else {
        (true, true)
    };
    let mut protos = Vec::new();
    if ipip {
        protos.extend([ip_proto::IPIP, ip_proto::IPV6]);
    }
    if gre {
        protos.push(ip_proto::GRE);
    }

    // Sockets before the device, so that a bind failure leaves no interface behind and
    // the device being up means we are already listening (the netns test relies on it).
    let mut listeners = Vec::new();
    for v6 in [false, true] {
        if v6 && !args.ipv6 {
            continue;
        }
        for &proto in &protos {
            let src = if v6 {
                Source::RawV6 { proto }
            } else {
                Source::RawV4 { proto }
            };
            listeners.push(Listener::Raw(RawSocket::open(v6, proto)?, src));
        }
    }
    for &port in &args.gue_ports {
        listeners.push(Listener::Udp(sys::bind_gue(port, args.ipv6)?));
    }

    let tun = Arc::new(Tun::create(&args.tun)?);
    match sys::disable_rp_filter(tun.name()) {
        Ok(Some(old)) if old != "0" => {
            warn!(previous = %old, "set net.ipv4.conf.all.rp_filter=0 so that tunnelled clients pass")
        }
        Ok(_) => {}
        Err(e) => return Err(e).context("disabling rp_filter"),
    }
    tun.set_up()?;

    let decap = Arc::new(Decap::new(args.vaddrs.clone()));
    let counters = Arc::new(Counters::default());
    for l in listeners {
        let (tun, decap, counters) = (tun.clone(), decap.clone(), counters.clone());
        std::thread::Builder::new()
            .name("rvs-decap-rx".into())
            .spawn(move || reader(l, &tun, &decap, &counters))
            .context("spawning a reader thread")?;
    }
    info!(
        tun = %tun.name(),
        ipip,
        gre,
        gue_ports = ?args.gue_ports,
        ipv6 = args.ipv6,
        vips = ?args.vaddrs,
        "listening"
    );

    let interval = (args.stats_interval > 0).then(|| Duration::from_secs(args.stats_interval));
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if interval.is_some_and(|i| last.elapsed() >= i) {
            log_stats(&counters, "stats");
            last = Instant::now();
        }
    }
    log_stats(&counters, "exiting");
    // The reader threads are parked in recv(2); leaving main ends the process, which closes
    // the TUN fd and so removes the device.
    Ok(())
}

fn log_stats(c: &Counters, msg: &str) {
    let s = c.snapshot();
    info!(
        received = s.received,
        delivered = s.delivered,
        tun_errors = s.tun_errors,
        drops = %s.drops_text(),
        "{msg}"
    );
}

fn reader(l: Listener, tun: &Tun, decap: &Decap, counters: &Counters) {
    // 64 KiB: the largest IPv4 datagram; raw IPv4 sockets see reassembled packets.
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, src) = match &l {
            Listener::Raw(s, src) => (s.recv(&mut buf), *src),
            Listener::Udp(s) => (s.recv(&mut buf), Source::Gue),
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                error!(error = %e, ?src, "receive failed; this listener stops");
                return;
            }
        };
        counters.received();
        match decap.decap(src, &buf[..n]) {
            Ok(r) => match tun.write(&buf[r]) {
                Ok(()) => counters.delivered(),
                Err(e) => {
                    // Powers of two: a device that stays broken logs ~log2(n) lines.
                    let n = counters.tun_error();
                    if n.is_power_of_two() {
                        warn!(error = %e, failures = n, "TUN write failed");
                    }
                }
            },
            Err(reason) => {
                counters.dropped(reason);
                tracing::debug!(%reason, ?src, "dropped");
            }
        }
    }
}
