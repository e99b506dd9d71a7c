//! TCP state machine: every cell of both kernel tables, flag priority, NOOUTPUT, activity.
//!
//! `TCP_STATES_ROWS` / `TCP_STATES_DOS_ROWS` are the kernel's `tcp_states` / `tcp_states_dos`
//! (`net/netfilter/ipvs/ip_vs_proto_tcp.c`) transcribed a second time, independently of the
//! `const` tables in `src/tcp.rs` and in the other orientation: one row per
//! (from-state, direction, flags) instead of one row per (direction, event). A slip in either
//! transcription makes `every_*_transition` fail on that cell.

use rvs_proto::tcp::{
    set_tcp_state, tcp_state_name, tcp_transition, TcpEvent, TcpState as T, ACK, CWR, ECE, FIN,
    PSH, RST, SYN, URG,
};
use rvs_proto::Dir::{self, Input, InputOnly, Output};
use rvs_proto::{activity_change, is_active, state_dir, tcp_dir, ActivityChange, Proto};

type Row = (T, Dir, u8, T);

#[rustfmt::skip]
const TCP_STATES_ROWS: &[Row] = &[
    (T::None, Input, SYN, T::SynRecv),
    (T::None, Input, FIN, T::Close),
    (T::None, Input, ACK, T::Established),
    (T::None, Input, RST, T::Close),
    (T::None, Output, SYN, T::SynSent),
    (T::None, Output, FIN, T::TimeWait),
    (T::None, Output, ACK, T::Established),
    (T::None, Output, RST, T::Close),
    (T::None, InputOnly, SYN, T::SynRecv),
    (T::None, InputOnly, FIN, T::Close),
    (T::None, InputOnly, ACK, T::Established),
    (T::None, InputOnly, RST, T::Close),
    (T::Established, Input, SYN, T::Established),
    (T::Established, Input, FIN, T::CloseWait),
    (T::Established, Input, ACK, T::Established),
    (T::Established, Input, RST, T::Close),
    (T::Established, Output, SYN, T::Established),
    (T::Established, Output, FIN, T::FinWait),
    (T::Established, Output, ACK, T::Established),
    (T::Established, Output, RST, T::Close),
    (T::Established, InputOnly, SYN, T::Established),
    (T::Established, InputOnly, FIN, T::FinWait),
    (T::Established, InputOnly, ACK, T::Established),
    (T::Established, InputOnly, RST, T::Close),
    (T::SynSent, Input, SYN, T::Established),
    (T::SynSent, Input, FIN, T::SynSent),
    (T::SynSent, Input, ACK, T::SynSent),
    (T::SynSent, Input, RST, T::Close),
    (T::SynSent, Output, SYN, T::SynSent),
    (T::SynSent, Output, FIN, T::SynSent),
    (T::SynSent, Output, ACK, T::SynSent),
    (T::SynSent, Output, RST, T::SynSent),
    (T::SynSent, InputOnly, SYN, T::Established),
    (T::SynSent, InputOnly, FIN, T::SynSent),
    (T::SynSent, InputOnly, ACK, T::SynSent),
    (T::SynSent, InputOnly, RST, T::Close),
    (T::SynRecv, Input, SYN, T::SynRecv),
    (T::SynRecv, Input, FIN, T::TimeWait),
    (T::SynRecv, Input, ACK, T::Established),
    (T::SynRecv, Input, RST, T::SynRecv),
    (T::SynRecv, Output, SYN, T::SynRecv),
    (T::SynRecv, Output, FIN, T::TimeWait),
    (T::SynRecv, Output, ACK, T::Established),
    (T::SynRecv, Output, RST, T::Close),
    (T::SynRecv, InputOnly, SYN, T::SynRecv),
    (T::SynRecv, InputOnly, FIN, T::TimeWait),
    (T::SynRecv, InputOnly, ACK, T::Established),
    (T::SynRecv, InputOnly, RST, T::SynRecv),
    (T::FinWait, Input, SYN, T::SynRecv),
    (T::FinWait, Input, FIN, T::TimeWait),
    (T::FinWait, Input, ACK, T::FinWait),
    (T::FinWait, Input, RST, T::Close),
    (T::FinWait, Output, SYN, T::SynSent),
    (T::FinWait, Output, FIN, T::FinWait),
    (T::FinWait, Output, ACK, T::FinWait),
    (T::FinWait, Output, RST, T::Close),
    (T::FinWait, InputOnly, SYN, T::SynRecv),
    (T::FinWait, InputOnly, FIN, T::FinWait),
    (T::FinWait, InputOnly, ACK, T::FinWait),
    (T::FinWait, InputOnly, RST, T::Close),
    (T::TimeWait, Input, SYN, T::SynRecv),
    (T::TimeWait, Input, FIN, T::TimeWait),
    (T::TimeWait, Input, ACK, T::TimeWait),
    (T::TimeWait, Input, RST, T::Close),
    (T::TimeWait, Output, SYN, T::SynSent),
    (T::TimeWait, Output, FIN, T::TimeWait),
    (T::TimeWait, Output, ACK, T::TimeWait),
    (T::TimeWait, Output, RST, T::TimeWait),
    (T::TimeWait, InputOnly, SYN, T::SynRecv),
    (T::TimeWait, InputOnly, FIN, T::TimeWait),
    (T::TimeWait, InputOnly, ACK, T::TimeWait),
    (T::TimeWait, InputOnly, RST, T::Close),
    (T::Close, Input, SYN, T::SynRecv),
    (T::Close, Input, FIN, T::Close),
    (T::Close, Input, ACK, T::Close),
    (T::Close, Input, RST, T::Close),
    (T::Close, Output, SYN, T::SynSent),
    (T::Close, Output, FIN, T::Close),
    (T::Close, Output, ACK, T::Close),
    (T::Close, Output, RST, T::Close),
    (T::Close, InputOnly, SYN, T::SynRecv),
    (T::Close, InputOnly, FIN, T::Close),
    (T::Close, InputOnly, ACK, T::Close),
    (T::Close, InputOnly, RST, T::Close),
    (T::CloseWait, Input, SYN, T::SynRecv),
    (T::CloseWait, Input, FIN, T::CloseWait),
    (T::CloseWait, Input, ACK, T::CloseWait),
    (T::CloseWait, Input, RST, T::Close),
    (T::CloseWait, Output, SYN, T::SynSent),
    (T::CloseWait, Output, FIN, T::TimeWait),
    (T::CloseWait, Output, ACK, T::CloseWait),
    (T::CloseWait, Output, RST, T::Close),
    (T::CloseWait, InputOnly, SYN, T::SynRecv),
    (T::CloseWait, InputOnly, FIN, T::CloseWait),
    (T::CloseWait, InputOnly, ACK, T::CloseWait),
    (T::CloseWait, InputOnly, RST, T::Close),
    (T::LastAck, Input, SYN, T::SynRecv),
    (T::LastAck, Input, FIN, T::LastAck),
    (T::LastAck, Input, ACK, T::Close),
    (T::LastAck, Input, RST, T::LastAck),
    (T::LastAck, Output, SYN, T::SynSent),
    (T::LastAck, Output, FIN, T::LastAck),
    (T::LastAck, Output, ACK, T::LastAck),
    (T::LastAck, Output, RST, T::Close),
    (T::LastAck, InputOnly, SYN, T::SynRecv),
    (T::LastAck, InputOnly, FIN, T::LastAck),
    (T::LastAck, InputOnly, ACK, T::Close),
    (T::LastAck, InputOnly, RST, T::LastAck),
    (T::Listen, Input, SYN, T::SynRecv),
    (T::Listen, Input, FIN, T::Listen),
    (T::Listen, Input, ACK, T::Listen),
    (T::Listen, Input, RST, T::Listen),
    (T::Listen, Output, SYN, T::Listen),
    (T::Listen, Output, FIN, T::Listen),
    (T::Listen, Output, ACK, T::Established),
    (T::Listen, Output, RST, T::Close),
    (T::Listen, InputOnly, SYN, T::SynRecv),
    (T::Listen, InputOnly, FIN, T::Listen),
    (T::Listen, InputOnly, ACK, T::Listen),
    (T::Listen, InputOnly, RST, T::Listen),
    (T::Synack, Input, SYN, T::SynRecv),
    (T::Synack, Input, FIN, T::TimeWait),
    (T::Synack, Input, ACK, T::Established),
    (T::Synack, Input, RST, T::SynRecv),
    (T::Synack, Output, SYN, T::SynRecv),
    (T::Synack, Output, FIN, T::TimeWait),
    (T::Synack, Output, ACK, T::Established),
    (T::Synack, Output, RST, T::Close),
    (T::Synack, InputOnly, SYN, T::SynRecv),
    (T::Synack, InputOnly, FIN, T::TimeWait),
    (T::Synack, InputOnly, ACK, T::Established),
    (T::Synack, InputOnly, RST, T::Close),
];

