//! Protocol identities, state names across protocols, templates, defence levels.

use rvs_proto::udp::{udp_state_name, UDP_S_NORMAL};
use rvs_proto::{activity_change, is_active, template_state_name, update_defense_level, Proto};

#[test]
fn protocol_numbers_and_names() {
    for (p, n, name, states) in [
        (Proto::Tcp, 6, "TCP", 11),
        (Proto::Udp, 17, "UDP", 1),
        (Proto::Sctp, 132, "SCTP", 14),
    ] {
        assert_eq!(p.number(), n);
        assert_eq!(Proto::from_number(n), Some(p));
        assert_eq!(p.name(), name);
        assert_eq!(p.to_string(), name);
        assert_eq!(p.state_count(), states);
    }
    let known = (0..=255u8)
        .filter(|&n| Proto::from_number(n).is_some())
        .count();
    assert_eq!(known, 3);
}

#[test]
fn udp_has_one_state_named_udp_and_is_never_active() {
    assert_eq!(udp_state_name(UDP_S_NORMAL), "UDP");
    assert_eq!(Proto::Udp.state_name(0), "UDP");
    assert_eq!(udp_state_name(1), "ERR!");
    assert!(!is_active(Proto::Udp, 0));
    assert_eq!(activity_change(Proto::Udp, true, 0, 0), None);
    assert_eq!(activity_change(Proto::Udp, false, 0, 1), None);
}

#[test]
fn template_states() {
    assert_eq!(template_state_name(0), "NONE");
    assert_eq!(template_state_name(1), "ASSURED");
    assert_eq!(template_state_name(2), "ERR!");
}

#[test]
fn defense_levels_follow_update_defense_level() {
    // (sysctl, nomem) -> (new sysctl, on)
    let cases = [
        ((0, false), (0, false)),
        ((0, true), (0, false)),
        ((1, false), (1, false)),
        ((1, true), (2, true)),
        ((2, true), (2, true)),
        ((2, false), (1, false)),
        ((3, false), (3, true)),
        ((3, true), (3, true)),
        ((4, true), (4, false)),
    ];
    for ((level, nomem), want) in cases {
        assert_eq!(
            update_defense_level(level, nomem),
            want,
            "level {level} nomem {nomem}"
        );
    }
}
