//! The conn change feed and the record type of export and import (what IPVS's sync daemon,
//! `ip_vs_sync.c`, sends and receives): created, state change, expired and template-created
//! events, queued by the packet path in a preallocated ring that a consumer (the sync
//! sender, later the XDP fast-path map) drains in bounded pieces. Off until a consumer
//! enables it: then the packet path pays one branch per conn event and never blocks or
//! allocates; a full ring drops the event and counts an overflow, which tells the consumer
//! to fall back on a bulk export ([`crate::Engine::export_records`]).

use crate::config::DestId;
use crate::conn::{Conn, ConnAddr, ConnFlags, ConnTable, NIL};
use core::net::{IpAddr, Ipv4Addr};

/// A conn or template as a sync peer sees it: addresses rather than table indexes, the
/// dest by its stable id, the template by its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnRecord {
    /// IP protocol number; 0 for a fwmark service's template (IPVS uses IPPROTO_IP there).
    pub proto: u8,
    pub caddr: IpAddr,
    pub cport: u16,
    /// Unspecified for a fwmark template (see `fwmark`).
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// FULLNAT local address and port; unspecified and 0 otherwise.
    pub laddr: IpAddr,
    pub lport: u16,
    /// The service's firewall mark for a fwmark template, else 0.
    pub fwmark: u32,
    /// Forwarding method, TEMPLATE, INACTIVE, NOOUTPUT, SYNCED (the table's own bookkeeping
    /// bits are cleared).
    pub flags: ConnFlags,
    /// Protocol state in IPVS numbering (`rvs_proto`).
    pub state: u8,
    /// The timeout of its state (the persistence timeout for a template); an importer arms
    /// the same from its own clock, as an IPVS backup does (`cp->timeout`). 0 in expiry
    /// events.
    pub timeout_ms: u32,
    /// Its real server in this director's config, while it is configured.
    pub dest: Option<DestId>,
    /// The template it is bound to (persistence), if any. Not carried by expiry events.
    pub template: Option<TemplateKey>,
}

/// A persistence template's lookup key: what an importer finds the template by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateKey {
    pub proto: u8,
    /// The masked client address.
    pub caddr: IpAddr,
    /// Unspecified for a fwmark template.
    pub vaddr: IpAddr,
    pub vport: u16,
    pub fwmark: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnEventKind {
    /// A conn entered the table (scheduled here, or imported: then `flags` has SYNCED).
    Created,
    /// A persistence template entered the table.
    TemplateCreated,
    /// The protocol state changed (`record.state` is the new one).
    State,
    /// It left the table: expired, released for a reused tuple, evicted or dropped by a
    /// defence.
    Expired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnEvent {
    pub kind: ConnEventKind,
    pub record: ConnRecord,
}

/// What the feed did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedStats {
    pub capacity: u32,
    /// Events waiting to be drained.
    pub pending: u32,
    /// Events queued since the feed was enabled.
    pub queued: u64,
    /// Events dropped because the ring was full: the consumer has missed changes.
    pub overflow: u64,
}

const UNSPEC4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

impl ConnRecord {
    const EMPTY: ConnRecord = ConnRecord {
        proto: 0,
        caddr: UNSPEC4,
        cport: 0,
        vaddr: UNSPEC4,
        vport: 0,
        daddr: UNSPEC4,
        dport: 0,
        laddr: UNSPEC4,
        lport: 0,
        fwmark: 0,
        flags: ConnFlags(0),
        state: 0,
        timeout_ms: 0,
        dest: None,
        template: None,
    };

    pub fn is_template(&self) -> bool {
        self.flags.contains(ConnFlags::TEMPLATE)
    }

    /// Whether the record is IPv6 (every address in it is of the client's family).
    pub fn is_v6(&self) -> bool {
        self.caddr.is_ipv6()
    }
}

/// The flag bits a record carries; the rest are the table's bookkeeping.
const RECORD_FLAGS: u16 = ConnFlags::TEMPLATE.0
    | ConnFlags::INACTIVE.0
    | ConnFlags::NOOUTPUT.0
    | ConnFlags::ONE_PACKET.0
    | ConnFlags::SYNCED.0
    | ConnFlags::FWD_BITS;

