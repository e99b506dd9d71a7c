//! SCTP state machine: every cell of the kernel table, chunk classification, NOOUTPUT.
//!
//! `SCTP_STATES_ROWS` is the kernel's `sctp_states` (`net/netfilter/ipvs/ip_vs_proto_sctp.c`)
//! transcribed a second time, independently of the `const` table in `src/sctp.rs` and in the
//! other orientation: one row per (from-state, direction, event).

use rvs_proto::sctp::{
    sctp_event, sctp_state_name, sctp_transition, set_sctp_state, SctpEvent as E, SctpState as S,
    CID_ABORT, CID_COOKIE_ACK, CID_COOKIE_ECHO, CID_DATA, CID_INIT, CID_INIT_ACK, CID_SHUTDOWN,
};
use rvs_proto::Dir::{self, Input, InputOnly, Output};
use rvs_proto::{activity_change, is_active, ActivityChange, Proto};

type Row = (S, Dir, E, S);

#[rustfmt::skip]
const SCTP_STATES_ROWS: &[Row] = &[
    (S::None, Input, E::Data, S::Established),
    (S::None, Input, E::Init, S::Init1),
    (S::None, Input, E::InitAck, S::CookieWait),
    (S::None, Input, E::CookieEcho, S::CookieReplied),
    (S::None, Input, E::CookieAck, S::Established),
    (S::None, Input, E::Shutdown, S::ShutdownReceived),
    (S::None, Input, E::ShutdownAck, S::Closed),
    (S::None, Input, E::ShutdownComplete, S::Closed),
    (S::None, Input, E::Error, S::Closed),
    (S::None, Input, E::Abort, S::Closed),
    (S::None, Output, E::Data, S::Established),
    (S::None, Output, E::Init, S::CookieWait),
    (S::None, Output, E::InitAck, S::CookieSent),
    (S::None, Output, E::CookieEcho, S::CookieEchoed),
    (S::None, Output, E::CookieAck, S::Established),
    (S::None, Output, E::Shutdown, S::ShutdownSent),
    (S::None, Output, E::ShutdownAck, S::ShutdownAckSent),
    (S::None, Output, E::ShutdownComplete, S::Closed),
    (S::None, Output, E::Error, S::Closed),
    (S::None, Output, E::Abort, S::Closed),
    (S::None, InputOnly, E::Data, S::Established),
    (S::None, InputOnly, E::Init, S::Init1),
    (S::None, InputOnly, E::InitAck, S::CookieEchoed),
    (S::None, InputOnly, E::CookieEcho, S::Established),
    (S::None, InputOnly, E::CookieAck, S::Established),
    (S::None, InputOnly, E::Shutdown, S::ShutdownReceived),
    (S::None, InputOnly, E::ShutdownAck, S::Closed),
    (S::None, InputOnly, E::ShutdownComplete, S::Closed),
    (S::None, InputOnly, E::Error, S::Closed),
    (S::None, InputOnly, E::Abort, S::Closed),
    (S::Init1, Input, E::Data, S::Init1),
    (S::Init1, Input, E::Init, S::Init),
    (S::Init1, Input, E::InitAck, S::CookieWait),
    (S::Init1, Input, E::CookieEcho, S::Init),
    (S::Init1, Input, E::CookieAck, S::Init1),
    (S::Init1, Input, E::Shutdown, S::Init1),
    (S::Init1, Input, E::ShutdownAck, S::Init),
    (S::Init1, Input, E::ShutdownComplete, S::Closed),
    (S::Init1, Input, E::Error, S::Init1),
    (S::Init1, Input, E::Abort, S::Closed),
    (S::Init1, Output, E::Data, S::Init1),
    (S::Init1, Output, E::Init, S::CookieWait),
    (S::Init1, Output, E::InitAck, S::CookieSent),
    (S::Init1, Output, E::CookieEcho, S::CookieEchoed),
    (S::Init1, Output, E::CookieAck, S::Established),
    (S::Init1, Output, E::Shutdown, S::ShutdownSent),
    (S::Init1, Output, E::ShutdownAck, S::ShutdownAckSent),
    (S::Init1, Output, E::ShutdownComplete, S::Init1),
    (S::Init1, Output, E::Error, S::Closed),
    (S::Init1, Output, E::Abort, S::Rejected),
    (S::Init1, InputOnly, E::Data, S::Init1),
    (S::Init1, InputOnly, E::Init, S::Init),
    (S::Init1, InputOnly, E::InitAck, S::CookieEchoed),
    (S::Init1, InputOnly, E::CookieEcho, S::Established),
    (S::Init1, InputOnly, E::CookieAck, S::Init1),
    (S::Init1, InputOnly, E::Shutdown, S::Init1),
    (S::Init1, InputOnly, E::ShutdownAck, S::Init),
    (S::Init1, InputOnly, E::ShutdownComplete, S::Closed),
    (S::Init1, InputOnly, E::Error, S::Init1),
    (S::Init1, InputOnly, E::Abort, S::Closed),
    (S::Init, Input, E::Data, S::Init),
    (S::Init, Input, E::Init, S::Init),
    (S::Init, Input, E::InitAck, S::CookieWait),
    (S::Init, Input, E::CookieEcho, S::Init),
    (S::Init, Input, E::CookieAck, S::Init),
    (S::Init, Input, E::Shutdown, S::Init),
    (S::Init, Input, E::ShutdownAck, S::Init),
    (S::Init, Input, E::ShutdownComplete, S::Closed),
    (S::Init, Input, E::Error, S::Init),
    (S::Init, Input, E::Abort, S::Closed),
    (S::Init, Output, E::Data, S::Init),
    (S::Init, Output, E::Init, S::CookieWait),
    (S::Init, Output, E::InitAck, S::CookieSent),
    (S::Init, Output, E::CookieEcho, S::CookieEchoed),
    (S::Init, Output, E::CookieAck, S::Established),
    (S::Init, Output, E::Shutdown, S::ShutdownSent),
    (S::Init, Output, E::ShutdownAck, S::ShutdownAckSent),
    (S::Init, Output, E::ShutdownComplete, S::Init),
    (S::Init, Output, E::Error, S::Closed),
    (S::Init, Output, E::Abort, S::Closed),
    (S::Init, InputOnly, E::Data, S::Init),
    (S::Init, InputOnly, E::Init, S::Init),
    (S::Init, InputOnly, E::InitAck, S::CookieEchoed),
    (S::Init, InputOnly, E::CookieEcho, S::Established),
    (S::Init, InputOnly, E::CookieAck, S::Init),
    (S::Init, InputOnly, E::Shutdown, S::Init),
    (S::Init, InputOnly, E::ShutdownAck, S::Init),
    (S::Init, InputOnly, E::ShutdownComplete, S::Closed),
    (S::Init, InputOnly, E::Error, S::Init),
    (S::Init, InputOnly, E::Abort, S::Closed),
    (S::CookieSent, Input, E::Data, S::CookieSent),
    (S::CookieSent, Input, E::Init, S::CookieSent),
    (S::CookieSent, Input, E::InitAck, S::CookieSent),
    (S::CookieSent, Input, E::CookieEcho, S::CookieReplied),
    (S::CookieSent, Input, E::CookieAck, S::CookieSent),
    (S::CookieSent, Input, E::Shutdown, S::CookieSent),
    (S::CookieSent, Input, E::ShutdownAck, S::CookieSent),
    (S::CookieSent, Input, E::ShutdownComplete, S::CookieSent),
    (S::CookieSent, Input, E::Error, S::CookieSent),
    (S::CookieSent, Input, E::Abort, S::Closed),
    (S::CookieSent, Output, E::Data, S::CookieSent),
    (S::CookieSent, Output, E::Init, S::CookieWait),
    (S::CookieSent, Output, E::InitAck, S::CookieSent),
    (S::CookieSent, Output, E::CookieEcho, S::CookieEchoed),
    (S::CookieSent, Output, E::CookieAck, S::Established),
    (S::CookieSent, Output, E::Shutdown, S::ShutdownSent),
    (S::CookieSent, Output, E::ShutdownAck, S::ShutdownAckSent),
    (S::CookieSent, Output, E::ShutdownComplete, S::CookieSent),
    (S::CookieSent, Output, E::Error, S::Closed),
    (S::CookieSent, Output, E::Abort, S::Closed),
    (S::CookieSent, InputOnly, E::Data, S::CookieSent),
    (S::CookieSent, InputOnly, E::Init, S::Init),
    (S::CookieSent, InputOnly, E::InitAck, S::CookieEchoed),
    (S::CookieSent, InputOnly, E::CookieEcho, S::Established),
    (S::CookieSent, InputOnly, E::CookieAck, S::Established),
    (S::CookieSent, InputOnly, E::Shutdown, S::CookieSent),
    (S::CookieSent, InputOnly, E::ShutdownAck, S::CookieSent),
    (S::CookieSent, InputOnly, E::ShutdownComplete, S::Closed),
    (S::CookieSent, InputOnly, E::Error, S::CookieSent),
    (S::CookieSent, InputOnly, E::Abort, S::Closed),
    (S::CookieReplied, Input, E::Data, S::CookieReplied),
    (S::CookieReplied, Input, E::Init, S::CookieReplied),
    (S::CookieReplied, Input, E::InitAck, S::CookieReplied),
    (S::CookieReplied, Input, E::CookieEcho, S::CookieReplied),
    (S::CookieReplied, Input, E::CookieAck, S::CookieReplied),
    (S::CookieReplied, Input, E::Shutdown, S::CookieReplied),
    (S::CookieReplied, Input, E::ShutdownAck, S::CookieReplied),
    (S::CookieReplied, Input, E::ShutdownComplete, S::CookieReplied),
    (S::CookieReplied, Input, E::Error, S::CookieReplied),
    (S::CookieReplied, Input, E::Abort, S::Closed),
    (S::CookieReplied, Output, E::Data, S::CookieReplied),
    (S::CookieReplied, Output, E::Init, S::CookieWait),
    (S::CookieReplied, Output, E::InitAck, S::CookieReplied),
    (S::CookieReplied, Output, E::CookieEcho, S::CookieEchoed),
    (S::CookieReplied, Output, E::CookieAck, S::Established),
    (S::CookieReplied, Output, E::Shutdown, S::ShutdownSent),
    (S::CookieReplied, Output, E::ShutdownAck, S::ShutdownAckSent),
    (S::CookieReplied, Output, E::ShutdownComplete, S::CookieReplied),
    (S::CookieReplied, Output, E::Error, S::Closed),
    (S::CookieReplied, Output, E::Abort, S::Closed),
    (S::CookieReplied, InputOnly, E::Data, S::CookieReplied),
    (S::CookieReplied, InputOnly, E::Init, S::Init),
    (S::CookieReplied, InputOnly, E::InitAck, S::CookieEchoed),
    (S::CookieReplied, InputOnly, E::CookieEcho, S::Established),
    (S::CookieReplied, InputOnly, E::CookieAck, S::Established),
    (S::CookieReplied, InputOnly, E::Shutdown, S::CookieReplied),
    (S::CookieReplied, InputOnly, E::ShutdownAck, S::CookieReplied),
    (S::CookieReplied, InputOnly, E::ShutdownComplete, S::Closed),
    (S::CookieReplied, InputOnly, E::Error, S::CookieReplied),
    (S::CookieReplied, InputOnly, E::Abort, S::Closed),
    (S::CookieWait, Input, E::Data, S::CookieWait),
    (S::CookieWait, Input, E::Init, S::CookieWait),
    (S::CookieWait, Input, E::InitAck, S::Cookie),
    (S::CookieWait, Input, E::CookieEcho, S::CookieWait),
    (S::CookieWait, Input, E::CookieAck, S::CookieWait),
    (S::CookieWait, Input, E::Shutdown, S::CookieWait),
    (S::CookieWait, Input, E::ShutdownAck, S::CookieWait),
    (S::CookieWait, Input, E::ShutdownComplete, S::CookieWait),
    (S::CookieWait, Input, E::Error, S::CookieWait),
    (S::CookieWait, Input, E::Abort, S::Rejected),
    (S::CookieWait, Output, E::Data, S::CookieWait),
    (S::CookieWait, Output, E::Init, S::CookieWait),
    (S::CookieWait, Output, E::InitAck, S::CookieWait),
    (S::CookieWait, Output, E::CookieEcho, S::CookieEchoed),
    (S::CookieWait, Output, E::CookieAck, S::Established),
    (S::CookieWait, Output, E::Shutdown, S::ShutdownSent),
    (S::CookieWait, Output, E::ShutdownAck, S::CookieWait),
    (S::CookieWait, Output, E::ShutdownComplete, S::CookieWait),
    (S::CookieWait, Output, E::Error, S::CookieWait),
    (S::CookieWait, Output, E::Abort, S::Closed),
    (S::CookieWait, InputOnly, E::Data, S::Established),
    (S::CookieWait, InputOnly, E::Init, S::Init),
    (S::CookieWait, InputOnly, E::InitAck, S::CookieEchoed),
    (S::CookieWait, InputOnly, E::CookieEcho, S::Established),
    (S::CookieWait, InputOnly, E::CookieAck, S::CookieWait),
    (S::CookieWait, InputOnly, E::Shutdown, S::CookieWait),
    (S::CookieWait, InputOnly, E::ShutdownAck, S::CookieWait),
    (S::CookieWait, InputOnly, E::ShutdownComplete, S::CookieWait),
    (S::CookieWait, InputOnly, E::Error, S::CookieWait),
    (S::CookieWait, InputOnly, E::Abort, S::Rejected),
    (S::Cookie, Input, E::Data, S::Cookie),
    (S::Cookie, Input, E::Init, S::Cookie),
    (S::Cookie, Input, E::InitAck, S::Cookie),
    (S::Cookie, Input, E::CookieEcho, S::Cookie),
    (S::Cookie, Input, E::CookieAck, S::Cookie),
    (S::Cookie, Input, E::Shutdown, S::Cookie),
    (S::Cookie, Input, E::ShutdownAck, S::Cookie),
    (S::Cookie, Input, E::ShutdownComplete, S::Cookie),
    (S::Cookie, Input, E::Error, S::Cookie),
    (S::Cookie, Input, E::Abort, S::Closed),
    (S::Cookie, Output, E::Data, S::Cookie),
    (S::Cookie, Output, E::Init, S::CookieWait),
    (S::Cookie, Output, E::InitAck, S::Cookie),
    (S::Cookie, Output, E::CookieEcho, S::CookieEchoed),
    (S::Cookie, Output, E::CookieAck, S::Established),
    (S::Cookie, Output, E::Shutdown, S::ShutdownSent),
    (S::Cookie, Output, E::ShutdownAck, S::Cookie),
    (S::Cookie, Output, E::ShutdownComplete, S::Cookie),
    (S::Cookie, Output, E::Error, S::Cookie),
    (S::Cookie, Output, E::Abort, S::Closed),
    (S::Cookie, InputOnly, E::Data, S::Cookie),
    (S::Cookie, InputOnly, E::Init, S::Cookie),
    (S::Cookie, InputOnly, E::InitAck, S::Cookie),
    (S::Cookie, InputOnly, E::CookieEcho, S::Cookie),
    (S::Cookie, InputOnly, E::CookieAck, S::Established),
    (S::Cookie, InputOnly, E::Shutdown, S::Cookie),
    (S::Cookie, InputOnly, E::ShutdownAck, S::Cookie),
    (S::Cookie, InputOnly, E::ShutdownComplete, S::Cookie),
    (S::Cookie, InputOnly, E::Error, S::Cookie),
    (S::Cookie, InputOnly, E::Abort, S::Closed),
    (S::CookieEchoed, Input, E::Data, S::CookieEchoed),
    (S::CookieEchoed, Input, E::Init, S::CookieEchoed),
    (S::CookieEchoed, Input, E::InitAck, S::CookieEchoed),
    (S::CookieEchoed, Input, E::CookieEcho, S::CookieEchoed),
    (S::CookieEchoed, Input, E::CookieAck, S::Established),
    (S::CookieEchoed, Input, E::Shutdown, S::CookieEchoed),
    (S::CookieEchoed, Input, E::ShutdownAck, S::CookieEchoed),
    (S::CookieEchoed, Input, E::ShutdownComplete, S::CookieEchoed),
    (S::CookieEchoed, Input, E::Error, S::Closed),
    (S::CookieEchoed, Input, E::Abort, S::Closed),
    (S::CookieEchoed, Output, E::Data, S::CookieEchoed),
    (S::CookieEchoed, Output, E::Init, S::CookieWait),
    (S::CookieEchoed, Output, E::InitAck, S::CookieEchoed),
    (S::CookieEchoed, Output, E::CookieEcho, S::CookieEchoed),
    (S::CookieEchoed, Output, E::CookieAck, S::Established),
    (S::CookieEchoed, Output, E::Shutdown, S::ShutdownSent),
    (S::CookieEchoed, Output, E::ShutdownAck, S::CookieEchoed),
    (S::CookieEchoed, Output, E::ShutdownComplete, S::CookieEchoed),
    (S::CookieEchoed, Output, E::Error, S::CookieEchoed),
    (S::CookieEchoed, Output, E::Abort, S::Closed),
    (S::CookieEchoed, InputOnly, E::Data, S::CookieEchoed),
    (S::CookieEchoed, InputOnly, E::Init, S::CookieEchoed),
    (S::CookieEchoed, InputOnly, E::InitAck, S::CookieEchoed),
    (S::CookieEchoed, InputOnly, E::CookieEcho, S::CookieEchoed),
    (S::CookieEchoed, InputOnly, E::CookieAck, S::Established),
    (S::CookieEchoed, InputOnly, E::Shutdown, S::CookieEchoed),
    (S::CookieEchoed, InputOnly, E::ShutdownAck, S::CookieEchoed),
    (S::CookieEchoed, InputOnly, E::ShutdownComplete, S::CookieEchoed),
    (S::CookieEchoed, InputOnly, E::Error, S::CookieEchoed),
    (S::CookieEchoed, InputOnly, E::Abort, S::Closed),
    (S::Established, Input, E::Data, S::Established),
    (S::Established, Input, E::Init, S::Established),
    (S::Established, Input, E::InitAck, S::Established),
    (S::Established, Input, E::CookieEcho, S::Established),
    (S::Established, Input, E::CookieAck, S::Established),
    (S::Established, Input, E::Shutdown, S::ShutdownReceived),
    (S::Established, Input, E::ShutdownAck, S::Established),
    (S::Established, Input, E::ShutdownComplete, S::Established),
    (S::Established, Input, E::Error, S::Established),
    (S::Established, Input, E::Abort, S::Closed),
    (S::Established, Output, E::Data, S::Established),
    (S::Established, Output, E::Init, S::Established),
    (S::Established, Output, E::InitAck, S::Established),
    (S::Established, Output, E::CookieEcho, S::Established),
    (S::Established, Output, E::CookieAck, S::Established),
    (S::Established, Output, E::Shutdown, S::ShutdownSent),
    (S::Established, Output, E::ShutdownAck, S::Established),
    (S::Established, Output, E::ShutdownComplete, S::Established),
    (S::Established, Output, E::Error, S::Established),
    (S::Established, Output, E::Abort, S::Closed),
    (S::Established, InputOnly, E::Data, S::Established),
    (S::Established, InputOnly, E::Init, S::Established),
    (S::Established, InputOnly, E::InitAck, S::Established),
    (S::Established, InputOnly, E::CookieEcho, S::Established),
    (S::Established, InputOnly, E::CookieAck, S::Established),
    (S::Established, InputOnly, E::Shutdown, S::ShutdownReceived),
    (S::Established, InputOnly, E::ShutdownAck, S::Closed),
    (S::Established, InputOnly, E::ShutdownComplete, S::Established),
    (S::Established, InputOnly, E::Error, S::Established),
    (S::Established, InputOnly, E::Abort, S::Closed),
    (S::ShutdownSent, Input, E::Data, S::ShutdownSent),
    (S::ShutdownSent, Input, E::Init, S::ShutdownSent),
    (S::ShutdownSent, Input, E::InitAck, S::ShutdownSent),
    (S::ShutdownSent, Input, E::CookieEcho, S::ShutdownSent),
    (S::ShutdownSent, Input, E::CookieAck, S::ShutdownSent),
    (S::ShutdownSent, Input, E::Shutdown, S::ShutdownSent),
    (S::ShutdownSent, Input, E::ShutdownAck, S::Closed),
    (S::ShutdownSent, Input, E::ShutdownComplete, S::ShutdownSent),
    (S::ShutdownSent, Input, E::Error, S::ShutdownSent),
    (S::ShutdownSent, Input, E::Abort, S::Closed),
    (S::ShutdownSent, Output, E::Data, S::ShutdownSent),
    (S::ShutdownSent, Output, E::Init, S::CookieWait),
    (S::ShutdownSent, Output, E::InitAck, S::ShutdownSent),
    (S::ShutdownSent, Output, E::CookieEcho, S::ShutdownSent),
    (S::ShutdownSent, Output, E::CookieAck, S::ShutdownSent),
    (S::ShutdownSent, Output, E::Shutdown, S::ShutdownSent),
    (S::ShutdownSent, Output, E::ShutdownAck, S::ShutdownAckSent),
    (S::ShutdownSent, Output, E::ShutdownComplete, S::ShutdownSent),
    (S::ShutdownSent, Output, E::Error, S::ShutdownSent),
    (S::ShutdownSent, Output, E::Abort, S::Closed),
    (S::ShutdownSent, InputOnly, E::Data, S::ShutdownSent),
    (S::ShutdownSent, InputOnly, E::Init, S::ShutdownSent),
    (S::ShutdownSent, InputOnly, E::InitAck, S::ShutdownSent),
    (S::ShutdownSent, InputOnly, E::CookieEcho, S::ShutdownSent),
    (S::ShutdownSent, InputOnly, E::CookieAck, S::ShutdownSent),
    (S::ShutdownSent, InputOnly, E::Shutdown, S::ShutdownSent),
    (S::ShutdownSent, InputOnly, E::ShutdownAck, S::Closed),
    (S::ShutdownSent, InputOnly, E::ShutdownComplete, S::ShutdownSent),
    (S::ShutdownSent, InputOnly, E::Error, S::ShutdownSent),
    (S::ShutdownSent, InputOnly, E::Abort, S::Closed),
    (S::ShutdownReceived, Input, E::Data, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::Init, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::InitAck, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::CookieEcho, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::CookieAck, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::Shutdown, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::ShutdownAck, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::ShutdownComplete, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::Error, S::ShutdownReceived),
    (S::ShutdownReceived, Input, E::Abort, S::Closed),
    (S::ShutdownReceived, Output, E::Data, S::ShutdownReceived),
    (S::ShutdownReceived, Output, E::Init, S::CookieWait),
    (S::ShutdownReceived, Output, E::InitAck, S::ShutdownReceived),
    (S::ShutdownReceived, Output, E::CookieEcho, S::ShutdownReceived),
    (S::ShutdownReceived, Output, E::CookieAck, S::ShutdownReceived),
    (S::ShutdownReceived, Output, E::Shutdown, S::ShutdownReceived),
    (S::ShutdownReceived, Output, E::ShutdownAck, S::ShutdownAckSent),
    (S::ShutdownReceived, Output, E::ShutdownComplete, S::ShutdownReceived),
    (S::ShutdownReceived, Output, E::Error, S::ShutdownReceived),
    (S::ShutdownReceived, Output, E::Abort, S::Closed),
    (S::ShutdownReceived, InputOnly, E::Data, S::ShutdownReceived),
    (S::ShutdownReceived, InputOnly, E::Init, S::ShutdownReceived),
    (S::ShutdownReceived, InputOnly, E::InitAck, S::ShutdownReceived),
    (S::ShutdownReceived, InputOnly, E::CookieEcho, S::ShutdownReceived),
    (S::ShutdownReceived, InputOnly, E::CookieAck, S::ShutdownReceived),
    (S::ShutdownReceived, InputOnly, E::Shutdown, S::ShutdownReceived),
    (S::ShutdownReceived, InputOnly, E::ShutdownAck, S::ShutdownReceived),
    (S::ShutdownReceived, InputOnly, E::ShutdownComplete, S::Closed),
    (S::ShutdownReceived, InputOnly, E::Error, S::ShutdownReceived),
    (S::ShutdownReceived, InputOnly, E::Abort, S::Closed),
    (S::ShutdownAckSent, Input, E::Data, S::ShutdownAckSent),
    (S::ShutdownAckSent, Input, E::Init, S::ShutdownAckSent),
    (S::ShutdownAckSent, Input, E::InitAck, S::ShutdownAckSent),
    (S::ShutdownAckSent, Input, E::CookieEcho, S::ShutdownAckSent),
    (S::ShutdownAckSent, Input, E::CookieAck, S::ShutdownAckSent),
    (S::ShutdownAckSent, Input, E::Shutdown, S::ShutdownAckSent),
    (S::ShutdownAckSent, Input, E::ShutdownAck, S::Closed),
    (S::ShutdownAckSent, Input, E::ShutdownComplete, S::Closed),
    (S::ShutdownAckSent, Input, E::Error, S::ShutdownAckSent),
    (S::ShutdownAckSent, Input, E::Abort, S::Closed),
    (S::ShutdownAckSent, Output, E::Data, S::ShutdownAckSent),
    (S::ShutdownAckSent, Output, E::Init, S::CookieWait),
    (S::ShutdownAckSent, Output, E::InitAck, S::ShutdownAckSent),
    (S::ShutdownAckSent, Output, E::CookieEcho, S::ShutdownAckSent),
    (S::ShutdownAckSent, Output, E::CookieAck, S::ShutdownAckSent),
    (S::ShutdownAckSent, Output, E::Shutdown, S::ShutdownAckSent),
    (S::ShutdownAckSent, Output, E::ShutdownAck, S::ShutdownAckSent),
    (S::ShutdownAckSent, Output, E::ShutdownComplete, S::ShutdownAckSent),
    (S::ShutdownAckSent, Output, E::Error, S::ShutdownAckSent),
    (S::ShutdownAckSent, Output, E::Abort, S::Closed),
    (S::ShutdownAckSent, InputOnly, E::Data, S::ShutdownAckSent),
    (S::ShutdownAckSent, InputOnly, E::Init, S::ShutdownAckSent),
    (S::ShutdownAckSent, InputOnly, E::InitAck, S::ShutdownAckSent),
    (S::ShutdownAckSent, InputOnly, E::CookieEcho, S::ShutdownAckSent),
    (S::ShutdownAckSent, InputOnly, E::CookieAck, S::ShutdownAckSent),
    (S::ShutdownAckSent, InputOnly, E::Shutdown, S::ShutdownAckSent),
    (S::ShutdownAckSent, InputOnly, E::ShutdownAck, S::Closed),
    (S::ShutdownAckSent, InputOnly, E::ShutdownComplete, S::Closed),
    (S::ShutdownAckSent, InputOnly, E::Error, S::ShutdownAckSent),
    (S::ShutdownAckSent, InputOnly, E::Abort, S::Closed),
    (S::Rejected, Input, E::Data, S::Rejected),
    (S::Rejected, Input, E::Init, S::Init),
    (S::Rejected, Input, E::InitAck, S::Rejected),
    (S::Rejected, Input, E::CookieEcho, S::Rejected),
    (S::Rejected, Input, E::CookieAck, S::Rejected),
    (S::Rejected, Input, E::Shutdown, S::Rejected),
    (S::Rejected, Input, E::ShutdownAck, S::Rejected),
    (S::Rejected, Input, E::ShutdownComplete, S::Rejected),
    (S::Rejected, Input, E::Error, S::Rejected),
    (S::Rejected, Input, E::Abort, S::Closed),
    (S::Rejected, Output, E::Data, S::Rejected),
    (S::Rejected, Output, E::Init, S::CookieWait),
    (S::Rejected, Output, E::InitAck, S::Rejected),
    (S::Rejected, Output, E::CookieEcho, S::Rejected),
    (S::Rejected, Output, E::CookieAck, S::Rejected),
    (S::Rejected, Output, E::Shutdown, S::Rejected),
    (S::Rejected, Output, E::ShutdownAck, S::Rejected),
    (S::Rejected, Output, E::ShutdownComplete, S::Rejected),
    (S::Rejected, Output, E::Error, S::Rejected),
    (S::Rejected, Output, E::Abort, S::Closed),
    (S::Rejected, InputOnly, E::Data, S::Rejected),
    (S::Rejected, InputOnly, E::Init, S::Init),
    (S::Rejected, InputOnly, E::InitAck, S::Rejected),
    (S::Rejected, InputOnly, E::CookieEcho, S::Rejected),
    (S::Rejected, InputOnly, E::CookieAck, S::Rejected),
    (S::Rejected, InputOnly, E::Shutdown, S::Rejected),
    (S::Rejected, InputOnly, E::ShutdownAck, S::Rejected),
    (S::Rejected, InputOnly, E::ShutdownComplete, S::Rejected),
    (S::Rejected, InputOnly, E::Error, S::Rejected),
    (S::Rejected, InputOnly, E::Abort, S::Closed),
    (S::Closed, Input, E::Data, S::Closed),
    (S::Closed, Input, E::Init, S::Init),
    (S::Closed, Input, E::InitAck, S::Closed),
    (S::Closed, Input, E::CookieEcho, S::Closed),
    (S::Closed, Input, E::CookieAck, S::Closed),
    (S::Closed, Input, E::Shutdown, S::Closed),
    (S::Closed, Input, E::ShutdownAck, S::Closed),
    (S::Closed, Input, E::ShutdownComplete, S::Closed),
    (S::Closed, Input, E::Error, S::Closed),
    (S::Closed, Input, E::Abort, S::Closed),
    (S::Closed, Output, E::Data, S::Closed),
    (S::Closed, Output, E::Init, S::CookieWait),
    (S::Closed, Output, E::InitAck, S::Closed),
    (S::Closed, Output, E::CookieEcho, S::Closed),
    (S::Closed, Output, E::CookieAck, S::Closed),
    (S::Closed, Output, E::Shutdown, S::Closed),
    (S::Closed, Output, E::ShutdownAck, S::Closed),
    (S::Closed, Output, E::ShutdownComplete, S::Closed),
    (S::Closed, Output, E::Error, S::Closed),
    (S::Closed, Output, E::Abort, S::Closed),
    (S::Closed, InputOnly, E::Data, S::Closed),
    (S::Closed, InputOnly, E::Init, S::Init),
    (S::Closed, InputOnly, E::InitAck, S::Closed),
    (S::Closed, InputOnly, E::CookieEcho, S::Closed),
    (S::Closed, InputOnly, E::CookieAck, S::Closed),
    (S::Closed, InputOnly, E::Shutdown, S::Closed),
    (S::Closed, InputOnly, E::ShutdownAck, S::Closed),
    (S::Closed, InputOnly, E::ShutdownComplete, S::Closed),
    (S::Closed, InputOnly, E::Error, S::Closed),
    (S::Closed, InputOnly, E::Abort, S::Closed),
];