#[rustfmt::skip]
const TCP_STATES_DOS_ROWS: &[Row] = &[
    (T::None, Input, SYN, T::SynRecv),
    (T::None, Input, FIN, T::Close),
    (T::None, Input, ACK, T::Established),
    (T::None, Input, RST, T::Close),
    (T::None, Output, SYN, T::SynSent),
    (T::None, Output, FIN, T::TimeWait),
    (T::None, Output, ACK, T::Established),
    (T::None, Output, RST, T::Close),
    (T::None, InputOnly, SYN, T::Synack),
    (T::None, InputOnly, FIN, T::Close),
    (T::None, InputOnly, ACK, T::Established),
    (T::None, InputOnly, RST, T::Close),
    (T::Established, Input, SYN, T::Established),
    (T::Established, Input, FIN, T::CloseWait),
    (T::Established, Input, ACK, T::Established),
    (T::Established, Input, RST, T::Close),
    (T::Established, Output, SYN, T::Established),
    (T::Established, Output, FIN, T::FinWait),
    (T::Established, Output, ACK, T::Established),
    (T::Established, Output, RST, T::Close),
    (T::Established, InputOnly, SYN, T::Established),
    (T::Established, InputOnly, FIN, T::FinWait),
    (T::Established, InputOnly, ACK, T::Established),
    (T::Established, InputOnly, RST, T::Close),
    (T::SynSent, Input, SYN, T::Established),
    (T::SynSent, Input, FIN, T::SynSent),
    (T::SynSent, Input, ACK, T::SynSent),
    (T::SynSent, Input, RST, T::Close),
    (T::SynSent, Output, SYN, T::SynSent),
    (T::SynSent, Output, FIN, T::SynSent),
    (T::SynSent, Output, ACK, T::SynSent),
    (T::SynSent, Output, RST, T::SynSent),
    (T::SynSent, InputOnly, SYN, T::Established),
    (T::SynSent, InputOnly, FIN, T::SynSent),
    (T::SynSent, InputOnly, ACK, T::SynSent),
    (T::SynSent, InputOnly, RST, T::Close),
    (T::SynRecv, Input, SYN, T::SynRecv),
    (T::SynRecv, Input, FIN, T::TimeWait),
    (T::SynRecv, Input, ACK, T::SynRecv),
    (T::SynRecv, Input, RST, T::SynRecv),
    (T::SynRecv, Output, SYN, T::Synack),
    (T::SynRecv, Output, FIN, T::TimeWait),
    (T::SynRecv, Output, ACK, T::Established),
    (T::SynRecv, Output, RST, T::Close),
    (T::SynRecv, InputOnly, SYN, T::SynRecv),
    (T::SynRecv, InputOnly, FIN, T::TimeWait),
    (T::SynRecv, InputOnly, ACK, T::Established),
    (T::SynRecv, InputOnly, RST, T::SynRecv),
    (T::FinWait, Input, SYN, T::SynRecv),
    (T::FinWait, Input, FIN, T::TimeWait),
    (T::FinWait, Input, ACK, T::FinWait),
    (T::FinWait, Input, RST, T::Close),
    (T::FinWait, Output, SYN, T::SynSent),
    (T::FinWait, Output, FIN, T::FinWait),
    (T::FinWait, Output, ACK, T::FinWait),
    (T::FinWait, Output, RST, T::Close),
    (T::FinWait, InputOnly, SYN, T::Synack),
    (T::FinWait, InputOnly, FIN, T::FinWait),
    (T::FinWait, InputOnly, ACK, T::FinWait),
    (T::FinWait, InputOnly, RST, T::Close),
    (T::TimeWait, Input, SYN, T::SynRecv),
    (T::TimeWait, Input, FIN, T::TimeWait),
    (T::TimeWait, Input, ACK, T::TimeWait),
    (T::TimeWait, Input, RST, T::Close),
    (T::TimeWait, Output, SYN, T::SynSent),
    (T::TimeWait, Output, FIN, T::TimeWait),
    (T::TimeWait, Output, ACK, T::TimeWait),
    (T::TimeWait, Output, RST, T::TimeWait),
    (T::TimeWait, InputOnly, SYN, T::Synack),
    (T::TimeWait, InputOnly, FIN, T::TimeWait),
    (T::TimeWait, InputOnly, ACK, T::TimeWait),
    (T::TimeWait, InputOnly, RST, T::Close),
    (T::Close, Input, SYN, T::SynRecv),
    (T::Close, Input, FIN, T::Close),
    (T::Close, Input, ACK, T::Close),
    (T::Close, Input, RST, T::Close),
    (T::Close, Output, SYN, T::SynSent),
    (T::Close, Output, FIN, T::Close),
    (T::Close, Output, ACK, T::Close),
    (T::Close, Output, RST, T::Close),
    (T::Close, InputOnly, SYN, T::Synack),
    (T::Close, InputOnly, FIN, T::Close),
    (T::Close, InputOnly, ACK, T::Close),
    (T::Close, InputOnly, RST, T::Close),
    (T::CloseWait, Input, SYN, T::SynRecv),
    (T::CloseWait, Input, FIN, T::CloseWait),
    (T::CloseWait, Input, ACK, T::CloseWait),
    (T::CloseWait, Input, RST, T::Close),
    (T::CloseWait, Output, SYN, T::SynSent),
    (T::CloseWait, Output, FIN, T::TimeWait),
    (T::CloseWait, Output, ACK, T::CloseWait),
    (T::CloseWait, Output, RST, T::Close),
    (T::CloseWait, InputOnly, SYN, T::Synack),
    (T::CloseWait, InputOnly, FIN, T::CloseWait),
    (T::CloseWait, InputOnly, ACK, T::CloseWait),
    (T::CloseWait, InputOnly, RST, T::Close),
    (T::LastAck, Input, SYN, T::SynRecv),
    (T::LastAck, Input, FIN, T::LastAck),
    (T::LastAck, Input, ACK, T::Close),
    (T::LastAck, Input, RST, T::LastAck),
    (T::LastAck, Output, SYN, T::SynSent),
    (T::LastAck, Output, FIN, T::LastAck),
    (T::LastAck, Output, ACK, T::LastAck),
    (T::LastAck, Output, RST, T::Close),
    (T::LastAck, InputOnly, SYN, T::Synack),
    (T::LastAck, InputOnly, FIN, T::LastAck),
    (T::LastAck, InputOnly, ACK, T::Close),
    (T::LastAck, InputOnly, RST, T::LastAck),
    (T::Listen, Input, SYN, T::SynRecv),
    (T::Listen, Input, FIN, T::Listen),
    (T::Listen, Input, ACK, T::Listen),
    (T::Listen, Input, RST, T::Listen),
    (T::Listen, Output, SYN, T::Listen),
    (T::Listen, Output, FIN, T::Listen),
    (T::Listen, Output, ACK, T::Established),
    (T::Listen, Output, RST, T::Close),
    (T::Listen, InputOnly, SYN, T::Synack),
    (T::Listen, InputOnly, FIN, T::Listen),
    (T::Listen, InputOnly, ACK, T::Listen),
    (T::Listen, InputOnly, RST, T::Listen),
    (T::Synack, Input, SYN, T::Synack),
    (T::Synack, Input, FIN, T::Synack),
    (T::Synack, Input, ACK, T::Synack),
    (T::Synack, Input, RST, T::Close),
    (T::Synack, Output, SYN, T::Synack),
    (T::Synack, Output, FIN, T::TimeWait),
    (T::Synack, Output, ACK, T::Established),
    (T::Synack, Output, RST, T::Close),
    (T::Synack, InputOnly, SYN, T::Synack),
    (T::Synack, InputOnly, FIN, T::TimeWait),
    (T::Synack, InputOnly, ACK, T::Established),
    (T::Synack, InputOnly, RST, T::Close),
];

