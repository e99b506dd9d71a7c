//! Argument parsing against ipvsadm 1.31's behaviour: seed command lines, defaults, and
//! every class of malformed argument with ipvsadm's message and exit status.

mod common;

use common::{argv, Fake};
use rvs_ctl::cmd::*;
use rvs_ctl::parse::parse_with;
use std::net::{IpAddr, Ipv4Addr};

fn ok(line: &str) -> Command {
    match parse_with(&argv(line), &Fake) {
        Ok(c) => c,
        Err(e) => panic!("{line}: unexpected error {e:?}"),
    }
}

/// Asserts ipvsadm's stderr text and exit status for a rejected line.
fn err(line: &str, message: &str, code: i32) {
    match parse_with(&argv(line), &Fake) {
        Ok(c) => panic!("{line}: expected error, got {c:?}"),
        Err(e) => {
            assert_eq!(e.message, message, "{line}");
            assert_eq!(e.exit_code, code, "{line}");
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

fn svc(key: ServiceKey, sched: &str) -> ServiceSpec {
    ServiceSpec {
        key,
        scheduler: sched.into(),
        persistence: None,
        netmask: if key.is_ipv6() {
            Netmask::V6(128)
        } else {
            Netmask::V4(Ipv4Addr::BROADCAST)
        },
        pe: None,
        one_packet: false,
        sched_flags: 0,
        laddrs: vec![],
    }
}

fn dest(addr: &str, port: u16, forward: Forward, weight: u32) -> DestSpec {
    DestSpec {
        addr: ip(addr),
        port,
        forward,
        weight,
        u_threshold: 0,
        l_threshold: 0,
        tun_type: TunnelType::Ipip,
        tun_port: 0,
        tun_csum: TunnelCsum::NoCsum,
    }
}

fn list(target: ListTarget, f: impl FnOnce(&mut ListFormat)) -> Command {
    let mut format = ListFormat::default();
    f(&mut format);
    Command::List(ListSpec { target, format })
}

// Seed 001: an init script for LVS-NAT.
#[test]
fn seed_001_nat_script() {
    assert_eq!(ok("/sbin/ipvsadm -C"), Command::Flush);
    assert_eq!(
        ok("/sbin/ipvsadm -A -t 172.25.0.10:80 -s rr"),
        Command::AddService(svc(tcp("172.25.0.10", 80), "rr"))
    );
    assert_eq!(
        ok("/sbin/ipvsadm -a -t 172.25.0.10:80 -r 192.168.122.10:80 -m -w 5"),
        Command::AddDest {
            service: tcp("172.25.0.10", 80),
            dest: dest("192.168.122.10", 80, Forward::Masq, 5)
        }
    );
    assert_eq!(
        ok("/sbin/ipvsadm -a -t 172.25.0.10:80 -r 192.168.122.20:80 -m -w 10"),
        Command::AddDest {
            service: tcp("172.25.0.10", 80),
            dest: dest("192.168.122.20", 80, Forward::Masq, 10)
        }
    );
    // A bare `ipvsadm` lists the table.
    assert_eq!(ok("/sbin/ipvsadm"), list(ListTarget::All, |_| {}));
    assert_eq!(
        ok("/sbin/ipvsadm -E  -t 172.25.0.10:80 -s wrr"),
        Command::EditService(svc(tcp("172.25.0.10", 80), "wrr"))
    );
    assert_eq!(
        ok("ipvsadm -Ln"),
        list(ListTarget::All, |f| f.numeric = true)
    );
    assert_eq!(ok("ipvsadm -S -n"), Command::Save { numeric: true });
    assert_eq!(ok("ipvsadm -R"), Command::Restore);
}

// Seed 002: LVS-DR with the `[ -p 60 ]` that ipvsadm rejects on -a.
#[test]
fn seed_002_dr() {
    assert_eq!(
        ok("ipvsadm -A -t 10.1.1.11:80 -s wlc"),
        Command::AddService(svc(tcp("10.1.1.11", 80), "wlc"))
    );
    // Direct routing: the real port is the virtual port.
    assert_eq!(
        ok("ipvsadm -a -t 10.1.1.11:80 -r 10.1.1.10 -g -w 1"),
        Command::AddDest {
            service: tcp("10.1.1.11", 80),
            dest: dest("10.1.1.10", 80, Forward::Route, 1)
        }
    );
    assert_eq!(
        ok("ipvsadm -a -t 10.1.1.11:80 -r 10.1.1.20 -g -w 2"),
        Command::AddDest {
            service: tcp("10.1.1.11", 80),
            dest: dest("10.1.1.20", 80, Forward::Route, 2)
        }
    );
    err(
        "ipvsadm -a -t 10.1.1.11:80 -r 10.1.1.10 -g -w 1 -p 60",
        "Illegal 'persistent' option with the 'add-server' command",
        2,
    );
    err(
        "ipvsadm -a -t 10.1.1.11:80 -r 10.1.1.20 -g -w 2 -p 60",
        "Illegal 'persistent' option with the 'add-server' command",
        2,
    );
    assert_eq!(
        ok("ipvsadm -l --timeout"),
        list(ListTarget::Timeout, |_| {})
    );
    assert_eq!(
        ok("ipvsadm --set 900 120 300"),
        Command::SetTimeout(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        })
    );
    assert_eq!(
        ok("ipvsadm -ln"),
        list(ListTarget::All, |f| f.numeric = true)
    );
    assert_eq!(
        ok("ipvsadm -lnc"),
        list(ListTarget::Connections, |f| f.numeric = true)
    );
}

// Seed 003 is machine-mangled ("Ipvsadm-a-t 172.16.14.1: 80-s rr"); these are its obvious
// transcriptions.
#[test]
fn seed_003_transcribed() {
    let vip = tcp("172.16.14.1", 80);
    assert_eq!(ok("ipvsadm -C"), Command::Flush);
    assert_eq!(
        ok("ipvsadm -A -t 172.16.14.1:80 -s rr"),
        Command::AddService(svc(vip, "rr"))
    );
    assert_eq!(
        ok("ipvsadm -l -n"),
        list(ListTarget::All, |f| f.numeric = true)
    );
    assert_eq!(
        ok("ipvsadm -a -t 172.16.14.1:80 -r 10.0.0.11 -m"),
        Command::AddDest {
            service: vip,
            dest: dest("10.0.0.11", 80, Forward::Masq, 1)
        }
    );
    assert_eq!(
        ok("ipvsadm -a -t 172.16.14.1:80 -r 10.0.0.12 -m"),
        Command::AddDest {
            service: vip,
            dest: dest("10.0.0.12", 80, Forward::Masq, 1)
        }
    );
    assert_eq!(
        ok("ipvsadm -E -t 172.16.14.1:80 -s wlc"),
        Command::EditService(svc(vip, "wlc"))
    );
    assert_eq!(
        ok("ipvsadm -e -t 172.16.14.1:80 -r 10.0.0.11 -m -w 3"),
        Command::EditDest {
            service: vip,
            dest: dest("10.0.0.11", 80, Forward::Masq, 3)
        }
    );
    assert_eq!(ok("ipvsadm -S"), Command::Save { numeric: false });
    assert_eq!(
        ok("ipvsadm -a -t 172.16.14.1:80 -r172.16.14.11 -g -w 2"),
        Command::AddDest {
            service: vip,
            dest: dest("172.16.14.11", 80, Forward::Route, 2)
        }
    );
    // Taken literally, the mangled lowercase `-a ... -s rr` is what ipvsadm rejects.
    err(
        "ipvsadm -a -t 172.16.14.1:80 -s rr",
        "Illegal 'scheduler' option with the 'add-server' command",
        2,
    );
}

// Seed 000: VS/NAT and VS/TUN examples from the LVS site.
#[test]
fn seed_000_nat_and_tun() {
    assert_eq!(
        ok("ipvsadm -a -t 202.103.106.5:80 -r 172.16.0.3:8000 -m -w 2"),
        Command::AddDest {
            service: tcp("202.103.106.5", 80),
            dest: dest("172.16.0.3", 8000, Forward::Masq, 2)
        }
    );
    // Tunnelling ignores the written real port.
    assert_eq!(
        ok("ipvsadm -a -t 202.103.106.5:80 -r 202.103.107.2 -i -w 1"),
        Command::AddDest {
            service: tcp("202.103.106.5", 80),
            dest: dest("202.103.107.2", 80, Forward::Tunnel, 1)
        }
    );
    assert_eq!(
        ok("ipvsadm -A -t 202.103.106.5:21 -s wrr"),
        Command::AddService(svc(tcp("202.103.106.5", 21), "wrr"))
    );
    assert_eq!(
        ok("ipvsadm -a -t 202.103.106.5:21 -r 172.16.0.2:21 -m"),
        Command::AddDest {
            service: tcp("202.103.106.5", 21),
            dest: dest("172.16.0.2", 21, Forward::Masq, 1)
        }
    );
    assert_eq!(
        ok("ipvsadm -A -t 172.26.20.110:23 -s wlc"),
        Command::AddService(svc(tcp("172.26.20.110", 23), "wlc"))
    );
    assert_eq!(
        ok("ipvsadm -a -t 172.26.20.110:23 -r 172.26.20.112 -i"),
        Command::AddDest {
            service: tcp("172.26.20.110", 23),
            dest: dest("172.26.20.112", 23, Forward::Tunnel, 1)
        }
    );
    // The page's own typo (-A with -r) is what ipvsadm rejects.
    err(
        "ipvsadm -A -t 172.26.20.110:23 -r 192.168.0.2 -g",
        "Illegal 'real-server' option with the 'add-service' command",
        2,
    );
    // ippfvsadm's old "-A ... -R server" syntax is not ipvsadm's.
    err(
        "ipvsadm -A -t 202.103.106.5:80 -R 172.16.0.2:80 -w 1",
        "invalid option `-R'",
        2,
    );
    assert_eq!(
        ok("ipvsadm -a -t 172.26.20.110:23 -r 172.26.20.112 -g"),
        Command::AddDest {
            service: tcp("172.26.20.110", 23),
            dest: dest("172.26.20.112", 23, Forward::Route, 1)
        }
    );
}

#[test]
fn defaults_persistence_and_netmask() {
    let mut s = svc(tcp("10.0.0.1", 0), "wlc");
    s.persistence = Some(300);
    assert_eq!(
        ok("ipvsadm -A -t 10.0.0.1:0 -p"),
        Command::AddService(s.clone())
    );
    // A bare address means port 0, which persistence allows.
    assert_eq!(
        ok("ipvsadm -A -t 10.0.0.1 -p"),
        Command::AddService(s.clone())
    );
    s.persistence = Some(60);
    s.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    s.scheduler = "rr".into();
    assert_eq!(
        ok("ipvsadm -A -t 10.0.0.1:0 -p 60 -M 255.255.255.0 -s rr"),
        Command::AddService(s.clone())
    );
    assert_eq!(
        ok("ipvsadm -A -t 10.0.0.1:0 -p60 -M255.255.255.0 -srr"),
        Command::AddService(s.clone())
    );
    assert_eq!(
        ok("ipvsadm -A -t=10.0.0.1:0 -p=60 -M=255.255.255.0 -s=rr"),
        Command::AddService(s.clone())
    );
    assert_eq!(
        ok("ipvsadm --add-service --tcp-service=10.0.0.1:0 --persistent=60 --netmask 255.255.255.0 --scheduler rr"),
        Command::AddService(s)
    );
    // -p followed by an option takes no value.
    let mut s = svc(tcp("10.0.0.1", 0), "rr");
    s.persistence = Some(300);
    assert_eq!(
        ok("ipvsadm -A -t 10.0.0.1:0 -p -s rr"),
        Command::AddService(s)
    );
}

#[test]
fn ipv6_names_and_fwmark() {
    let key = ServiceKey::Inet {
        protocol: Protocol::Udp,
        addr: ip("2001:db8::1"),
        port: 53,
    };
    let mut s = svc(key, "wlc");
    s.persistence = Some(300);
    s.netmask = Netmask::V6(64);
    assert_eq!(
        ok("ipvsadm -A -u [2001:db8::1]:53 -p -M 64"),
        Command::AddService(s)
    );
    assert_eq!(
        ok("ipvsadm -a -u [2001:db8::1]:53 -r [2001:db8::10]:5353 -m"),
        Command::AddDest {
            service: key,
            dest: dest("2001:db8::10", 5353, Forward::Masq, 1)
        }
    );
    // Host and port names go through the resolver.
    assert_eq!(
        ok("ipvsadm -A -t vip.example:http"),
        Command::AddService(svc(tcp("192.168.0.101", 80), "wlc"))
    );
    assert_eq!(
        ok("ipvsadm -a -t vip.example:http -r web1:https -m"),
        Command::AddDest {
            service: tcp("192.168.0.101", 80),
            dest: dest("10.0.0.1", 443, Forward::Masq, 1)
        }
    );
    let fw = ServiceKey::Fwmark {
        mark: 7,
        ipv6: true,
    };
    assert_eq!(
        ok("ipvsadm -A -f 7 -6"),
        Command::AddService(svc(fw, "wlc"))
    );
    assert_eq!(
        ok("ipvsadm -a -f 7 -6 -r 2001:db8::10 -g"),
        Command::AddDest {
            service: fw,
            dest: dest("2001:db8::10", 0, Forward::Route, 1)
        }
    );
    assert_eq!(
        ok("ipvsadm -A --sctp-service 10.0.0.1:3868"),
        Command::AddService(svc(
            ServiceKey::Inet {
                protocol: Protocol::Sctp,
                addr: ip("10.0.0.1"),
                port: 3868
            },
            "wlc"
        ))
    );
    // ipvsadm insists on the command first.
    err(
        "ipvsadm --sctp-service 10.0.0.1:3868 -A",
        "Try `ipvsadm -h' or 'ipvsadm --help' for more information.",
        255,
    );
}

#[test]
fn real_server_options() {
    let mut d = dest("10.0.0.2", 8080, Forward::Masq, 0);
    d.u_threshold = 100;
    d.l_threshold = 50;
    assert_eq!(
        ok("ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 0 -x 100 -y 50"),
        Command::AddDest {
            service: tcp("10.0.0.1", 80),
            dest: d
        }
    );
    let mut d = dest("10.0.0.2", 80, Forward::Tunnel, 1);
    d.tun_type = TunnelType::Gue;
    d.tun_port = 6080;
    d.tun_csum = TunnelCsum::RemCsum;
    assert_eq!(
        ok("ipvsadm -e -t 10.0.0.1:80 -r 10.0.0.2:9999 -i --tun-type gue --tun-port 6080 --tun-remcsum"),
        Command::EditDest {
            service: tcp("10.0.0.1", 80),
            dest: d
        }
    );
    // -d takes the virtual port when the real one is not written.
    assert_eq!(
        ok("ipvsadm -d -t 10.0.0.1:80 -r 10.0.0.2"),
        Command::DelDest {
            service: tcp("10.0.0.1", 80),
            addr: ip("10.0.0.2"),
            port: 80
        }
    );
    assert_eq!(
        ok("ipvsadm -D -t 10.0.0.1:80"),
        Command::DelService(tcp("10.0.0.1", 80))
    );
    assert_eq!(ok("ipvsadm -Z"), Command::Zero(None));
    assert_eq!(
        ok("ipvsadm -Z -t 10.0.0.1:80"),
        Command::Zero(Some(tcp("10.0.0.1", 80)))
    );
}

#[test]
fn service_options() {
    let key = ServiceKey::Inet {
        protocol: Protocol::Udp,
        addr: ip("10.0.0.1"),
        port: 5060,
    };
    let mut s = svc(key, "sh");
    s.one_packet = true;
    s.sched_flags = SCHED_FLAG_1 | SCHED_FLAG_2;
    s.pe = Some("sip".into());
    s.persistence = Some(30);
    assert_eq!(
        ok("ipvsadm -A -u 10.0.0.1:5060 -s sh -b sh-fallback,sh-port -o -p 30 --pe sip"),
        Command::AddService(s)
    );
    // The scheduler name is cut to IPVS's 15 characters; an empty one means wlc.
    let Command::AddService(s) = ok("ipvsadm -A -t 10.0.0.1:80 -s abcdefghijklmnopqrstuvwxyz")
    else {
        panic!()
    };
    assert_eq!(s.scheduler, "abcdefghijklmno");
    let s = parse_with(
        &[
            "ipvsadm".into(),
            "-A".into(),
            "-t".into(),
            "10.0.0.1:80".into(),
            "-s".into(),
            "".into(),
        ],
        &Fake,
    );
    assert!(matches!(s, Ok(Command::AddService(ref s)) if s.scheduler == "wlc"));
    // inet_aton forms ipvsadm accepts.
    assert_eq!(
        ok("ipvsadm -A -t 10.1:80"),
        Command::AddService(svc(tcp("10.0.0.1", 80), "wlc"))
    );
    // "[1.2.3.4]:80": ipvsadm finds the address but loses the port.
    let mut p = svc(tcp("1.2.3.4", 0), "wlc");
    p.persistence = Some(300);
    assert_eq!(ok("ipvsadm -A -t [1.2.3.4]:80 -p"), Command::AddService(p));
}

#[test]
fn listing_options() {
    assert_eq!(
        ok("ipvsadm -L -n --stats --exact --nosort"),
        list(ListTarget::All, |f| {
            f.numeric = true;
            f.stats = true;
            f.exact = true;
            f.nosort = true
        })
    );
    assert_eq!(
        ok("ipvsadm -Ln --rate --sort"),
        list(ListTarget::All, |f| {
            f.numeric = true;
            f.rate = true
        })
    );
    assert_eq!(
        ok("ipvsadm -Ln --thresholds -t 10.0.0.1:80"),
        list(ListTarget::Service(tcp("10.0.0.1", 80)), |f| {
            f.numeric = true;
            f.thresholds = true
        })
    );
    assert_eq!(
        ok("ipvsadm -Lnc --persistent-conn"),
        list(ListTarget::Connections, |f| {
            f.numeric = true;
            f.persistent_conn = true
        })
    );
    assert_eq!(
        ok("ipvsadm --list --tun-info"),
        list(ListTarget::All, |f| f.tun_info = true)
    );
    assert_eq!(ok("ipvsadm -L --daemon"), list(ListTarget::Daemon, |_| {}));
}

#[test]
fn daemon_commands() {
    assert_eq!(
        ok("ipvsadm --start-daemon master"),
        Command::StartDaemon(DaemonSpec {
            state: SyncState::Master,
            mcast_ifn: "eth0".into(),
            syncid: 0,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0
        })
    );
    assert_eq!(
        ok("ipvsadm --start-daemon backup --mcast-interface eth1 --syncid 9 --sync-maxlen 1400 --mcast-group ff02::81 --mcast-port 8849 --mcast-ttl 2"),
        Command::StartDaemon(DaemonSpec {
            state: SyncState::Backup,
            mcast_ifn: "eth1".into(),
            syncid: 9,
            sync_maxlen: 1400,
            mcast_group: Some(ip("ff02::81")),
            mcast_port: 8849,
            mcast_ttl: 2
        })
    );
    assert_eq!(
        ok("ipvsadm --stop-daemon backup --syncid 9"),
        Command::StopDaemon(SyncState::Backup)
    );
}

#[test]
fn help_and_version() {
    assert_eq!(ok("ipvsadm -h"), Command::Help);
    assert_eq!(ok("ipvsadm --help"), Command::Help);
    assert_eq!(ok("ipvsadm -v"), Command::Version);
    assert_eq!(
        rvs_ctl::help::version(),
        "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n"
    );
    let u = rvs_ctl::help::usage("ipvsadm");
    assert!(u.starts_with("ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\nUsage:\n  ipvsadm -A|E virtual-service"));
    for ext in [
        "--fullnat",
        "--laddr",
        "--fwmark-rule",
        "--del-fwmark-rule",
        "--vs-set",
    ] {
        assert!(u.contains(ext), "help documents {ext}");
    }
}

#[test]
fn rvs_extensions() {
    let mut s = svc(tcp("10.0.0.1", 80), "rr");
    s.laddrs = vec![ip("10.0.0.250"), ip("10.0.0.251")];
    assert_eq!(
        ok("ipvsadm -A -t 10.0.0.1:80 -s rr --laddr 10.0.0.250 --laddr 10.0.0.251"),
        Command::AddService(s)
    );
    // FULLNAT keeps the written real port, as NAT does.
    assert_eq!(
        ok("ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.2:8080 --fullnat -w 4"),
        Command::AddDest {
            service: tcp("10.0.0.1", 80),
            dest: dest("192.168.0.2", 8080, Forward::FullNat, 4)
        }
    );
    assert_eq!(
        ok("ipvsadm --fwmark-rule tcp,10.0.0.0/24,8000-8099,5"),
        Command::AddFwmarkRule(FwmarkRule {
            protocol: Protocol::Tcp,
            addr: ip("10.0.0.0"),
            prefix: 24,
            port_lo: 8000,
            port_hi: 8099,
            mark: 5
        })
    );
    assert_eq!(
        ok("ipvsadm --del-fwmark-rule udp,2001:db8::1,53,9"),
        Command::DelFwmarkRule(FwmarkRule {
            protocol: Protocol::Udp,
            addr: ip("2001:db8::1"),
            prefix: 128,
            port_lo: 53,
            port_hi: 53,
            mark: 9
        })
    );
    for setting in VsSetting::ALL {
        assert_eq!(
            ok(&format!("ipvsadm --vs-set {}=1", setting.name())),
            Command::VsSet { setting, value: 1 }
        );
    }
}

/// The variant's index; the match is exhaustive, so a new variant must get an arm here
/// (and a line in `commands_serialize`, which checks that every index is covered).
fn variant(c: &Command) -> usize {
    match c {
        Command::AddService(_) => 0,
        Command::EditService(_) => 1,
        Command::DelService(_) => 2,
        Command::Flush => 3,
        Command::List(_) => 4,
        Command::AddDest { .. } => 5,
        Command::EditDest { .. } => 6,
        Command::DelDest { .. } => 7,
        Command::SetTimeout(_) => 8,
        Command::StartDaemon(_) => 9,
        Command::StopDaemon(_) => 10,
        Command::Restore => 11,
        Command::Save { .. } => 12,
        Command::Zero(_) => 13,
        Command::Help => 14,
        Command::Version => 15,
        Command::AddFwmarkRule(_) => 16,
        Command::DelFwmarkRule(_) => 17,
        Command::VsSet { .. } => 18,
    }
}

const VARIANTS: usize = 19;

#[test]
fn commands_serialize() {
    // The control protocol carries Commands as JSON: every variant, with every kind of
    // field (IPv4/IPv6, fwmark keys, options, tunnels, netmasks), comes back equal.
    let lines = [
        "ipvsadm -A -t 10.0.0.1:80 -s rr",
        "ipvsadm -A -f 7 -6 -s sh -b sh-port -p 600 -M 64",
        "ipvsadm -A -u [2001:db8::1]:53 -s mh -o --pe sip",
        "ipvsadm -A -t 10.0.0.1:443 -s wlc -p 300 -M 255.255.255.0 --laddr 172.16.0.250",
        "ipvsadm -E -t 10.0.0.1:80 -s wrr",
        "ipvsadm -D --sctp-service 10.0.0.1:9",
        "ipvsadm -C",
        "ipvsadm -L -n --stats --exact --nosort",
        "ipvsadm -Lnc --persistent-conn",
        "ipvsadm -L --timeout",
        "ipvsadm -L --daemon",
        "ipvsadm -Ln --thresholds -t 10.0.0.1:80",
        "ipvsadm -a -t 10.0.0.1:80 -r 172.16.0.2:8080 -m -w 3 -x 100 -y 50",
        "ipvsadm -a -t 10.0.0.1:80 -r 172.16.0.3 -g",
        "ipvsadm -a -t 10.0.0.1:443 -r 172.16.0.4:443 --fullnat",
        "ipvsadm -e -t 10.0.0.1:80 -r 10.0.0.2:9999 -i --tun-type gue --tun-port 6080 --tun-remcsum",
        "ipvsadm -a -f 7 -6 -r [2001:db8::2]:80 -i --tun-type gre --tun-nocsum",
        "ipvsadm -d -u [2001:db8::1]:53 -r [2001:db8::2]:53",
        "ipvsadm --set 900 120 300",
        "ipvsadm --start-daemon master",
        "ipvsadm --start-daemon backup --mcast-interface eth1 --syncid 9 --sync-maxlen 1400 --mcast-group ff02::81 --mcast-port 8849 --mcast-ttl 2",
        "ipvsadm --stop-daemon backup --syncid 9",
        "ipvsadm -R",
        "ipvsadm -S -n",
        "ipvsadm -Z",
        "ipvsadm -Z -t 10.0.0.1:80",
        "ipvsadm -h",
        "ipvsadm -v",
        "ipvsadm --fwmark-rule tcp,10.0.0.0/24,8000-8099,5",
        "ipvsadm --del-fwmark-rule udp,2001:db8::1,53,9",
        "ipvsadm --vs-set expire_nodest_conn=1",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for line in lines {
        let c = ok(line);
        let text = serde_json::to_string(&c).unwrap_or_else(|e| panic!("{line}: {e}"));
        let back: Command =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{line}: {e}\n{text}"));
        assert_eq!(back, c, "{line}: round trip through {text}");
        seen.insert(variant(&c));
    }
    let missing: Vec<usize> = (0..VARIANTS).filter(|v| !seen.contains(v)).collect();
    assert!(
        missing.is_empty(),
        "variants not round-tripped: {missing:?}"
    );

    // The wire form itself is pinned: rvsadm and rvsd of one release speak it, and a
    // silent change (a renamed field or variant) would break a daemon restarted under a
    // newer rvsadm.
    let json = |line: &str| serde_json::to_value(ok(line)).unwrap();
    assert_eq!(
        json("ipvsadm -A -t 10.0.0.1:80 -s rr"),
        serde_json::json!({"AddService": {
            "key": {"Inet": {"protocol": "Tcp", "addr": "10.0.0.1", "port": 80}},
            "scheduler": "rr", "persistence": null,
            "netmask": {"V4": "255.255.255.255"}, "pe": null, "one_packet": false,
            "sched_flags": 0, "laddrs": []
        }})
    );
    assert_eq!(
        json("ipvsadm -d -f 7 -6 -r [2001:db8::2]:80"),
        serde_json::json!({"DelDest": {
            "service": {"Fwmark": {"mark": 7, "ipv6": true}},
            "addr": "2001:db8::2", "port": 80
        }})
    );
    assert_eq!(json("ipvsadm -C"), serde_json::json!("Flush"));
    assert_eq!(
        json("ipvsadm --vs-set expire_nodest_conn=1"),
        serde_json::json!({"VsSet": {"setting": "ExpireNodestConn", "value": 1}})
    );
}

#[test]
fn system_resolver_handles_numeric_input() {
    let args: Vec<String> = ["ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", "rr"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        rvs_ctl::parse(&args),
        Ok(Command::AddService(svc(tcp("10.0.0.1", 80), "rr")))
    );
}

#[test]
fn etc_services_lookup() {
    use rvs_ctl::resolve::{service_name_in, service_port_in};
    let text = "# comment\nhttp\t\t80/tcp\t\twww # WorldWideWeb HTTP\n\
                domain\t\t53/udp\nsip 5060/udp\nsip 5060/tcp\n";
    assert_eq!(service_port_in(text, "http", Protocol::Tcp), Some(80));
    assert_eq!(service_port_in(text, "www", Protocol::Tcp), Some(80));
    assert_eq!(service_port_in(text, "http", Protocol::Udp), None);
    assert_eq!(service_port_in(text, "domain", Protocol::Udp), Some(53));
    assert_eq!(
        service_name_in(text, 5060, Protocol::Tcp).as_deref(),
        Some("sip")
    );
    assert_eq!(service_name_in(text, 81, Protocol::Tcp), None);
}
