//! Conn state transitions (IPVS `ip_vs_proto_tcp.c`, `ip_vs_proto_sctp.c` and
//! `ip_vs_proto_udp.c`'s `state_transition`). The state machines themselves live in
//! rvs-proto; this applies their result to a conn: its state, its dest's active/inactive
//! counters and its timer. Apart from the packet path because it is the one place a conn's
//! state changes.

use crate::conn::{tick_of, Conn, ConnAddr, ConnFlags, NIL};
use crate::rt::{defence_on, Core};
use rvs_proto::{sctp, tcp, Proto};
use rvs_wire::frame::FrameInfo;
use rvs_wire::ip_proto;

impl Core {
    /// Advance the protocol state machine and re-arm the timeout (IPVS `set_tcp_state`,
    /// `set_sctp_state`, `udp_state_transition`). `l4` is the transport header and payload.
    pub(crate) fn transition<A: ConnAddr>(
        &mut self,
        c: &mut Conn<A>,
        output: bool,
        fi: &FrameInfo,
        l4: &[u8],
        now: u64,
    ) -> Transition {
        let mut embryonic = false;
        let mut noout = c.flags.contains(ConnFlags::NOOUTPUT);
        let (proto, old, new) = match c.proto {
            ip_proto::TCP => {
                let secure = defence_on(self.cfg.settings().secure_tcp, self.pressure);
                let old = tcp::TcpState::from_u8(c.state).unwrap_or(tcp::TcpState::None);
                let new = tcp::set_tcp_state(old, &mut noout, output, fi.tcp_flags, secure);
                embryonic = new == tcp::TcpState::SynRecv && old != new;
                (Proto::Tcp, old as u8, new as u8)
            }
            ip_proto::SCTP => {
                let old = sctp::SctpState::from_u8(c.state).unwrap_or(sctp::SctpState::None);
                // No complete chunk: the kernel leaves state, flag and timer alone.
                let Some(new) =
                    sctp::set_sctp_state(old, &mut noout, output, l4.get(12..).unwrap_or(&[]))
                else {
                    return Transition::default();
                };
                (Proto::Sctp, old as u8, new as u8)
            }
            _ => (Proto::Udp, 0, 0),
        };
        if !noout {
            c.flags.remove(ConnFlags::NOOUTPUT);
        }
        let changed = new != old;
        if changed {
            c.state = new;
            match rvs_proto::activity_change(proto, c.flags.contains(ConnFlags::INACTIVE), old, new)
            {
                Some(rvs_proto::ActivityChange::ToActive) => self.set_active(c, true),
                Some(rvs_proto::ActivityChange::ToInactive) => self.set_active(c, false),
                None => {}
            }
        }
        let s = &self.cfg.settings();
        let timeout_s = s.timeouts.for_state(proto, new);
        let mut expires_ms =
            now + (timeout_s as u64 * 1000).min(crate::conn::MAX_TIMEOUT_MS as u64);
        if c.proto == ip_proto::UDP && c.dest != NIL {
            // A UDP "conn" never ends by itself; do not let it pin a dead server forever.
            let d = &self.dests[c.dest as usize];
            if let Some(since) = d.unavail_since {
                // Never in the past: a deadline older than the wrapping clock's range would
                // read as far in the future.
                expires_ms = expires_ms
                    .min(since + s.udp_nodest_grace_s as u64 * 1000)
                    .max(now);
            }
        }
        c.expires = tick_of(expires_ms);
        Transition { embryonic, changed }
    }
}

/// What a packet did to its conn's state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Transition {
    /// It just became embryonic (SYN_RECV), for eviction under pressure.
    pub embryonic: bool,
    /// The state changed (an event for the change feed).
    pub changed: bool,
}
