//! The `Pair` harness (quinn style): two or three routers on a simulated link, in
//! simulated time. Each router's `Send` reaches the others (multicast) or the one whose
//! address it names (unicast) after `delay` ms with TTL 255, unless the seeded loss or a
//! partition eats it. `drive(until)` steps to the earliest deadline or delivery.

use super::*;

/// A deterministic generator for the loss draws (xorshift64*: the harness must replay a
/// seed exactly, and needs nothing more than uniform-ish draws).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `permille`/1000.
    pub fn hit(&mut self, permille: u64) -> bool {
        permille > 0 && self.next() % 1000 < permille
    }
}

pub struct Node {
    pub router: Router,
    pub src: IpAddr,
    pub alive: bool,
    /// (time, instance, to, reason)
    pub log: Vec<(u64, String, State, String)>,
    /// Answers to `RunTrackScript`, by script name (absent = ok).
    pub scripts: HashMap<String, bool>,
    pub vips_owned: HashMap<String, bool>,
    pub announces: Vec<(u64, IpAddr)>,
}

enum Event {
    Packet {
        to: usize,
        src: IpAddr,
        dst: IpAddr,
        payload: Vec<u8>,
    },
    Script {
        to: usize,
        name: String,
    },
}

pub struct Net {
    pub nodes: Vec<Node>,
    pub now: u64,
    pub delay: u64,
    pub loss_permille: u64,
    rng: Rng,
    /// `blocked(now, from, to)`: a partition.
    pub blocked: Box<dyn Fn(u64, usize, usize) -> bool>,
    inflight: Vec<(u64, u64, Event)>,
    seq: u64,
    pub delivered: u64,
}

impl Net {
    /// One router per config, node `k` with source address `srcs[k]`.
    pub fn new(cfgs: Vec<VrrpConfig>, srcs: &[&str], seed: u64) -> Net {
        let nodes = cfgs
            .into_iter()
            .zip(srcs)
            .map(|(c, s)| Node {
                router: Router::new(c, &[]),
                src: ip(s),
                alive: true,
                log: Vec::new(),
                scripts: HashMap::new(),
                vips_owned: HashMap::new(),
                announces: Vec::new(),
            })
            .collect();
        Net {
            nodes,
            now: 0,
            delay: 1,
            loss_permille: 0,
            rng: Rng::new(seed),
            blocked: Box::new(|_, _, _| false),
            inflight: Vec::new(),
            seq: 0,
            delivered: 0,
        }
    }

    /// Two routers of one instance `VI_1` each with these priorities, on 10.0.0.1/.2.
    pub fn pair(p1: u8, p2: u8) -> Net {
        Net::new(
            vec![
                one(inst("VI_1", p1, "10.0.0.1")),
                one(inst("VI_1", p2, "10.0.0.2")),
            ],
            &["10.0.0.1", "10.0.0.2"],
            1,
        )
    }

    pub fn start(&mut self, k: usize) {
        let acts = self.nodes[k].router.start(self.now);
        self.nodes[k].alive = true;
        self.act(k, acts);
    }

    pub fn start_all(&mut self) {
        for k in 0..self.nodes.len() {
            self.start(k);
        }
    }

    /// SIGKILL: no priority 0, nothing more from or to it.
    pub fn crash(&mut self, k: usize) {
        self.nodes[k].alive = false;
    }

    /// A clean stop.
    pub fn stop(&mut self, k: usize) {
        let acts = self.nodes[k].router.shutdown(self.now);
        self.act(k, acts);
        self.nodes[k].alive = false;
    }

    fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.inflight.push((at, self.seq, e));
    }

    fn act(&mut self, k: usize, acts: Vec<Action>) {
        let now = self.now;
        for a in acts {
            match a {
                Action::Send {
                    src, dst, payload, ..
                } => {
                    for j in 0..self.nodes.len() {
                        if j == k {
                            continue;
                        }
                        let multicast = dst == GROUP4 || dst == IpAddr::V6(MCAST_V6);
                        if !multicast && dst != self.nodes[j].src {
                            continue;
                        }
                        if (self.blocked)(now, k, j) || self.rng.hit(self.loss_permille) {
                            continue;
                        }
                        self.push(
                            now + self.delay,
                            Event::Packet {
                                to: j,
                                src,
                                dst,
                                payload: payload.clone(),
                            },
                        );
                    }
                }
                Action::Transition {
                    instance,
                    to,
                    reason,
                    ..
                } => self.nodes[k].log.push((now, instance, to, reason)),
                Action::SetVips {
                    instance, owned, ..
                } => {
                    self.nodes[k].vips_owned.insert(instance, owned);
                }
                Action::Announce { addrs, .. } => {
                    for a in addrs {
                        self.nodes[k].announces.push((now, a));
                    }
                }
                Action::RunTrackScript { name, .. } => {
                    self.push(now, Event::Script { to: k, name });
                }
                Action::Notify { .. } | Action::ReadTrackFile { .. } => {}
            }
        }
    }

    fn next_event(&self) -> Option<u64> {
        let timers = self
            .nodes
            .iter()
            .filter(|n| n.alive)
            .filter_map(|n| n.router.poll_timeout());
        let packets = self.inflight.iter().map(|(at, _, _)| *at);
        timers.chain(packets).min()
    }

    /// Runs until simulated time `until` (inclusive).
    pub fn drive(&mut self, until: u64) {
        let mut steps = 0u64;
        while let Some(t) = self.next_event().filter(|t| *t <= until) {
            steps += 1;
            assert!(steps < 10_000_000, "the simulation does not converge");
            self.now = self.now.max(t);
            self.inflight.sort_by_key(|(at, seq, _)| (*at, *seq));
            let due = self
                .inflight
                .iter()
                .take_while(|(at, _, _)| *at <= self.now)
                .count();
            let events: Vec<_> = self.inflight.drain(..due).collect();
            for (_, _, e) in events {
                match e {
                    Event::Packet {
                        to,
                        src,
                        dst,
                        payload,
                    } => {
                        if !self.nodes[to].alive {
                            continue;
                        }
                        self.delivered += 1;
                        let input = Input::Packet {
                            iface: "eth0",
                            src,
                            dst,
                            ttl: 255,
                            payload: &payload,
                        };
                        let acts = self.nodes[to].router.handle(input, self.now);
                        self.act(to, acts);
                    }
                    Event::Script { to, name } => {
                        if !self.nodes[to].alive {
                            continue;
                        }
                        let ok = self.nodes[to].scripts.get(&name).copied().unwrap_or(true);
                        let acts = self.nodes[to]
                            .router
                            .handle(Input::Script { name: &name, ok }, self.now);
                        self.act(to, acts);
                    }
                }
            }
            for k in 0..self.nodes.len() {
                if self.nodes[k].alive
                    && self.nodes[k]
                        .router
                        .poll_timeout()
                        .is_some_and(|t| t <= self.now)
                {
                    let acts = self.nodes[k].router.poll(self.now);
                    self.act(k, acts);
                }
            }
        }
        self.now = self.now.max(until);
    }

    pub fn state(&self, k: usize) -> State {
        state_of(&self.nodes[k].router, "VI_1")
    }

    /// Live nodes in MASTER for `VI_1`.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|k| self.nodes[*k].alive && self.state(*k) == State::Master)
            .collect()
    }

    /// When node `k` last entered `to`.
    pub fn entered(&self, k: usize, to: State) -> Option<u64> {
        self.nodes[k]
            .log
            .iter()
            .rev()
            .find(|(_, _, s, _)| *s == to)
            .map(|(t, _, _, _)| *t)
    }

    pub fn counters(&self, k: usize) -> Counters {
        self.nodes[k].router.status()[0].counters.clone()
    }
}

// ---- scenarios ---------------------------------------------------------------------------

/// Master_Down_Interval in ms for a v2 1 s instance of priority `p`.
fn down_ms(p: u64) -> u64 {
    3000 + (256 - p) * 1000 / 256
}

#[test]
fn election_the_higher_priority_becomes_master_the_other_stays_backup() {
    let mut n = Net::pair(100, 150);
    n.start_all();
    n.drive(10_000);
    assert_eq!(n.masters(), vec![1]);
    assert_eq!(n.state(0), State::Backup);
    // .2 took over when its master-down deadline ran out (nobody advertised).
    assert_eq!(n.entered(1, State::Master), Some(down_ms(150)));
    assert_eq!(n.nodes[1].vips_owned.get("VI_1"), Some(&true));
    assert_eq!(n.nodes[0].vips_owned.get("VI_1"), Some(&false));
    assert_eq!(n.nodes[0].router.status()[0].master, Some(ip("10.0.0.2")));
    assert_eq!(n.counters(0).split_brain, 0);
}

#[test]
fn both_start_together_lower_one_wins_race_then_yields_to_higher() {
    // The lower one's deadline would run out later; the higher one is first: no flap.
    let mut n = Net::pair(200, 100);
    n.start_all();
    n.drive(20_000);
    assert_eq!(n.masters(), vec![0]);
    assert!(n.nodes[1]
        .log
        .iter()
        .all(|(_, _, s, _)| *s != State::Master));
}

