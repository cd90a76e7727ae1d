//! One line per request on stdout, unless `--quiet` turned it off.

use std::fmt::Display;
use std::net::SocketAddr;

/// Writes the access log: who asked for what, and what they got.
#[derive(Debug, Clone, Copy)]
pub struct AccessLog {
    enabled: bool,
}

impl AccessLog {
    /// `quiet` is the `--quiet` option: under load, a line per request costs time.
    pub fn new(quiet: bool) -> AccessLog {
        AccessLog { enabled: !quiet }
    }

    /// Logs one exchange: `127.0.0.1:40212 "GET /style.css HTTP/1.1" 200 1532`.
    /// `request_line` is `None` when the head could not be parsed; it is only
    /// formatted when the log is on.
    pub fn record(
        &self,
        peer: SocketAddr,
        request_line: Option<impl Display>,
        status_code: u16,
        body_bytes: u64,
    ) {
        if !self.enabled {
            return;
        }
        match request_line {
            Some(line) => println!("{peer} \"{line}\" {status_code} {body_bytes}"),
            None => println!("{peer} \"-\" {status_code} {body_bytes}"),
        }
    }
}
