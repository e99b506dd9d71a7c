//! Unit tests per rule (one router fed by hand) and, in `pair`, routers on a simulated
//! link; `prop` holds the property tests.

mod pair;
mod prop;
mod rules;

use super::*;
use std::net::Ipv4Addr;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn vip(s: &str) -> Vip {
    Vip {
        addr: ip(s),
        prefix: if s.contains(':') { 128 } else { 32 },
        brd: None,
        dev: None,
        scope: None,
        label: None,
    }
}

/// `VI_1` on eth0, VRID 51, v2, 1 s, one VIP, source `src`.
pub fn inst(name: &str, priority: u8, src: &str) -> InstanceConfig {
    InstanceConfig {
        name: name.into(),
        interface: "eth0".into(),
        vrid: 51,
        version: Version::V2,
        ipv6: src.contains(':'),
        initial: InitialState::Backup,
        priority,
        advert_int_cs: 100,
        auth: Auth::None,
        nopreempt: false,
        preempt_delay_ms: 0,
        vips: vec![vip(if src.contains(':') {
            "fd00::100"
        } else {
            "10.0.0.100"
        })],
        vips_excluded: vec![],
        vip_owner: VipOwner::Kernel,
        src: Some(ip(src)),
        unicast_peers: vec![],
        track_interfaces: vec![],
        track_scripts: vec![],
        track_files: vec![],
        notify: Notify::default(),
        garp: GarpTiming::default(),
        accept: false,
        pos: "test.conf:1".into(),
    }
}

pub fn one(i: InstanceConfig) -> VrrpConfig {
    VrrpConfig {
        instances: vec![i],
        ..VrrpConfig::default()
    }
}

pub fn script(name: &str, weight: i32) -> ScriptConfig {
    ScriptConfig {
        name: name.into(),
        command: format!("/bin/{name}"),
        user: None,
        interval_ms: 1000,
        timeout_ms: 1000,
        weight,
        reverse: false,
        rise: 1,
        fall: 1,
        init_fail: false,
    }
}

pub fn tracked(name: &str, weight: Option<i32>) -> Tracked {
    Tracked {
        name: name.into(),
        weight,
        reverse: false,
    }
}

/// The transitions among `actions`, as (instance, to, reason).
pub fn transitions(actions: &[Action]) -> Vec<(String, State, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Transition {
                instance,
                to,
                reason,
                ..
            } => Some((instance.clone(), *to, reason.clone())),
            _ => None,
        })
        .collect()
}

pub fn sends(actions: &[Action]) -> Vec<(IpAddr, IpAddr, Vec<u8>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                src, dst, payload, ..
            } => Some((*src, *dst, payload.clone())),
            _ => None,
        })
        .collect()
}

/// An advert as another router would send it.
pub fn advert_bytes(
    version: Version,
    vrid: u8,
    priority: u8,
    int_cs: u16,
    addrs: &[&str],
    src: &str,
    dst: &str,
) -> Vec<u8> {
    let adv = codec::Advert {
        version,
        vrid,
        priority,
        adver_int_cs: int_cs,
        auth_type: 0,
        auth_data: [0; 8],
        addrs: addrs.iter().map(|a| ip(a)).collect(),
    };
    codec::emit(&adv, ip(src), ip(dst)).unwrap()
}

pub const GROUP4: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

pub fn state_of(r: &Router, name: &str) -> State {
    r.status()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap()
        .state
}

pub fn drops_of(r: &Router, name: &str, reason: DropReason) -> u64 {
    let s = r.status().into_iter().find(|s| s.name == name).unwrap();
    s.counters
        .drops
        .iter()
        .find(|(x, _)| *x == reason)
        .map(|(_, n)| *n)
        .unwrap()
}
