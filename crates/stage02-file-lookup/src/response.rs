//! A response: a status line, headers, and a body, written so that the client
//! can always tell where the response ends.
//!
//! Three habits of this module answer the bugs that readers of other server
//! tutorials keep running into:
//! - every response says `Content-Length`, so a client never has to guess where
//!   the body stops, and a kept-alive connection can carry the next response;
//! - a file body is streamed from its file, never read whole into memory, so a
//!   1 GiB download costs the server no more memory than a 1 KiB one;
//! - the head and the first part of the body leave in a single write, so a small
//!   response is one segment and Nagle's algorithm has no second write to hold.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write};

use stage01_fixed_page::date::http_date_now;

/// An HTTP status: the code and the reason phrase that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub code: u16,
    pub reason: &'static str,
}

impl Status {
    pub const OK: Status = Status::new(200, "OK");
    pub const BAD_REQUEST: Status = Status::new(400, "Bad Request");
    pub const FORBIDDEN: Status = Status::new(403, "Forbidden");
    pub const NOT_FOUND: Status = Status::new(404, "Not Found");
    pub const METHOD_NOT_ALLOWED: Status = Status::new(405, "Method Not Allowed");
    pub const REQUEST_TIMEOUT: Status = Status::new(408, "Request Timeout");
    pub const LENGTH_REQUIRED: Status = Status::new(411, "Length Required");
    pub const CONTENT_TOO_LARGE: Status = Status::new(413, "Content Too Large");
    pub const HEADERS_TOO_LARGE: Status = Status::new(431, "Request Header Fields Too Large");
    pub const INTERNAL_SERVER_ERROR: Status = Status::new(500, "Internal Server Error");
    pub const SERVICE_UNAVAILABLE: Status = Status::new(503, "Service Unavailable");
    pub const VERSION_NOT_SUPPORTED: Status = Status::new(505, "HTTP Version Not Supported");

    pub const fn new(code: u16, reason: &'static str) -> Status {
        Status { code, reason }
    }
}

/// Where a response's body comes from.
#[derive(Debug)]
pub enum Body {
    /// A small body built in memory: an error page, the fixed page of stage 1.
    Bytes(Vec<u8>),
    /// A file, opened but not read: `length` bytes are streamed from it.
    File { file: File, length: u64 },
}

/// A response that has not been sent yet.
#[derive(Debug)]
pub struct Response {
    pub status: Status,
    pub content_type: &'static str,
    /// Headers beyond the ones every response carries, such as `Allow`.
    pub extra_headers: Vec<(&'static str, String)>,
    pub body: Body,
    /// True for a `HEAD` request: the head says how long the body would be, and
    /// the body itself is not sent.
    pub omit_body: bool,
}

impl Response {
    /// A response whose body is a few bytes held in memory.
    pub fn from_bytes(
        status: Status,
        content_type: &'static str,
        bytes: impl Into<Vec<u8>>,
    ) -> Response {
        Response {
            status,
            content_type,
            extra_headers: Vec::new(),
            body: Body::Bytes(bytes.into()),
            omit_body: false,
        }
    }

    /// How many bytes the body has, whether or not it will be sent.
    pub fn content_length(&self) -> u64 {
        match &self.body {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File { length, .. } => *length,
        }
    }

    /// How many body bytes will go on the wire: none for `HEAD`.
    pub fn bytes_to_send(&self) -> u64 {
        if self.omit_body {
            0
        } else {
            self.content_length()
        }
    }

    // ANCHOR: head
    /// The status line and the headers, ending with the blank line. `keep_alive`
    /// chooses between `Connection: keep-alive` and `Connection: close`.
    pub fn head(&self, keep_alive: bool) -> Vec<u8> {
        let mut head = String::with_capacity(256);
        // `write!` into a String cannot fail, so its result is safe to ignore.
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nDate: {}\r\n",
            self.status.code,
            self.status.reason,
            self.content_type,
            self.content_length(),
            http_date_now(),
        );
        for (name, value) in &self.extra_headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        head.into_bytes()
    }
    // ANCHOR_END: head
}

// ANCHOR: write_response
/// How much one write carries. The first carries the head and the start of the
/// body, so most pages leave in a single write; a larger file follows in writes
/// of this size, so serving it takes this much memory, however large it is.
pub const WRITE_CHUNK: usize = 64 * 1024;

/// Writes a whole response to a blocking stream.
pub fn write_response(
    stream: &mut impl Write,
    response: Response,
    keep_alive: bool,
) -> io::Result<()> {
    let head = response.head(keep_alive);
    if response.omit_body {
        return stream.write_all(&head);
    }
    match response.body {
        Body::Bytes(bytes) => stream.write_all(&[head, bytes].concat()),
        Body::File { mut file, length } => {
            // A small file needs a small buffer: head and body, and no more.
            let size = (head.len() as u64 + length).min(WRITE_CHUNK as u64) as usize;
            let mut chunk = vec![0; size.max(head.len())];
            chunk[..head.len()].copy_from_slice(&head);
            let mut filled = head.len();
            let mut unsent = length;
            loop {
                let wanted = (chunk.len() - filled).min(unsent as usize);
                read_exactly(&mut file, &mut chunk[filled..filled + wanted])?;
                unsent -= wanted as u64;
                stream.write_all(&chunk[..filled + wanted])?;
                if unsent == 0 {
                    return Ok(());
                }
                filled = 0;
            }
        }
    }
}

/// Fills `buffer` from the file. If the file has shrunk since we announced its
/// length, we cannot keep the promise of `Content-Length`: the error makes the
/// caller close, so the client sees a cut response rather than waiting forever.
fn read_exactly(file: &mut impl Read, buffer: &mut [u8]) -> io::Result<()> {
    file.read_exact(buffer).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while it was sent",
        ),
        _ => error,
    })
}
// ANCHOR_END: write_response

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_carries_length_type_and_connection() {
        let response = Response::from_bytes(Status::OK, "text/plain", "hello");
        let head = String::from_utf8(response.head(false)).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("\r\nContent-Length: 5\r\n"));
        assert!(head.contains("\r\nContent-Type: text/plain\r\n"));
        assert!(head.ends_with("\r\nConnection: close\r\n\r\n"));
    }

    #[test]
    fn a_large_file_goes_out_whole_in_bounded_writes() {
        let path = std::env::temp_dir().join(format!("stage02-response-{}", std::process::id()));
        let content: Vec<u8> = (0..200_000u32).map(|index| (index % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let response = |length| Response {
            status: Status::OK,
            content_type: "application/octet-stream",
            extra_headers: Vec::new(),
            body: Body::File {
                file: File::open(&path).unwrap(),
                length,
            },
            omit_body: false,
        };
        let mut sent = Vec::new();
        write_response(&mut sent, response(content.len() as u64), false).unwrap();
        let head_end = stage01_fixed_page::head::find_head_end(&sent).unwrap();
        assert_eq!(&sent[head_end..], &content[..]);
        // A file shorter than the length announced is an error, not a hang.
        let error = write_response(&mut Vec::new(), response(300_000), false).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn small_response_goes_out_in_one_write() {
        /// Records the size of every write it is given.
        #[derive(Default)]
        struct Writes(Vec<usize>);
        impl Write for Writes {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0.push(bytes.len());
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut writes = Writes::default();
        let response = Response::from_bytes(Status::OK, "text/plain", vec![b'x'; 1000]);
        write_response(&mut writes, response, true).unwrap();
        assert_eq!(writes.0.len(), 1);
    }
}
