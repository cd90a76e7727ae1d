//! Serving one connection on a blocking socket: read a head, answer it, close.
//!
//! Chapter 2 builds this; stages 3, 4 and 5 reuse it unchanged and differ only in
//! who runs it (a process, a thread, a coroutine). Every call here blocks: `read`
//! waits until the client sends, `write` waits until the kernel takes the bytes.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use stage01_fixed_page::head::{HeadError, read_request_head};

use crate::request::{BodyLength, Request, parse_request_head};
use crate::response::{Response, Status, write_response};
use crate::site::{error_response, respond, response_to_bad_request};

/// What a blocking server needs from a connection beyond reading and writing.
/// `std::net::TcpStream` has it; stage 5 gives it to `may`'s coroutine sockets.
pub trait BlockingStream: Read + Write {
    /// Sends our FIN: "I will write no more", while we can still read.
    fn shutdown_write(&self) -> io::Result<()>;
    /// How long one `read` may wait before it fails with a timeout.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl BlockingStream for TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// One request and its answer, before the answer is written.
struct Exchange {
    request: Option<Request>,
    response: Response,
    /// The client may have sent bytes we will never read: a body, or the rest of a
    /// head we refused. See [`linger_and_close`].
    unread_input: bool,
}

// ANCHOR: serve_connection
/// Serves one connection: one request, one response, then the connection closes.
pub fn serve_connection(
    stream: &mut impl BlockingStream,
    peer: SocketAddr,
    root: &Path,
    log: &AccessLog,
) {
    serve_connection_with(stream, peer, root, log, respond);
}

/// [`serve_connection`] with another way to answer a well-formed request: the
/// exercises use it to grow the server without rewriting the connection handling.
pub fn serve_connection_with(
    stream: &mut impl BlockingStream,
    peer: SocketAddr,
    root: &Path,
    log: &AccessLog,
    respond: impl Fn(&Request, &Path) -> Response,
) {
    let Some(exchange) = read_and_answer(stream, root, respond) else {
        return; // the client left without asking anything
    };
    let status = exchange.response.status;
    let body_bytes = exchange.response.bytes_to_send();
    // A write error means the client went away; there is no one left to tell.
    let written = write_response(stream, exchange.response, false);
    log.record(
        peer,
        exchange.request.as_ref().map(|request| request.line()),
        status.code,
        if written.is_ok() { body_bytes } else { 0 },
    );
    if exchange.unread_input {
        linger_and_close(stream);
    }
}

/// Reads one request head and works out the response, or `None` when the client
/// closed (or broke) the connection before sending a whole head.
fn read_and_answer(
    stream: &mut impl Read,
    root: &Path,
    respond: impl Fn(&Request, &Path) -> Response,
) -> Option<Exchange> {
    let mut buffer = Vec::new();
    let refused = |status, reason| Exchange {
        request: None,
        response: error_response(status, reason, root),
        unread_input: true,
    };
    let head_length = match read_request_head(stream, &mut buffer) {
        Ok(head_length) => head_length,
        Err(HeadError::TooLarge) => return Some(refused(Status::HEADERS_TOO_LARGE, "")),
        Err(HeadError::Io(error)) if is_timeout(&error) => {
            return Some(refused(
                Status::REQUEST_TIMEOUT,
                "no complete request arrived in time",
            ));
        }
        Err(HeadError::ClosedBeforeRequest | HeadError::Truncated | HeadError::Io(_)) => {
            return None;
        }
    };
    let exchange = match parse_request_head(&buffer[..head_length]) {
        Ok(request) => Exchange {
            response: respond(&request, root),
            unread_input: buffer.len() > head_length
                || request.body_length() != Ok(BodyLength::None),
            request: Some(request),
        },
        Err(error) => Exchange {
            request: None,
            response: response_to_bad_request(&error, root),
            unread_input: true,
        },
    };
    Some(exchange)
}
// ANCHOR_END: serve_connection

/// A read timeout shows up as `WouldBlock` or `TimedOut`, depending on the OS.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

// ANCHOR: linger_and_close
/// The longest we keep reading from a client we have finished answering.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Closes a connection whose client may still be sending.
///
/// Closing a socket that holds unread bytes makes the kernel answer with a reset
/// (RST) instead of a normal close (FIN), and a reset can reach the client before
/// it has read our response: it sees "connection reset" instead of our `431` or
/// `405`. So we stop writing, which sends our FIN, then read and throw away what
/// still comes until the client closes too, for a bounded time.
fn linger_and_close(stream: &mut impl BlockingStream) {
    if stream.shutdown_write().is_err() || stream.set_read_timeout(Some(LINGER_TIME)).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_TIME;
    let mut discard = [0; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut discard) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
}
// ANCHOR_END: linger_and_close
