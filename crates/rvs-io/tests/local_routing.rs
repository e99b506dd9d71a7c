//! The policy routing that sends the director's own traffic into rvs0, installed and
//! removed over rtnetlink inside a throwaway network namespace, and checked with iproute2
//! as an independent observer. Needs root; without it the test fails, it never skips.

use rvs_io::local::{install_routing, open_tun, remove_routing};
use rvs_testnet::{Lab, Ns};
use std::os::fd::AsFd;

fn show(ns: &Ns, args: &[&str]) -> String {
    let o = ns.ip(args).expect("ip");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn rules(ns: &Ns) -> (String, String) {
    (
        show(ns, &["-4", "rule", "show"]),
        show(ns, &["-6", "rule", "show"]),
    )
}

#[test]
fn the_mark_rule_and_route_are_installed_once_and_removed_on_stop() {
    let lab = Lab::new("lrt").expect("lab (needs root)");
    let ns = lab.ns("d").expect("namespace");
    let before = rules(&ns);
    for fam in [&before.0, &before.1] {
        assert!(fam.contains("0:\tfrom all lookup local"), "{fam}");
    }
    let path = format!("/var/run/netns/{}", ns.name());
    std::thread::scope(|s| {
        s.spawn(|| {
            // This thread (and the ip/nft commands it runs) lives in the lab's namespace.
            let f = std::fs::File::open(&path).expect("netns file");
            rustix::thread::move_into_link_name_space(
                f.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns");
            let _tun = open_tun().expect("rvs0");

            install_routing().expect("install");
            let installed = rules(&ns);
            for fam in [&installed.0, &installed.1] {
                assert!(
                    fam.contains("90:\tfrom all fwmark 0x72767330 lookup 7276"),
                    "{fam}"
                );
                assert!(fam.contains("100:\tfrom all lookup local"), "{fam}");
                assert!(!fam.contains("\n0:\t") && !fam.starts_with("0:\t"), "{fam}");
            }
            let r4 = show(&ns, &["-4", "route", "show", "table", "7276"]);
            assert!(r4.contains("default dev rvs0"), "{r4}");
            let r6 = show(&ns, &["-6", "route", "show", "table", "7276"]);
            assert!(r6.contains("default dev rvs0"), "{r6}");

            // A restarted rvsd finds its predecessor's rules: nothing changes.
            install_routing().expect("install again");
            assert_eq!(rules(&ns), installed);

            remove_routing();
            assert_eq!(rules(&ns), before, "a clean stop restores the rules");
        });
    });
}
