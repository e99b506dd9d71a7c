//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! A full checksum is `finish(pseudo + sum(bytes))`; a check is `fold(pseudo +
//! sum(bytes)) == 0xffff` over bytes that include the checksum field. Partial sums
//! returned here never exceed `0xffff`, so callers may add tens of thousands of them with
//! plain `u32` addition before folding.
//!
//! The engine rewrites addresses and ports in place and patches the checksums with
//! [`update16`], [`update32`] and [`update_addr`] instead of re-summing the payload.
//! UDP needs two extra rules, applied by the `*_udp` variants: a transmitted UDP
//! checksum is never 0 (a computed 0 is sent as `0xffff`), and over IPv4 a checksum of 0
//! means "not computed" and must stay 0.

use core::net::IpAddr;

/// Ones' complement sum of `data` as 16-bit big-endian words (an odd trailing byte is
/// padded with zero), reduced to at most `0xffff` without losing carries.
///
/// Only all-zero data gives 0, so [`finish`] then yields `0xffff`, as the end-around
/// carry definition requires.
#[inline]
pub fn sum(data: &[u8]) -> u32 {
    // 32-bit words are summed into 64 bits: 2^16 ≡ 1 (mod 0xffff), so a 32-bit word is
    // congruent to the sum of its two halves, and the compiler vectorises this loop.
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        acc += u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold64(acc)
}

/// [`sum`] of an option-less IPv4 header: five 32-bit words, unrolled, since every
/// received IPv4 packet is checked this way on the hot path.
#[inline(always)]
pub fn sum20(h: &[u8; 20]) -> u32 {
    let w = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    fold64(w(0) + w(4) + w(8) + w(12) + w(16))
}

/// Reduces a 64-bit accumulator to 16 bits with end-around carry.
#[inline(always)]
fn fold64(mut acc: u64) -> u32 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    let mut s = acc as u32;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s
}

/// Folds the carries of a partial sum into 16 bits.
#[inline]
pub fn fold(sum: u32) -> u16 {
    let mut s = (sum & 0xffff) + (sum >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// The checksum field value for a partial sum: its folded ones' complement.
#[inline]
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// Partial sum of the IPv4 pseudo header (RFC 793 / 768): addresses, protocol and the
/// upper-layer length.
#[inline]
pub fn pseudo_v4(src: [u8; 4], dst: [u8; 4], proto: u8, len: u32) -> u32 {
    let w = |b: &[u8; 4], i: usize| u32::from(u16::from_be_bytes([b[i], b[i + 1]]));
    w(&src, 0)
        + w(&src, 2)
        + w(&dst, 0)
        + w(&dst, 2)
        + u32::from(proto)
        + (len >> 16)
        + (len & 0xffff)
}

/// Partial sum of the IPv6 pseudo header (RFC 8200 §8.1).
#[inline]
pub fn pseudo_v6(src: [u8; 16], dst: [u8; 16], proto: u8, len: u32) -> u32 {
    let mut s = u32::from(proto) + (len >> 16) + (len & 0xffff);
    for i in (0..16).step_by(2) {
        s += u32::from(u16::from_be_bytes([src[i], src[i + 1]]));
        s += u32::from(u16::from_be_bytes([dst[i], dst[i + 1]]));
    }
    s
}

/// Pseudo-header partial sum for either family.
///
/// Both addresses must be of the same family; a mixed pair is a caller bug (debug
/// builds assert) and yields 0, which makes the resulting checksum wrong but harmless.
#[inline]
pub fn pseudo(src: &IpAddr, dst: &IpAddr, proto: u8, len: u32) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_v4(s.octets(), d.octets(), proto, len),
        (IpAddr::V6(s), IpAddr::V6(d)) => pseudo_v6(s.octets(), d.octets(), proto, len),
        _ => {
            debug_assert!(false, "pseudo header over mixed address families");
            0
        }
    }
}

/// RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`: the checksum after one 16-bit word of the
/// covered data changed from `old` to `new`.
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!csum) + u32::from(!old) + u32::from(new))
}

