//! Persistence templates (IPVS `ip_vs_sched_persist` in `ip_vs_core.c` and
//! `ip_vs_check_template` in `ip_vs_conn.c`): a client's template pins its later conns to
//! one dest. Apart from the packet path because only persistent services use it.

use crate::config::{Persistence, SvcKey};
use crate::conn::{tick_of, Conn, ConnAddr, ConnFlags, ConnKey, ConnTable, NIL};
use crate::feed::ConnEventKind;
use crate::rt::Core;
use crate::verdict::{DropReason, Verdict};
use rvs_wire::frame::FrameInfo;

impl Core {
    pub(crate) fn release_template_ref<A: ConnAddr>(
        &mut self,
        _table: &mut ConnTable<A>,
        _template: u32,
    ) {
        // The template's n_control is only raised once its conn is in the table, so a
        // failed conn leaves nothing to undo; the template expires on its own timer.
    }

    /// IPVS `ip_vs_sched_persist`: reuse the client's template, or schedule and make one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sched_persist<A: ConnAddr>(
        &mut self,
        table: &mut ConnTable<A>,
        si: usize,
        svc_key: SvcKey,
        fi: &FrameInfo,
        src: A,
        dst: A,
        p: Persistence,
        now: u64,
    ) -> Result<(u32, u32), Verdict> {
        let tnow = tick_of(now);
        let snet = src.masked(p.prefix);
        let (tproto, tvaddr, tvport) = match svc_key {
            SvcKey::Fwmark { mark, .. } => (0, A::from_mark(mark), 0),
            SvcKey::Addr { port, .. } => {
                (fi.protocol, dst, if fi.dport == port { port } else { 0 })
            }
        };
        let key = ConnKey {
            proto: tproto,
            template: true,
            a1: snet,
            p1: 0,
            a2: tvaddr,
            p2: tvport,
        };
        if let Some(ti) = table.find_in(&key) {
            let t = *table.get(ti);
            if t.expired(tnow) {
                self.release(table, ti);
            } else if !self.template_valid(t.dest) {
                self.invalidate_template(table, ti);
            } else {
                let t = table.get_mut(ti);
                t.expires = tnow.wrapping_add(t.timeout_ms);
                return Ok((t.dest, ti));
            }
        }
        let Some(slot) = self.pick(si, fi, now) else {
            return Err(Verdict::Drop(DropReason::NoDest));
        };
        let d = &self.dests[slot as usize];
        let mut t = Conn::<A>::EMPTY;
        t.caddr = snet;
        t.vaddr = tvaddr;
        t.vport = tvport;
        t.daddr = A::from_ip(d.cfg.addr).unwrap_or(A::UNSPEC);
        t.dport = d.cfg.port;
        t.proto = tproto;
        t.dest = slot;
        t.control = 0;
        t.flags.insert(ConnFlags::TEMPLATE);
        t.flags.set_fwd(d.cfg.fwd.kind());
        t.timeout_ms = p
            .timeout_s
            .saturating_mul(1000)
            .min(crate::conn::MAX_TIMEOUT_MS);
        t.expires = tnow.wrapping_add(t.timeout_ms);
        match self.bind_insert(table, t, tnow) {
            Ok(ti) => {
                if self.feed.is_some() {
                    self.emit(table, ConnEventKind::TemplateCreated, &t);
                }
                Ok((slot, ti))
            }
            Err(_) => Err(Verdict::Drop(DropReason::TableFull)),
        }
    }

    /// IPVS `ip_vs_check_template`: the template's dest must still be in the service, and
    /// not quiescent when expire_quiescent_template is set.
    pub(crate) fn template_valid(&self, slot: u32) -> bool {
        if slot == NIL {
            return false;
        }
        let d = &self.dests[slot as usize];
        d.available() && !(self.cfg.settings().expire_quiescent_template && d.cfg.weight == 0)
    }

    /// Make a template unfindable while the conns it controls finish (IPVS re-hashes it
    /// with vport 0xffff for the same reason, `ip_vs_check_template`).
    pub(crate) fn invalidate_template<A: ConnAddr>(&mut self, table: &mut ConnTable<A>, ti: u32) {
        if table.get(ti).control == 0 {
            self.release(table, ti);
            return;
        }
        table.rekey(ti, |t| {
            t.vport = 0xffff;
            t.dport = 0xffff;
            t.cport = 0;
        });
    }
}
