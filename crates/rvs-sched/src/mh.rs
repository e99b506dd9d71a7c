//! Maglev hashing (`ip_vs_mh.c`), with the mh-fallback and mh-port flags.
//!
//! The lookup table has a prime number of slots, `primes[CONFIG_IP_VS_MH_TAB_INDEX - 8]` from
//! {251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071}; the kernel's default index
//! is 12, i.e. 4093 slots ([`Mh::new`]); [`Mh::with_tab_index`] picks another.
//!
//! `ip_vs_mh_permutate`: each dest gets `offset = h1(dest) % size` and
//! `skip = h2(dest) % (size - 1) + 1`, its preference list being `offset + j * skip mod size`,
//! and `turns = ((last_weight / gcd) >> rshift) ?: (last_weight != 0)`: the weight over the gcd
//! of all positive weights, shifted right so that the largest fits in `IP_VS_MH_TAB_BITS =
//! index / 2` bits (`rshift = fls(max / gcd) - IP_VS_MH_TAB_BITS`, at least 0), and at least 1.
//! `ip_vs_mh_populate` then walks the dest list round after round; each dest with `turns > 0`
//! claims `turns` slots, each time its next preferred slot not yet taken, until all are taken.
//!
//! The kernel uses `last_weight`, not `weight`: `__ip_vs_update_dest` sets it on add and on any
//! non-zero weight ("keep the last_weight with latest non-0 weight"). So a dest *added* with
//! weight 0 gets 0 turns and no slot, while a dest *set* to 0 later keeps its slots (quiesced:
//! its keys get NULL, or another dest with mh-fallback) and nobody else's keys move. rvs keeps
//! `last_weight` per [`DestKey`](crate::DestKey) across [`update`](SchedOps::update) to match.
//!
//! Lookup: `ip_vs_mh_hashkey(addr, port, hash1, 0) % size`, where the hashed value is the `u32`
//! `offset + port + ntohl(addr_fold)`; `port` is the client port with mh-port (flag-2), else 0.
//! mh-fallback (flag-1) retries, when the slot's dest is unavailable, the slots of the
//! `roffset = (offset + ihash) % size` hashes for `offset` in `0..size`, stopping at an empty
//! slot. Unlike sh these are pseudo-random probes, not a sweep of the table, so an available
//! dest with very few slots can in principle be missed (never in practice with `size` probes).
//!
//! The hash is the kernel's `hsiphash(&v, 4, key)` with the kernel's fixed keys
//! (`generate_hash_secret`: 2654435761 for `hash1`, 2654446892 for `hash2`, in both key words).
//! On 64-bit kernels hsiphash is SipHash-1-3 truncated to 32 bits, which is what is implemented
//! here (checked against the kernel's own self-test vector), so the table is the one a 64-bit
//! little-endian kernel builds for the same dests in the same list order. (32-bit kernels use
//! HalfSipHash-1-3 and build a different table.) It costs a few nanoseconds per lookup.

use crate::{addr_fold, DestKey, DestSet, SchedCtx, SchedFlags, SchedOps, NO_DEST};
use std::collections::HashMap;

/// Available prime numbers for the MH table, indexed by `CONFIG_IP_VS_MH_TAB_INDEX - 8`.
pub const PRIMES: [u32; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];

/// `CONFIG_IP_VS_MH_TAB_INDEX` default of the kernel: 4093 slots.
pub const DEFAULT_TAB_INDEX: u32 = 12;

/// rvs's default table size, 65537 (prime, 2^16 + 1). The kernel's 4093 gives each of 50
/// dests only ~82 slots, and removing one then moves about 2/N of the keys; 65537 keeps it
/// near the Maglev ideal of 1/N (measured in the tests). It costs 256 KiB per service and
/// about a millisecond per rebuild, paid by config changes only.
pub const DEFAULT_SIZE: u32 = 65537;

/// `generate_hash_secret`: fixed keys, both words equal.
const HASH1: (u64, u64) = (2_654_435_761, 2_654_435_761);
const HASH2: (u64, u64) = (2_654_446_892, 2_654_446_892);

#[derive(Clone, Debug)]
pub struct Mh {
    flags: SchedFlags,
    /// `IP_VS_MH_TAB_SIZE`, a prime.
    size: u32,
    /// `IP_VS_MH_TAB_BITS` = index / 2.
    tab_bits: u32,
    /// Dest index per slot; `NO_DEST` is a NULL slot.
    lookup: Vec<u32>,
    /// `dest->last_weight` by dest identity.
    last_weight: HashMap<DestKey, u32>,
}

