//! IPVS L4 protocol state machines and timeouts (layer: sans-IO core).
//!
//! The engine touches this crate on every packet of a known conn: it asks which table
//! direction applies ([`state_dir`], IPVS's NOOUTPUT rule), feeds the TCP flags or SCTP
//! chunks to [`tcp_transition`] / [`sctp_transition`], re-arms the conn timer with
//! [`Timeouts::for_state`], and moves the conn between its dest's `activeconns` and
//! `inactconns` as [`activity_change`] says. Nothing here allocates, reads a clock or keeps
//! state: the tables are `const` data transcribed from the kernel, one file per protocol as
//! in `net/netfilter/ipvs/`:
//!
//! | here | kernel |
//! |---|---|
//! | [`tcp`] | `ip_vs_proto_tcp.c`: `tcp_states`, `tcp_states_dos`, `tcp_timeouts`, `set_tcp_state` |
//! | [`udp`] | `ip_vs_proto_udp.c`: one state, `udp_timeouts` |
//! | [`sctp`] | `ip_vs_proto_sctp.c`: `sctp_events`, `sctp_states`, `sctp_timeouts`, `set_sctp_state` |
//! | [`timeouts`] | the per-netns `timeout_table`s and `ip_vs_set_timeout` (`ip_vs_ctl.c`) |
//! | this file | `IP_VS_DIR_*`, `IP_VS_CONN_F_NOOUTPUT`/`INACTIVE` handling, `update_defense_level` |
//!
//! The tables follow current mainline (checked against recent mirrors of the kernel
//! tree); where older kernels differ, the item's doc says so.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;

pub mod sctp;
pub mod tcp;
pub mod timeouts;
pub mod udp;

pub use sctp::{sctp_event, sctp_transition, set_sctp_state, SctpEvent, SctpState};
pub use tcp::{set_tcp_state, tcp_transition, TcpEvent, TcpState};
pub use timeouts::Timeouts;
pub use udp::udp_state_name;

/// The L4 protocols IPVS tracks state for (`ip_vs_protocol_tcp/udp/sctp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// Every protocol, in IP protocol number order.
    pub const ALL: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Sctp];

    /// The IP protocol number (`IPPROTO_TCP` 6, `IPPROTO_UDP` 17, `IPPROTO_SCTP` 132).
    #[inline]
    pub const fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }

    #[inline]
    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            132 => Some(Proto::Sctp),
            _ => None,
        }
    }

    /// `pp->name`, as `/proc/net/ip_vs_conn` and `ipvsadm -Lnc` print it.
    #[inline]
    pub const fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Sctp => "SCTP",
        }
    }

    /// `pp->num_states`: a synced conn whose state is not below this is rejected
    /// (`ip_vs_process_message` "BACKUP, Invalid %s state").
    #[inline]
    pub const fn state_count(self) -> usize {
        match self {
            Proto::Tcp => TcpState::COUNT,
            Proto::Udp => udp::UDP_STATE_COUNT,
            Proto::Sctp => SctpState::COUNT,
        }
    }

    /// `pp->state_name(state)` for a conn that is not a template: the string in the
    /// State column of `ipvsadm -Lnc`. Out-of-range states print `"ERR!"`, as in the kernel.
    pub const fn state_name(self, state: u8) -> &'static str {
        match self {
            Proto::Tcp => tcp::tcp_state_name(state),
            Proto::Udp => udp::udp_state_name(state),
            Proto::Sctp => sctp::sctp_state_name(state),
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which state table a packet is run through (`IP_VS_DIR_*`).
///
/// The engine only ever sees `Input` (client → director, `ip_vs_in`) and `Output`
/// (real server → client through the director, `handle_response`); `InputOnly` is what an
/// input packet becomes while the conn carries NOOUTPUT — see [`state_dir`].
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    Input = 0,
    Output = 1,
    InputOnly = 2,
}

impl Dir {
    pub const COUNT: usize = 3;
    pub const ALL: [Dir; 3] = [Dir::Input, Dir::Output, Dir::InputOnly];
}

