//! SCTP: IPVS's fourteen-state association tracker (`ip_vs_proto_sctp.c`).
//!
//! A packet is classified by its first chunk ([`sctp_event`]: `sctp_events[]`, plus one
//! look past a leading COOKIE ECHO/COOKIE ACK for a bundled ABORT) and the next state is
//! looked up in `sctp_states[direction][event][state]` ([`SCTP_STATES`]). States are "as
//! seen in the real server"; the kernel's comment on the extra states:
//! INIT1 gives a dropped first INIT a short timeout, REJECTED an INIT refused with ABORT,
//! and INIT/COOKIE_SENT/COOKIE_REPLIED/COOKIE split RFC 4960's CLOSED for debugging.
//! Unlike TCP there is no DoS table, and chunk flags (the ABORT T bit included) are not
//! consulted.

use crate::{state_dir, Dir};
use core::fmt;

/// SCTP chunk types (`SCTP_CID_*`, RFC 4960 §3.2) that `sctp_events[]` names.
pub const CID_DATA: u8 = 0;
pub const CID_INIT: u8 = 1;
pub const CID_INIT_ACK: u8 = 2;
pub const CID_SACK: u8 = 3;
pub const CID_HEARTBEAT: u8 = 4;
pub const CID_HEARTBEAT_ACK: u8 = 5;
pub const CID_ABORT: u8 = 6;
pub const CID_SHUTDOWN: u8 = 7;
pub const CID_SHUTDOWN_ACK: u8 = 8;
pub const CID_ERROR: u8 = 9;
pub const CID_COOKIE_ECHO: u8 = 10;
pub const CID_COOKIE_ACK: u8 = 11;
pub const CID_ECN_ECNE: u8 = 12;
pub const CID_ECN_CWR: u8 = 13;
pub const CID_SHUTDOWN_COMPLETE: u8 = 14;

/// Size of an SCTP chunk header (type, flags, length).
pub const CHUNK_HDR_LEN: usize = 4;

/// `IP_VS_SCTP_S_*`, in the kernel's order (the discriminant is `cp->state`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SctpState {
    None = 0,
    /// First client INIT seen, waiting for the server's INIT ACK.
    Init1,
    /// A further client INIT seen, still waiting for INIT ACK.
    Init,
    /// Server INIT ACK sent, waiting for the client's COOKIE ECHO.
    CookieSent,
    /// Client COOKIE ECHO sent, waiting for the server's COOKIE ACK.
    CookieReplied,
    /// Server-initiated: server INIT sent, waiting for the client's INIT ACK.
    CookieWait,
    /// Server-initiated: client INIT ACK sent, waiting for the server's COOKIE ECHO.
    Cookie,
    /// Server-initiated: server COOKIE ECHO sent, waiting for the client's COOKIE ACK.
    CookieEchoed,
    Established,
    ShutdownSent,
    ShutdownReceived,
    ShutdownAckSent,
    /// An INIT answered with ABORT.
    Rejected,
    Closed,
}

impl SctpState {
    /// `IP_VS_SCTP_S_LAST`.
    pub const COUNT: usize = 14;

    /// Every state, indexed by its value.
    pub const ALL: [SctpState; SctpState::COUNT] = [
        SctpState::None,
        SctpState::Init1,
        SctpState::Init,
        SctpState::CookieSent,
        SctpState::CookieReplied,
        SctpState::CookieWait,
        SctpState::Cookie,
        SctpState::CookieEchoed,
        SctpState::Established,
        SctpState::ShutdownSent,
        SctpState::ShutdownReceived,
        SctpState::ShutdownAckSent,
        SctpState::Rejected,
        SctpState::Closed,
    ];

    #[inline]
    pub const fn from_u8(v: u8) -> Option<Self> {
        if (v as usize) < Self::COUNT {
            Some(Self::ALL[v as usize])
        } else {
            None
        }
    }

    /// `sctp_state_name_table`: what `ipvsadm -Lnc` prints.
    #[inline]
    pub const fn name(self) -> &'static str {
        SCTP_STATE_NAMES[self as usize]
    }

    /// Whether the conn counts in `dest->activeconns`: ESTABLISHED only.
    #[inline]
    pub const fn is_active(self) -> bool {
        matches!(self, SctpState::Established)
    }
}

