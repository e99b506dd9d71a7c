//! VRRP end to end (issue 9), in the two-director lab of `rvs_testnet::vrrp` (seed 002's
//! LVS/DR shape: a client, directors d1 and d2, two real servers, one VIP).
//!
//! - the baseline: keepalived against keepalived, the VIP served by nginx on the
//!   directors, the master killed (SIGKILL) while a client opens a connection every 10 ms;
//!   the gap it shows is the reference the rvs figures are compared with
//!   (`scripts/bench-vrrp.sh` prints both).
//!
//! Every wait is a deadline poll on observable state (a notify file, `ip addr`, the
//! client's neighbour table, `rvsadm --vrrp-status`); the deadlines are generous bounds
//! derived from the protocol's timers, never assertions about speed.

mod e2e;
use rvs_testnet::vrrp::{self as lab, Instance, Keepalived, VrrpLab, VrrpOpts, VIP};
use rvs_testnet::wait_for;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

/// keepalived's global_defs for a lab director: scripts run as root (the lab's scripts are
/// root's, mode 0755).
fn ka_global(router_id: &str) -> String {
    format!(
        "global_defs {{\n    router_id {router_id}\n    script_user root\n    \
         enable_script_security\n}}\n"
    )
}

fn vrrp_lab(tag: &str, director_nginx: bool) -> VrrpLab {
    let o = VrrpOpts {
        director_nginx,
        ..VrrpOpts::default()
    };
    lab::lab(tag, &o).unwrap_or_else(|e| panic!("lab (the e2e tests need root): {e}"))
}

/// Waits until a `notify` state file says `state`.
fn wait_notified(file: &Path, state: &str, limit: Duration, log: impl Fn() -> String) {
    wait_for(&format!("{} saying {state}", file.display()), limit, || {
        Ok(match lab::notified_state(file) {
            Some(s) if s == state => ControlFlow::Break(()),
            s => ControlFlow::Continue(format!("{s:?}\n{}", log())),
        })
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Waits until the client's neighbour entry for `addr` has `mac`.
fn wait_neigh(t: &VrrpLab, addr: &str, mac: &str, limit: Duration) {
    wait_for(
        &format!("client's neighbour {addr} at {mac}"),
        limit,
        || {
            Ok(match lab::neigh(&t.client, addr)? {
                Some((m, _)) if m == mac => ControlFlow::Break(()),
                other => ControlFlow::Continue(format!("{other:?}")),
            })
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// keepalived vs keepalived, advert_int 1 (seed 002's instance, addresses translated):
/// election, then the master's director killed under probing; the gap is printed.
#[test]
fn keepalived_baseline_failover() {
    let mut t = vrrp_lab("kab", true);
    let mut ka = Vec::new();
    let mut states = Vec::new();
    for (i, prio) in [(0usize, 200u8), (1, 100)] {
        let name = format!("ka{}", i + 1);
        let (script, state) = lab::notify_script(&t.lab, &name).unwrap();
        let mut inst = Instance::new("VI_1", 51, prio, &[VIP]);
        inst.master = i == 0;
        inst.auth_pass = Some("1111".into());
        inst.notify = Some(script);
        let conf = ka_global(&name) + &inst.render();
        ka.push(Keepalived::start(&t.lab, &t.dirs[i], &name, &conf).unwrap());
        states.push(state);
    }
    // Master-down interval of the backup: 3 × 1 s + skew; twice that as a bound.
    let elect = Duration::from_secs(8);
    wait_notified(&states[0], "MASTER", elect, || ka[0].log());
    wait_notified(&states[1], "BACKUP", elect, || ka[1].log());
    assert!(lab::has_addr(&t.dirs[0], "eth0", VIP).unwrap());
    assert!(!lab::has_addr(&t.dirs[1], "eth0", VIP).unwrap());
    let macs: Vec<String> = t.dirs.iter().map(|d| d.mac("eth0").unwrap()).collect();
    assert_eq!(t.client.curl(&format!("http://{VIP}/")).unwrap(), "d1\n");
    wait_neigh(&t, VIP, &macs[0], Duration::from_secs(2));

    let to: SocketAddr = format!("{VIP}:80").parse().unwrap();
    let probe = lab::Prober::start(&t.client, to).unwrap();
    probe
        .wait_success(lab::now_us(), Duration::from_secs(5), |a| a.detail == "d1")
        .unwrap();
    // The director dies: its VRRP daemon and the service it fronts, at once. Its kernel
    // keeps the VIP (as after a real keepalived crash) and refuses port 80 from now on.
    let kill = lab::now_us();
    ka[0].kill();
    t.dir_nginx[0].take().unwrap().kill();
    probe
        .wait_success(kill, Duration::from_secs(15), |a| a.detail == "d2")
        .unwrap_or_else(|e| panic!("{e}\n{}", ka[1].log()));
    wait_notified(&states[1], "MASTER", Duration::from_secs(1), || ka[1].log());
    let attempts = probe.finish().unwrap();
    let g = lab::failover_gap(&attempts, kill, |a| a.detail == "d2").unwrap();
    eprintln!(
        "keepalived baseline (advert_int 1): failover gap {:?} ({} attempts lost, {} failed after)",
        g.gap, g.lost, g.failed_after
    );
    assert_eq!(g.failed_after, 0, "the path stayed up after the failover");
    wait_neigh(&t, VIP, &macs[1], Duration::from_secs(2));
}