#[test]
fn every_sctp_states_transition() {
    let mut seen = [[[false; S::COUNT]; E::COUNT]; Dir::COUNT];
    let mut wrong = 0;
    for &(from, dir, ev, to) in SCTP_STATES_ROWS {
        let cell = &mut seen[dir as usize][ev as usize][from as usize];
        assert!(!*cell, "duplicate row {from:?} {dir:?} {ev:?}");
        *cell = true;
        let got = sctp_transition(from, dir, ev);
        if got != to {
            eprintln!("{from:?} --{ev:?}/{dir:?}--> {got:?}, kernel says {to:?}");
            wrong += 1;
        }
    }
    assert_eq!(wrong, 0, "{wrong} cells differ from the kernel");
    assert_eq!(SCTP_STATES_ROWS.len(), S::COUNT * E::COUNT * Dir::COUNT);
    assert!(
        seen.iter().flatten().flatten().all(|&s| s),
        "a cell has no expected row"
    );
}

#[test]
fn chunk_types_map_as_sctp_events() {
    let kernel = [
        (0, E::Data),              // DATA
        (1, E::Init),              // INIT
        (2, E::InitAck),           // INIT_ACK
        (3, E::Data),              // SACK
        (4, E::Data),              // HEARTBEAT
        (5, E::Data),              // HEARTBEAT_ACK
        (6, E::Abort),             // ABORT
        (7, E::Shutdown),          // SHUTDOWN
        (8, E::ShutdownAck),       // SHUTDOWN_ACK
        (9, E::Error),             // ERROR
        (10, E::CookieEcho),       // COOKIE_ECHO
        (11, E::CookieAck),        // COOKIE_ACK
        (12, E::Data),             // ECN_ECNE
        (13, E::Data),             // ECN_CWR
        (14, E::ShutdownComplete), // SHUTDOWN_COMPLETE
    ];
    for (t, ev) in kernel {
        assert_eq!(E::from_chunk_type(t), ev, "chunk type {t}");
        assert_eq!(sctp_event(&[t, 0, 0, 4]), Some(ev), "chunk type {t}");
    }
    // Past sctp_events[]: AUTH, I-DATA, ASCONF-ACK, RE-CONFIG, PAD, FORWARD-TSN, ASCONF...
    for t in 15..=255u8 {
        assert_eq!(E::from_chunk_type(t), E::Data, "chunk type {t}");
    }
}

