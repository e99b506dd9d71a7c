//! `rvs-vrrp-send`: forges VRRP adverts for the end-to-end tests (a peer that does not
//! exist, a wrong TTL, VRID, auth, checksum, version or interval).
//!
//! The advert is built with `rvs_wire::vrrp::VrrpRepr`, so a well-formed one is exactly
//! what rvs itself sends; the options then break it on purpose. IPv4 goes through a raw
//! socket with `IP_HDRINCL`, so the source address and TTL are whatever was asked for;
//! IPv6 through a raw socket of protocol 112 bound to the source (`IPV6_FREEBIND`, so it
//! need not be local) with the hop limit set by `IPV6_MULTICAST_HOPS` /
//! `IPV6_UNICAST_HOPS`. Either way the socket is bound to `--iface`.
//!
//! Prints one JSON line, `{"sent":N,"bytes":B}` (B: the VRRP message length), and exits 0
//! once every advert is sent; any error is a message on stderr and exit status 1.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use rvs_wire::ip_proto;
use rvs_wire::ipv4::{Ipv4Repr, HEADER_LEN as IPV4_HEADER_LEN};
use rvs_wire::vrrp::{self, Version, VrrpAddrs, VrrpAuth, VrrpPacket, VrrpRepr};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

#[derive(Parser)]
#[command(
    name = "rvs-vrrp-send",
    about = "Send forged VRRP adverts (v2/v3, IPv4/IPv6) through a raw socket"
)]
struct Cli {
    /// Interface to send on.
    #[arg(long)]
    iface: String,
    /// Source address (need not be local); its family is the advert's.
    #[arg(long)]
    src: IpAddr,
    /// Destination [default: 224.0.0.18 or ff02::12, as the source's family].
    #[arg(long)]
    dst: Option<IpAddr>,
    /// Virtual router ID.
    #[arg(long)]
    vrid: u8,
    #[arg(long, default_value_t = 100)]
    priority: u8,
    /// VRRP version: 2 (IPv4 only) or 3.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
    version: u8,
    /// Advert interval in centiseconds (v2: a multiple of 100, up to 25500).
    #[arg(long, default_value_t = 100)]
    adver_int_cs: u16,
    /// v2 PASS authentication (up to 8 bytes; longer is cut, as keepalived does).
    #[arg(long)]
    auth_pass: Option<String>,
    /// A virtual address of the advert (repeatable).
    #[arg(long = "addr")]
    addrs: Vec<IpAddr>,
    /// TTL / hop limit.
    #[arg(long, default_value_t = vrrp::TTL)]
    ttl: u8,
    /// Send a wrong checksum.
    #[arg(long)]
    bad_checksum: bool,
    /// The type field (1 is the only valid one).
    #[arg(long = "type", default_value_t = vrrp::TYPE_ADVERTISEMENT,
          value_parser = clap::value_parser!(u8).range(0..=15))]
    kind: u8,
    /// How many adverts to send.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// Pause between two adverts.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("rvs-vrrp-send: {e:#}");
        std::process::exit(1);
    }
}

/// The VRRP message the options describe, checksum filled (or spoiled).
fn build(cli: &Cli, dst: &IpAddr) -> Result<Vec<u8>> {
    let version = match cli.version {
        2 => Version::V2,
        _ => Version::V3,
    };
    let auth = match &cli.auth_pass {
        Some(p) if version == Version::V3 => bail!("--auth-pass {p:?}: v3 has no authentication"),
        Some(p) => VrrpAuth::pass(p.as_bytes()),
        None => VrrpAuth::None,
    };
    let repr = VrrpRepr {
        version,
        vrid: cli.vrid,
        priority: cli.priority,
        adver_int_cs: cli.adver_int_cs,
        auth,
        addrs: VrrpAddrs::from_list(&cli.addrs),
    };
    let mut msg = vec![0u8; repr.buffer_len()];
    repr.emit(&mut msg, &cli.src, dst).map_err(|e| {
        anyhow::anyhow!(
            "cannot build the advert ({e}): check that --src, --dst and every --addr are of \
             one family, v2 is IPv4 only, v2's --adver-int-cs is whole seconds up to 25500, \
             v3's is at most {}, and there are at most 255 --addr",
            vrrp::MAX_ADVER_INT_CS
        )
    })?;
    let mut p = VrrpPacket::new_unchecked(&mut msg[..]);
    if cli.kind != vrrp::TYPE_ADVERTISEMENT {
        p.set_kind(cli.kind);
        p.fill_checksum(&cli.src, dst)?;
    }
    if cli.bad_checksum {
        // Any other value is wrong: no xor of 0x5555 maps 0x0000 and 0xffff (the two
        // ones' complement zeros) onto each other.
        let c = p.checksum();
        p.set_checksum(c ^ 0x5555);
    }
    Ok(msg)
}

