//! Property tests.

use super::pair::Net;
use super::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random priorities, intervals and a lossy first phase: once the link has been
    /// healthy for longer than a master-down interval, exactly one MASTER exists and it
    /// has the highest (priority, address).
    #[test]
    fn healthy_link_converges_to_the_best_router(
        // half the draws from two values, so that ties (the address tie-break) are common
        prios in proptest::collection::vec(prop_oneof![1u8..=254, 99u8..=100], 2..=3),
        v3 in any::<bool>(),
        int_cs in 10u16..=300,
        loss in 0u64..=600,
        lossy_ms in 0u64..20_000,
        seed in any::<u64>(),
    ) {
        let srcs = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
        let cfgs = prios.iter().zip(srcs).map(|(p, s)| {
            let mut c = inst("VI_1", *p, s);
            if v3 {
                c.version = Version::V3;
                c.advert_int_cs = int_cs;
            } else {
                c.advert_int_cs = (int_cs / 100).max(1) * 100;
            }
            one(c)
        }).collect();
        let mut n = Net::new(cfgs, &srcs[..prios.len()], seed);
        n.loss_permille = loss;
        n.start_all();
        n.drive(lossy_ms);
        n.loss_permille = 0;
        // the slowest interval's master-down, plus one interval for the advert in flight
        let int_ms = if v3 { u64::from(int_cs) * 10 } else { u64::from((int_cs / 100).max(1)) * 1000 };
        n.drive(lossy_ms + 5 * int_ms + 10);
        let best = (0..prios.len()).max_by_key(|k| (prios[*k], *k)).unwrap();
        prop_assert_eq!(n.masters(), vec![best]);
    }

    /// Arbitrary bytes never panic and never change state.
    #[test]
    fn arbitrary_packets_never_panic_nor_change_state(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ttl in any::<u8>(),
        v6 in any::<bool>(),
        prefix in any::<bool>(),
    ) {
        let mut r = Router::new(one(inst("VI_1", 100, "10.0.0.1")), &[]);
        r.start(0);
        let before = (r.status()[0].state, r.status()[0].master, r.poll_timeout());
        let mut payload = bytes.clone();
        if prefix && payload.len() >= 2 {
            // make it look like ours so it reaches the later checks
            payload[0] = 0x21;
            payload[1] = 51;
        }
        let src = if v6 { ip("fe80::2") } else { ip("10.0.0.2") };
        let acts = r.handle(Input::Packet { iface: "eth0", src, dst: GROUP4, ttl, payload: &payload }, 100);
        let valid = codec::parse(&payload, src, GROUP4).is_ok() && ttl == 255 && !v6;
        if !valid {
            prop_assert!(acts.is_empty());
            prop_assert_eq!((r.status()[0].state, r.status()[0].master, r.poll_timeout()), before);
            let drops: u64 = r.status()[0].counters.drops.iter().map(|(_, n)| n).sum::<u64>()
                + r.unclaimed_drops().iter().map(|(_, n)| n).sum::<u64>();
            prop_assert_eq!(drops, 1);
        }
    }
}