/// Checks `rows` against `tcp_transition` and that they name every (state, dir, event) once.
fn check_table(rows: &[Row], secure_tcp: bool) {
    let mut seen = [[[false; T::COUNT]; TcpEvent::COUNT]; Dir::COUNT];
    let mut wrong = 0;
    for &(from, dir, flags, to) in rows {
        let ev = TcpEvent::from_flags(flags).expect("row flags select an event");
        let cell = &mut seen[dir as usize][ev as usize][from as usize];
        assert!(!*cell, "duplicate row {from:?} {dir:?} {ev:?}");
        *cell = true;
        let got = tcp_transition(from, dir, flags, secure_tcp);
        if got != to {
            eprintln!("{from:?} --{ev:?}/{dir:?}--> {got:?}, kernel says {to:?}");
            wrong += 1;
        }
    }
    assert_eq!(
        wrong, 0,
        "{wrong} cells differ from the kernel (secure_tcp={secure_tcp})"
    );
    assert_eq!(rows.len(), T::COUNT * TcpEvent::COUNT * Dir::COUNT);
    assert!(
        seen.iter().flatten().flatten().all(|&s| s),
        "a cell has no expected row"
    );
}

#[test]
fn every_tcp_states_transition() {
    check_table(TCP_STATES_ROWS, false);
}

