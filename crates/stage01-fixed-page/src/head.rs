//! Reading a request head: the request line and the header lines, up to the
//! blank line that ends them.
//!
//! TCP delivers a stream of bytes, not messages. One `read` may return half a
//! request line, or a whole head and the start of the next request; a client on a
//! slow link may send a head a byte at a time. So a server reads into a buffer
//! until the buffer holds the blank line, and it refuses to wait for a head that
//! grows without end.

use std::fmt;
use std::io::{self, Read};

// ANCHOR: limit
/// The longest request head we accept, in bytes. A longer head gets
/// `431 Request Header Fields Too Large`. Browsers send well under 2 KiB; the
/// limit keeps one client from making the server buffer without bound.
pub const HEAD_LIMIT: usize = 8 * 1024;
// ANCHOR_END: limit

/// How many bytes one `read` asks for. A head usually arrives in one piece, but
/// nothing guarantees it, so this is a chunk size, not a limit.
const READ_CHUNK: usize = 2 * 1024;

/// Why no complete head could be read.
#[derive(Debug)]
pub enum HeadError {
    /// The client closed the connection before sending a single byte.
    /// Browsers do this with the spare connections they open in advance.
    ClosedBeforeRequest,
    /// The client closed the connection in the middle of a head.
    Truncated,
    /// The head grew past [`HEAD_LIMIT`] without ending.
    TooLarge,
    /// The socket failed, or a read timeout expired.
    Io(io::Error),
}

impl fmt::Display for HeadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::ClosedBeforeRequest => {
                formatter.write_str("the client closed the connection before a request")
            }
            HeadError::Truncated => {
                formatter.write_str("the client closed in the middle of a head")
            }
            HeadError::TooLarge => write!(formatter, "the head grew past {HEAD_LIMIT} bytes"),
            HeadError::Io(error) => write!(formatter, "reading the head failed: {error}"),
        }
    }
}

impl std::error::Error for HeadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HeadError::Io(error) => Some(error),
            _ => None,
        }
    }
}

// ANCHOR: find_head_end
/// Where the head ends: the length of the head including its blank line, if
/// `buffer` holds a whole one.
///
/// Lines end in CRLF, but RFC 9112 lets a server also accept a bare LF, which is
/// what a person typing into `nc` sends. So the blank line is a LF followed by
/// either LF or CRLF.
pub fn find_head_end(buffer: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(offset) = buffer[start..].iter().position(|&byte| byte == b'\n') {
        let after_newline = start + offset + 1;
        let rest = &buffer[after_newline..];
        if rest.starts_with(b"\n") {
            return Some(after_newline + 1);
        }
        if rest.starts_with(b"\r\n") {
            return Some(after_newline + 2);
        }
        start = after_newline;
    }
    None
}
// ANCHOR_END: find_head_end

// ANCHOR: read_request_head
/// Reads from a blocking `stream` until `buffer` holds a whole request head, and
/// returns the head's length. Bytes that arrived after the head (a body, or the
/// next pipelined request) stay in `buffer` after it.
pub fn read_request_head(stream: &mut impl Read, buffer: &mut Vec<u8>) -> Result<usize, HeadError> {
    loop {
        if let Some(length) = find_head_end(buffer) {
            return if length > HEAD_LIMIT {
                Err(HeadError::TooLarge)
            } else {
                Ok(length)
            };
        }
        if buffer.len() > HEAD_LIMIT {
            return Err(HeadError::TooLarge);
        }
        let old_length = buffer.len();
        buffer.resize(old_length + READ_CHUNK, 0);
        let received = match stream.read(&mut buffer[old_length..]) {
            // A read of zero bytes is how the other side says "I closed".
            Ok(0) => {
                buffer.truncate(old_length);
                return Err(if buffer.is_empty() {
                    HeadError::ClosedBeforeRequest
                } else {
                    HeadError::Truncated
                });
            }
            Ok(received) => received,
            // A signal arrived during the read: nothing is wrong, read again.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
            Err(error) => {
                buffer.truncate(old_length);
                return Err(HeadError::Io(error));
            }
        };
        buffer.truncate(old_length + received);
    }
}
// ANCHOR_END: read_request_head

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes a few at a time, as a slow client would.
    struct Trickle<'a> {
        bytes: &'a [u8],
        piece: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let count = self.piece.min(self.bytes.len()).min(out.len());
            out[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    #[test]
    fn finds_the_end_with_crlf_or_bare_lf() {
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\n\r\nrest"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\n\nrest"), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\nHost: a\n\r\n"), Some(25));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\nHost: a\r\n"), None);
        assert_eq!(find_head_end(b""), None);
    }

    #[test]
    fn head_in_one_byte_pieces_is_read_whole() {
        let request = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nBODY";
        let mut stream = Trickle {
            bytes: request,
            piece: 1,
        };
        let mut buffer = Vec::new();
        let length = read_request_head(&mut stream, &mut buffer).unwrap();
        assert_eq!(&buffer[..length], &request[..28]);
    }

    #[test]
    fn bytes_after_the_head_are_kept() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next";
        let mut stream = Trickle {
            bytes: request,
            piece: 4096,
        };
        let mut buffer = Vec::new();
        let length = read_request_head(&mut stream, &mut buffer).unwrap();
        assert_eq!(&buffer[length..], b"GET /next");
    }

    #[test]
    fn oversized_head_is_refused() {
        let mut request = b"GET / HTTP/1.1\r\nX: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', HEAD_LIMIT));
        let mut stream = Trickle {
            bytes: &request,
            piece: 1000,
        };
        let error = read_request_head(&mut stream, &mut Vec::new()).unwrap_err();
        assert!(matches!(error, HeadError::TooLarge));
    }

    #[test]
    fn early_close_is_told_apart_from_a_cut_head() {
        let mut silent = Trickle {
            bytes: b"",
            piece: 1,
        };
        let error = read_request_head(&mut silent, &mut Vec::new()).unwrap_err();
        assert!(matches!(error, HeadError::ClosedBeforeRequest));
        let mut cut = Trickle {
            bytes: b"GET / HT",
            piece: 3,
        };
        let error = read_request_head(&mut cut, &mut Vec::new()).unwrap_err();
        assert!(matches!(error, HeadError::Truncated));
    }
}
