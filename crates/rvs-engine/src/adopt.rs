//! Adoption of a conn table left in shared memory by a previous engine (a crashed or
//! upgraded rvsd): the part of IPVS's `ip_vs_conn.c` that a kernel never needs, since its
//! table outlives the daemon anyway. Apart from the packet path because it runs once, at
//! start.

use crate::config::{Config, SvcKey};
use crate::conn::{tick_of, Conn, ConnAddr, ConnFlags, ConnKey, ConnTable, FwdKind, NIL};
use crate::engine::{Engine, EngineOptions, Family};
use crate::feed::{ConnEventKind, ConnRecord};
use crate::net::NetView;
use crate::rt::Core;
use arc_swap::ArcSwap;
use core::net::IpAddr;
use rvs_proto::Proto;
use std::sync::Arc;

/// Conn-table memory the embedder provides (see [`Engine::with_conn_memory`]).
pub struct ConnMemory {
    pub v4: &'static mut [Conn<[u8; 4]>],
    pub v6: &'static mut [Conn<[u8; 16]>],
    /// `None` for fresh memory. For memory a previous engine left: what to add to its
    /// deadlines to put them on this engine's clock (its `now_ms` origin minus ours).
    pub clock_shift_ms: Option<i64>,
}

/// What adopting a previous engine's conns gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Adopted {
    /// Conns and templates taken over.
    pub kept: u32,
    /// Entries dropped: their service or real server is no longer configured.
    pub orphaned: u32,
}

impl Engine {
    /// An engine whose conn tables live in `mem`. Memory that a previous engine (a crashed
    /// or upgraded rvsd) left is adopted: every entry whose service and real server still
    /// exist in `config` keeps forwarding as before, its deadline moved onto this clock.
    pub fn with_conn_memory(
        config: Arc<ArcSwap<Config>>,
        net: Arc<dyn NetView>,
        opts: EngineOptions,
        mem: ConnMemory,
    ) -> (Self, Adopted) {
        let mut e = Engine::new_with(
            config,
            net,
            opts,
            ConnTable::with_entries(crate::conn::Entries::External(mem.v4), opts.seed),
            ConnTable::with_entries(
                crate::conn::Entries::External(mem.v6),
                opts.seed.rotate_left(17),
            ),
        );
        let shift = mem.clock_shift_ms;
        let mut report = Adopted::default();
        let core = &mut e.core;
        adopt(core, &mut e.conns4, shift, &mut report);
        adopt(core, &mut e.conns6, shift, &mut report);
        (e, report)
    }
}

/// Why an entry has no home in the current config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("no such service in the current config")]
    NoService,
    #[error("the service has no such real server")]
    NoDest,
    #[error("the record mixes IPv4 and IPv6 addresses")]
    Family,
    #[error("malformed record: {0}")]
    Malformed(&'static str),
    #[error("the conn table is full")]
    TableFull,
    #[error("another conn already uses that reply tuple (FULLNAT local port)")]
    ReplyTupleTaken,
}

/// What an import did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Imported {
    /// A new entry.
    Inserted,
    /// An entry with the same tuple was brought up to date (IPVS sync does the same).
    Updated,
}

/// Point an entry at its dest slot in the current config, matched by address (dest slots
/// are per process): its service by protocol, vaddr and vport (a template by its key, a
/// fwmark template by its mark), then the real server by daddr and dport. Adoption and
/// import both bind through this.
fn rehome<A: ConnAddr>(core: &Core, c: &mut Conn<A>) -> Result<(), ImportError> {
    let v6 = core::mem::size_of::<A>() == 16;
    let svc = if c.is_template() && c.proto == 0 {
        let a = c.vaddr.as_ref();
        let mark = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
        core.cfg.find_by_key(&SvcKey::Fwmark { mark, v6 })
    } else if c.is_template() {
        Proto::from_number(c.proto).and_then(|proto| {
            core.cfg.find_by_key(&SvcKey::Addr {
                proto,
                addr: c.vaddr.to_ip(),
                port: c.vport,
            })
        })
    } else {
        core.cfg.find_service(c.proto, c.vaddr.to_ip(), c.vport)
    };
    let si = svc.ok_or(ImportError::NoService)?;
    let daddr = c.daddr.to_ip();
    c.dest = core.svcs[si]
        .dest_slots
        .iter()
        .copied()
        .find(|&d| {
            let d = &core.dests[d as usize].cfg;
            d.addr == daddr && (d.port == c.dport || d.port == 0)
        })
        .ok_or(ImportError::NoDest)?;
    Ok(())
}

