//! The advert as the machines see it, and its bytes. This is the one place that touches
//! the wire format: it goes through rvs-wire's VRRP view once that view exists
//! (`rvs_wire::vrrp`); until then a minimal parse/emit lives here so that the machines
//! and their tests run on real bytes with real checksums.

use std::net::IpAddr;

use rvs_wire::checksum;

use crate::{DropReason, Version};

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// Type 1, the only one RFC 3768/5798 define.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// v2 authentication types (RFC 3768 5.3.6; AH (2) never reaches the machines).
pub const AUTH_NONE: u8 = 0;
pub const AUTH_PASS: u8 = 1;

const HEADER_LEN: usize = 8;
const V2_AUTH_LEN: usize = 8;

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
    if payload.len() < HEADER_LEN {
        return None;
    }
    Some(Peek {
        version: payload[0] >> 4,
        kind: payload[0] & 0x0f,
        vrid: payload[1],
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

fn addr_len(a: &IpAddr) -> usize {
    match a {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    }
}

fn message_len(version: Version, count: usize, alen: usize) -> usize {
    HEADER_LEN
        + count * alen
        + match version {
            Version::V2 => V2_AUTH_LEN,
            Version::V3 => 0,
        }
}

fn sum_with_pseudo(version: Version, msg: &[u8], src: &IpAddr, dst: &IpAddr) -> u32 {
    match version {
        // RFC 3768 5.3.8: over the VRRP message only.
        Version::V2 => checksum::sum(msg),
        // RFC 5798 5.2.8: with the IPv4/IPv6 pseudo header.
        // A mixed pair never gets here from `parse`; from `emit` it is a driver bug (a
        // source of the wrong family) that must not panic: the checksum is then wrong.
        Version::V3 if src.is_ipv4() != dst.is_ipv4() => checksum::sum(msg),
        Version::V3 => {
            checksum::pseudo(src, dst, IPPROTO_VRRP, msg.len() as u32) + checksum::sum(msg)
        }
    }
}

/// Parses a version 2 or 3 advertisement received from `src` to `dst` (addresses of one
/// family, which is also the family of the address list). Trailing bytes after the
/// message are ignored (the IP layer's length already bounds the payload).
pub fn parse(payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, DropReason> {
    let p = peek(payload).ok_or(DropReason::Malformed)?;
    let version = match p.version {
        2 => Version::V2,
        3 => Version::V3,
        _ => return Err(DropReason::Version),
    };
    if p.kind != TYPE_ADVERTISEMENT {
        return Err(DropReason::Type);
    }
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(DropReason::Malformed);
    }
    let alen = addr_len(&src);
    let count = usize::from(payload[3]);
    let len = message_len(version, count, alen);
    if payload.len() < len {
        return Err(DropReason::Malformed);
    }
    let msg = &payload[..len];
    if checksum::fold(sum_with_pseudo(version, msg, &src, &dst)) != 0xffff {
        return Err(DropReason::Checksum);
    }
    let addrs = msg[HEADER_LEN..HEADER_LEN + count * alen]
        .chunks_exact(alen)
        .map(|c| match <[u8; 4]>::try_from(c) {
            Ok(b4) => IpAddr::from(b4),
            Err(_) => {
                let mut b16 = [0u8; 16];
                b16.copy_from_slice(c);
                IpAddr::from(b16)
            }
        })
        .collect();
    let (adver_int_cs, auth_type, mut auth_data) = match version {
        Version::V2 => (u16::from(payload[5]) * 100, payload[4], [0u8; 8]),
        Version::V3 => (
            u16::from_be_bytes([payload[4], payload[5]]) & 0x0fff,
            0,
            [0u8; 8],
        ),
    };
    if version == Version::V2 {
        auth_data.copy_from_slice(&msg[len - V2_AUTH_LEN..]);
    }
    Ok(Advert {
        version,
        vrid: p.vrid,
        priority: payload[2],
        adver_int_cs,
        auth_type,
        auth_data,
        addrs,
    })
}

/// The complete message for `adv` from `src` to `dst`, checksum filled. `addrs` must be of
/// `src`'s family and at most 255 (the config parser enforces both).
pub fn emit(adv: &Advert, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let alen = addr_len(&src);
    let count = adv.addrs.len().min(255);
    let len = message_len(adv.version, count, alen);
    let mut b = vec![0u8; len];
    let v = match adv.version {
        Version::V2 => 2u8,
        Version::V3 => 3,
    };
    b[0] = (v << 4) | TYPE_ADVERTISEMENT;
    b[1] = adv.vrid;
    b[2] = adv.priority;
    b[3] = count as u8;
    match adv.version {
        Version::V2 => {
            b[4] = adv.auth_type;
            // v2 carries whole seconds (at least 1: the parser refuses less).
            b[5] = (adv.adver_int_cs / 100).clamp(1, 255) as u8;
            b[len - V2_AUTH_LEN..].copy_from_slice(&adv.auth_data);
        }
        Version::V3 => {
            b[4..6].copy_from_slice(&(adv.adver_int_cs & 0x0fff).to_be_bytes());
        }
    }
    for (i, a) in adv.addrs.iter().take(count).enumerate() {
        let at = HEADER_LEN + i * alen;
        match a {
            IpAddr::V4(a) if alen == 4 => b[at..at + 4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) if alen == 16 => b[at..at + 16].copy_from_slice(&a.octets()),
            _ => {}
        }
    }
    let csum = checksum::finish(sum_with_pseudo(adv.version, &b, &src, &dst));
    b[6..8].copy_from_slice(&csum.to_be_bytes());
    b
}
