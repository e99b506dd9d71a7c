//! Properties every scheduler must keep, through the public [`Scheduler`] API.
//!
//! Never an unavailable dest (weight 0 or overloaded), and `None` when every dest is
//! unavailable, across sequences of calls with changing loads. Documented kernel exception:
//! lblc returns an address's cached dest even when it is over its upper threshold (the cached
//! dest is checked for weight and `is_overloaded`, not for `IP_VS_DEST_F_OVERLOAD`), so for lblc
//! only the weight part is asserted, plus that an overloaded answer is a cached one.
//! dh, sh and mh may answer `None` while another dest is available (their table names one dest
//! per key; sh/mh fallback can only reach dests holding a slot), and so may ovf, which also
//! skips dests with more active connections than their weight; that violates neither property.

use core::net::{IpAddr, Ipv4Addr};
use proptest::prelude::*;
use rvs_sched::{DestKey, DestLoad, DestVec, SchedCtx, SchedFlags, Scheduler};

fn key(i: usize) -> DestKey {
    DestKey {
        addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + i as u32)),
        port: 80,
    }
}

fn arb_load() -> impl Strategy<Value = DestLoad> {
    (
        prop_oneof![2 => Just(0u32), 5 => 1u32..6, 1 => Just(65535u32)],
        0u32..6,
        0u32..50,
        prop::bool::weighted(0.3),
    )
        .prop_map(|(weight, activeconns, inactconns, overloaded)| DestLoad {
            weight,
            activeconns,
            inactconns,
            overloaded,
        })
}

fn arb_ctx() -> impl Strategy<Value = SchedCtx> {
    (0u32..64, any::<u16>(), 0u32..8, any::<u64>()).prop_map(|(c, cport, v, random)| SchedCtx {
        caddr: IpAddr::V4(Ipv4Addr::from(0xc000_0200 + c)),
        cport,
        vaddr: IpAddr::V4(Ipv4Addr::from(0xc633_6400 + v)),
        vport: 80,
        now_ms: 0,
        random,
    })
}

fn flag_sets() -> [SchedFlags; 3] {
    [
        SchedFlags(0),
        SchedFlags(SchedFlags::FALLBACK),
        SchedFlags(SchedFlags::FALLBACK | SchedFlags::PORT),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn never_unavailable_and_none_when_all_unavailable(
        steps in prop::collection::vec((prop::collection::vec(arb_load(), 6), arb_ctx()), 1..12),
        n in 0usize..7,
        weights_change in any::<bool>(),
    ) {
        for flags in flag_sets() {
            for name in Scheduler::NAMES {
                let mut s = Scheduler::new(name, flags).unwrap();
                let mut last_weights: Option<Vec<u32>> = None;
                let mut cached: Vec<(IpAddr, usize)> = Vec::new();
                for (t, (loads, ctx)) in steps.iter().enumerate() {
                    let d = DestVec(loads[..n].iter().enumerate().map(|(i, l)| (key(i), *l)).collect());
                    let weights: Vec<u32> = loads[..n].iter().map(|l| l.weight).collect();
                    // The engine calls update after a weight change; loads/flags change freely.
                    if last_weights.as_ref() != Some(&weights) || (weights_change && t == 0) {
                        s.update(&d);
                        last_weights = Some(weights);
                    }
                    let ctx = SchedCtx { now_ms: t as u64, ..*ctx };
                    let got = s.schedule(&d, &ctx);
                    let any_available = d.0.iter().any(|e| !e.1.unavailable());
                    match got {
                        Some(i) => {
                            prop_assert!(i < n, "{name}: index {i} out of {n}");
                            let l = d.0[i].1;
                            prop_assert!(l.weight > 0, "{name}: weight-0 dest {i}");
                            if name == "lblc" && l.overloaded {
                                prop_assert!(cached.contains(&(ctx.vaddr, i)), "lblc: overloaded but not cached");
                            } else {
                                prop_assert!(!l.overloaded, "{name}: overloaded dest {i}");
                            }
                            cached.retain(|c| c.0 != ctx.vaddr);
                            cached.push((ctx.vaddr, i));
                        }
                        None => {
                            if !any_available {
                                continue;
                            }
                            // Only the table/hash schedulers may miss an available dest, and ovf,
                            // which also skips dests with more active connections than weight.
                            prop_assert!(["dh", "sh", "mh", "ovf"].contains(&name), "{name}: None with an available dest");
                        }
                    }
                    if !any_available && name != "lblc" {
                        prop_assert_eq!(got, None, "{}: answer with nothing available", name);
                    }
                }
            }
        }
    }

    /// sh and mh with fallback find an available dest whenever one holds a slot; with every dest
    /// weighted 1..=20 and at most 12 of them, every dest holds a slot in both tables.
    #[test]
    fn fallback_finds_available(
        spec in prop::collection::vec((1u32..=20, any::<bool>()), 1..12),
        ctx in arb_ctx(),
    ) {
        let d = DestVec(spec.iter().enumerate().map(|(i, &(w, o))| (key(i), DestLoad { weight: w, overloaded: o, ..DestLoad::default() })).collect());
        let any = spec.iter().any(|s| !s.1);
        for name in ["sh", "mh"] {
            let mut s = Scheduler::new(name, SchedFlags(SchedFlags::FALLBACK)).unwrap();
            s.update(&d);
            match s.schedule(&d, &ctx) {
                Some(i) => prop_assert!(!d.0[i].1.unavailable()),
                None => prop_assert!(!any, "{name}: missed an available dest"),
            }
        }
    }
}

#[test]
fn expire_is_harmless_for_every_scheduler() {
    let d = DestVec(
        (0..3)
            .map(|i| {
                (
                    key(i),
                    DestLoad {
                        weight: 1,
                        ..DestLoad::default()
                    },
                )
            })
            .collect(),
    );
    for name in Scheduler::NAMES {
        let mut s = Scheduler::new(name, SchedFlags::default()).unwrap();
        s.update(&d);
        for t in 0..5u64 {
            s.expire(t * 3_600_000);
            let ctx = SchedCtx {
                caddr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
                cport: 1234,
                vaddr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
                vport: 80,
                now_ms: t * 3_600_000,
                random: t.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            };
            assert!(s.schedule(&d, &ctx).is_some(), "{name}");
        }
    }
}
