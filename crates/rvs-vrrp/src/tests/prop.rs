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
        let cfgs = prios.iter().zip(srcs).map(|(p, s)| one(vi1(*p, s, v3, int_cs))).collect();
        let mut n = Net::new(cfgs, &srcs[..prios.len()], seed);
        n.loss_permille = loss;
        n.start_all();
        n.drive(lossy_ms);
        n.loss_permille = 0;
        // the slowest interval's master-down, plus one interval for the advert in flight
        let int_ms = interval_ms(v3, int_cs);
        n.drive(lossy_ms + 5 * int_ms + 10);
        let best = (0..prios.len()).max_by_key(|k| (prios[*k], *k)).unwrap();
        prop_assert_eq!(n.masters(), vec![best]);
    }

    /// nopreempt: a higher-priority BACKUP joining later never takes over a live MASTER,
    /// and does take over, one master-down interval after its last advert, when the
    /// master dies.
    #[test]
    fn nopreempt_never_preempts_a_live_master(
        (low, high) in (1u8..=253).prop_flat_map(|l| (Just(l), (l + 1)..=254)),
        v3 in any::<bool>(),
        int_cs in 10u16..=300,
        join_ms in 0u64..5_000,
        live_ms in 1u64..30_000,
    ) {
        let (a, mut b) = pair_cfgs(low, high, v3, int_cs);
        b.nopreempt = true;
        let mut n = Net::new(vec![one(a), one(b)], &["10.0.0.1", "10.0.0.2"], 1);
        n.start(0);
        let int_ms = interval_ms(v3, int_cs);
        let t0 = 4 * int_ms + 10;
        n.drive(t0);
        prop_assert_eq!(n.masters(), vec![0]);
        n.drive(t0 + join_ms);
        n.start(1);
        n.drive(t0 + join_ms + live_ms);
        prop_assert_eq!(n.masters(), vec![0]);
        prop_assert_eq!(n.entered(1, State::Master), None);
        let crash = n.now;
        n.crash(0);
        let down = n.nodes[1].router.instances[0].master_down_ms();
        n.drive(crash + down + int_ms + 2);
        prop_assert_eq!(n.masters(), vec![1]);
        let t = n.entered(1, State::Master).unwrap();
        prop_assert!(t > crash && t <= crash + down + 1, "took over at {} (crash {})", t, crash);
    }

    /// preempt_delay D: a higher-priority BACKUP started at T leaves the lower MASTER
    /// alone until T + D (keepalived counts from the start), and takes over within one
    /// master-down interval after that.
    #[test]
    fn preempt_delay_holds_back_then_preempts(
        (low, high) in (1u8..=253).prop_flat_map(|l| (Just(l), (l + 1)..=254)),
        v3 in any::<bool>(),
        int_cs in 10u16..=300,
        delay_ms in 1u64..20_000,
        join_ms in 0u64..5_000,
    ) {
        let (a, mut b) = pair_cfgs(low, high, v3, int_cs);
        b.preempt_delay_ms = delay_ms;
        let mut n = Net::new(vec![one(a), one(b)], &["10.0.0.1", "10.0.0.2"], 1);
        n.start(0);
        let int_ms = interval_ms(v3, int_cs);
        let start = 4 * int_ms + 10 + join_ms;
        n.drive(start);
        prop_assert_eq!(n.masters(), vec![0]);
        n.start(1);
        n.drive(start + delay_ms);
        prop_assert_eq!(n.masters(), vec![0], "within preempt_delay");
        let down = n.nodes[1].router.instances[0].master_down_ms();
        n.drive(start + delay_ms + down + 2 * int_ms);
        prop_assert_eq!(n.masters(), vec![1]);
        let t = n.entered(1, State::Master).unwrap();
        prop_assert!(
            t > start + delay_ms && t <= start + delay_ms + down + 1,
            "took over at {} (start {}, delay {}, down {})", t, start, delay_ms, down
        );
    }

    /// A clean stop of the MASTER: the BACKUP takes over exactly its skew time after the
    /// priority-0 advert arrives (v2: (256 - P) / 256 s; v3: of the master's interval).
    #[test]
    fn priority_zero_hands_over_after_skew_time(
        (low, high) in (1u8..=253).prop_flat_map(|l| (Just(l), (l + 1)..=255)),
        v3 in any::<bool>(),
        int_cs in 10u16..=300,
        stop_after in 0u64..10_000,
    ) {
        let (a, b) = pair_cfgs(high, low, v3, int_cs);
        let mut n = Net::new(vec![one(a), one(b)], &["10.0.0.1", "10.0.0.2"], 1);
        n.start_all();
        let int_ms = interval_ms(v3, int_cs);
        let t = 5 * int_ms + 10 + stop_after;
        n.drive(t);
        prop_assert_eq!(n.masters(), vec![0]);
        let skew = n.nodes[1].router.instances[0].skew_ms();
        let p = u64::from(low);
        let want_skew = if v3 { (256 - p) * int_ms / 256 } else { (256 - p) * 1000 / 256 };
        prop_assert_eq!(skew, want_skew);
        n.stop(0);
        n.drive(t + 1 + skew + int_ms);
        prop_assert_eq!(n.masters(), vec![1]);
        // the priority-0 advert is delivered 1 ms after the stop
        prop_assert_eq!(n.entered(1, State::Master), Some(t + 1 + skew));
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

/// `VI_1` with this priority, source and interval (v2: whole seconds).
fn vi1(priority: u8, src: &str, v3: bool, int_cs: u16) -> InstanceConfig {
    let mut c = inst("VI_1", priority, src);
    if v3 {
        c.version = Version::V3;
        c.advert_int_cs = int_cs;
    } else {
        c.advert_int_cs = (int_cs / 100).max(1) * 100;
    }
    c
}

/// Two configs of `VI_1`, on 10.0.0.1 and 10.0.0.2.
fn pair_cfgs(p1: u8, p2: u8, v3: bool, int_cs: u16) -> (InstanceConfig, InstanceConfig) {
    (
        vi1(p1, "10.0.0.1", v3, int_cs),
        vi1(p2, "10.0.0.2", v3, int_cs),
    )
}

fn interval_ms(v3: bool, int_cs: u16) -> u64 {
    if v3 {
        u64::from(int_cs) * 10
    } else {
        u64::from((int_cs / 100).max(1)) * 1000
    }
}