/// [`update16`] for a 32-bit field (an IPv4 address) at an even offset.
#[inline]
pub fn update32(csum: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    let o = |b: [u8; 4], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let s = u32::from(!csum)
        + u32::from(!o(old, 0))
        + u32::from(!o(old, 2))
        + u32::from(o(new, 0))
        + u32::from(o(new, 2));
    !fold(s)
}

/// [`update16`] for a field of any length (typically a 4- or 16-byte address) that
/// starts at an even offset of the covered data. `old` and `new` must have equal
/// lengths.
#[inline]
pub fn update_addr(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    // Ports, TTL words and IPv4 addresses take the straight-line forms: these run several
    // times per forwarded packet.
    match (old, new) {
        (&[a, b], &[c, d]) => {
            return update16(csum, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))
        }
        (&[a, b, c, d], &[e, f, g, h]) => return update32(csum, [a, b, c, d], [e, f, g, h]),
        _ => {}
    }
    // The sum of the complemented old words is the complement of their sum.
    !fold(u32::from(!csum) + u32::from(!fold(sum(old))) + sum(new))
}

/// Applies UDP's rules around an incremental update: 0 (no checksum over IPv4) stays 0,
/// and a result of 0 is sent as `0xffff`.
#[inline]
fn udp_rule(csum: u16, f: impl FnOnce(u16) -> u16) -> u16 {
    if csum == 0 {
        return 0;
    }
    match f(csum) {
        0 => 0xffff,
        c => c,
    }
}

/// [`update16`] for a UDP checksum. Over IPv6 a zero checksum is invalid, so leaving it
/// zero passes the packet on unchanged for the receiver to drop.
#[inline]
pub fn update16_udp(csum: u16, old: u16, new: u16) -> u16 {
    udp_rule(csum, |c| update16(c, old, new))
}

/// [`update32`] for a UDP checksum (see [`update16_udp`]).
#[inline]
pub fn update32_udp(csum: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    udp_rule(csum, |c| update32(c, old, new))
}