/// IPVS's NOOUTPUT rule, shared by `set_tcp_state` and `set_sctp_state`: returns the
/// table direction for a packet of a conn and updates the conn's NOOUTPUT flag.
///
/// While `*nooutput` is set, input packets use the [`Dir::InputOnly`] table (whose rows
/// let a conn reach ESTABLISHED on client packets alone). The first output packet clears
/// the flag for good and is itself run through [`Dir::Output`]; from then on input
/// packets use [`Dir::Input`]. UDP has no state table and ignores the flag.
///
/// # When the engine must set the flag
///
/// Exactly as the kernel does, at conn creation, from the dest's forwarding method:
///
/// * `__ip_vs_update_dest` (`ip_vs_ctl.c`) builds `dest->conn_flags` as the ipvsadm
///   forwarding method | `IP_VS_CONN_F_INACTIVE`, and adds `IP_VS_CONN_F_NOOUTPUT`
///   whenever the method is not `IP_VS_CONN_F_MASQ` — i.e. for DR (`-g`), TUN (`-i`) and
///   LOCALNODE. NAT dests get no flag (they go into the `rs_table` instead). FULLNAT,
///   which IPVS lacks, sees both directions like NAT: no flag.
/// * `ip_vs_bind_dest` (`ip_vs_conn.c`, called by `ip_vs_conn_new`) ORs `dest->conn_flags`
///   into the new conn's flags, so every conn scheduled to a DR/TUN/local dest starts
///   with NOOUTPUT (and INACTIVE). A conn without a dest (`ip_vs_leave`'s bypass conns)
///   never has it.
/// * Sync (`ip_vs_proc_conn`, flags masked by `IP_VS_CONN_F_BACKUP_MASK`, which carries
///   NOOUTPUT): when the backup finds the dest, `ip_vs_bind_dest` first clears the
///   master's `FWD_MASK | NOOUTPUT` and re-derives both from the backup's own dest; with
///   no dest the master's flag is kept as sent.
///
/// The flag is only ever cleared here. Replies of DR/TUN conns normally bypass the
/// director, so such conns stay in the INPUT_ONLY table for life; but current kernels
/// do match a DR/TUN reply that does cross the director (`ip_vs_conn_out_get` compares
/// non-MASQ conns against vaddr:vport, `handle_response` skips the SNAT and still calls
/// `ip_vs_set_state(cp, IP_VS_DIR_OUTPUT, ..)`), which clears it — so the engine should
/// pass such replies in as output too.
#[inline]
pub fn state_dir(nooutput: &mut bool, is_output: bool) -> Dir {
    if is_output {
        *nooutput = false;
        Dir::Output
    } else if *nooutput {
        Dir::InputOnly
    } else {
        Dir::Input
    }
}

/// [`state_dir`] under the name the TCP code uses (`set_tcp_state`); SCTP applies the
/// identical rule.
pub use state_dir as tcp_dir;

/// Whether a conn in `state` counts in its dest's `activeconns` (otherwise `inactconns`).
///
/// * TCP: `tcp_state_active_table` — ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK. Kernels
///   before "ipvs: count pre-established TCP states as active" used ESTABLISHED only.
/// * SCTP: ESTABLISHED only (`set_sctp_state`).
/// * UDP: never; `udp_state_transition` has no states, so a UDP conn keeps the
///   `IP_VS_CONN_F_INACTIVE` it was born with.
///
/// Out-of-range states are inactive (`tcp_state_active` returns false past `S_LAST`).
pub const fn is_active(proto: Proto, state: u8) -> bool {
    match proto {
        Proto::Tcp => match TcpState::from_u8(state) {
            Some(s) => s.is_active(),
            None => false,
        },
        Proto::Sctp => state == SctpState::Established as u8,
        Proto::Udp => false,
    }
}

/// A move between a dest's `activeconns` and `inactconns` (see [`activity_change`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActivityChange {
    /// `activeconns++`, `inactconns--`, clear `IP_VS_CONN_F_INACTIVE`.
    ToActive,
    /// `activeconns--`, `inactconns++`, set `IP_VS_CONN_F_INACTIVE`.
    ToInactive,
}

