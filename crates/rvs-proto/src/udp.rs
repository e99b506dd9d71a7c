//! UDP: one state, no transitions (`ip_vs_proto_udp.c`).
//!
//! `udp_state_transition` only re-arms the timer with the UDP timeout, in either
//! direction, so a UDP conn lives until [`crate::Timeouts::udp`] seconds pass without a
//! packet. It never leaves `IP_VS_UDP_S_NORMAL` and never becomes active
//! ([`crate::is_active`]).

/// `IP_VS_UDP_S_NORMAL`, the only state.
pub const UDP_S_NORMAL: u8 = 0;

/// `IP_VS_UDP_S_LAST`.
pub const UDP_STATE_COUNT: usize = 1;

/// `udp_state_name_table[IP_VS_UDP_S_NORMAL]`: `ipvsadm -Lnc` shows UDP conns as "UDP".
pub const UDP_STATE_NAME: &str = "UDP";

/// `udp_state_name`: `"UDP"` for the one state, `"ERR!"` past it.
pub const fn udp_state_name(state: u8) -> &'static str {
    if state == UDP_S_NORMAL {
        UDP_STATE_NAME
    } else {
        "ERR!"
    }
}