#[test]
fn every_tcp_states_dos_transition() {
    check_table(TCP_STATES_DOS_ROWS, true);
}

#[test]
fn the_two_tables_differ_only_in_the_handshake_cells() {
    let differing: Vec<(T, Dir, u8)> = TCP_STATES_ROWS
        .iter()
        .zip(TCP_STATES_DOS_ROWS)
        .filter(|(a, b)| a.3 != b.3)
        .map(|(a, _)| (a.0, a.1, a.2))
        .collect();
    assert_eq!(differing.len(), 15, "{differing:?}");
    for (from, dir, flags) in differing {
        let handshake =
            matches!(from, T::SynRecv | T::Synack) || (dir == InputOnly && flags == SYN);
        assert!(handshake, "{from:?} {dir:?} {flags:#x}");
    }
}

#[test]
fn flag_priority_is_rst_syn_fin_ack() {
    // From NONE in the OUTPUT table the four events lead to four different states.
    let out = |flags| tcp_transition(T::None, Output, flags, false);
    assert_eq!(out(SYN), T::SynSent);
    assert_eq!(out(FIN), T::TimeWait);
    assert_eq!(out(ACK), T::Established);
    assert_eq!(out(RST), T::Close);

    assert_eq!(out(SYN | ACK), T::SynSent, "SYN+ACK is a SYN");
    assert_eq!(out(FIN | ACK), T::TimeWait, "FIN+ACK is a FIN");
    assert_eq!(out(RST | ACK), T::Close, "RST+ACK is a RST");
    assert_eq!(out(SYN | FIN), T::SynSent, "SYN beats FIN");
    assert_eq!(out(PSH | ACK), T::Established);
    assert_eq!(out(ACK | URG | ECE | CWR), T::Established);

    // RST beats everything: SYN_SENT + input SYN would be ESTABLISHED, + RST is CLOSE.
    assert_eq!(
        tcp_transition(T::SynSent, Input, SYN, false),
        T::Established
    );
    assert_eq!(
        tcp_transition(T::SynSent, Input, RST | SYN, false),
        T::Close
    );
    assert_eq!(
        tcp_transition(T::SynSent, Input, RST | SYN | FIN | ACK, false),
        T::Close
    );

    assert_eq!(TcpEvent::from_flags(SYN | ACK), Some(TcpEvent::Syn));
    assert_eq!(TcpEvent::from_flags(FIN | ACK | PSH), Some(TcpEvent::Fin));
    assert_eq!(TcpEvent::from_flags(RST | ACK), Some(TcpEvent::Rst));
    assert_eq!(TcpEvent::from_flags(ACK), Some(TcpEvent::Ack));
}

