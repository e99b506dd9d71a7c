//! Received adverts: which instance a packet is for, and every check keepalived's
//! `vrrp_check_packet` makes, in its order. A packet that fails one is dropped and
//! counted by [`DropReason`]; nothing else happens (no state, timer or master change).
//!
//! Order: length → instance (interface, family, VRID) → TTL → version → type → full
//! parse with checksum → own advert → unicast peer → v2 auth → v2 interval → address
//! list (not checked for the address owner's adverts: its list wins, keepalived's rule).
//! v3 interval differences are not drops: the BACKUP learns the master's interval.

use std::net::IpAddr;

use crate::codec::{self, Advert};
use crate::instance::{v2_secs, Instance};
use crate::{Auth, DropReason, Version};

/// A packet's verdict: the advert and the instance it is for, or why it was dropped and,
/// when one was found, the instance that counts it.
pub type Verdict = Result<(usize, Advert), (Option<usize>, DropReason)>;

pub struct Packet<'a> {
    pub iface: &'a str,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub payload: &'a [u8],
}

pub fn validate(instances: &[Instance], p: &Packet<'_>) -> Verdict {
    let head = codec::peek(p.payload).ok_or((None, DropReason::Malformed))?;
    let idx = instances
        .iter()
        .position(|i| {
            i.cfg.interface == p.iface && i.cfg.ipv6 == p.src.is_ipv6() && i.cfg.vrid == head.vrid
        })
        .ok_or((None, DropReason::UnknownVrid))?;
    let inst = &instances[idx];
    let drop = |r| Err((Some(idx), r));
    if p.ttl != 255 {
        return drop(DropReason::Ttl);
    }
    let want_version = match inst.cfg.version {
        Version::V2 => 2,
        Version::V3 => 3,
    };
    if head.version != want_version {
        return drop(DropReason::Version);
    }
    if head.kind != codec::TYPE_ADVERTISEMENT {
        return drop(DropReason::Type);
    }
    let adv = codec::parse(p.payload, p.src, p.dst).map_err(|r| (Some(idx), r))?;
    if p.src == inst.src {
        return drop(DropReason::Own);
    }
    if !inst.cfg.unicast_peers.is_empty() && !inst.cfg.unicast_peers.contains(&p.src) {
        return drop(DropReason::NotPeer);
    }
    if adv.version == Version::V2 {
        let auth_ok = match &inst.cfg.auth {
            Auth::None => adv.auth_type == codec::AUTH_NONE,
            Auth::Pass(pass) => adv.auth_type == codec::AUTH_PASS && adv.auth_data == *pass,
        };
        if !auth_ok {
            return drop(DropReason::Auth);
        }
        if adv.adver_int_cs != u16::from(v2_secs(inst.cfg.advert_int_cs)) * 100 {
            return drop(DropReason::Interval);
        }
    }
    if adv.priority != 255 && !inst.same_addrs(&adv.addrs) {
        return drop(DropReason::Addresses);
    }
    Ok((idx, adv))
}