/// One dest's `struct ip_vs_mh_dest_setup`.
#[derive(Clone, Copy)]
struct DestSetup {
    skip: u32,
    perm: u32,
    turns: u32,
}

impl Mh {
    pub fn new(flags: SchedFlags) -> Self {
        // tab_bits only seeds the fallback probe hash; 8 is what index 16/17 tables use.
        Self {
            flags,
            size: DEFAULT_SIZE,
            tab_bits: 8,
            lookup: vec![NO_DEST; DEFAULT_SIZE as usize],
            last_weight: HashMap::new(),
        }
    }

    /// A table of `PRIMES[index - 8]` slots, `index` in `8..=17` as `CONFIG_IP_VS_MH_TAB_INDEX`.
    pub fn with_tab_index(flags: SchedFlags, index: u32) -> Option<Self> {
        let size = *PRIMES.get(index.checked_sub(8)? as usize)?;
        Some(Self {
            flags,
            size,
            tab_bits: index / 2,
            lookup: vec![NO_DEST; size as usize],
            last_weight: HashMap::new(),
        })
    }

    /// Number of slots in the lookup table.
    pub fn table_size(&self) -> usize {
        self.size as usize
    }

    /// `ip_vs_mh_hashkey(af, addr, port, key, offset)`, with `base = port + ntohl(addr_fold)`.
    #[inline]
    fn hashkey(base: u32, key: (u64, u64), offset: u32) -> u32 {
        hsiphash_u32(offset.wrapping_add(base), key)
    }

    /// The dest in slot `slot`, `None` for a NULL slot; a stale index reads as `Some(usize::MAX)`
    /// so that the caller treats it as unavailable rather than as the end of the table.
    #[inline]
    fn slot<D: DestSet>(&self, dests: &D, slot: u32) -> Option<Option<usize>> {
        let i = self.lookup[slot as usize];
        if i == NO_DEST {
            return None;
        }
        let i = i as usize;
        Some((i < dests.len() && !dests.load(i).unavailable()).then_some(i))
    }
}

impl SchedOps for Mh {
    const NAME: &'static str = "mh";

    fn flags(&self) -> SchedFlags {
        self.flags
    }