/// The counter bookkeeping at the end of `set_tcp_state` / `set_sctp_state`.
///
/// `inactive` is the conn's `IP_VS_CONN_F_INACTIVE` flag. Every new conn is born with it
/// (`__ip_vs_update_dest` puts it in `dest->conn_flags`, `ip_vs_bind_dest` copies it and
/// counts the conn in `inactconns`); a synced conn keeps the master's value instead.
/// The kernel only looks when the state actually changed, and only for conns with a dest
/// (the engine checks that); templates and UDP conns never get here.
pub const fn activity_change(
    proto: Proto,
    inactive: bool,
    old_state: u8,
    new_state: u8,
) -> Option<ActivityChange> {
    if matches!(proto, Proto::Udp) || old_state == new_state {
        return None;
    }
    let active = is_active(proto, new_state);
    if !inactive && !active {
        Some(ActivityChange::ToInactive)
    } else if inactive && active {
        Some(ActivityChange::ToActive)
    } else {
        None
    }
}

/// `IP_VS_CTPL_S_ASSURED`: a persistence template that has seen traffic for its conns.
pub const CTPL_S_ASSURED: u8 = 1;

/// `ip_vs_state_name` for a template (`IP_VS_CONN_F_TEMPLATE`): `"NONE"` or `"ASSURED"`.
pub const fn template_state_name(state: u8) -> &'static str {
    match state {
        0 => "NONE",
        CTPL_S_ASSURED => "ASSURED",
        _ => "ERR!",
    }
}

/// One tick of IPVS's automatic defence modes (`update_defense_level`, `ip_vs_ctl.c`,
/// run every second and on every sysctl write), for one of `drop_entry`, `drop_packet`
/// or `secure_tcp`; all three share the 0–3 scheme:
///
/// | sysctl | meaning | `nomem` | new sysctl | defence on |
/// |---|---|---|---|---|
/// | 0 | off | any | 0 | no |
/// | 1 | automatic, idle | no / yes | 1 / **2** | no / yes |
/// | 2 | automatic, engaged | yes / no | 2 / **1** | yes / no |
/// | 3 | always on | any | 3 | yes |
///
/// `nomem` is the kernel's `availmem < amemthresh` (free + buffer pages below the
/// `amemthresh` sysctl); the engine picks its own pressure signal. The kernel writes the
/// new value back into the sysctl, so users see 1 turn into 2 under pressure. Returns
/// `(new sysctl, on)`; values above 3 (which the kernel's `proc_do_defense_mode` refuses)
/// are returned unchanged and off.
///
/// What "on" means per knob:
/// * `secure_tcp`: TCP conns use [`tcp::TCP_STATES_DOS`] instead of [`tcp::TCP_STATES`]
///   (`ip_vs_protocol_timeout_change(ipvs, sysctl_secure_tcp > 1)` → `tcp_timeout_change`).
///   The switch is netns-wide and applies to existing conns from their next packet.
/// * `drop_entry`: `ip_vs_random_dropentry` scans 1/32 of the conn table each second and
///   drops every TCP conn in SYN_RECV/SYNACK and SCTP conn in INIT1/INIT it meets, and,
///   at odds falling with the packet count (`todrop_entry`), ESTABLISHED and UDP conns
///   idle for at least 60 s that have seen 1 to 8 input packets.
/// * `drop_packet`: `ip_vs_todrop` refuses one new conn in `drop_rate`, where `drop_rate`
///   is `amemthresh / (amemthresh - availmem)` for levels 1/2 and the `am_droprate`
///   sysctl for level 3.
pub const fn update_defense_level(sysctl: u8, nomem: bool) -> (u8, bool) {
    match sysctl {
        0 => (0, false),
        1 | 2 => {
            if nomem {
                (2, true)
            } else {
                (1, false)
            }
        }
        3 => (3, true),
        other => (other, false),
    }
}