impl Engine {
    /// Insert a conn or template from an external record (a sync peer's, or another
    /// engine's export), marked SYNCED and bound to the current config's service and real
    /// server by address, exactly as adoption binds a previous engine's entries. Its timer
    /// is armed with `record.timeout_ms` from `now_ms`. A conn's template, if the record
    /// names one, must be imported first (exports list templates first); otherwise the
    /// conn is imported unbound. A record whose tuple is already in the table updates that
    /// entry instead of adding a second one.
    pub fn import(&mut self, rec: &ConnRecord, now_ms: u64) -> Result<Imported, ImportError> {
        self.refresh(now_ms);
        if rec.is_v6() {
            import::<[u8; 16]>(self, rec, now_ms)
        } else {
            import::<[u8; 4]>(self, rec, now_ms)
        }
    }
}

fn addr<A: ConnAddr>(ip: IpAddr) -> Result<A, ImportError> {
    A::from_ip(ip).ok_or(ImportError::Family)
}

/// The table entry a record describes, not yet bound to a dest or a template.
fn entry_of<A: ConnAddr>(rec: &ConnRecord) -> Result<Conn<A>, ImportError> {
    let template = rec.is_template();
    let fwmark_template = template && rec.proto == 0;
    if !fwmark_template && Proto::from_number(rec.proto).is_none() {
        return Err(ImportError::Malformed("protocol"));
    }
    if rec.flags.contains(ConnFlags::ONE_PACKET) {
        return Err(ImportError::Malformed(
            "one-packet conns are never in a table",
        ));
    }
    let mut c = Conn::<A>::EMPTY;
    c.proto = rec.proto;
    c.caddr = addr(rec.caddr)?;
    c.cport = rec.cport;
    c.vaddr = if fwmark_template {
        if rec.vaddr.is_ipv6() != rec.caddr.is_ipv6() {
            return Err(ImportError::Family);
        }
        A::from_mark(rec.fwmark)
    } else {
        addr(rec.vaddr)?
    };
    c.vport = rec.vport;
    c.daddr = addr(rec.daddr)?;
    c.dport = rec.dport;
    let fwd = rec.flags.fwd();
    if fwd == FwdKind::FullNat && !template {
        c.laddr = addr(rec.laddr)?;
        c.lport = rec.lport;
    } else if rec.laddr.is_ipv6() != rec.caddr.is_ipv6() {
        return Err(ImportError::Family);
    }
    let keep = ConnFlags::TEMPLATE.0 | ConnFlags::INACTIVE.0 | ConnFlags::NOOUTPUT.0;
    c.flags = ConnFlags(rec.flags.0 & keep);
    c.flags.set_fwd(fwd);
    c.flags.insert(ConnFlags::SYNCED);
    if !template && fwd.sees_replies() {
        c.flags.insert(ConnFlags::OUT_HASHED);
    }
    c.state = rec.state;
    c.timeout_ms = rec.timeout_ms.min(crate::conn::MAX_TIMEOUT_MS);
    c.control = if template { 0 } else { NIL };
    Ok(c)
}