    /// `ip_vs_mh_dest_changed`: gcd, rshift, permutation and population from scratch.
    fn update<D: DestSet>(&mut self, dests: &D) {
        let n = dests.len();
        let size = self.size;
        let mut last_weight = HashMap::with_capacity(n);
        let lws: Vec<u32> = (0..n)
            .map(|i| {
                let key = dests.key(i);
                let w = dests.load(i).weight;
                // A known dest set to weight 0 keeps its last non-zero weight; a new one takes
                // whatever it was added with.
                let lw = if w != 0 {
                    w
                } else {
                    self.last_weight.get(&key).copied().unwrap_or(0)
                };
                last_weight.insert(key, lw);
                lw
            })
            .collect();
        self.last_weight = last_weight;

        // ip_vs_mh_reassign: more dests than slots is -EINVAL in the kernel, which keeps the
        // previous table; rvs cannot keep stale indices, so it empties the table instead.
        if n > size as usize {
            self.lookup.fill(NO_DEST);
            return;
        }
        // ip_vs_mh_gcd_weight: 0 when no last_weight is positive -> empty table.
        let gcd = lws.iter().copied().filter(|&w| w > 0).fold(0, gcd);
        if gcd < 1 {
            self.lookup.fill(NO_DEST);
            return;
        }
        // ip_vs_mh_shift_weight: shift = occupied bits of max/gcd - MH table bits.
        let mw = lws.iter().copied().max().unwrap_or(0) / gcd;
        let fls = u32::BITS - mw.leading_zeros();
        let rshift = fls.saturating_sub(self.tab_bits);

        // ip_vs_mh_permutate
        let mut setup: Vec<DestSetup> = (0..n)
            .map(|i| {
                let key = dests.key(i);
                let base = u32::from(key.port).wrapping_add(addr_fold(key.addr));
                let offset = Self::hashkey(base, HASH1, 0) % size;
                let skip = Self::hashkey(base, HASH2, 0) % (size - 1) + 1;
                let lw = lws[i];
                let turns = match (lw / gcd) >> rshift {
                    0 => u32::from(lw != 0),
                    t => t,
                };
                DestSetup {
                    skip,
                    perm: offset,
                    turns,
                }
            })
            .collect();

        // ip_vs_mh_populate
        let mut taken = vec![false; size as usize];
        let mut filled = 0u32;
        let mut dt_count = 0u32;
        'fill: loop {
            let mut p = 0;
            while p < n {
                let ds = &mut setup[p];
                // Ignore added server with zero weight.
                if ds.turns < 1 {
                    p += 1;
                    continue;
                }
                while taken[ds.perm as usize] {
                    // Add skip, mod IP_VS_MH_TAB_SIZE.
                    ds.perm += ds.skip;
                    if ds.perm >= size {
                        ds.perm -= size;
                    }
                }
                let c = ds.perm as usize;
                taken[c] = true;
                self.lookup[c] = p as u32;
                filled += 1;
                if filled == size {
                    break 'fill;
                }
                dt_count += 1;
                if dt_count >= ds.turns {
                    dt_count = 0;
                    p += 1;
                }
            }
        }
    }

    #[inline]
    fn schedule<D: DestSet>(&mut self, dests: &D, ctx: &SchedCtx) -> Option<usize> {
        let port = if self.flags.has(SchedFlags::PORT) {
            ctx.cport
        } else {
            0
        };
        let base = u32::from(port).wrapping_add(addr_fold(ctx.caddr));
        let size = self.size;
        let ihash = Self::hashkey(base, HASH1, 0) % size;
        // First try the dest it's supposed to go to.
        if let Some(i) = self.slot(dests, ihash)? {
            return Some(i);
        }
        if !self.flags.has(SchedFlags::FALLBACK) {
            return None;
        }
        // Loop around the table starting from ihash to find a new dest.
        for offset in 0..size {
            let roffset = (offset + ihash) % size;
            let hash = Self::hashkey(base, HASH1, roffset) % size;
            if let Some(i) = self.slot(dests, hash)? {
                return Some(i);
            }
        }
        None
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

const SIPHASH_CONST: [u64; 4] = [
    0x736f_6d65_7073_6575,
    0x646f_7261_6e64_6f6d,
    0x6c79_6765_6e65_7261,
    0x7465_6462_7974_6573,
];

/// `SIPHASH_PERMUTATION` of `<linux/siphash.h>` (one SipRound).
#[inline(always)]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// `hsiphash(&v, sizeof(u32), key)` on a 64-bit little-endian kernel: SipHash-1-3 of the four
/// bytes of `v` (no full 8-byte block; the tail word is `len << 56 | v`), truncated to `u32`.
#[inline]
fn hsiphash_u32(data: u32, key: (u64, u64)) -> u32 {
    let (k0, k1) = key;
    let mut v = [
        SIPHASH_CONST[0] ^ k0,
        SIPHASH_CONST[1] ^ k1,
        SIPHASH_CONST[2] ^ k0,
        SIPHASH_CONST[3] ^ k1,
    ];
    let b = (4u64 << 56) | u64::from(data);
    v[3] ^= b;
    sipround(&mut v);
    v[0] ^= b;
    v[2] ^= 0xff;
    sipround(&mut v);
    sipround(&mut v);
    sipround(&mut v);
    ((v[0] ^ v[1]) ^ (v[2] ^ v[3])) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{addr_fold, DestLoad, DestVec};
    use core::net::{IpAddr, Ipv4Addr};
    use proptest::prelude::*;

    /// The kernel's default geometry (4093 slots), whose numbers the tests below pin.
    fn built(d: &DestVec, flags: u32) -> Mh {
        let mut s = Mh::with_tab_index(SchedFlags(flags), DEFAULT_TAB_INDEX).unwrap();
        s.update(d);
        s
    }

    fn slots_of(s: &Mh, i: usize) -> usize {
        s.lookup.iter().filter(|&&x| x == i as u32).count()
    }

    #[test]
    fn hsiphash_matches_the_kernel_self_test() {
        // lib/siphash_kunit.c, 64-bit: key 00..0f, input bytes 00 01 02 03 -> 0x88d38328.
        let key = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        assert_eq!(
            hsiphash_u32(u32::from_le_bytes([0, 1, 2, 3]), key),
            0x88d3_8328
        );
    }

    #[test]
    fn table_sizes() {
        assert_eq!(Mh::new(SchedFlags::default()).table_size(), 65537);
        assert_eq!(
            Mh::with_tab_index(SchedFlags::default(), DEFAULT_TAB_INDEX)
                .unwrap()
                .table_size(),
            4093
        );
        assert_eq!(
            Mh::with_tab_index(SchedFlags::default(), 16)
                .unwrap()
                .table_size(),
            65521
        );
        assert_eq!(
            Mh::with_tab_index(SchedFlags::default(), 17)
                .unwrap()
                .tab_bits,
            8
        );
        assert!(Mh::with_tab_index(SchedFlags::default(), 7).is_none());
        assert!(Mh::with_tab_index(SchedFlags::default(), 18).is_none());
    }

    #[test]
    fn every_slot_filled_and_turns_from_gcd() {
        // weights 4, 8: gcd 4 -> turns 1, 2: rounds of 3 slots, 4093 = 1364 * 3 + 1.
        let s = built(&weighted(&[4, 8]), 0);
        assert!(s.lookup.iter().all(|&x| x < 2));
        assert_eq!((slots_of(&s, 0), slots_of(&s, 1)), (1365, 2728));
    }

    #[test]
    fn rshift_and_minimum_one_turn() {
        // max/gcd = 1000: fls = 10, tab bits 6 -> rshift 4: turns 1000 >> 4 = 62 and
        // (1 >> 4) ?: 1 = 1. Rounds of 63: 4093 = 64 * 63 + 61, the last round 1 + 60.
        let s = built(&weighted(&[1, 1000]), 0);
        assert_eq!((slots_of(&s, 0), slots_of(&s, 1)), (65, 64 * 62 + 60));
    }

    #[test]
    fn weight_zero_on_add_gets_no_slot() {
        let s = built(&weighted(&[1, 0, 1]), 0);
        assert_eq!(slots_of(&s, 1), 0);
        let z = built(&weighted(&[0, 0]), SchedFlags::FALLBACK);
        assert!(z.lookup.iter().all(|&x| x == NO_DEST));
        let mut z = z;
        assert_eq!(z.schedule(&weighted(&[0, 0]), &ctx()), None);
    }

    #[test]
    fn quiesced_dest_keeps_its_slots_but_gets_no_keys() {
        let d = weighted(&[1, 1, 1, 1]);
        let mut s = built(&d, 0);
        let before = s.lookup.clone();
        let mut q = d.clone();
        q.0[2].1.weight = 0;
        s.update(&q);
        // last_weight kept: same table, nobody else's keys move.
        assert_eq!(s.lookup, before);
        let mut rng = Rng(3);
        let mut fb = built(&d, SchedFlags::FALLBACK);
        fb.update(&q);
        let mut unchanged = built(&d, 0);
        let (mut none, mut moved) = (0, 0);
        for _ in 0..20_000 {
            let c = ctx_c(rng.ipv4());
            let orig = unchanged.schedule(&d, &c);
            let got = s.schedule(&q, &c);
            assert_ne!(got, Some(2));
            if orig == Some(2) {
                assert_eq!(got, None);
                none += 1;
                let f = fb.schedule(&q, &c).expect("fallback finds another dest");
                assert_ne!(f, 2);
                moved += 1;
            } else {
                assert_eq!(got, orig);
                assert_eq!(fb.schedule(&q, &c), orig);
            }
        }
        assert!(none > 3000 && moved == none, "{none}");
        // Re-adding the dest (remove then add with weight 0) drops last_weight: no slots.
        let without = DestVec(vec![d.0[0], d.0[1], d.0[3]]);
        s.update(&without);
        s.update(&q);
        assert_eq!(slots_of(&s, 2), 0);
    }

    #[test]
    fn port_flag() {
        let d = weighted(&[1; 10]);
        let mut plain = built(&d, 0);
        let mut port = built(&d, SchedFlags::PORT);
        let mut rng = Rng(5);
        let mut differs = 0;
        for _ in 0..200 {
            let c = ctx_c(rng.ipv4());
            let c2 = SchedCtx {
                cport: c.cport.wrapping_add(1),
                ..c
            };
            assert_eq!(plain.schedule(&d, &c), plain.schedule(&d, &c2));
            if port.schedule(&d, &c) != port.schedule(&d, &c2) {
                differs += 1;
            }
        }
        assert!(differs > 150, "{differs}");
    }

    #[test]
    fn more_dests_than_slots_empties_the_table() {
        let mut s = Mh::with_tab_index(SchedFlags(SchedFlags::FALLBACK), 8).unwrap();
        let d = weighted(&[1; 252]);
        s.update(&d);
        assert_eq!(s.schedule(&d, &ctx()), None);
        let d = weighted(&[1; 251]);
        s.update(&d);
        assert!(s.schedule(&d, &ctx()).is_some());
        assert!((0..251).all(|i| slots_of(&s, i) == 1));
    }

    #[test]
    fn stale_table_does_not_index_out_of_range() {
        let d = weighted(&[1; 8]);
        let mut s = built(&d, SchedFlags::FALLBACK);
        let short = weighted(&[1, 1]);
        let mut rng = Rng(9);
        for _ in 0..500 {
            let got = s.schedule(&short, &ctx_c(rng.ipv4()));
            assert!(matches!(got, None | Some(0) | Some(1)));
        }
        assert_eq!(s.schedule(&DestVec::default(), &ctx()), None);
    }

    /// Fraction of `clients` whose dest changes when dest `gone` of `n` equal dests is removed,
    /// and the same fraction among clients that were not on the removed dest.
    fn disruption(n: usize, gone: usize, index: u32, clients: &[IpAddr]) -> (f64, f64) {
        let d = weighted(&vec![1; n]);
        // Index 0 stands for rvs's own default table (65537 slots).
        let mut s = if index == 0 {
            Mh::new(SchedFlags::default())
        } else {
            Mh::with_tab_index(SchedFlags::default(), index).unwrap()
        };
        s.update(&d);
        let before: Vec<_> = clients
            .iter()
            .map(|&a| s.schedule(&d, &ctx_c(a)).map(|i| d.0[i].0))
            .collect();
        let mut after_list = d.clone();
        after_list.0.remove(gone);
        s.update(&after_list);
        let after: Vec<_> = clients
            .iter()
            .map(|&a| {
                s.schedule(&after_list, &ctx_c(a))
                    .map(|i| after_list.0[i].0)
            })
            .collect();
        let gone_key = d.0[gone].0;
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        let others: Vec<_> = before
            .iter()
            .zip(&after)
            .filter(|(b, _)| **b != Some(gone_key))
            .collect();
        let others_moved = others.iter().filter(|(b, a)| b != a).count();
        (
            moved as f64 / clients.len() as f64,
            others_moved as f64 / others.len() as f64,
        )
    }

    #[test]
    fn removing_one_of_n_moves_about_one_nth() {
        let mut rng = Rng(0x5eed);
        let clients: Vec<IpAddr> = (0..100_000).map(|_| rng.ipv4()).collect();
        let mut figures = Vec::new();
        for index in [DEFAULT_TAB_INDEX, 14, 16, 0] {
            for n in [5usize, 10, 50] {
                for gone in [0, n / 2, n - 1] {
                    let (moved, others) = disruption(n, gone, index, &clients);
                    eprintln!(
                        "mh table {:>5}: remove dest {gone:>2} of {n:>2}: moved {moved:.4} = {:.2}/N, others moved {others:.4}",
                        if index == 0 { DEFAULT_SIZE } else { PRIMES[index as usize - 8] },
                        moved * n as f64,
                    );
                    figures.push((index, n, moved, others));
                }
            }
        }
        for (index, n, moved, others) in figures {
            let nf = n as f64;
            // At least the removed dest's keys move (it held 1/N of the slots).
            assert!(moved >= 0.9 / nf, "table {index} N={n}: moved {moved}");
            // Maglev's extra churn grows with N / table size. The kernel's default 4093 slots
            // leave only ~82 per dest at N = 50, where it reaches ~1.1/N (measured 2.0-2.2/N in
            // all); with 65521 slots it stays near 0.25/N. Bound: 1.5/N where the table is
            // large for N, 2.5/N otherwise.
            let large = index == 16 || index == 0 || (index == DEFAULT_TAB_INDEX && n <= 10);
            let (bound, others_bound) = if large {
                (1.5 / nf + 0.005, 0.5 / nf)
            } else {
                (2.5 / nf + 0.005, 1.5 / nf)
            };
            assert!(
                moved <= bound,
                "table {index} N={n}: moved {moved} > {bound}"
            );
            assert!(
                others <= others_bound,
                "table {index} N={n}: others moved {others} > {others_bound}"
            );
        }
    }

    #[test]
    fn weighted_shares_are_proportional() {
        let d = weighted(&[1, 2, 3, 4]);
        let mut s = built(&d, 0);
        let mut rng = Rng(17);
        let trials = 100_000;
        let mut count = [0u32; 4];
        for _ in 0..trials {
            count[s.schedule(&d, &ctx_c(rng.ipv4())).unwrap()] += 1;
        }
        for (i, c) in count.iter().enumerate() {
            let f = f64::from(*c) / f64::from(trials);
            let e = (i + 1) as f64 / 10.0;
            assert!((f - e).abs() < 0.015, "dest {i}: {f} vs {e} ({count:?})");
        }
    }

    /// Regression pin of this implementation's output (hsiphash itself is checked against the
    /// kernel's vector above): dests 10.0.0.1-3:80 weighted 1, 2, 3 in a 251-slot table, then
    /// mh-fallback answers with dest 2 overloaded. Any change to the permutation, the fill
    /// order or the fallback probe sequence shows up here.
    #[test]
    fn golden_table_and_fallback() {
        assert_eq!(hsiphash_u32(0x0a00_0001 + 80, HASH1), 0x439c_0cbe);
        assert_eq!(hsiphash_u32(0x0a00_0001 + 80, HASH2), 0x97b3_dc47);
        let d = weighted(&[1, 2, 3]);
        let mut s = Mh::with_tab_index(SchedFlags(SchedFlags::FALLBACK), 8).unwrap();
        s.update(&d);
        assert_eq!(
            &s.lookup[..16],
            &[2, 1, 1, 1, 0, 0, 1, 1, 1, 2, 0, 0, 1, 1, 1, 1]
        );
        let mut down = d.clone();
        down.0[2].1.overloaded = true;
        let cases: [([u8; 4], u32, usize); 8] = [
            ([137, 2, 92, 193], 0, 0),
            ([101, 142, 236, 103], 1, 1),
            ([251, 50, 85, 94], 2, 0),
            ([238, 66, 201, 11], 2, 1),
            ([209, 1, 181, 185], 1, 1),
            ([144, 21, 2, 128], 2, 1),
            ([215, 54, 60, 165], 2, 0),
            ([18, 39, 133, 117], 2, 1),
        ];
        for (a, slot_dest, got) in cases {
            let a = IpAddr::V4(Ipv4Addr::from(a));
            let ihash = Mh::hashkey(addr_fold(a), HASH1, 0) % 251;
            assert_eq!(s.lookup[ihash as usize], slot_dest, "{a}");
            assert_eq!(s.schedule(&down, &ctx_c(a)), Some(got), "{a}");
        }
    }

    proptest! {
        /// Stable across calls and across an update with an unchanged list; only available dests.
        #[test]
        fn stable_and_available(
            spec in prop::collection::vec((0u32..5, prop::bool::weighted(0.25)), 1..12),
            flags in prop_oneof![Just(0u32), Just(SchedFlags::FALLBACK), Just(SchedFlags::PORT | SchedFlags::FALLBACK)],
            clients in prop::collection::vec((any::<u32>(), any::<u16>()), 1..30),
        ) {
            let d = dests(&spec.iter().map(|&(w, o)| DestLoad { overloaded: o, ..load(w, 0, 0) }).collect::<Vec<_>>());
            let mut s = Mh::with_tab_index(SchedFlags(flags), 9).unwrap();
            s.update(&d);
            let go = |s: &mut Mh| -> Vec<Option<usize>> {
                clients.iter().map(|&(a, p)| s.schedule(&d, &SchedCtx { caddr: IpAddr::V4(Ipv4Addr::from(a)), cport: p, ..ctx() })).collect()
            };
            let first = go(&mut s);
            for r in first.iter().flatten() {
                prop_assert!(available(d.0[*r].1));
            }
            prop_assert_eq!(&first, &go(&mut s));
            s.update(&d);
            prop_assert_eq!(&first, &go(&mut s));
            let any = d.0.iter().any(|e| available(e.1));
            if !any {
                prop_assert!(first.iter().all(Option::is_none));
            }
        }
    }
}
