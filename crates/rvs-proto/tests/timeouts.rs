//! Timeouts: the kernel defaults state by state, `ipvsadm --set` semantics, lookups.

use rvs_proto::sctp::SctpState as S;
use rvs_proto::tcp::TcpState as T;
use rvs_proto::timeouts::{LAST_TIMEOUT, MAX_TIMEOUT, NEW_CONN_TIMEOUT};
use rvs_proto::{Proto, Timeouts};

/// `tcp_timeouts[]` in `ip_vs_proto_tcp.c`, in seconds.
const KERNEL_TCP: [(T, u32); T::COUNT] = [
    (T::None, 2),
    (T::Established, 900),
    (T::SynSent, 120),
    (T::SynRecv, 60),
    (T::FinWait, 120),
    (T::TimeWait, 120),
    (T::Close, 10),
    (T::CloseWait, 60),
    (T::LastAck, 30),
    (T::Listen, 120),
    (T::Synack, 120),
];

/// `sctp_timeouts[]` in `ip_vs_proto_sctp.c`, in seconds (`IP_VS_SCTP_MAX_RTO` is 61).
const KERNEL_SCTP: [(S, u32); S::COUNT] = [
    (S::None, 2),
    (S::Init1, 4),
    (S::Init, 61),
    (S::CookieSent, 61),
    (S::CookieReplied, 61),
    (S::CookieWait, 61),
    (S::Cookie, 61),
    (S::CookieEchoed, 61),
    (S::Established, 900),
    (S::ShutdownSent, 61),
    (S::ShutdownReceived, 61),
    (S::ShutdownAckSent, 61),
    (S::Rejected, 4),
    (S::Closed, 61),
];

#[test]
fn defaults_are_the_kernel_tables() {
    let t = Timeouts::default();
    for (s, secs) in KERNEL_TCP {
        assert_eq!(t.tcp(s), secs, "TCP {s}");
        assert_eq!(t.for_state(Proto::Tcp, s as u8), secs, "TCP {s}");
    }
    for (s, secs) in KERNEL_SCTP {
        assert_eq!(t.sctp(s), secs, "SCTP {s}");
        assert_eq!(t.for_state(Proto::Sctp, s as u8), secs, "SCTP {s}");
    }
    assert_eq!(t.udp, 300);
    assert_eq!(t.for_state(Proto::Udp, 0), 300);
    assert_eq!(
        t.get(),
        (900, 120, 300),
        "ipvsadm -L --timeout on a fresh director"
    );
    assert_eq!(
        (LAST_TIMEOUT, NEW_CONN_TIMEOUT, MAX_TIMEOUT),
        (2, 3, 2_678_400)
    );
}

#[test]
fn set_with_zeros_changes_nothing() {
    let mut t = Timeouts::default();
    t.set(0, 0, 0);
    assert_eq!(t, Timeouts::default());
}

#[test]
fn set_touches_established_fin_wait_and_udp_only() {
    let mut t = Timeouts::default();
    t.set(3600, 0, 0);
    assert_eq!(t.get(), (3600, 120, 300));
    t.set(0, 30, 0);
    assert_eq!(t.get(), (3600, 30, 300));
    t.set(0, 0, 45);
    assert_eq!(t.get(), (3600, 30, 45));
    t.set(7, 8, 9);
    assert_eq!(t.get(), (7, 8, 9));
    assert_eq!(t.tcp(T::Established), 7);
    assert_eq!(t.tcp(T::FinWait), 8);
    assert_eq!(t.for_state(Proto::Udp, 0), 9);
    // Every other state keeps its default, and SCTP is out of reach of --set.
    for (s, secs) in KERNEL_TCP {
        if s != T::Established && s != T::FinWait {
            assert_eq!(t.tcp(s), secs, "TCP {s}");
        }
    }
    assert_eq!(t.sctp, Timeouts::default().sctp);
}

#[test]
fn out_of_range_states_get_the_s_last_entry() {
    let t = Timeouts::default();
    assert_eq!(t.for_state(Proto::Tcp, T::COUNT as u8), 2);
    assert_eq!(t.for_state(Proto::Sctp, S::COUNT as u8), 2);
    assert_eq!(t.for_state(Proto::Tcp, 255), 2);
    // UDP has one timeout whatever the state value.
    assert_eq!(t.for_state(Proto::Udp, 1), 300);
}