fn chunk(t: u8, flags: u8, len: u16, pad_to: usize) -> Vec<u8> {
    let mut c = vec![t, flags];
    c.extend_from_slice(&len.to_be_bytes());
    c.resize(pad_to, 0);
    c
}

#[test]
fn a_bundled_abort_after_cookie_echo_or_ack_wins() {
    for first in [CID_COOKIE_ECHO, CID_COOKIE_ACK] {
        let lone = if first == CID_COOKIE_ECHO {
            E::CookieEcho
        } else {
            E::CookieAck
        };
        // Chunk length 5 is padded to 8; the ABORT header sits at offset 8.
        let mut p = chunk(first, 0, 5, 8);
        p.extend(chunk(CID_ABORT, 0, 4, 4));
        assert_eq!(sctp_event(&p), Some(E::Abort));
        // Exactly aligned.
        let mut p = chunk(first, 0, 8, 8);
        p.extend(chunk(CID_ABORT, 1, 4, 4)); // T bit set: flags are not consulted
        assert_eq!(sctp_event(&p), Some(E::Abort));
        // A non-ABORT second chunk, a truncated one, or none: the first chunk counts.
        let mut p = chunk(first, 0, 8, 8);
        p.extend(chunk(CID_DATA, 0, 16, 16));
        assert_eq!(sctp_event(&p), Some(lone));
        let mut p = chunk(first, 0, 8, 8);
        p.extend([CID_ABORT, 0, 0]);
        assert_eq!(sctp_event(&p), Some(lone));
        assert_eq!(sctp_event(&chunk(first, 0, 4, 4)), Some(lone));
        // A length below the chunk header size stops the look-ahead.
        let mut p = chunk(first, 0, 0, 4);
        p.extend(chunk(CID_ABORT, 0, 4, 4));
        assert_eq!(sctp_event(&p), Some(lone));
    }
    // Only COOKIE ECHO / COOKIE ACK look past themselves.
    for first in [CID_INIT_ACK, CID_SHUTDOWN, CID_DATA] {
        let mut p = chunk(first, 0, 4, 4);
        p.extend(chunk(CID_ABORT, 0, 4, 4));
        assert_eq!(sctp_event(&p), Some(E::from_chunk_type(first)));
    }
}

