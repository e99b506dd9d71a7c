//! Adoption of a conn table left in shared memory by a previous engine (a crashed or
//! upgraded rvsd): the part of IPVS's `ip_vs_conn.c` that a kernel never needs, since its
//! table outlives the daemon anyway. Apart from the packet path because it runs once, at
//! start.

use crate::config::{Config, SvcKey};
use crate::conn::{Conn, ConnAddr, ConnFlags, ConnTable, NIL};
use crate::engine::{Engine, EngineOptions};
use crate::net::NetView;
use crate::rt::Core;
use arc_swap::ArcSwap;
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
    let v6 = core::mem::size_of::<A>() == 16;
    let slots = table.slots_mut();
    let mut kept = vec![false; slots.len()];
    for (i, c) in slots.iter_mut().enumerate() {
        if !c.flags.contains(ConnFlags::IN_USE) {
            continue;
        }
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
        let daddr = c.daddr.to_ip();
        let slot = svc.and_then(|si| {
            core.svcs[si].dest_slots.iter().copied().find(|&d| {
                let d = &core.dests[d as usize].cfg;
                d.addr == daddr && (d.port == c.dport || d.port == 0)
            })
        });
        match slot {
            Some(slot) => {
                c.dest = slot;
                c.expires = (c.expires as i64).wrapping_add(shift) as u32;
                kept[i] = true;
                report.kept += 1;
            }
            None => report.orphaned += 1,
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
