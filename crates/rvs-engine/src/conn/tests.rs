use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

fn v4(c: u8, cport: u16, fwd: FwdKind) -> Conn<[u8; 4]> {
    let mut conn = Conn::EMPTY;
    conn.caddr = [10, 0, 0, c];
    conn.cport = cport;
    conn.vaddr = [192, 168, 0, 1];
    conn.vport = 80;
    conn.daddr = [172, 16, 0, 2];
    conn.dport = 8000;
    conn.proto = 6;
    conn.dest = 7;
    conn.expires = 1000;
    conn.flags.set_fwd(fwd);
    if fwd.sees_replies() {
        conn.flags.insert(ConnFlags::OUT_HASHED);
    }
    conn
}

#[test]
fn entry_sizes_stay_within_budget() {
    // The bytes-per-conn goal (≤ 64 for IPv4 including both bucket indexes) depends on these.
    assert_eq!(core::mem::size_of::<Conn<[u8; 4]>>(), 52);
    assert_eq!(core::mem::size_of::<Conn<[u8; 16]>>(), 100);
}

#[test]
fn insert_find_in_and_out_then_remove() {
    let mut t = ConnTable::<[u8; 4]>::new(8, 1);
    let c = v4(1, 1234, FwdKind::Masq);
    let i = t.insert(c, 0, |_| {}).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t.find_in(&c.in_key()), Some(i));
    // A reply from 172.16.0.2:8000 to 10.0.0.1:1234 finds it through `out`.
    let reply = ConnKey {
        proto: 6,
        template: false,
        a1: [172, 16, 0, 2],
        p1: 8000,
        a2: [10, 0, 0, 1],
        p2: 1234,
    };
    assert_eq!(t.find_out(&reply), Some(i));
    // A template with the same addresses is a different key.
    let mut k = c.in_key();
    k.template = true;
    assert_eq!(t.find_in(&k), None);
    let removed = t.remove(i);
    assert_eq!(removed.caddr, c.caddr);
    assert_eq!(t.find_in(&c.in_key()), None);
    assert_eq!(t.find_out(&reply), None);
    assert!(t.is_empty());
}

#[test]
fn dr_conns_are_not_in_the_out_index() {
    let mut t = ConnTable::<[u8; 4]>::new(8, 1);
    let c = v4(1, 1234, FwdKind::Route);
    t.insert(c, 0, |_| {}).unwrap();
    let reply = ConnKey {
        proto: 6,
        template: false,
        a1: [172, 16, 0, 2],
        p1: 8000,
        a2: [10, 0, 0, 1],
        p2: 1234,
    };
    assert_eq!(t.find_out(&reply), None);
}

#[test]
fn fullnat_out_key_uses_the_local_address() {
    let mut t = ConnTable::<[u8; 4]>::new(8, 1);
    let mut c = v4(1, 1234, FwdKind::FullNat);
    c.laddr = [172, 16, 0, 254];
    c.lport = 40000;
    let i = t.insert(c, 0, |_| {}).unwrap();
    let reply = ConnKey {
        proto: 6,
        template: false,
        a1: [172, 16, 0, 2],
        p1: 8000,
        a2: [172, 16, 0, 254],
        p2: 40000,
    };
    assert_eq!(t.find_out(&reply), Some(i));
    assert!(t.out_key_taken(&reply));
}

#[test]
fn full_table_evicts_embryonic_first_and_counts_it() {
    let mut t = ConnTable::<[u8; 4]>::new(4, 1);
    let mut idx = vec![];
    for n in 0..4u8 {
        let mut c = v4(n, 1000 + n as u16, FwdKind::Route);
        c.expires = 100_000;
        c.state = if n == 2 { TCP_S_SYN_RECV } else { 1 };
        let i = t.insert(c, 0, |_| {}).unwrap();
        if n == 2 {
            t.note_embryonic(i);
        }
        idx.push(i);
    }
    let mut evicted = vec![];
    let c = v4(9, 9999, FwdKind::Route);
    t.insert(c, 10, |e| evicted.push(e.caddr)).unwrap();
    assert_eq!(evicted, vec![[10, 0, 0, 2]]);
    assert_eq!(t.counters.evicted_embryonic, 1);
    // Only established entries left: the next insert fails and is counted.
    assert_eq!(
        t.insert(v4(10, 1, FwdKind::Route), 10, |_| {}),
        Err(InsertError::Full)
    );
    assert_eq!(t.counters.full, 1);
}