#[test]
fn no_chunk_header_means_no_state_change_at_all() {
    assert_eq!(sctp_event(&[]), None);
    assert_eq!(sctp_event(&[CID_INIT, 0, 0]), None);
    let mut nooutput = true;
    assert_eq!(
        set_sctp_state(S::Established, &mut nooutput, true, &[CID_DATA]),
        None
    );
    assert!(nooutput, "the kernel returns before the NOOUTPUT rule");
}

#[test]
fn nat_association_from_init_to_shutdown_complete() {
    let mut nooutput = false;
    let mut s = S::None;
    for (out, t, want) in [
        (false, CID_INIT, S::Init1),
        (true, CID_INIT_ACK, S::CookieSent),
        (false, CID_COOKIE_ECHO, S::CookieReplied),
        (true, CID_COOKIE_ACK, S::Established),
        (false, CID_DATA, S::Established),
        (true, CID_DATA, S::Established),
        (false, CID_SHUTDOWN, S::ShutdownReceived),
        (true, 8, S::ShutdownAckSent),
        (false, 14, S::Closed),
    ] {
        s = set_sctp_state(s, &mut nooutput, out, &chunk(t, 0, 4, 4)).unwrap();
        assert_eq!(s, want, "after chunk {t} out={out}");
    }
}

