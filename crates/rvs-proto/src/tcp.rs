//! TCP: IPVS's eleven-state tracker (`ip_vs_proto_tcp.c`).
//!
//! IPVS does not follow sequence numbers; it classifies each packet by one flag (RST, then
//! SYN, then FIN, then ACK: [`TcpEvent::from_flags`]) and looks the next state up in a
//! `[direction][event][state]` table. There are two tables: [`TCP_STATES`] and the
//! stricter [`TCP_STATES_DOS`] used while the `secure_tcp` defence is on.

use crate::{state_dir, Dir};
use core::fmt;

/// TCP header flag bits (byte 13 of the header), as the engine passes them in.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

/// `IP_VS_TCP_S_*`, in the kernel's order (the discriminant is the value IPVS stores in
/// `cp->state` and sends in sync messages).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    None = 0,
    Established,
    SynSent,
    SynRecv,
    FinWait,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Synack,
}

impl TcpState {
    /// `IP_VS_TCP_S_LAST`.
    pub const COUNT: usize = 11;

    /// Every state, indexed by its value.
    pub const ALL: [TcpState; TcpState::COUNT] = [
        TcpState::None,
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Synack,
    ];

    #[inline]
    pub const fn from_u8(v: u8) -> Option<Self> {
        if (v as usize) < Self::COUNT {
            Some(Self::ALL[v as usize])
        } else {
            None
        }
    }

    /// `tcp_state_name_table`: what `ipvsadm -Lnc` prints.
    #[inline]
    pub const fn name(self) -> &'static str {
        TCP_STATE_NAMES[self as usize]
    }

    /// `tcp_state_active`: whether the conn counts in `dest->activeconns`.
    #[inline]
    pub const fn is_active(self) -> bool {
        TCP_STATE_ACTIVE[self as usize]
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `tcp_state_name_table`, indexed by state.
pub const TCP_STATE_NAMES: [&str; TcpState::COUNT] = [
    "NONE",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "SYNACK",
];

/// `tcp_state_name`: the name of a raw state value; `"ERR!"` past the last state.
pub const fn tcp_state_name(state: u8) -> &'static str {
    match TcpState::from_u8(state) {
        Some(s) => s.name(),
        None => "ERR!",
    }
}

/// `tcp_state_active_table`, indexed by state: the pre-established states count as
/// active so that lc/wlc see a SYN flood landing on a server.
pub const TCP_STATE_ACTIVE: [bool; TcpState::COUNT] = [
    false, // NONE
    true,  // ESTABLISHED
    true,  // SYN_SENT
    true,  // SYN_RECV
    false, // FIN_WAIT
    false, // TIME_WAIT
    false, // CLOSE
    false, // CLOSE_WAIT
    false, // LAST_ACK
    false, // LISTEN
    true,  // SYNACK
];

/// The event a TCP packet feeds the table: its row within a direction (`tcp_state_idx`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpEvent {
    Syn = 0,
    Fin = 1,
    Ack = 2,
    Rst = 3,
}

impl TcpEvent {
    pub const COUNT: usize = 4;
    pub const ALL: [TcpEvent; TcpEvent::COUNT] =
        [TcpEvent::Syn, TcpEvent::Fin, TcpEvent::Ack, TcpEvent::Rst];

    /// `tcp_state_idx`: the first of RST, SYN, FIN, ACK that is set, so SYN+ACK is a SYN,
    /// FIN+ACK a FIN and RST+anything a RST. `None` when none of the four is set (a bare
    /// PSH/URG/ECE/CWR or a null packet); see [`tcp_transition`] for what that does.
    #[inline]
    pub const fn from_flags(flags: u8) -> Option<Self> {
        if flags & RST != 0 {
            Some(TcpEvent::Rst)
        } else if flags & SYN != 0 {
            Some(TcpEvent::Syn)
        } else if flags & FIN != 0 {
            Some(TcpEvent::Fin)
        } else if flags & ACK != 0 {
            Some(TcpEvent::Ack)
        } else {
            None
        }
    }
}

/// A TCP state table: `[dir][event][state] → next state`. The kernel lays the same data
/// out as twelve rows, `tcp_state_off[dir] + tcp_state_idx(th)` (offsets 0, 4, 8).
pub type TcpTable = [[[TcpState; TcpState::COUNT]; TcpEvent::COUNT]; Dir::COUNT];

