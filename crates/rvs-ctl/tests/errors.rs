//! Every class of malformed ipvsadm argument, with ipvsadm 1.31's message (what `fail()`
//! prints, without the final newline) and exit status: 2 for `fail(2, ...)`, 255 for
//! popt errors and the try-help exit (`exit(-1)`).

mod common;

use common::{argv, Fake};
use rvs_ctl::parse::parse_with;

#[track_caller]
fn err(line: &str, message: &str, code: i32) {
    match parse_with(&argv(line), &Fake) {
        Ok(c) => panic!("{line}: expected error, got {c:?}"),
        Err(e) => {
            assert_eq!(e.message, message, "{line}");
            assert_eq!(e.exit_code, code, "{line}");
        }
    }
}

const TRYHELP: &str = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.";

#[test]
fn command_position_and_popt_errors() {
    // The first option must be a command.
    err("ipvsadm -t 10.0.0.1:80 -A", TRYHELP, 255);
    err("ipvsadm --bogus", TRYHELP, 255);
    err("ipvsadm 10.0.0.1", TRYHELP, 255);
    err("ipvsadm --start-daemon", TRYHELP, 255);
    // Unknown options and missing arguments later on: "%s: %s" from popt.
    err("ipvsadm -A --bogus", "--bogus: unknown option", 255);
    err("ipvsadm -Lq", "-Lq: unknown option", 255);
    err("ipvsadm -A -t", "-t: missing argument", 255);
    err(
        "ipvsadm -A --tcp-service",
        "--tcp-service: missing argument",
        255,
    );
    err(
        "ipvsadm -L --numeric=1",
        "--numeric=1: option does not take an argument",
        255,
    );
    err(
        "ipvsadm -Ln=1",
        "-Ln=1: option does not take an argument",
        255,
    );
    err("ipvsadm -A -nt", "-nt: missing argument", 255);
    // A second command is just an option ipvsadm does not expect there.
    err("ipvsadm -L -A", "invalid option `-A'", 2);
    err("ipvsadm -L --clear", "invalid option `--clear'", 2);
    err("ipvsadm -L -nA", "invalid option `-nA'", 2);
    err("ipvsadm -L foo", "unexpected argument foo", 2);
}

#[test]
fn option_not_allowed_with_command() {
    err(
        "ipvsadm -a -t 10.1.1.11:80 -r 10.1.1.10 -g -w 1 -p 60",
        "Illegal 'persistent' option with the 'add-server' command",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 -r 10.0.0.2",
        "Illegal 'real-server' option with the 'add-service' command",
        2,
    );
    err(
        "ipvsadm -D -t 10.0.0.1:80 -s rr",
        "Illegal 'scheduler' option with the 'delete-service' command",
        2,
    );
    err(
        "ipvsadm -C -n",
        "Illegal 'numeric' option with the 'flush' command",
        2,
    );
    err(
        "ipvsadm -S --stats",
        "Illegal 'stats' option with the 'save' command",
        2,
    );
    err(
        "ipvsadm -d -t 10.0.0.1:80 -r 10.0.0.2 -w 3",
        "Illegal 'weight' option with the 'delete-server' command",
        2,
    );
    err(
        "ipvsadm --stop-daemon master --mcast-interface eth0",
        "Illegal 'mcast-interface' option with the 'stop-daemon' command",
        2,
    );
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 --laddr 10.0.0.9",
        "Illegal 'laddr' option with the 'add-server' command",
        2,
    );
    err(
        "ipvsadm --vs-set sloppy_tcp=1 -n",
        "Illegal 'numeric' option with the 'vs-set' command",
        2,
    );
}

#[test]
fn compulsory_and_conflicting_options() {
    err(
        "ipvsadm -A -s rr",
        "You need to supply the 'service-address' option for the 'add-service' command",
        2,
    );
    err(
        "ipvsadm -a -t 10.0.0.1:80 -w 2",
        "You need to supply the 'real-server' option for the 'add-server' command",
        2,
    );
    err(
        "ipvsadm -L -c --timeout",
        "The option 'timeout' conflicts with the 'connection' option in the 'list' command",
        2,
    );
    err(
        "ipvsadm -L -t 10.0.0.1:80 --daemon",
        "The option 'daemon' conflicts with the 'service-address' option in the 'list' command",
        2,
    );
    err(
        "ipvsadm -L --timeout --stats",
        "options conflicts in the list command",
        2,
    );
    err(
        "ipvsadm -L --daemon --persistent-conn",
        "options conflicts in the list command",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 -s rr -s wrr",
        "multiple 'scheduler' options specified",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 -u 10.0.0.1:80",
        "multiple 'service-address' options specified",
        2,
    );
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -m -g",
        "multiple 'forwarding-method' options specified",
        2,
    );
}

#[test]
fn bad_addresses_and_ports() {
    let vs = "illegal virtual server address[:port] specified";
    err("ipvsadm -A -t 300.1.1.1:80", vs, 2);
    err("ipvsadm -A -t 10.0.0.1:99999", vs, 2);
    err("ipvsadm -A -t 10.0.0.1:nosuchport", vs, 2);
    err("ipvsadm -A -t 80", vs, 2);
    err("ipvsadm -A -t nosuchhost:80", vs, 2);
    err("ipvsadm -A -t [2001:db8::1]80", vs, 2);
    err("ipvsadm -A -t [2001:db8::1", vs, 2);
    // Host names are IPv4-only, as with gethostbyname().
    err("ipvsadm -A -t v6only:80", vs, 2);
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r bogus",
        "illegal real server address[:port] specified",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:0",
        "Zero port specified for non-persistent service",
        2,
    );
    err(
        "ipvsadm -E -t 10.0.0.1",
        "Zero port specified for non-persistent service",
        2,
    );
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r [2001:db8::2]:80 -m",
        "Different address family is allowed only for tunneling servers",
        2,
    );
    err("ipvsadm -A -f 0", "invalid fwmark value `0' specified", 2);
    err(
        "ipvsadm -A -f 4294967296",
        "invalid fwmark value `4294967296' specified",
        2,
    );
    err("ipvsadm -A -f x1", "invalid fwmark value `x1' specified", 2);
    err("ipvsadm -A -6 -f 1", "-6 used before -f\n", 2);
}

