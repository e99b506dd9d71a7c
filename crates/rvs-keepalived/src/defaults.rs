//! keepalived's defaults, each with where it is written down. "man" is keepalived.conf(5)
//! of Debian's keepalived 1:2.2.7 (section "Virtual server(s)"); "-t" is what
//! `keepalived -t` of that version prints for a virtual server that leaves it out.

/// `delay_loop`: man, "delay timer for checker polling (60 seconds if not specified)".
pub const DELAY_LOOP_MS: u64 = 60_000;
/// `connect_timeout`: man, "The default is 5 seconds".
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// `retry`: man, "Default: 1 unless specified below".
pub const RETRY: u32 = 1;
/// `retry` of DNS_CHECK: man, "The retry default is 3."
pub const RETRY_DNS: u32 = 3;
/// `retry` of MISC_CHECK: man, "The retry default is 0."
pub const RETRY_MISC: u32 = 0;
/// `delay_before_retry` of HTTP_GET/SSL_GET: man, "3 seconds for HTTP_GET and SSL_GET";
/// DNS_CHECK takes delay_loop; every other checker:
pub const DELAY_BEFORE_RETRY_HTTP_MS: u64 = 3_000;
/// man: "... and 1 second otherwise".
pub const DELAY_BEFORE_RETRY_MS: u64 = 1_000;
// `warmup`: man, "Enabled by default, with the maximum at delay_loop" — so the default is
// the effective delay_loop, computed per checker.
/// `weight`: man, "relative weight to use, default: 1".
pub const WEIGHT: u32 = 1;
/// `quorum`: man, "Defaults to 1."
pub const QUORUM: u32 = 1;
/// `hysteresis`: man, "Defaults to 0."
pub const HYSTERESIS: u32 = 0;
/// `persistence_timeout` without a value: man, "default 6 minutes".
pub const PERSISTENCE_TIMEOUT_S: u32 = 360;
/// No `lvs_sched`: -t, "no scheduler set, setting default 'wlc'".
pub const SCHED: &str = "wlc";
// No `lvs_method`: -t, "no forwarding method set, setting default NAT" (FwdMethod::Masq).
// No `protocol`: -t, "no protocol set - defaulting to UDP" (Proto::Udp) — surprising, but
// it is what keepalived 2.2.7 does, so a config that relies on it behaves the same.
/// `status_code`: man, "Default is 200-299" (rvs-check: an empty list means that).
/// `http_protocol`: keepalived sends HTTP/1.0 unless told otherwise (man lists 1.0, 1.0C,
/// 1.1; 1.0 is its built-in request line).
pub const HTTP_PROTOCOL: &str = "1.0";
/// DNS_CHECK `type`: man, "The default is SOA".
pub const DNS_TYPE: &str = "SOA";
/// DNS_CHECK `name`: man, "The default is . (dot)".
pub const DNS_NAME: &str = ".";
/// UDP_CHECK `min_reply_length`: man, "default 0".
pub const UDP_MIN_REPLY: usize = 0;
/// UDP_CHECK `max_reply_length`: man, "default is 255".
pub const UDP_MAX_REPLY: usize = 255;
/// SMTP_CHECK `helo_name`: not in the man page; keepalived's check_smtp.c
/// `SMTP_DEFAULT_HELO`.
pub const SMTP_HELO: &str = "smtpchecker.keepalived.org";
// MISC_CHECK `misc_timeout` unset: not in the man page; keepalived's check_misc.c falls
// back to the virtual server's delay_loop, and so does rvs (the effective delay_loop).