impl fmt::Display for SctpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `sctp_state_name_table`, indexed by state.
pub const SCTP_STATE_NAMES: [&str; SctpState::COUNT] = [
    "NONE",
    "INIT1",
    "INIT",
    "C-SENT",
    "C-REPLIED",
    "C-WAIT",
    "COOKIE",
    "C-ECHOED",
    "ESTABLISHED",
    "S-SENT",
    "S-RECEIVED",
    "S-ACK-SENT",
    "REJECTED",
    "CLOSED",
];

/// `sctp_state_name`: the name of a raw state value; `"ERR!"` past the last state.
pub const fn sctp_state_name(state: u8) -> &'static str {
    match SctpState::from_u8(state) {
        Some(s) => s.name(),
        None => "ERR!",
    }
}

/// `enum ipvs_sctp_event_t`: the row of the state table a packet selects.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SctpEvent {
    /// DATA, SACK, HEARTBEAT(-ACK), ECNE, CWR, and every chunk type above 14.
    Data = 0,
    Init,
    InitAck,
    CookieEcho,
    CookieAck,
    Shutdown,
    ShutdownAck,
    ShutdownComplete,
    Error,
    Abort,
}

impl SctpEvent {
    /// `IP_VS_SCTP_EVENT_LAST`.
    pub const COUNT: usize = 10;

    pub const ALL: [SctpEvent; SctpEvent::COUNT] = [
        SctpEvent::Data,
        SctpEvent::Init,
        SctpEvent::InitAck,
        SctpEvent::CookieEcho,
        SctpEvent::CookieAck,
        SctpEvent::Shutdown,
        SctpEvent::ShutdownAck,
        SctpEvent::ShutdownComplete,
        SctpEvent::Error,
        SctpEvent::Abort,
    ];

    /// `sctp_events[chunk_type]`; types past the array (AUTH, I-DATA, FORWARD TSN,
    /// ASCONF, RE-CONFIG, PAD, ...) count as DATA.
    #[inline]
    pub const fn from_chunk_type(chunk_type: u8) -> Self {
        if (chunk_type as usize) < SCTP_EVENTS.len() {
            SCTP_EVENTS[chunk_type as usize]
        } else {
            SctpEvent::Data
        }
    }
}

/// `sctp_events[]`, indexed by chunk type 0..=14.
pub const SCTP_EVENTS: [SctpEvent; 15] = [
    SctpEvent::Data,             // DATA
    SctpEvent::Init,             // INIT
    SctpEvent::InitAck,          // INIT_ACK
    SctpEvent::Data,             // SACK
    SctpEvent::Data,             // HEARTBEAT
    SctpEvent::Data,             // HEARTBEAT_ACK
    SctpEvent::Abort,            // ABORT
    SctpEvent::Shutdown,         // SHUTDOWN
    SctpEvent::ShutdownAck,      // SHUTDOWN_ACK
    SctpEvent::Error,            // ERROR
    SctpEvent::CookieEcho,       // COOKIE_ECHO
    SctpEvent::CookieAck,        // COOKIE_ACK
    SctpEvent::Data,             // ECN_ECNE
    SctpEvent::Data,             // ECN_CWR
    SctpEvent::ShutdownComplete, // SHUTDOWN_COMPLETE
];