#[test]
fn preemption_a_higher_priority_router_arriving_later_takes_over() {
    let mut n = Net::pair(100, 150);
    n.start(0);
    n.drive(10_000);
    assert_eq!(n.masters(), vec![0]);
    n.start(1);
    n.drive(20_000);
    assert_eq!(n.masters(), vec![1]);
    // .2 ignores the lower adverts, so it takes over exactly one master-down after start.
    assert_eq!(n.entered(1, State::Master), Some(10_000 + down_ms(150)));
    let (_, _, _, why) = n.nodes[0].log.last().unwrap().clone();
    assert_eq!(why, "higher priority 150 from 10.0.0.2");
}

#[test]
fn nopreempt_a_higher_priority_backup_leaves_a_live_master_alone() {
    let mut a = inst("VI_1", 100, "10.0.0.1");
    let mut b = inst("VI_1", 150, "10.0.0.2");
    a.nopreempt = true;
    b.nopreempt = true;
    let mut n = Net::new(vec![one(a), one(b)], &["10.0.0.1", "10.0.0.2"], 1);
    n.start(0);
    n.drive(10_000);
    n.start(1);
    n.drive(60_000);
    assert_eq!(n.masters(), vec![0]);
    // ... but takes over when the master dies.
    n.crash(0);
    n.drive(70_000);
    assert_eq!(n.masters(), vec![1]);
}

#[test]
fn preempt_delay_waits_before_preempting() {
    let a = inst("VI_1", 100, "10.0.0.1");
    let mut b = inst("VI_1", 150, "10.0.0.2");
    b.preempt_delay_ms = 10_000;
    let mut n = Net::new(vec![one(a), one(b)], &["10.0.0.1", "10.0.0.2"], 1);
    n.start(0);
    n.drive(10_000);
    n.start(1);
    n.drive(19_000);
    assert_eq!(n.masters(), vec![0], "still within preempt_delay");
    n.drive(40_000);
    assert_eq!(n.masters(), vec![1]);
    let t = n.entered(1, State::Master).unwrap();
    // The delay starts when .2 starts (keepalived), and the deadline then runs from the
    // last accepted advert.
    assert!(
        (10_000 + 10_000..=10_000 + 1_001 + 10_000 + down_ms(150)).contains(&t),
        "took over at {t}"
    );
}

#[test]
fn clean_stop_hands_over_within_skew_time() {
    let mut n = Net::pair(200, 100);
    n.start_all();
    n.drive(10_000);
    assert_eq!(n.masters(), vec![0]);
    n.stop(0);
    assert_eq!(n.nodes[0].vips_owned.get("VI_1"), Some(&false));
    assert_eq!(n.counters(0).priority_zero_tx, 1);
    n.drive(20_000);
    assert_eq!(n.masters(), vec![1]);
    let skew = (256 - 100) * 1000 / 256;
    // delivered 1 ms after the stop, then skew time
    assert_eq!(n.entered(1, State::Master), Some(10_000 + 1 + skew));
    assert_eq!(n.counters(1).priority_zero_rx, 1);
    let why = n.nodes[1].router.status()[0]
        .transitions
        .last()
        .unwrap()
        .reason
        .clone();
    assert_eq!(why, "master sent priority 0 (skew time expired)");
    assert_eq!(n.state(0), State::Init);
}

#[test]
fn master_crash_backup_takes_over_after_master_down_interval() {
    let mut n = Net::pair(200, 100);
    n.start_all();
    n.drive(10_000);
    // .1 became MASTER at t0 and advertises every second from then on; the last advert
    // before the crash reaches .2 1 ms after it is sent.
    let t0 = n.entered(0, State::Master).unwrap();
    assert_eq!(t0, down_ms(200));
    let last_advert_rx = t0 + (10_000 - t0) / 1000 * 1000 + 1;
    n.crash(0);
    n.drive(30_000);
    assert_eq!(n.masters(), vec![1]);
    let t = n.entered(1, State::Master).unwrap();
    assert_eq!(t, last_advert_rx + down_ms(100));
    // the window: the last advert left at most one interval before the crash, so the
    // takeover is within (crash - interval, crash] + delay + Master_Down_Interval
    let crash = 10_000;
    assert!(t > crash - 1_000 + down_ms(100) && t <= crash + 1 + down_ms(100));
}

#[test]
fn equal_priority_the_higher_address_wins() {
    let mut n = Net::pair(100, 100);
    n.start_all();
    n.drive(20_000);
    assert_eq!(n.masters(), vec![1]);
    // Both went MASTER together (same deadline); .1 saw the higher address and yielded.
    let (_, _, _, why) = n.nodes[0].log.last().unwrap().clone();
    assert_eq!(why, "equal priority 100 from higher address 10.0.0.2");
    assert!(n.counters(0).split_brain >= 1);
}

