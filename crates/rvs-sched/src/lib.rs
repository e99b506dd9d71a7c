//! The IPVS schedulers (layer: sans-IO core).
//!
//! One file per scheduler, named as ipvsadm names it (`rr.rs` … `twos.rs`), behind one
//! [`Scheduler`] enum so the engine's new-connection path dispatches without a vtable.
//! Schedulers never own destination state: the engine keeps counters and hands them in
//! through [`DestSet`], exactly as IPVS schedulers read `dest->activeconns` and friends.
//! Every comparison uses the kernel's integer maths (cross-multiplication, no division),
//! so a table reached by rvs gives the same choices an IPVS director would.
#![forbid(unsafe_code)]

use core::net::IpAddr;

pub mod dh;
pub mod fo;
pub mod lblc;
pub mod lblcr;
pub mod lc;
pub mod mh;
pub mod nq;
pub mod ovf;
pub mod rr;
pub mod sed;
pub mod sh;
pub mod twos;
pub mod wlc;
pub mod wrr;

#[cfg(test)]
mod testutil;

/// What a scheduler may read about one real server of the service, at the time of the call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestLoad {
    /// ipvsadm weight, 0..=65535 (IPVS keeps it in an `atomic_t`, hence signed maths below).
    pub weight: u32,
    /// Connections in ESTABLISHED (IPVS `activeconns`).
    pub activeconns: u32,
    /// Other connections (IPVS `inactconns`).
    pub inactconns: u32,
    /// IPVS `IP_VS_DEST_F_OVERLOAD`: the upper threshold was reached.
    pub overloaded: bool,
}

impl DestLoad {
    /// IPVS `ip_vs_dest_conn_overhead`: active connections weigh 256 times an inactive one.
    #[inline]
    pub fn overhead(&self) -> u64 {
        ((self.activeconns as u64) << 8) + self.inactconns as u64
    }

    /// Not eligible for a new connection: quiescent (weight 0) or over its upper threshold.
    #[inline]
    pub fn unavailable(&self) -> bool {
        self.weight == 0 || self.overloaded
    }
}

/// The identity of a real server, used by the hashing schedulers (mh permutations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

/// The real servers of one service, in the order they were added (IPVS `svc->destinations`).
///
/// Implemented by the engine over its own dest storage, so scheduling copies nothing.
pub trait DestSet {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn load(&self, i: usize) -> DestLoad;
    fn key(&self, i: usize) -> DestKey;
}

/// A plain vector of dests: what tests, benches and simulators use.
#[derive(Clone, Debug, Default)]
pub struct DestVec(pub Vec<(DestKey, DestLoad)>);

impl DestSet for DestVec {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn load(&self, i: usize) -> DestLoad {
        self.0[i].1
    }
    fn key(&self, i: usize) -> DestKey {
        self.0[i].0
    }
}

/// What the scheduler may know about the packet that opens a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedCtx {
    /// Client address and port (sh, mh hash these).
    pub caddr: IpAddr,
    pub cport: u16,
    /// The packet's destination address and port (dh, lblc, lblcr hash the address).
    pub vaddr: IpAddr,
    pub vport: u16,
    /// Milliseconds on the engine's clock (lblc/lblcr entry ageing).
    pub now_ms: u64,
    /// Fresh randomness from the engine's seeded generator (twos).
    pub random: u64,
}

/// ipvsadm `-b` scheduler flags, with the kernel's bit values (`IP_VS_SVC_F_SCHED1..3`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SchedFlags(pub u32);

impl SchedFlags {
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    /// sh-fallback and mh-fallback are flag-1.
    pub const FALLBACK: u32 = Self::SCHED1;
    /// sh-port and mh-port are flag-2.
    pub const PORT: u32 = Self::SCHED2;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchedError {
    /// ipvsadm prints "Scheduler not found" for this (ENOENT from the kernel).
    #[error("unknown scheduler {0:?}")]
    Unknown(String),
}

/// The hooks of one scheduler, as IPVS `struct ip_vs_scheduler` has them.
///
/// `update` stands for `add_dest`/`del_dest`/`upd_dest` (the engine calls it after any change
/// to the dest list or a weight), `schedule` for `schedule`, and `expire` for the periodic timer
/// that lblc and lblcr arm. Generic over [`DestSet`], so [`Scheduler`] dispatches with a `match`.
pub trait SchedOps {
    /// The ipvsadm name.
    const NAME: &'static str;