#[test]
fn full_table_reclaims_expired_entries_before_embryonic_ones() {
    let mut t = ConnTable::<[u8; 4]>::new(2, 1);
    let mut a = v4(1, 1, FwdKind::Route);
    a.expires = 50;
    t.insert(a, 0, |_| {}).unwrap();
    let mut b = v4(2, 2, FwdKind::Route);
    b.expires = 100_000;
    b.state = TCP_S_SYN_RECV;
    let bi = t.insert(b, 0, |_| {}).unwrap();
    t.note_embryonic(bi);
    let mut gone = vec![];
    t.insert(v4(3, 3, FwdKind::Route), 60, |e| gone.push(e.caddr))
        .unwrap();
    assert_eq!(gone, vec![[10, 0, 0, 1]]);
    assert_eq!(t.counters.reclaimed_expired, 1);
    assert_eq!(t.counters.evicted_embryonic, 0);
}

#[test]
fn expiry_is_exact_on_the_wrapping_clock() {
    let mut c = v4(1, 1, FwdKind::Masq);
    c.expires = 5000;
    assert!(!c.expired(4999));
    assert!(c.expired(5000));
    // Across the u32 wrap.
    c.expires = 10;
    assert!(!c.expired(u32::MAX - 5));
    assert!(c.expired(10));
    assert_eq!(c.remaining_ms(u32::MAX - 5), 16);
}

#[test]
fn a_template_that_controls_conns_does_not_expire() {
    let mut t = v4(1, 0, FwdKind::Masq);
    t.flags.insert(ConnFlags::TEMPLATE);
    t.control = 2;
    t.expires = 100;
    assert!(!t.expired(200));
    t.control = 0;
    assert!(t.expired(200));
}

#[test]
fn sweep_removes_due_entries_and_respects_the_veto() {
    let mut t = ConnTable::<[u8; 4]>::new(16, 3);
    for n in 0..10u8 {
        let mut c = v4(n, n as u16, FwdKind::Masq);
        c.expires = if n < 5 { 10 } else { 1000 };
        t.insert(c, 0, |_| {}).unwrap();
    }
    let mut removed = 0;
    // Veto entry 0: it stays.
    let n = t.sweep(20, 16, |e| e.caddr != [10, 0, 0, 0], |_| removed += 1);
    assert_eq!(n, 4);
    assert_eq!(removed, 4);
    assert_eq!(t.len(), 6);
}

#[test]
fn masks_and_marks() {
    assert_eq!([10, 1, 2, 3].masked(24), [10, 1, 2, 0]);
    assert_eq!([10, 1, 2, 3].masked(0), [0, 0, 0, 0]);
    assert_eq!([10, 1, 2, 3].masked(32), [10, 1, 2, 3]);
    let v6: [u8; 16] = core::array::from_fn(|i| 0xff - i as u8);
    let m = v6.masked(64);
    assert_eq!(&m[..8], &v6[..8]);
    assert_eq!(&m[8..], &[0; 8]);
    assert_eq!(<[u8; 4]>::from_mark(0x0102_0304), [1, 2, 3, 4]);
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, u16, bool),
    Remove(u8, u16),
}

proptest! {
    /// The table agrees with a HashMap model under arbitrary inserts and removes, through
    /// both indexes, including chain unlinking from the middle of a bucket (tiny table).
    #[test]
    fn behaves_like_a_map(ops in prop::collection::vec(
        prop_oneof![
            (0u8..16, 0u16..4, any::<bool>()).prop_map(|(a, p, n)| Op::Insert(a, p, n)),
            (0u8..16, 0u16..4).prop_map(|(a, p)| Op::Remove(a, p)),
        ], 1..200)) {
        let mut t = ConnTable::<[u8; 4]>::new(64, 7);
        let mut model: HashMap<(u8, u16), (u32, bool)> = HashMap::new();
        for op in ops {
            match op {
                Op::Insert(a, p, nat) => {
                    if model.contains_key(&(a, p)) { continue; }
                    let c = v4(a, p, if nat { FwdKind::Masq } else { FwdKind::Route });
                    let i = t.insert(c, 0, |_| {}).unwrap();
                    model.insert((a, p), (i, nat));
                }
                Op::Remove(a, p) => {
                    if let Some((i, _)) = model.remove(&(a, p)) {
                        t.remove(i);
                    }
                }
            }
            prop_assert_eq!(t.len() as usize, model.len());
        }
        for a in 0..16u8 {
            for p in 0..4u16 {
                let c = v4(a, p, FwdKind::Masq);
                let reply = ConnKey { proto: 6, template: false, a1: c.daddr, p1: c.dport, a2: c.caddr, p2: c.cport };
                match model.get(&(a, p)) {
                    Some(&(i, nat)) => {
                        prop_assert_eq!(t.find_in(&c.in_key()), Some(i));
                        prop_assert_eq!(t.find_out(&reply), if nat { Some(i) } else { None });
                    }
                    None => {
                        prop_assert_eq!(t.find_in(&c.in_key()), None);
                        prop_assert_eq!(t.find_out(&reply), None);
                    }
                }
            }
        }
    }
}