#[test]
fn a_packet_without_syn_fin_ack_rst_moves_the_conn_to_close() {
    // set_tcp_state starts from new_state = IP_VS_TCP_S_CLOSE and skips the lookup.
    for flags in [0, PSH, URG, ECE, CWR, PSH | URG | ECE | CWR] {
        assert_eq!(TcpEvent::from_flags(flags), None, "{flags:#x}");
        for s in T::ALL {
            for dir in Dir::ALL {
                for secure in [false, true] {
                    assert_eq!(tcp_transition(s, dir, flags, secure), T::Close);
                }
            }
        }
    }
}

#[test]
fn nooutput_uses_input_only_until_the_first_output_packet() {
    let mut nooutput = true;
    assert_eq!(state_dir(&mut nooutput, false), InputOnly);
    assert_eq!(state_dir(&mut nooutput, false), InputOnly);
    assert!(nooutput);
    assert_eq!(state_dir(&mut nooutput, true), Output);
    assert!(!nooutput, "an output packet clears NOOUTPUT");
    assert_eq!(state_dir(&mut nooutput, false), Input);
    assert_eq!(tcp_dir(&mut nooutput, true), Output);

    let mut nat = false;
    assert_eq!(tcp_dir(&mut nat, false), Input);
    assert_eq!(tcp_dir(&mut nat, true), Output);
    assert!(!nat);
}