    /// The ipvsadm `-b` flags the service was created with.
    fn flags(&self) -> SchedFlags;

    /// The dest list or a weight changed: rebuild whatever table the scheduler keeps.
    fn update<D: DestSet>(&mut self, dests: &D) {
        let _ = dests;
    }

    /// Index in `dests` of the dest for a new connection, or `None` ("no destination available").
    ///
    /// Never panics nor indexes out of range, even when `dests` changed without an `update`.
    fn schedule<D: DestSet>(&mut self, dests: &D, ctx: &SchedCtx) -> Option<usize>;

    /// Periodic ageing of per-address tables (the IPVS timer); a no-op for the others.
    fn expire(&mut self, now_ms: u64) {
        let _ = now_ms;
    }
}

/// One scheduler of any kind, as a service holds it.
#[derive(Clone, Debug)]
pub enum Scheduler {
    Rr(rr::Rr),
    Wrr(wrr::Wrr),
    Lc(lc::Lc),
    Wlc(wlc::Wlc),
    Lblc(lblc::Lblc),
    Lblcr(lblcr::Lblcr),
    Dh(dh::Dh),
    Sh(sh::Sh),
    Sed(sed::Sed),
    Nq(nq::Nq),
    Fo(fo::Fo),
    Ovf(ovf::Ovf),
    Mh(mh::Mh),
    Twos(twos::Twos),
}

/// `match` over every variant, binding the inner scheduler to `$s`.
macro_rules! dispatch {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Scheduler::Rr($s) => $e,
            Scheduler::Wrr($s) => $e,
            Scheduler::Lc($s) => $e,
            Scheduler::Wlc($s) => $e,
            Scheduler::Lblc($s) => $e,
            Scheduler::Lblcr($s) => $e,
            Scheduler::Dh($s) => $e,
            Scheduler::Sh($s) => $e,
            Scheduler::Sed($s) => $e,
            Scheduler::Nq($s) => $e,
            Scheduler::Fo($s) => $e,
            Scheduler::Ovf($s) => $e,
            Scheduler::Mh($s) => $e,
            Scheduler::Twos($s) => $e,
        }
    };
}

/// `SchedOps::NAME` of the scheduler bound by `dispatch!`.
fn name_of<S: SchedOps>(_: &S) -> &'static str {
    S::NAME
}

impl Scheduler {
    /// The ipvsadm names, in the order the kernel gained them.
    pub const NAMES: [&'static str; 14] = [
        rr::Rr::NAME,
        wrr::Wrr::NAME,
        lc::Lc::NAME,
        wlc::Wlc::NAME,
        lblc::Lblc::NAME,
        lblcr::Lblcr::NAME,
        dh::Dh::NAME,
        sh::Sh::NAME,
        sed::Sed::NAME,
        nq::Nq::NAME,
        fo::Fo::NAME,
        ovf::Ovf::NAME,
        mh::Mh::NAME,
        twos::Twos::NAME,
    ];

    /// IPVS `ip_vs_scheduler_get`: the scheduler of that exact (case-sensitive) name.
    pub fn new(name: &str, flags: SchedFlags) -> Result<Self, SchedError> {
        Ok(match name {
            rr::Rr::NAME => Self::Rr(rr::Rr::new(flags)),
            wrr::Wrr::NAME => Self::Wrr(wrr::Wrr::new(flags)),
            lc::Lc::NAME => Self::Lc(lc::Lc::new(flags)),
            wlc::Wlc::NAME => Self::Wlc(wlc::Wlc::new(flags)),
            lblc::Lblc::NAME => Self::Lblc(lblc::Lblc::new(flags)),
            lblcr::Lblcr::NAME => Self::Lblcr(lblcr::Lblcr::new(flags)),
            dh::Dh::NAME => Self::Dh(dh::Dh::new(flags)),
            sh::Sh::NAME => Self::Sh(sh::Sh::new(flags)),
            sed::Sed::NAME => Self::Sed(sed::Sed::new(flags)),
            nq::Nq::NAME => Self::Nq(nq::Nq::new(flags)),
            fo::Fo::NAME => Self::Fo(fo::Fo::new(flags)),
            ovf::Ovf::NAME => Self::Ovf(ovf::Ovf::new(flags)),
            mh::Mh::NAME => Self::Mh(mh::Mh::new(flags)),
            twos::Twos::NAME => Self::Twos(twos::Twos::new(flags)),
            _ => return Err(SchedError::Unknown(name.to_owned())),
        })
    }

