//! The control protocol between rvsadm and rvsd: typed, versioned messages over a Unix
//! socket, each framed as a 4-byte big-endian length and a JSON body.
//!
//! JSON because operators debug control sockets with `socat`, and a -R of 10,000 services
//! is still only a few megabytes; the length prefix bounds what a peer can make us buffer.

use crate::cmd::{Command, DaemonSpec, Timeouts};
use crate::format::{ConnEntry, Table};
use crate::reply::Errno;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::io::{Read, Write};

/// Bumped on any incompatible change; the daemon refuses other versions with an error.
pub const VERSION: u32 = 1;

/// Largest message either side accepts: room for a -R of 100,000 services.
pub const MAX_MESSAGE: usize = 64 << 20;

/// Default control socket.
pub const DEFAULT_SOCKET: &str = "/run/rvs/rvsd.sock";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    pub body: RequestBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestBody {
    /// Apply these table changes as one transaction: all or none, one snapshot swap and
    /// one save. A single ipvsadm command is a transaction of one; `-R` sends them all.
    Apply(Vec<Command>),
    /// Services with their dests, counters and rates (`-L`, `-S`, `--stats`, `--rate`).
    GetTable,
    /// Connections and templates (`-Lc`).
    GetConns,
    /// `-L --timeout`.
    GetTimeouts,
    /// `-L --daemon`.
    GetDaemons,
    /// `rvsadm --io-stats`: the data path's ring, XDP and drop counters.
    GetIoStats,
    /// `rvsadm --check-status`: the health checker's view (virtual servers, checks, stalls).
    GetCheckStatus,
    /// `rvsadm --vrrp-status`: each VRRP instance's state, priorities, master, counters
    /// and last transitions (`rvs_vrrp::status_lines`, keepalived's data-dump shape).
    GetVrrpStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Ok,
    /// A refused change. `index` is the command of the transaction that failed (for -R
    /// messages); `errno` selects ipvsadm's wording through [`crate::reply::strerror`], and
    /// `message` is used when there is none (protocol errors, I/O errors).
    Error {
        index: usize,
        errno: Option<Errno>,
        message: String,
    },
    Table(Table),
    Conns(Vec<ConnEntry>),
    Timeouts(Timeouts),
    Daemons(Vec<DaemonSpec>),
    /// (section, counter, value); empty when rvsd serves no interface.
    IoStats(Vec<(String, String, u64)>),
    /// Lines of text; empty when rvsd runs without --config.
    CheckStatus(Vec<String>),
    /// Lines of text; empty when rvsd runs no VRRP instance.
    VrrpStatus(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE}-byte limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("protocol version {0} is not supported (this side speaks {VERSION})")]
    Version(u32),
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Write one framed message.
pub fn write_msg<W: Write, T: Serialize>(w: &mut W, msg: &T) -> Result<(), ProtoError> {
    let body = serde_json::to_vec(msg).map_err(|e| ProtoError::Malformed(e.to_string()))?;
    if body.len() > MAX_MESSAGE {
        return Err(ProtoError::TooLarge(body.len()));
    }
    w.write_all(&(body.len() as u32).to_be_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

/// Read one framed message, refusing oversized ones before buffering them.
pub fn read_msg<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<T, ProtoError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(ProtoError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    decode(&body)
}

/// Decode a message body (no framing).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ProtoError> {
    serde_json::from_slice(body).map_err(|e| ProtoError::Malformed(e.to_string()))
}

/// Decode a request body and check its version: what the daemon does with untrusted bytes.
pub fn decode_request(body: &[u8]) -> Result<Request, ProtoError> {
    // Look at the version alone first, so a future client gets "version" rather than
    // "malformed" when only the body's shape changed.
    #[derive(Deserialize)]
    struct Probe {
        version: u32,
    }
    let probe: Probe = decode(body)?;
    if probe.version != VERSION {
        return Err(ProtoError::Version(probe.version));
    }
    decode(body)
}

impl Request {
    pub fn new(body: RequestBody) -> Request {
        Request {
            version: VERSION,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let req = Request::new(RequestBody::Apply(vec![Command::Flush]));
        let mut buf = vec![];
        write_msg(&mut buf, &req).unwrap();
        let back: Request = read_msg(&mut &buf[..]).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn oversized_and_malformed_and_wrong_version_are_errors() {
        let mut big = ((MAX_MESSAGE + 1) as u32).to_be_bytes().to_vec();
        big.extend_from_slice(b"{}");
        assert!(matches!(
            read_msg::<_, Request>(&mut &big[..]),
            Err(ProtoError::TooLarge(_))
        ));
        assert!(matches!(
            decode_request(b"{\"version\":1,\"body\":\"Nope\"}"),
            Err(ProtoError::Malformed(_))
        ));
        assert!(matches!(
            decode_request(b"garbage"),
            Err(ProtoError::Malformed(_))
        ));
        assert!(matches!(
            decode_request(b"{\"version\":9,\"body\":\"GetTable\"}"),
            Err(ProtoError::Version(9))
        ));
        assert!(decode_request(b"{\"version\":1,\"body\":\"GetTable\"}").is_ok());
    }

    #[test]
    fn vrrp_status_round_trips() {
        let req: Request = decode(b"{\"version\":1,\"body\":\"GetVrrpStatus\"}").unwrap();
        assert_eq!(req.body, RequestBody::GetVrrpStatus);
        let resp = Response::VrrpStatus(vec![" VRRP Instance = VI_1".into()]);
        let mut buf = vec![];
        write_msg(&mut buf, &resp).unwrap();
        assert_eq!(read_msg::<_, Response>(&mut &buf[..]).unwrap(), resp);
    }
}