#[test]
fn bad_numbers() {
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -w 65536",
        "illegal weight specified",
        2,
    );
    // popt hands a required argument over even when it starts with '-'.
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -w -1",
        "illegal weight specified",
        2,
    );
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -w",
        "-w: missing argument",
        255,
    );
    // popt reads "-w=x" as the value x.
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -w=x",
        "illegal weight specified",
        2,
    );
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -x 2147483648",
        "illegal u_threshold specified",
        2,
    );
    err(
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -y lots",
        "illegal l_threshold specified",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 -p 0",
        "invalid timeout value `0' specified",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 -p 2678401",
        "invalid timeout value `2678401' specified",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:0 -p -M 255.255.255.x",
        "illegal virtual server persistent mask specified",
        2,
    );
    err(
        "ipvsadm -A -t [2001:db8::1]:0 -p -M 129",
        "illegal ipv6 netmask specified",
        2,
    );
    err(
        "ipvsadm --set 900 120",
        "--set option requires 3 timeout values",
        2,
    );
    err(
        "ipvsadm --set 900 120 x",
        "invalid timeout value `x' specified",
        2,
    );
    err("ipvsadm --set 1 2 3 4", "unexpected argument 4", 2);
}

#[test]
fn bad_service_options() {
    err(
        "ipvsadm -A -t 10.0.0.1:80 -o",
        "One-Packet Scheduling is only for UDP virtual services",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 -b sh-port",
        "incompatible scheduler flag `sh-port'",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 -s sh -b sh-port,mh-port",
        "incompatible scheduler flag `mh-port'",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 -b bogus",
        "invalid scheduler flag `bogus'",
        2,
    );
}

#[test]
fn bad_tunnel_options() {
    let base = "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2";
    err(
        &format!("{base} -g --tun-type gue"),
        "Tunnel options conflict with forward method",
        2,
    );
    err(
        &format!("{base} -i --tun-type gue"),
        "You need to supply the 'tun-port' option for the 'gue' tunnel type",
        2,
    );
    err(
        &format!("{base} -i --tun-port 6080"),
        "Illegal 'tun-port' option with the 'ipip' tunnel type",
        2,
    );
    err(
        &format!("{base} -i --tun-type gre --tun-csum --tun-nocsum"),
        "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type",
        2,
    );
    err(
        &format!("{base} -i --tun-type gre --tun-remcsum"),
        "Illegal 'tun-remcsum' option with the 'gre' tunnel type",
        2,
    );
    err(
        &format!("{base} -i --tun-type vxlan"),
        "illegal tunnel type specified",
        2,
    );
    err(
        &format!("{base} -i --tun-type gue --tun-port 0"),
        "illegal tunnel port specified",
        2,
    );
}

#[test]
fn bad_daemon_options() {
    err(
        "ipvsadm --start-daemon primary",
        "illegal start-daemon parameter specified",
        2,
    );
    err(
        "ipvsadm --stop-daemon primary",
        "illegal start_daemon specified",
        2,
    );
    err(
        "ipvsadm --start-daemon master --syncid 256",
        "illegal syncid specified",
        2,
    );
    err(
        "ipvsadm --start-daemon master --mcast-group 10.0.0.1",
        "invalid IPv4 mcast-group `10.0.0.1'",
        2,
    );
    err(
        "ipvsadm --start-daemon master --mcast-group 2001:db8::1",
        "invalid IPv6 mcast-group `2001:db8::1'",
        2,
    );
    err(
        "ipvsadm --start-daemon master --mcast-port 0",
        "illegal mcast-port specified",
        2,
    );
    err(
        "ipvsadm --start-daemon master --mcast-ttl 256",
        "illegal mcast-ttl specified",
        2,
    );
    err(
        "ipvsadm --start-daemon master --sync-maxlen 65508",
        "illegal sync-maxlen specified",
        2,
    );
}

#[test]
fn bad_extension_arguments() {
    for spec in [
        "tcp,10.0.0.1,80",
        "icmp,10.0.0.1,80,1",
        "tcp,10.0.0.1/33,80,1",
        "tcp,10.0.0.1,90-80,1",
        "tcp,10.0.0.1,80,0",
        "tcp,nohost,80,1",
    ] {
        err(
            &format!("ipvsadm --fwmark-rule {spec}"),
            &format!("illegal fwmark rule `{spec}' specified"),
            2,
        );
    }
    err("ipvsadm --vs-set bogus=1", "unknown vs setting `bogus'", 2);
    err(
        "ipvsadm --vs-set sloppy_tcp=2",
        "illegal value `2' for sloppy_tcp",
        2,
    );
    err(
        "ipvsadm --vs-set sloppy_tcp",
        "illegal vs-set `sloppy_tcp' specified, use name=value",
        2,
    );
    err(
        "ipvsadm -A -t 10.0.0.1:80 --laddr nohost",
        "illegal local address `nohost' specified",
        2,
    );
}