fn ifindex(iface: &str) -> Result<u32> {
    let idx = std::fs::read_to_string(format!("/sys/class/net/{iface}/ifindex"))
        .with_context(|| format!("no interface {iface:?}"))?;
    idx.trim()
        .parse()
        .with_context(|| format!("ifindex of {iface}: {idx:?}"))
}

fn run(cli: Cli) -> Result<()> {
    let dst = cli.dst.unwrap_or(match cli.src {
        IpAddr::V4(_) => vrrp::MCAST_V4.into(),
        IpAddr::V6(_) => vrrp::MCAST_V6.into(),
    });
    let msg = build(&cli, &dst)?;
    let index = ifindex(&cli.iface)?;
    let (sock, packet, to) = match (cli.src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst4)) => {
            let s = raw_socket(Domain::IPV4, &cli.iface)?;
            s.set_header_included_v4(true).context("IP_HDRINCL")?;
            let mut pkt = vec![0u8; IPV4_HEADER_LEN + msg.len()];
            Ipv4Repr {
                src,
                dst: dst4,
                protocol: ip_proto::VRRP,
                payload_len: msg.len(),
                ttl: cli.ttl,
                dont_frag: false,
                ident: 0,
                // keepalived's: CS6, network control.
                dscp_ecn: 0xc0,
            }
            .emit(&mut pkt)?;
            pkt[IPV4_HEADER_LEN..].copy_from_slice(&msg);
            (s, pkt, SocketAddr::new(dst, 0))
        }
        (IpAddr::V6(src), IpAddr::V6(dst6)) => {
            let s = raw_socket(Domain::IPV6, &cli.iface)?;
            s.set_freebind_v6(true).context("IPV6_FREEBIND")?;
            let scope = |a: &Ipv6Addr| if needs_scope(a) { index } else { 0 };
            s.bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, scope(&src))))
                .with_context(|| format!("binding the source {src}"))?;
            s.set_multicast_if_v6(index).context("IPV6_MULTICAST_IF")?;
            s.set_multicast_hops_v6(u32::from(cli.ttl))
                .context("IPV6_MULTICAST_HOPS")?;
            s.set_unicast_hops_v6(u32::from(cli.ttl))
                .context("IPV6_UNICAST_HOPS")?;
            let to = SocketAddr::V6(SocketAddrV6::new(dst6, 0, 0, scope(&dst6)));
            (s, msg.clone(), to)
        }
        _ => bail!(
            "--src {} and --dst {dst} are of different families",
            cli.src
        ),
    };
    let to = SockAddr::from(to);
    for i in 0..cli.count {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(cli.interval_ms));
        }
        let n = sock
            .send_to(&packet, &to)
            .with_context(|| format!("sending to {dst} on {}", cli.iface))?;
        if n != packet.len() {
            bail!("sent {n} of {} bytes", packet.len());
        }
    }
    println!(
        "{}",
        serde_json::json!({"sent": cli.count, "bytes": msg.len()})
    );
    Ok(())
}

/// A raw socket of protocol 112 bound to `iface`.
fn raw_socket(domain: Domain, iface: &str) -> Result<Socket> {
    let s = Socket::new(
        domain,
        Type::RAW,
        Some(Protocol::from(i32::from(ip_proto::VRRP))),
    )
    .with_context(|| format!("raw {domain:?} socket (run as root)"))?;
    s.bind_device(Some(iface.as_bytes()))
        .with_context(|| format!("SO_BINDTODEVICE {iface}"))?;
    Ok(s)
}

/// Link-local and link-scope multicast addresses need the interface as their scope.
fn needs_scope(a: &Ipv6Addr) -> bool {
    let s = a.segments()[0];
    (s & 0xffc0) == 0xfe80 || (a.is_multicast() && (s & 0x000f) <= 2)
}