    pub fn name(&self) -> &'static str {
        dispatch!(self, s => name_of(s))
    }

    pub fn flags(&self) -> SchedFlags {
        dispatch!(self, s => s.flags())
    }

    /// IPVS add_dest/del_dest/upd_dest: the dest list or a weight changed; rebuild tables.
    pub fn update<D: DestSet>(&mut self, dests: &D) {
        dispatch!(self, s => s.update(dests))
    }

    /// IPVS schedule(): index of the chosen dest in `dests`, or None ("no destination available").
    #[inline]
    pub fn schedule<D: DestSet>(&mut self, dests: &D, ctx: &SchedCtx) -> Option<usize> {
        dispatch!(self, s => s.schedule(dests, ctx))
    }

    /// Periodic ageing for lblc/lblcr tables (IPVS runs a timer; the engine calls this from its poll).
    pub fn expire(&mut self, now_ms: u64) {
        dispatch!(self, s => s.expire(now_ms))
    }
}

/// Sentinel for "no dest" in the hashing schedulers' tables (IPVS: a NULL bucket).
pub(crate) const NO_DEST: u32 = u32::MAX;

/// `ntohl(addr_fold)` of the IPVS hash keys: an IPv4 address as a host-order `u32`; an IPv6
/// address folds its four 32-bit words with XOR (`ip6[0]^ip6[1]^ip6[2]^ip6[3]`, then `ntohl`,
/// which commutes with XOR).
#[inline]
pub(crate) fn addr_fold(addr: IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            w(0) ^ w(4) ^ w(8) ^ w(12)
        }
    }
}

/// `GOLDEN_RATIO_32` of `<linux/hash.h>`.
pub(crate) const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// `hash_32(val, bits)` of `<linux/hash.h>`: multiply by the golden ratio and keep the top
/// `bits` bits (the high bits are the well-mixed ones). `1 <= bits <= 32`.
#[inline]
pub(crate) fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(GOLDEN_RATIO_32) >> (32 - bits)
}

/// The stored index `hint` still names `key` in `dests` (lblc/lblcr cache entries keep both, so
/// a dest that left the service, or a `dests` that changed without `update`, reads as absent:
/// IPVS's "not `IP_VS_DEST_F_AVAILABLE`").
#[inline]
pub(crate) fn resolve<D: DestSet>(dests: &D, key: DestKey, hint: u32) -> Option<usize> {
    let i = hint as usize;
    (hint != NO_DEST && i < dests.len() && dests.key(i) == key).then_some(i)
}

#[cfg(test)]
mod lib_tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn unknown_name_is_an_error() {
        assert_eq!(
            Scheduler::new("bogus", SchedFlags::default()).unwrap_err(),
            SchedError::Unknown("bogus".into())
        );
        // ip_vs_scheduler_get() compares with strcmp().
        assert!(Scheduler::new("RR", SchedFlags::default()).is_err());
        assert!(Scheduler::new("", SchedFlags::default()).is_err());
    }

    #[test]
    fn every_name_round_trips() {
        let flags = SchedFlags(SchedFlags::FALLBACK | SchedFlags::PORT);
        for name in Scheduler::NAMES {
            let s = Scheduler::new(name, flags).unwrap();
            assert_eq!(s.name(), name);
            assert_eq!(s.flags(), flags);
        }
        let mut sorted = Scheduler::NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 14);
    }

    #[test]
    fn addr_fold_matches_the_kernel() {
        assert_eq!(addr_fold(Ipv4Addr::new(10, 1, 2, 3).into()), 0x0a01_0203);
        let a: Ipv6Addr = "2001:db8:0:1:ffff:0:a01:203".parse().unwrap();
        let expect = 0x2001_0db8 ^ 0x0000_0001 ^ 0xffff_0000 ^ 0x0a01_0203;
        assert_eq!(addr_fold(a.into()), expect);
    }

    #[test]
    fn hash_32_keeps_the_top_bits() {
        assert_eq!(hash_32(0, 8), 0);
        assert_eq!(hash_32(1, 8), 0x61);
        assert_eq!(hash_32(1, 32), GOLDEN_RATIO_32);
        assert_eq!(hash_32(2, 10), 0x30E); // 2 * 0x61C88647 = 0xC3910C8E
    }
}