// The kernel's column abbreviations, so the tables below read like the C source. No
// transition leads back to NONE, so `sNO` never appears as a cell.
const ES: TcpState = TcpState::Established;
const SS: TcpState = TcpState::SynSent;
const SR: TcpState = TcpState::SynRecv;
const FW: TcpState = TcpState::FinWait;
const TW: TcpState = TcpState::TimeWait;
const CL: TcpState = TcpState::Close;
const CW: TcpState = TcpState::CloseWait;
const LA: TcpState = TcpState::LastAck;
const LI: TcpState = TcpState::Listen;
const SA: TcpState = TcpState::Synack;

/// `tcp_states`: the table in use while `secure_tcp` is off (the default).
///
/// Newer kernels let an input ACK take NONE to ESTABLISHED (the `ack` rows of INPUT and
/// INPUT-ONLY, first column), so a conn picked up mid-stream (`sloppy_tcp`, or after a
/// failover) becomes established at once; older kernels had CLOSE there.
#[rustfmt::skip]
pub const TCP_STATES: TcpTable = [
    // INPUT
    //     NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR], // syn
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW], // fin
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // ack
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR], // rst
    ],
    // OUTPUT
    //     NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [
        [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR], // syn
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW], // fin
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES], // ack
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL], // rst
    ],
    // INPUT-ONLY
    //     NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR], // syn
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW], // fin
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // ack
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // rst
    ],
];

/// `tcp_states_dos`: the table in use while the `secure_tcp` defence is on.
///
/// It differs from [`TCP_STATES`] in fifteen cells, all about the handshake. With NAT
/// (INPUT/OUTPUT), a client ACK no longer establishes a SYN_RECV conn, SYNACK ignores
/// client SYN/FIN/ACK (RST closes it), and only the real server's answer gets the conn to
/// ESTABLISHED (OUTPUT SYN: SYN_RECV → SYNACK, then OUTPUT ACK → ESTABLISHED).
/// With DR/TUN (INPUT-ONLY), a client SYN parks the conn in SYNACK instead of SYN_RECV;
/// the client's ACK still establishes it. Spoofed NAT handshakes thus stay half-open,
/// where `drop_entry` reaps them, instead of filling ESTABLISHED.
///
/// When the table is in force: the `secure_tcp` sysctl follows the 0/1/2/3 scheme of
/// [`crate::update_defense_level`] (0 off, 1 automatic and idle, 2 automatic and engaged
/// because memory ran short, 3 always); IPVS switches to this table while the level is
/// 2 or 3 and back when it falls to 0 or 1. The decision and its pressure signal belong
/// to the engine; it passes the result to [`tcp_transition`] as `secure_tcp`.
#[rustfmt::skip]
pub const TCP_STATES_DOS: TcpTable = [
    // INPUT
    //     NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA], // syn
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA], // fin
        [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA], // ack
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // rst
    ],
    // OUTPUT
    //     NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [
        [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA], // syn
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW], // fin
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES], // ack
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL], // rst
    ],
    // INPUT-ONLY
    //     NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [
        [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA], // syn
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW], // fin
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // ack
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // rst
    ],
];

/// The state after one packet, as `set_tcp_state` computes it.
///
/// `dir` must already reflect the NOOUTPUT rule ([`crate::state_dir`]); `tcp_flags` is
/// the raw flags byte; `secure_tcp` selects [`TCP_STATES_DOS`].
///
/// A packet with none of RST/SYN/FIN/ACK does not leave the state alone: `set_tcp_state`
/// starts from `new_state = IP_VS_TCP_S_CLOSE` and skips the table lookup, so such a
/// packet moves the conn to CLOSE (and its 10 s timeout).
#[inline]
pub const fn tcp_transition(
    state: TcpState,
    dir: Dir,
    tcp_flags: u8,
    secure_tcp: bool,
) -> TcpState {
    match TcpEvent::from_flags(tcp_flags) {
        Some(ev) => {
            let table = if secure_tcp {
                &TCP_STATES_DOS
            } else {
                &TCP_STATES
            };
            table[dir as usize][ev as usize][state as usize]
        }
        None => TcpState::Close,
    }
}

/// The whole of `set_tcp_state` except the counters and the timer: applies the NOOUTPUT
/// rule to `nooutput` (the conn's `IP_VS_CONN_F_NOOUTPUT`), then [`tcp_transition`].
///
/// The engine then re-arms the timer with [`crate::Timeouts::tcp`] of the result (even
/// when the state did not change) and applies [`crate::activity_change`].
#[inline]
pub fn set_tcp_state(
    state: TcpState,
    nooutput: &mut bool,
    is_output: bool,
    tcp_flags: u8,
    secure_tcp: bool,
) -> TcpState {
    let dir = state_dir(nooutput, is_output);
    tcp_transition(state, dir, tcp_flags, secure_tcp)
}
