//! The little HTTP that `lab send` and `lab canned` need: where a request or
//! response head ends, and one response read whole by its `Content-Length`.
//! (`lab hold` reads its answers with the checker's strict client instead, so
//! that a failed request says what went wrong.)

use std::io::{self, Read};
use std::net::TcpStream;

/// Reads one response whose length `Content-Length` gives.
pub fn read_one_response(stream: &mut TcpStream) -> io::Result<()> {
    let mut received = Vec::new();
    let mut chunk = [0; 16 * 1024];
    loop {
        let count = stream.read(&mut chunk)?;
        if count == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the response ended",
            ));
        }
        received.extend_from_slice(&chunk[..count]);
        let Some(head_end) = find(&received, b"\r\n\r\n").map(|at| at + 4) else {
            continue;
        };
        let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| io::Error::other("no Content-Length"))?;
        if received.len() >= head_end + length {
            return Ok(());
        }
    }
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