#[test]
fn direct_routing_conn_lives_in_the_input_only_table() {
    // DR/TUN: the director only sees the client; NOOUTPUT stays set.
    let mut nooutput = true;
    let mut s = T::None;
    for (flags, want) in [
        (SYN, T::SynRecv),
        (ACK, T::Established),
        (PSH | ACK, T::Established),
        (FIN | ACK, T::FinWait), // the INPUT table would say CLOSE_WAIT
        (ACK, T::FinWait),
    ] {
        s = set_tcp_state(s, &mut nooutput, false, flags, false);
        assert_eq!(s, want, "after {flags:#x}");
    }
    assert!(nooutput);
    assert_eq!(
        tcp_transition(T::Established, Input, FIN, false),
        T::CloseWait
    );
}

#[test]
fn nat_conn_follows_both_directions() {
    let mut nooutput = false;
    let mut s = T::None;
    for (out, flags, want) in [
        (false, SYN, T::SynRecv),
        (true, SYN | ACK, T::SynRecv),
        (false, ACK, T::Established),
        (true, PSH | ACK, T::Established),
        (false, FIN | ACK, T::CloseWait),
        (true, FIN | ACK, T::TimeWait),
        (false, ACK, T::TimeWait),
    ] {
        s = set_tcp_state(s, &mut nooutput, out, flags, false);
        assert_eq!(s, want, "after {flags:#x} out={out}");
    }
}

