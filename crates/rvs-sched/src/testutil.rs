//! Helpers shared by the unit tests: dest lists, contexts, a seeded generator and the
//! brute-force "first minimum" reference the least-load schedulers are checked against.

use crate::{DestKey, DestLoad, DestSet, DestVec, SchedCtx};
use core::net::{IpAddr, Ipv4Addr};

/// Dest `i` of a test service: 10.0.0.(i+1):80.
pub fn key(i: usize) -> DestKey {
    DestKey {
        addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + i as u32)),
        port: 80,
    }
}

pub fn load(weight: u32, activeconns: u32, inactconns: u32) -> DestLoad {
    DestLoad {
        weight,
        activeconns,
        inactconns,
        overloaded: false,
    }
}

/// Idle dests with these weights.
pub fn weighted(weights: &[u32]) -> DestVec {
    DestVec(
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| (key(i), load(w, 0, 0)))
            .collect(),
    )
}

pub fn dests(loads: &[DestLoad]) -> DestVec {
    DestVec(
        loads
            .iter()
            .enumerate()
            .map(|(i, &l)| (key(i), l))
            .collect(),
    )
}

pub fn ctx() -> SchedCtx {
    SchedCtx {
        caddr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        cport: 40000,
        vaddr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        vport: 80,
        now_ms: 0,
        random: 0,
    }
}

pub fn ctx_c(caddr: IpAddr) -> SchedCtx {
    SchedCtx { caddr, ..ctx() }
}

pub fn ctx_v(vaddr: IpAddr, now_ms: u64) -> SchedCtx {
    SchedCtx {
        vaddr,
        now_ms,
        ..ctx()
    }
}

/// splitmix64: a tiny seeded generator so statistical tests are reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn ipv4(&mut self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self.next_u64() as u32))
    }
}

/// Reference for the least-load schedulers, written as a characterisation rather than a scan:
/// dest `i` is the answer iff it is eligible, its cost `num/den` is strictly below that of every
/// eligible dest before it and at most that of every eligible dest after it (ties: the first).
/// Costs compare as `n_i * d_j < n_j * d_i` in u128, with every `den > 0`.
pub fn first_min<D: DestSet>(
    dests: &D,
    eligible: impl Fn(DestLoad) -> bool,
    cost: impl Fn(DestLoad) -> (u128, u128),
) -> Option<usize> {
    let n = dests.len();
    (0..n).find(|&i| {
        let li = dests.load(i);
        if !eligible(li) {
            return false;
        }
        let (ni, di) = cost(li);
        (0..n)
            .filter(|&j| j != i && eligible(dests.load(j)))
            .all(|j| {
                let (nj, dj) = cost(dests.load(j));
                if j < i {
                    ni * dj < nj * di
                } else {
                    ni * dj <= nj * di
                }
            })
    })
}

pub fn available(l: DestLoad) -> bool {
    !l.unavailable()
}