/// The event of an SCTP packet, as `set_sctp_state` derives it.
///
/// `chunks` is the packet after the 12-byte common header, up to the end of the IP
/// payload. Only the first chunk's type counts, with one exception: when the first chunk
/// is COOKIE ECHO or COOKIE ACK and its length field is at least 4, the chunk starting
/// at that length rounded up to 4 is read, and if it is an ABORT the packet counts as
/// ABORT (RFC 4960 §3.3.7 lets control chunks be bundled before an ABORT; INIT, INIT ACK
/// and SHUTDOWN COMPLETE cannot be bundled at all). Chunk flags are never looked at.
///
/// `None` when there is no complete first chunk header: the kernel then returns from
/// `set_sctp_state` before anything else, leaving state, NOOUTPUT and timer untouched.
pub fn sctp_event(chunks: &[u8]) -> Option<SctpEvent> {
    let first = chunks.get(..CHUNK_HDR_LEN)?;
    let mut chunk_type = first[0];
    if chunk_type == CID_COOKIE_ECHO || chunk_type == CID_COOKIE_ACK {
        let clen = u16::from_be_bytes([first[2], first[3]]) as usize;
        if clen >= CHUNK_HDR_LEN {
            // ALIGN(clen, 4): the next chunk starts on a 4-byte boundary.
            let next = (clen + 3) & !3;
            if let Some(hdr) = chunks.get(next..next + CHUNK_HDR_LEN) {
                if hdr[0] == CID_ABORT {
                    chunk_type = CID_ABORT;
                }
            }
        }
    }
    Some(SctpEvent::from_chunk_type(chunk_type))
}

/// An SCTP state table: `[dir][event][state] → next state`, the kernel's own layout.
pub type SctpTable = [[[SctpState; SctpState::COUNT]; SctpEvent::COUNT]; Dir::COUNT];

// The kernel's column abbreviations, so the table below reads like the C source. No
// transition leads back to NONE, so `sNO` never appears as a cell.
const I1: SctpState = SctpState::Init1;
const IN: SctpState = SctpState::Init;
const CS: SctpState = SctpState::CookieSent;
const CR: SctpState = SctpState::CookieReplied;
const CW: SctpState = SctpState::CookieWait;
const CO: SctpState = SctpState::Cookie;
const CE: SctpState = SctpState::CookieEchoed;
const ES: SctpState = SctpState::Established;
const SS: SctpState = SctpState::ShutdownSent;
const SR: SctpState = SctpState::ShutdownReceived;
const SA: SctpState = SctpState::ShutdownAckSent;
const RJ: SctpState = SctpState::Rejected;
const CL: SctpState = SctpState::Closed;

/// `sctp_states`.
#[rustfmt::skip]
pub const SCTP_STATES: SctpTable = [
    // INPUT
    //     NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
    [
        [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // d
        [I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN], // i
        [CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL], // i_a
        [CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // c_e
        [ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL], // c_a
        [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL], // s
        [CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL], // s_a
        [CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL], // s_c
        [CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL], // err
        [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL], // ab
    ],
    // OUTPUT
    //     NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
    [
        [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // d
        [CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW], // i
        [CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // i_a
        [CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL], // c_e
        [ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL], // c_a
        [SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL], // s
        [SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL], // s_a
        [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // s_c
        [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // err
        [CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL], // ab
    ],
    // INPUT-ONLY
    //     NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
    [
        [ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL], // d
        [I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN], // i
        [CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL], // i_a
        [ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL], // c_e
        [ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL], // c_a
        [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL], // s
        [CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL], // s_a
        [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL], // s_c
        [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // err
        [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL], // ab
    ],
];

/// `sctp_states[dir][event][state]`. `dir` must already reflect the NOOUTPUT rule
/// ([`crate::state_dir`]); use [`set_sctp_state`] to get both right from raw chunks.
#[inline]
pub const fn sctp_transition(state: SctpState, dir: Dir, event: SctpEvent) -> SctpState {
    SCTP_STATES[dir as usize][event as usize][state as usize]
}

/// The whole of `set_sctp_state` except the counters and the timer: classify the chunks
/// ([`sctp_event`]), apply the NOOUTPUT rule to `nooutput`, look the next state up.
///
/// `None` (no complete chunk header) means the kernel did nothing at all: the engine must
/// not touch the state, the NOOUTPUT flag or the timer. Otherwise the engine re-arms the
/// timer with [`crate::Timeouts::sctp`] of the result and applies
/// [`crate::activity_change`].
#[inline]
pub fn set_sctp_state(
    state: SctpState,
    nooutput: &mut bool,
    is_output: bool,
    chunks: &[u8],
) -> Option<SctpState> {
    let event = sctp_event(chunks)?;
    let dir = state_dir(nooutput, is_output);
    Some(sctp_transition(state, dir, event))
}