#[test]
fn secure_tcp_needs_the_real_servers_answer() {
    let mut nooutput = false;
    let mut s = T::None;
    for (out, flags, want) in [
        (false, SYN, T::SynRecv),
        (false, ACK, T::SynRecv), // a spoofed ACK no longer establishes
        (true, SYN | ACK, T::Synack),
        (false, ACK, T::Synack),
        (true, ACK, T::Established),
    ] {
        s = set_tcp_state(s, &mut nooutput, out, flags, true);
        assert_eq!(s, want, "after {flags:#x} out={out}");
    }
}

#[test]
fn a_flagless_output_packet_still_clears_nooutput() {
    let mut nooutput = true;
    assert_eq!(
        set_tcp_state(T::Established, &mut nooutput, true, PSH, false),
        T::Close
    );
    assert!(!nooutput);
}

#[test]
fn names_match_tcp_state_name_table() {
    let names = [
        (T::None, "NONE"),
        (T::Established, "ESTABLISHED"),
        (T::SynSent, "SYN_SENT"),
        (T::SynRecv, "SYN_RECV"),
        (T::FinWait, "FIN_WAIT"),
        (T::TimeWait, "TIME_WAIT"),
        (T::Close, "CLOSE"),
        (T::CloseWait, "CLOSE_WAIT"),
        (T::LastAck, "LAST_ACK"),
        (T::Listen, "LISTEN"),
        (T::Synack, "SYNACK"),
    ];
    assert_eq!(names.len(), T::COUNT);
    for (i, (s, name)) in names.into_iter().enumerate() {
        assert_eq!(s as usize, i, "IP_VS_TCP_S_* order");
        assert_eq!(T::from_u8(i as u8), Some(s));
        assert_eq!(s.name(), name);
        assert_eq!(s.to_string(), name);
        assert_eq!(tcp_state_name(i as u8), name);
        assert_eq!(Proto::Tcp.state_name(i as u8), name);
    }
    assert_eq!(T::from_u8(11), None);
    assert_eq!(tcp_state_name(11), "ERR!");
    assert_eq!(tcp_state_name(255), "ERR!");
}

#[test]
fn active_states_are_the_established_and_handshake_ones() {
    let active: Vec<T> = T::ALL
        .into_iter()
        .filter(|s| is_active(Proto::Tcp, *s as u8))
        .collect();
    assert_eq!(active, [T::Established, T::SynSent, T::SynRecv, T::Synack]);
    assert!(!is_active(Proto::Tcp, 11));
    assert!(T::Established.is_active() && !T::FinWait.is_active());
}

#[test]
fn activity_moves_only_on_a_state_change_that_crosses_the_line() {
    let tcp = |inactive, a: T, b: T| activity_change(Proto::Tcp, inactive, a as u8, b as u8);
    // A new conn is born INACTIVE in NONE; its first SYN makes it active.
    assert_eq!(
        tcp(true, T::None, T::SynRecv),
        Some(ActivityChange::ToActive)
    );
    assert_eq!(tcp(false, T::SynRecv, T::Established), None);
    assert_eq!(
        tcp(false, T::Established, T::FinWait),
        Some(ActivityChange::ToInactive)
    );
    assert_eq!(tcp(true, T::FinWait, T::TimeWait), None);
    // No state change, no bookkeeping, even if the flag disagrees (a synced conn).
    assert_eq!(tcp(true, T::Established, T::Established), None);
    assert_eq!(tcp(false, T::Close, T::Close), None);
}
