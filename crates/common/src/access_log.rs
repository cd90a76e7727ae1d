//! One line per request on stdout, unless `--quiet` turned it off.

use std::net::SocketAddr;

use crate::request::Request;
use crate::response::Status;

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
    /// `request` is `None` when the head could not be parsed.
    pub fn record(
        &self,
        peer: SocketAddr,
        request: Option<&Request>,
        status: Status,
        body_bytes: u64,
    ) {
        if !self.enabled {
            return;
        }
        let request_line = match request {
            Some(request) => format!(
                "{} {} {}",
                request.method,
                request.target,
                request.version.as_str()
            ),
            None => "-".to_string(),
        };
        println!("{peer} \"{request_line}\" {} {body_bytes}", status.code);
    }
}