#[test]
fn partition_both_master_split_brain_counted_then_one_master_after_heal() {
    let heal = 30_000;
    let mut n = Net::pair(150, 100);
    n.blocked = Box::new(move |t, _, _| (10_000..heal).contains(&t));
    n.start_all();
    n.drive(heal - 1);
    assert_eq!(n.masters(), vec![0, 1], "both MASTER while partitioned");
    n.drive(heal + down_ms(100));
    assert_eq!(
        n.masters(),
        vec![0],
        "exactly one MASTER within one master-down interval"
    );
    assert!(n.counters(0).split_brain >= 1);
    assert!(n.counters(1).split_brain >= 1);
    assert_eq!(n.nodes[1].vips_owned.get("VI_1"), Some(&false));
}

#[test]
fn v3_backup_learns_the_master_advert_interval() {
    let mut a = inst("VI_1", 200, "10.0.0.1");
    let mut b = inst("VI_1", 100, "10.0.0.2");
    a.version = Version::V3;
    b.version = Version::V3;
    a.advert_int_cs = 10; // 100 ms
    b.advert_int_cs = 100; // 1 s, but the master's 100 ms rules
    let mut n = Net::new(vec![one(a), one(b)], &["10.0.0.1", "10.0.0.2"], 1);
    n.start_all();
    n.drive(5_000);
    assert_eq!(n.masters(), vec![0]);
    let st = &n.nodes[1].router.status()[0];
    assert_eq!(st.master_advert_int_cs, 10);
    assert_eq!(
        n.nodes[1].router.instances[0].master_down_ms(),
        300 + (156 * 100) / 256
    );
    n.crash(0);
    n.drive(10_000);
    let t = n.entered(1, State::Master).unwrap();
    // with the learned 100 ms: 3 × 100 + skew after the last advert (≤ 100 ms before)
    assert!(t > 5_000 && t <= 5_000 + 100 + 300 + 61, "took over at {t}");
}

#[test]
fn track_script_weight_moves_the_master() {
    let mut a = inst("VI_1", 100, "10.0.0.1");
    let b = inst("VI_1", 90, "10.0.0.2");
    a.track_scripts = vec![tracked("chk_nginx", None)];
    let cfg_a = VrrpConfig {
        instances: vec![a],
        scripts: vec![script("chk_nginx", -20)],
        ..VrrpConfig::default()
    };
    let mut n = Net::new(vec![cfg_a, one(b)], &["10.0.0.1", "10.0.0.2"], 1);
    n.start_all();
    n.drive(10_000);
    assert_eq!(n.masters(), vec![0]);
    n.nodes[0].scripts.insert("chk_nginx".into(), false);
    n.drive(20_000);
    assert_eq!(n.masters(), vec![1]);
    assert_eq!(n.nodes[0].router.status()[0].effective_priority, 80);
    n.nodes[0].scripts.insert("chk_nginx".into(), true);
    n.drive(30_000);
    assert_eq!(n.masters(), vec![0], "recovered and preempted back");
}

#[test]
fn three_routers_elect_the_highest_and_fail_over_in_order() {
    let mut n = Net::new(
        vec![
            one(inst("VI_1", 50, "10.0.0.1")),
            one(inst("VI_1", 150, "10.0.0.2")),
            one(inst("VI_1", 100, "10.0.0.3")),
        ],
        &["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        7,
    );
    n.start_all();
    n.drive(10_000);
    assert_eq!(n.masters(), vec![1]);
    n.crash(1);
    n.drive(20_000);
    assert_eq!(n.masters(), vec![2]);
    n.crash(2);
    n.drive(30_000);
    assert_eq!(n.masters(), vec![0]);
}

#[test]
fn unicast_peers_elect_like_multicast() {
    let mut a = inst("VI_1", 150, "10.0.0.1");
    let mut b = inst("VI_1", 100, "10.0.0.2");
    a.unicast_peers = vec![ip("10.0.0.2")];
    b.unicast_peers = vec![ip("10.0.0.1")];
    let mut n = Net::new(vec![one(a), one(b)], &["10.0.0.1", "10.0.0.2"], 1);
    n.start_all();
    n.drive(10_000);
    assert_eq!(n.masters(), vec![0]);
    assert!(n.counters(1).adverts_rx > 5);
}

#[test]
fn ipv6_v3_pair_elects() {
    let mut a = inst("VI_1", 150, "fe80::1");
    let mut b = inst("VI_1", 100, "fe80::2");
    a.version = Version::V3;
    b.version = Version::V3;
    let mut n = Net::new(vec![one(a), one(b)], &["fe80::1", "fe80::2"], 1);
    n.start_all();
    n.drive(10_000);
    assert_eq!(n.masters(), vec![0]);
    assert!(n.counters(1).adverts_rx > 5);
    assert_eq!(
        drops_of(&n.nodes[1].router, "VI_1", DropReason::Checksum),
        0
    );
}