#[test]
fn direct_routing_association_uses_input_only() {
    let mut nooutput = true;
    let mut s = S::None;
    for (t, want) in [(CID_INIT, S::Init1), (CID_COOKIE_ECHO, S::Established)] {
        s = set_sctp_state(s, &mut nooutput, false, &chunk(t, 0, 4, 4)).unwrap();
        assert_eq!(s, want, "after chunk {t}");
    }
    assert!(nooutput);
    // The INPUT table would have waited for the server's COOKIE ACK.
    assert_eq!(sctp_transition(S::Init1, Input, E::CookieEcho), S::Init);
    assert_eq!(
        sctp_transition(S::Init1, InputOnly, E::CookieEcho),
        S::Established
    );
}

#[test]
fn init_answered_with_abort_is_rejected() {
    assert_eq!(sctp_transition(S::None, Input, E::Init), S::Init1);
    assert_eq!(sctp_transition(S::Init1, Output, E::Abort), S::Rejected);
    assert_eq!(sctp_transition(S::Rejected, Input, E::Init), S::Init);
}

#[test]
fn names_match_sctp_state_name_table() {
    let names = [
        (S::None, "NONE"),
        (S::Init1, "INIT1"),
        (S::Init, "INIT"),
        (S::CookieSent, "C-SENT"),
        (S::CookieReplied, "C-REPLIED"),
        (S::CookieWait, "C-WAIT"),
        (S::Cookie, "COOKIE"),
        (S::CookieEchoed, "C-ECHOED"),
        (S::Established, "ESTABLISHED"),
        (S::ShutdownSent, "S-SENT"),
        (S::ShutdownReceived, "S-RECEIVED"),
        (S::ShutdownAckSent, "S-ACK-SENT"),
        (S::Rejected, "REJECTED"),
        (S::Closed, "CLOSED"),
    ];
    assert_eq!(names.len(), S::COUNT);
    for (i, (s, name)) in names.into_iter().enumerate() {
        assert_eq!(s as usize, i, "IP_VS_SCTP_S_* order");
        assert_eq!(S::from_u8(i as u8), Some(s));
        assert_eq!(s.name(), name);
        assert_eq!(s.to_string(), name);
        assert_eq!(sctp_state_name(i as u8), name);
        assert_eq!(Proto::Sctp.state_name(i as u8), name);
    }
    assert_eq!(S::from_u8(14), None);
    assert_eq!(sctp_state_name(14), "ERR!");
}

#[test]
fn only_established_is_active() {
    for s in S::ALL {
        assert_eq!(
            is_active(Proto::Sctp, s as u8),
            s == S::Established,
            "{s:?}"
        );
        assert_eq!(s.is_active(), s == S::Established);
    }
    assert!(!is_active(Proto::Sctp, 200));
    let sctp = |inactive, a: S, b: S| activity_change(Proto::Sctp, inactive, a as u8, b as u8);
    assert_eq!(
        sctp(true, S::CookieReplied, S::Established),
        Some(ActivityChange::ToActive)
    );
    assert_eq!(sctp(true, S::None, S::Init1), None);
    assert_eq!(
        sctp(false, S::Established, S::ShutdownReceived),
        Some(ActivityChange::ToInactive)
    );
}