fn import<A: Family>(
    e: &mut Engine,
    rec: &ConnRecord,
    now_ms: u64,
) -> Result<Imported, ImportError> {
    let (core, table) = A::split(e);
    let mut c = entry_of::<A>(rec)?;
    rehome(core, &mut c)?;
    let tnow = tick_of(now_ms);
    c.expires = tnow.wrapping_add(c.timeout_ms);
    if let Some(tk) = rec.template.filter(|_| !c.is_template()) {
        let key = ConnKey {
            proto: tk.proto,
            template: true,
            a1: addr(tk.caddr)?,
            p1: 0,
            a2: if tk.proto == 0 {
                A::from_mark(tk.fwmark)
            } else {
                addr(tk.vaddr)?
            },
            p2: tk.vport,
        };
        if let Some(ti) = table
            .find_in(&key)
            .filter(|&ti| !table.get(ti).expired(tnow))
        {
            c.control = ti;
        }
    }
    let mut outcome = Imported::Inserted;
    if let Some(i) = table.find_in(&c.in_key()) {
        let old = *table.get(i);
        let same = !old.expired(tnow)
            && old.dest == c.dest
            && old.flags.fwd() == c.flags.fwd()
            && (old.is_template() || (old.control == c.control && old.out_key() == c.out_key()));
        if same {
            let cur = table.get_mut(i);
            if !cur.is_template() {
                core.set_active(cur, !c.flags.contains(ConnFlags::INACTIVE));
            }
            cur.state = c.state;
            cur.timeout_ms = c.timeout_ms;
            cur.expires = c.expires;
            cur.flags.remove(ConnFlags::NOOUTPUT);
            let keep = ConnFlags::NOOUTPUT.0 | ConnFlags::SYNCED.0;
            cur.flags.insert(ConnFlags(c.flags.0 & keep));
            let cur = *cur;
            core.emit(table, ConnEventKind::State, &cur);
            return Ok(Imported::Updated);
        }
        if old.is_template() {
            // Conns it controls keep their link; it just stops being found (IPVS re-hashes
            // an invalid template the same way).
            core.invalidate_template(table, i);
        } else {
            core.release(table, i);
        }
        outcome = Imported::Updated;
    }
    if c.flags.contains(ConnFlags::OUT_HASHED) {
        if let Some(j) = table.find_out(&c.out_key()) {
            if !table.get(j).expired(tnow) {
                return Err(ImportError::ReplyTupleTaken);
            }
            core.release(table, j);
        }
    }
    let Ok(i) = core.bind_insert(table, c, tnow) else {
        return Err(ImportError::TableFull);
    };
    if !c.is_template() && c.control != NIL {
        let t = table.get_mut(c.control);
        if t.is_template() {
            t.control = t.control.saturating_add(1);
        }
    }
    if c.is_embryonic() {
        table.note_embryonic(i);
    }
    let kind = if c.is_template() {
        ConnEventKind::TemplateCreated
    } else {
        ConnEventKind::Created
    };
    core.emit(table, kind, &c);
    Ok(outcome)
}

#[inline]
/// Take over the entries a previous engine left in `table`'s memory: map each to this
/// engine's service and dest by address (dest slots are per-process), shift its deadline,
/// drop what no longer has a home, then rebuild the indexes and the dest counters.
fn adopt<A: ConnAddr>(
    core: &mut Core,
    table: &mut ConnTable<A>,
    shift: Option<i64>,
    report: &mut Adopted,
) {
    let Some(shift) = shift else {
        table.rebuild(|_, _| false);
        return;
    };
    let slots = table.slots_mut();
    let mut kept = vec![false; slots.len()];
    for (i, c) in slots.iter_mut().enumerate() {
        if !c.flags.contains(ConnFlags::IN_USE) {
            continue;
        }
        match rehome(core, c) {
            Ok(()) => {
                c.expires = (c.expires as i64).wrapping_add(shift) as u32;
                kept[i] = true;
                report.kept += 1;
            }
            Err(_) => report.orphaned += 1,
        }
    }
    // Templates count the conns they control; recount over what stayed.
    for (i, c) in slots.iter_mut().enumerate() {
        if kept[i] && c.is_template() {
            c.control = 0;
        }
    }
    for i in 0..slots.len() {
        let c = slots[i];
        if !kept[i] || c.is_template() || c.control == NIL {
            continue;
        }
        let t = c.control as usize;
        if t < slots.len() && kept[t] && slots[t].is_template() {
            slots[t].control += 1;
        } else {
            slots[i].control = NIL;
        }
    }
    table.rebuild(|i, _| kept[i as usize]);
    let live: Vec<(u32, ConnFlags)> = table.iter().map(|(_, c)| (c.dest, c.flags)).collect();
    for (slot, flags) in live {
        core.bind(slot, flags);
    }
}
