//! The advert as the machines see it, to and from bytes through rvs-wire's VRRP view
//! (`rvs_wire::vrrp`). The machines keep an owned [`Advert`] (the view borrows the
//! packet), and the drop reasons are told apart here in keepalived's order: the view's
//! `Error` only says truncated or malformed.

use std::net::IpAddr;

use rvs_wire::vrrp::{self as wire, Family, VrrpAddrs, VrrpAuth, VrrpPacket, VrrpRepr};

use crate::{DropReason, Version};

pub use wire::{AUTH_NONE, AUTH_PASS, TYPE_ADVERTISEMENT};

/// The fixed fields every version shares, read before the instance is known so that drops
/// can be counted against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peek {
    pub version: u8,
    pub kind: u8,
    pub vrid: u8,
}

/// `None` when shorter than the fixed header.
pub fn peek(payload: &[u8]) -> Option<Peek> {
    if payload.len() < wire::HEADER_LEN {
        return None;
    }
    // The length is checked; `new_checked` would also refuse versions other than 2|3,
    // which are counted as `Version` drops against the instance instead.
    let p = VrrpPacket::new_unchecked(payload);
    Some(Peek {
        version: p.version(),
        kind: p.kind(),
        vrid: p.vrid(),
    })
}

/// A parsed, checksum-verified advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// v2: seconds × 100; v3: the 12-bit centisecond field.
    pub adver_int_cs: u16,
    /// v2 only (0 in v3).
    pub auth_type: u8,
    pub auth_data: [u8; 8],
    pub addrs: Vec<IpAddr>,
}

/// Parses a version 2 or 3 advertisement received from `src` to `dst` (the IP header's
/// addresses). Version, type, length and checksum failures are told apart; whatever else
/// the view refuses (mixed families, v2 over IPv6) is `Malformed`.
pub fn parse(payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, DropReason> {
    let p = VrrpPacket::new_checked(payload).map_err(|e| match e {
        rvs_wire::Error::Truncated => DropReason::Malformed,
        _ => DropReason::Version,
    })?;
    if p.kind() != TYPE_ADVERTISEMENT {
        return Err(DropReason::Type);
    }
    let family = Family::of_pair(&src, &dst).map_err(|_| DropReason::Malformed)?;
    if payload.len() != p.message_len(family) {
        return Err(DropReason::Malformed);
    }
    if !p.verify_checksum(&src, &dst) {
        return Err(DropReason::Checksum);
    }
    let r = VrrpRepr::parse(&p, &src, &dst).map_err(|_| DropReason::Malformed)?;
    let (auth_type, auth_data) = match r.auth {
        VrrpAuth::None => (AUTH_NONE, [0; 8]),
        VrrpAuth::Pass(d) => (AUTH_PASS, d),
        VrrpAuth::Other(t) => (t, [0; 8]),
    };
    Ok(Advert {
        version: match r.version {
            wire::Version::V2 => Version::V2,
            wire::Version::V3 => Version::V3,
        },
        vrid: r.vrid,
        priority: r.priority,
        adver_int_cs: r.adver_int_cs,
        auth_type,
        auth_data,
        addrs: r.addrs.iter().collect(),
    })
}

/// The complete message for `adv` from `src` to `dst`, checksum filled; `None` when it
/// cannot be sent as is (addresses of another family than `src`'s, v2 over IPv6: the
/// router refuses such an instance with a FAULT before it ever advertises).
pub fn emit(adv: &Advert, src: IpAddr, dst: IpAddr) -> Option<Vec<u8>> {
    let r = VrrpRepr {
        version: match adv.version {
            Version::V2 => wire::Version::V2,
            Version::V3 => wire::Version::V3,
        },
        vrid: adv.vrid,
        priority: adv.priority,
        adver_int_cs: adv.adver_int_cs,
        auth: match adv.auth_type {
            AUTH_NONE => VrrpAuth::None,
            AUTH_PASS => VrrpAuth::Pass(adv.auth_data),
            t => VrrpAuth::Other(t),
        },
        addrs: VrrpAddrs::from(&adv.addrs[..]),
    };
    let mut b = vec![0u8; r.buffer_len()];
    let n = r.emit(&mut b, &src, &dst).ok()?;
    b.truncate(n);
    Some(b)
}

/// Why an instance cannot advertise at all, if it cannot (checked once per config).
pub fn unsendable(adv: &Advert, src: IpAddr, dst: IpAddr) -> Option<String> {
    if src.is_unspecified() {
        return Some("no source address".into());
    }
    emit(adv, src, dst)
        .is_none()
        .then(|| format!("cannot build an advert from {src} to {dst}"))
}