/// [`update_addr`] for a UDP checksum (see [`update16_udp`]).
#[inline]
pub fn update_addr_udp(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    udp_rule(csum, |c| update_addr(c, old, new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    /// The textbook word-at-a-time definition, to check the fast path against.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            s += u32::from(w);
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    #[test]
    fn ipv4_header_known_value() {
        // The header used as the worked example in most references (checksum 0xb861).
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(finish(sum(&h)), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(fold(sum(&h)), 0xffff);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])),
            0xddf2
        );
    }

    #[test]
    fn odd_length_and_edges() {
        assert_eq!(sum(&[]), 0);
        assert_eq!(finish(sum(&[0; 10])), 0xffff);
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(fold(sum(&[0xff; 9])), reference(&[0xff; 9]));
        assert_eq!(fold(0xffff_ffff), 0xffff);
        assert_eq!(fold(0x0001_fffe), 0xffff);
    }

    #[test]
    fn pseudo_headers() {
        let a = Ipv4Addr::new(192, 168, 1, 10);
        let b = Ipv4Addr::new(192, 168, 1, 20);
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&a.octets());
        bytes[4..8].copy_from_slice(&b.octets());
        bytes[9] = 6;
        bytes[10..12].copy_from_slice(&44u16.to_be_bytes());
        assert_eq!(
            fold(pseudo_v4(a.octets(), b.octets(), 6, 44)),
            reference(&bytes)
        );
        assert_eq!(
            pseudo(&a.into(), &b.into(), 6, 44),
            pseudo_v4(a.octets(), b.octets(), 6, 44)
        );

        let a6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let b6: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let mut bytes = [0u8; 40];
        bytes[..16].copy_from_slice(&a6.octets());
        bytes[16..32].copy_from_slice(&b6.octets());
        bytes[32..36].copy_from_slice(&70000u32.to_be_bytes());
        bytes[39] = 17;
        assert_eq!(
            fold(pseudo_v6(a6.octets(), b6.octets(), 17, 70000)),
            reference(&bytes)
        );
        assert_eq!(
            pseudo(&a6.into(), &b6.into(), 17, 70000),
            pseudo_v6(a6.octets(), b6.octets(), 17, 70000)
        );
    }

    #[test]
    fn udp_rules() {
        assert_eq!(update16_udp(0, 1, 2), 0);
        // Choose a change that brings the checksum to exactly zero.
        let c = 0x1234;
        let new = update16(c, 0x0000, 0x1234);
        assert_eq!(new, 0);
        assert_eq!(update16_udp(c, 0x0000, 0x1234), 0xffff);
        assert_eq!(update_addr_udp(c, &[0, 0], &[0x12, 0x34]), 0xffff);
        assert_eq!(update32_udp(c, [0, 0, 0, 0], [0x12, 0x34, 0, 0]), 0xffff);
    }

    /// Random non-trivial data (the first word is forced non-zero, as in every real
    /// header) with a checksum field at `at`.
    fn data_strategy() -> impl Strategy<Value = (Vec<u8>, usize)> {
        (2usize..200).prop_flat_map(|words| {
            (proptest::collection::vec(any::<u8>(), words * 2), 0..words).prop_map(|(mut v, at)| {
                v[0] |= 0x40;
                (v, at * 2)
            })
        })
    }

    fn with_checksum(mut v: Vec<u8>, at: usize) -> Vec<u8> {
        v[at] = 0;
        v[at + 1] = 0;
        let c = finish(sum(&v));
        v[at..at + 2].copy_from_slice(&c.to_be_bytes());
        v
    }

    proptest! {
        #[test]
        fn sum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(fold(sum(&data)), reference(&data));
        }

        #[test]
        fn sum_is_additive_at_even_split(data in proptest::collection::vec(any::<u8>(), 0..300), split in 0usize..150) {
            let split = (split * 2).min(data.len() & !1);
            let (a, b) = data.split_at(split);
            prop_assert_eq!(fold(sum(a) + sum(b)), fold(sum(&data)));
        }

        #[test]
        fn incremental_matches_recompute(
            (data, at) in data_strategy(),
            field in 0usize..100,
            width in prop_oneof![Just(2usize), Just(4), Just(16)],
            newval in proptest::collection::vec(any::<u8>(), 16),
        ) {
            let v = with_checksum(data, at);
            let csum = u16::from_be_bytes([v[at], v[at + 1]]);
            // A field that does not overlap the checksum.
            let start = (field * 2) % v.len();
            // Word 0 stays non-zero so the data can never become all zeros, the one input
            // where the incremental and full forms pick different encodings of zero.
            prop_assume!(start != 0 && start + width <= v.len());
            prop_assume!(start + width <= at || start >= at + 2);
            let old = v[start..start + width].to_vec();
            let mut w = v.clone();
            w[start..start + width].copy_from_slice(&newval[..width]);
            let full = with_checksum(w.clone(), at);
            let expect = u16::from_be_bytes([full[at], full[at + 1]]);
            let got = match width {
                2 => update16(csum, u16::from_be_bytes([old[0], old[1]]), u16::from_be_bytes([newval[0], newval[1]])),
                4 => update32(csum, [old[0], old[1], old[2], old[3]], [newval[0], newval[1], newval[2], newval[3]]),
                _ => update_addr(csum, &old, &newval[..width]),
            };
            prop_assert_eq!(got, expect);
            prop_assert_eq!(update_addr(csum, &old, &newval[..width]), expect);
            // And the patched packet verifies.
            w[at..at + 2].copy_from_slice(&got.to_be_bytes());
            prop_assert_eq!(fold(sum(&w)), 0xffff);
        }

        #[test]
        fn udp_incremental_never_zero(csum in 1u16.., old: u16, new: u16) {
            let c = update16_udp(csum, old, new);
            prop_assert_ne!(c, 0);
            // Equivalent to the plain update in ones' complement arithmetic.
            prop_assert_eq!(u32::from(c) % 0xffff, u32::from(update16(csum, old, new)) % 0xffff);
        }
    }
}

#[cfg(test)]
mod sum20_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sum20_is_sum(h in prop::array::uniform20(any::<u8>())) {
            prop_assert_eq!(fold(sum20(&h)), fold(sum(&h)));
        }
    }
}