/// A fwmark template keeps its mark where the vaddr would be, and protocol 0.
fn mark_of<A: ConnAddr>(proto: u8, template: bool, vaddr: &A) -> Option<u32> {
    let a = vaddr.as_ref();
    (template && proto == 0).then(|| u32::from_be_bytes([a[0], a[1], a[2], a[3]]))
}

/// The record of `c`, whose dest has id `dest`; `table` resolves its template link (None:
/// leave it out).
pub(crate) fn record<A: ConnAddr>(
    c: &Conn<A>,
    dest: Option<DestId>,
    table: Option<&ConnTable<A>>,
) -> ConnRecord {
    let unspec = A::UNSPEC.to_ip();
    let mark = mark_of(c.proto, c.is_template(), &c.vaddr);
    let template = match table {
        Some(t) if !c.is_template() && c.control != NIL => {
            let tc = t.get(c.control);
            let mark = mark_of(tc.proto, true, &tc.vaddr);
            Some(TemplateKey {
                proto: tc.proto,
                caddr: tc.caddr.to_ip(),
                vaddr: if mark.is_some() {
                    unspec
                } else {
                    tc.vaddr.to_ip()
                },
                vport: tc.vport,
                fwmark: mark.unwrap_or(0),
            })
        }
        _ => None,
    };
    let fullnat = c.flags.fwd() == crate::conn::FwdKind::FullNat && !c.is_template();
    ConnRecord {
        proto: c.proto,
        caddr: c.caddr.to_ip(),
        cport: c.cport,
        vaddr: if mark.is_some() {
            unspec
        } else {
            c.vaddr.to_ip()
        },
        vport: c.vport,
        daddr: c.daddr.to_ip(),
        dport: c.dport,
        laddr: if fullnat { c.laddr.to_ip() } else { unspec },
        lport: if fullnat { c.lport } else { 0 },
        fwmark: mark.unwrap_or(0),
        flags: ConnFlags(c.flags.0 & RECORD_FLAGS),
        state: c.state,
        timeout_ms: if c.is_template() { c.timeout_ms } else { 0 },
        dest,
        template,
    }
}

/// The ring. Oldest events are kept and the newest dropped on overflow, so that what a
/// consumer reads is a prefix of what happened, in order.
pub(crate) struct Feed {
    ring: Box<[ConnEvent]>,
    head: usize,
    len: usize,
    stats: FeedStats,
}

impl Feed {
    pub fn new(capacity: u32) -> Feed {
        let capacity = capacity.max(1);
        let empty = ConnEvent {
            kind: ConnEventKind::Expired,
            record: ConnRecord::EMPTY,
        };
        Feed {
            ring: vec![empty; capacity as usize].into_boxed_slice(),
            head: 0,
            len: 0,
            stats: FeedStats {
                capacity,
                ..FeedStats::default()
            },
        }
    }

    #[inline]
    pub fn push(&mut self, kind: ConnEventKind, record: ConnRecord) {
        if self.len == self.ring.len() {
            self.stats.overflow += 1;
            return;
        }
        let mut at = self.head + self.len;
        if at >= self.ring.len() {
            at -= self.ring.len();
        }
        self.ring[at] = ConnEvent { kind, record };
        self.len += 1;
        self.stats.queued += 1;
    }

    /// Move up to `max` of the oldest events to `out`; returns how many.
    pub fn drain(&mut self, out: &mut Vec<ConnEvent>, max: usize) -> usize {
        let n = self.len.min(max);
        for _ in 0..n {
            out.push(self.ring[self.head]);
            self.head += 1;
            if self.head == self.ring.len() {
                self.head = 0;
            }
        }
        self.len -= n;
        n
    }

    pub fn stats(&self) -> FeedStats {
        FeedStats {
            pending: self.len as u32,
            ..self.stats
        }
    }
}
