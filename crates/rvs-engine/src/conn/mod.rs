//! Connection entries, their keys, and the table that holds them (IPVS `ip_vs_conn.c`).
//!
//! An entry is `#[repr(C)]` plain data with addresses as byte arrays and links as `u32`
//! indexes, so the table can be placed in shared memory and survive an rvsd restart, and
//! exported to / imported from a sync peer. IPv4 and IPv6 conns live in separate tables
//! (`Conn<[u8; 4]>` is 52 bytes, `Conn<[u8; 16]>` 100 bytes).

mod table;

pub use table::{
    passed, tick_of, ConnTable, Entries, InsertError, TableCounters, Tick, MAX_TIMEOUT_MS,
};

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The "no entry" index.
pub const NIL: u32 = u32::MAX;

/// An address family's address as stored in a conn: `[u8; 4]` or `[u8; 16]`.
pub trait ConnAddr:
    Copy + Eq + Default + AsRef<[u8]> + core::fmt::Debug + Send + Sync + 'static
{
    const UNSPEC: Self;
    /// Mix two addresses, ports, protocol and the template bit into a bucket hash.
    fn mix(a1: &Self, a2: &Self, rest: u64, seed: [u64; 2]) -> u64;
    fn to_ip(self) -> IpAddr;
    fn from_ip(ip: IpAddr) -> Option<Self>;
    /// Keep the first `prefix` bits (persistence netmask `-M`, IPv6 prefix length).
    fn masked(self, prefix: u8) -> Self;
    /// IPVS puts a service's fwmark where a template's vaddr would be.
    fn from_mark(mark: u32) -> Self;
}

/// A 64×64→128 multiply folded to 64 bits: two multiplies hash a whole v4 key well enough
/// for chaining, and the random seed keeps chains short against crafted addresses.
#[inline]
fn mum(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

impl ConnAddr for [u8; 4] {
    const UNSPEC: Self = [0; 4];
    #[inline]
    fn mix(a1: &Self, a2: &Self, rest: u64, seed: [u64; 2]) -> u64 {
        let addrs = ((u32::from_ne_bytes(*a1) as u64) << 32) | u32::from_ne_bytes(*a2) as u64;
        mum(addrs ^ seed[0], rest ^ seed[1])
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
    fn from_ip(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V4(a) => Some(a.octets()),
            IpAddr::V6(_) => None,
        }
    }
    fn masked(self, prefix: u8) -> Self {
        let p = prefix.min(32) as u32;
        let m = if p == 0 { 0 } else { u32::MAX << (32 - p) };
        (u32::from_be_bytes(self) & m).to_be_bytes()
    }
    fn from_mark(mark: u32) -> Self {
        mark.to_be_bytes()
    }
}

impl ConnAddr for [u8; 16] {
    const UNSPEC: Self = [0; 16];
    #[inline]
    fn mix(a1: &Self, a2: &Self, rest: u64, seed: [u64; 2]) -> u64 {
        let w = |a: &[u8; 16], i: usize| u64::from_ne_bytes(a[i..i + 8].try_into().unwrap());
        let h = mum(w(a1, 0) ^ seed[0], w(a1, 8) ^ seed[1]);
        let h = mum(h ^ w(a2, 0), w(a2, 8) ^ seed[0]);
        mum(h ^ rest, seed[1])
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
    fn from_ip(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V6(a) => Some(a.octets()),
            IpAddr::V4(_) => None,
        }
    }
    fn masked(self, prefix: u8) -> Self {
        let p = prefix.min(128) as u32;
        let m = if p == 0 { 0 } else { u128::MAX << (128 - p) };
        (u128::from_be_bytes(self) & m).to_be_bytes()
    }
    fn from_mark(mark: u32) -> Self {
        let mut a = [0; 16];
        a[..4].copy_from_slice(&mark.to_be_bytes());
        a
    }
}

/// A lookup key. For the `in` index: (caddr, cport, vaddr, vport); for `out`:
/// (daddr, dport, raddr, rport) where raddr/rport is whom the real server answers:
/// the client for NAT, the local address for FULLNAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnKey<A> {
    pub proto: u8,
    pub template: bool,
    pub a1: A,
    pub p1: u16,
    pub a2: A,
    pub p2: u16,
}

impl<A: ConnAddr> ConnKey<A> {
    #[inline]
    pub fn hash(&self, seed: [u64; 2]) -> u64 {
        let rest = ((self.p1 as u64) << 16)
            | self.p2 as u64
            | ((self.proto as u64) << 32)
            | ((self.template as u64) << 40);
        A::mix(&self.a1, &self.a2, rest, seed)
    }
}

/// How packets of a conn are forwarded, kept in the conn like IPVS's `IP_VS_CONN_F_FWD_MASK`
/// so that editing a dest's method affects new conns only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FwdKind {
    Masq = 0,
    Tunnel = 2,
    Route = 3,
    FullNat = 5,
}

impl FwdKind {
    fn from_bits(b: u16) -> FwdKind {
        match b {
            2 => FwdKind::Tunnel,
            3 => FwdKind::Route,
            5 => FwdKind::FullNat,
            _ => FwdKind::Masq,
        }
    }

    /// Whether replies come back through the director (and so need the `out` index).
    pub fn sees_replies(self) -> bool {
        matches!(self, FwdKind::Masq | FwdKind::FullNat)
    }
}

/// Conn flag bits (a subset of IPVS `IP_VS_CONN_F_*`, plus table bookkeeping).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct ConnFlags(pub u16);

