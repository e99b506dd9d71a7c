//! Per-state conn timeouts, in seconds (`tcp_timeouts`, `udp_timeouts`, `sctp_timeouts`).
//!
//! The kernel keeps one copy of each table per netns (`pd->timeout_table`, in jiffies);
//! rvs keeps one [`Timeouts`] per configuration snapshot. After every state transition,
//! and on every packet even when the state did not change, IPVS sets
//! `cp->timeout = pd->timeout_table[cp->state]`: the engine does the same with
//! [`Timeouts::for_state`].

use crate::sctp::SctpState;
use crate::tcp::TcpState;
use crate::Proto;

/// `tcp_timeouts`, indexed by [`TcpState`], in seconds.
pub const TCP_TIMEOUTS: [u32; TcpState::COUNT] = [
    2,       // NONE
    15 * 60, // ESTABLISHED
    2 * 60,  // SYN_SENT
    60,      // SYN_RECV
    2 * 60,  // FIN_WAIT
    2 * 60,  // TIME_WAIT
    10,      // CLOSE
    60,      // CLOSE_WAIT
    30,      // LAST_ACK
    2 * 60,  // LISTEN
    120,     // SYNACK
];

/// `udp_timeouts[IP_VS_UDP_S_NORMAL]`, in seconds.
pub const UDP_TIMEOUT: u32 = 5 * 60;

/// `IP_VS_SCTP_MAX_RTO`: RFC 4960's RTO.Max (60 s) plus one second.
pub const SCTP_MAX_RTO: u32 = 60 + 1;

/// `sctp_timeouts`, indexed by [`SctpState`], in seconds.
pub const SCTP_TIMEOUTS: [u32; SctpState::COUNT] = [
    2,            // NONE
    3 + 1,        // INIT1: (0 + 3 + 1) s, RTO.Initial + 1
    SCTP_MAX_RTO, // INIT
    SCTP_MAX_RTO, // COOKIE_SENT
    SCTP_MAX_RTO, // COOKIE_REPLIED
    SCTP_MAX_RTO, // COOKIE_WAIT
    SCTP_MAX_RTO, // COOKIE
    SCTP_MAX_RTO, // COOKIE_ECHOED
    15 * 60,      // ESTABLISHED
    SCTP_MAX_RTO, // SHUTDOWN_SENT
    SCTP_MAX_RTO, // SHUTDOWN_RECEIVED
    SCTP_MAX_RTO, // SHUTDOWN_ACK_SENT
    3 + 1,        // REJECTED
    SCTP_MAX_RTO, // CLOSED
];

/// The `[IP_VS_*_S_LAST]` entry every kernel timeout table ends with (2 s); returned for a
/// state value past the protocol's last state.
pub const LAST_TIMEOUT: u32 = 2;

/// The timeout `ip_vs_conn_new` gives a conn before its first transition (`3*HZ`). The
/// packet that created it is then run through the state table, so this is only ever
/// seen by a conn created without a packet (e.g. by the control plane).
pub const NEW_CONN_TIMEOUT: u32 = 3;

/// The largest value `ipvsadm --set` (and `-p`) accepts: `MAX_TIMEOUT`, 31 days. The
/// kernel itself refuses values above `INT_MAX / HZ` with EINVAL (`ip_vs_set_timeout`).
pub const MAX_TIMEOUT: u32 = 86400 * 31;

/// The timeout tables of one director, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeouts {
    pub tcp: [u32; TcpState::COUNT],
    pub udp: u32,
    pub sctp: [u32; SctpState::COUNT],
}

impl Default for Timeouts {
    /// The kernel's compiled-in tables ([`TCP_TIMEOUTS`], [`UDP_TIMEOUT`],
    /// [`SCTP_TIMEOUTS`]), which every new netns starts from.
    fn default() -> Self {
        Timeouts {
            tcp: TCP_TIMEOUTS,
            udp: UDP_TIMEOUT,
            sctp: SCTP_TIMEOUTS,
        }
    }
}

impl Timeouts {
    #[inline]
    pub const fn tcp(&self, s: TcpState) -> u32 {
        self.tcp[s as usize]
    }

    #[inline]
    pub const fn sctp(&self, s: SctpState) -> u32 {
        self.sctp[s as usize]
    }

    /// `ipvsadm --set tcp tcpfin udp` (`IP_VS_SO_SET_TIMEOUT` / `IPVS_CMD_SET_CONFIG`,
    /// handled by `ip_vs_set_timeout`): `tcp` sets ESTABLISHED, `tcpfin` sets FIN_WAIT,
    /// `udp` sets the UDP timeout; a 0 leaves that value unchanged. No other state (and
    /// nothing SCTP) can be set this way. Range checks (ipvsadm: [`MAX_TIMEOUT`]; kernel:
    /// `INT_MAX / HZ`) belong to the control plane. Conns already in a state keep their
    /// timer until their next packet.
    pub fn set(&mut self, tcp: u32, tcpfin: u32, udp: u32) {
        if tcp != 0 {
            self.tcp[TcpState::Established as usize] = tcp;
        }
        if tcpfin != 0 {
            self.tcp[TcpState::FinWait as usize] = tcpfin;
        }
        if udp != 0 {
            self.udp = udp;
        }
    }

    /// `ipvsadm -L --timeout` (`__ip_vs_get_timeouts`): `(tcp, tcpfin, udp)` =
    /// (ESTABLISHED, FIN_WAIT, UDP).
    #[inline]
    pub const fn get(&self) -> (u32, u32, u32) {
        (
            self.tcp[TcpState::Established as usize],
            self.tcp[TcpState::FinWait as usize],
            self.udp,
        )
    }

    /// `pd->timeout_table[state]`: the timeout a conn of `proto` gets on entering (or
    /// staying in) `state`. Every UDP conn gets the UDP timeout whatever its state value
    /// (`udp_state_transition` always uses `IP_VS_UDP_S_NORMAL`); a TCP or SCTP state past
    /// the last one gets [`LAST_TIMEOUT`].
    #[inline]
    pub const fn for_state(&self, proto: Proto, state: u8) -> u32 {
        let i = state as usize;
        match proto {
            Proto::Tcp if i < TcpState::COUNT => self.tcp[i],
            Proto::Sctp if i < SctpState::COUNT => self.sctp[i],
            Proto::Udp => self.udp,
            _ => LAST_TIMEOUT,
        }
    }
}