impl ConnFlags {
    pub const IN_USE: ConnFlags = ConnFlags(1 << 0);
    pub const TEMPLATE: ConnFlags = ConnFlags(1 << 1);
    /// Counted in the dest's inactconns rather than activeconns.
    pub const INACTIVE: ConnFlags = ConnFlags(1 << 2);
    /// No packet from the real server seen yet (IPVS `IP_VS_CONN_F_NOOUTPUT`).
    pub const NOOUTPUT: ConnFlags = ConnFlags(1 << 3);
    pub const OUT_HASHED: ConnFlags = ConnFlags(1 << 4);
    pub const ONE_PACKET: ConnFlags = ConnFlags(1 << 5);
    /// Created from a sync message or an import, not by scheduling here.
    pub const SYNCED: ConnFlags = ConnFlags(1 << 6);
    const FWD_SHIFT: u16 = 8;
    const FWD_MASK: u16 = 0x7 << Self::FWD_SHIFT;
    /// The bits that hold the forwarding method.
    pub const FWD_BITS: u16 = Self::FWD_MASK;

    #[inline]
    pub fn contains(self, f: ConnFlags) -> bool {
        self.0 & f.0 == f.0
    }
    #[inline]
    pub fn insert(&mut self, f: ConnFlags) {
        self.0 |= f.0;
    }
    #[inline]
    pub fn remove(&mut self, f: ConnFlags) {
        self.0 &= !f.0;
    }
    #[inline]
    pub fn fwd(self) -> FwdKind {
        FwdKind::from_bits((self.0 & Self::FWD_MASK) >> Self::FWD_SHIFT)
    }
    #[inline]
    pub fn set_fwd(&mut self, k: FwdKind) {
        self.0 = (self.0 & !Self::FWD_MASK) | ((k as u16) << Self::FWD_SHIFT);
    }
}

/// One connection or persistence template.
///
/// For a template (IPVS `IP_VS_CONN_F_TEMPLATE`): `caddr` is the masked client address,
/// `cport` 0, `vaddr`/`vport` the service (or fwmark and 0), `control` counts the conns it
/// controls (IPVS `n_control`), `timeout_ms` is the persistence timeout.
/// For a conn: `control` is its template's index or [`NIL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Conn<A> {
    pub caddr: A,
    pub vaddr: A,
    pub daddr: A,
    /// FULLNAT local address; unused otherwise.
    pub laddr: A,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    pub lport: u16,
    /// The engine's dest slot.
    pub dest: u32,
    pub control: u32,
    pub next_in: u32,
    pub next_out: u32,
    pub expires: Tick,
    pub timeout_ms: u32,
    pub proto: u8,
    pub state: u8,
    pub flags: ConnFlags,
}

/// TCP SYN_RECV in IPVS numbering (`IP_VS_TCP_S_SYN_RECV`).
const TCP_S_SYN_RECV: u8 = 3;
const IPPROTO_TCP: u8 = 6;

impl<A: ConnAddr> Conn<A> {
    pub const EMPTY: Conn<A> = Conn {
        caddr: A::UNSPEC,
        vaddr: A::UNSPEC,
        daddr: A::UNSPEC,
        laddr: A::UNSPEC,
        cport: 0,
        vport: 0,
        dport: 0,
        lport: 0,
        dest: NIL,
        control: NIL,
        next_in: NIL,
        next_out: NIL,
        expires: 0,
        timeout_ms: 0,
        proto: 0,
        state: 0,
        flags: ConnFlags(0),
    };

    #[inline]
    pub fn is_template(&self) -> bool {
        self.flags.contains(ConnFlags::TEMPLATE)
    }

    #[inline]
    pub fn in_key(&self) -> ConnKey<A> {
        ConnKey {
            proto: self.proto,
            template: self.is_template(),
            a1: self.caddr,
            p1: self.cport,
            a2: self.vaddr,
            p2: self.vport,
        }
    }

    /// The reply as it arrives from the real server.
    #[inline]
    pub fn out_key(&self) -> ConnKey<A> {
        let (ra, rp) = if self.flags.fwd() == FwdKind::FullNat {
            (self.laddr, self.lport)
        } else {
            (self.caddr, self.cport)
        };
        ConnKey {
            proto: self.proto,
            template: false,
            a1: self.daddr,
            p1: self.dport,
            a2: ra,
            p2: rp,
        }
    }

    #[inline]
    fn in_key_matches(&self, k: &ConnKey<A>) -> bool {
        self.cport == k.p1
            && self.vport == k.p2
            && self.caddr == k.a1
            && self.vaddr == k.a2
            && self.proto == k.proto
            && self.is_template() == k.template
    }

    #[inline]
    fn out_key_matches(&self, k: &ConnKey<A>) -> bool {
        let o = self.out_key();
        o.p1 == k.p1 && o.p2 == k.p2 && o.a1 == k.a1 && o.a2 == k.a2 && o.proto == k.proto
    }

    /// Gone for lookups: its deadline passed, and (for a template) it controls no conn.
    #[inline]
    pub fn expired(&self, now: Tick) -> bool {
        passed(self.expires, now)
            && !(self.is_template() && self.control != 0 && self.control != NIL)
    }

    #[inline]
    pub fn is_embryonic(&self) -> bool {
        self.proto == IPPROTO_TCP && !self.is_template() && self.state == TCP_S_SYN_RECV
    }

    /// Milliseconds left before expiry (0 when due), for `ipvsadm -Lnc`.
    pub fn remaining_ms(&self, now: Tick) -> u32 {
        let d = self.expires.wrapping_sub(now) as i32;
        d.max(0) as u32
    }
}

#[cfg(test)]
mod tests;
