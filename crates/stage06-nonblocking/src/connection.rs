//! One client of stage 6: the bytes of its request received so far, the part of
//! its answer not sent yet, and where it is in its short life.
//!
//! Nothing here ever waits. Each call does what the socket allows right now and
//! returns; the polling loop in `main.rs` calls again on its next round.

use std::io::{self, Read};
use std::mem;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::outgoing::{Outgoing, SendFile, WriteOutcome};
use common::access_log::AccessLog;
use stage01_fixed_page::head::{HEAD_LIMIT, find_head_end};
use stage02_file_lookup::request::{BodyLength, Request, parse_request_head};
use stage02_file_lookup::response::{Response, Status};
use stage02_file_lookup::site::{error_response, respond, response_to_bad_request};

// ANCHOR: connection
/// A client, as the polling loop sees it.
pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    state: State,
    /// When `accept` returned it, and when its last byte came.
    connected_at: Instant,
    last_byte_at: Option<Instant>,
    /// What an extension changes: nothing, for stage 6 itself.
    extensions: Extensions,
}

/// The life of a stage 6 connection: read one request, send the answer, close.
enum State {
    /// Waiting for the whole request head; `received` holds what came so far.
    Reading { received: Vec<u8> },
    /// Sending the answer; `outgoing` holds what the socket has not taken yet.
    Sending {
        outgoing: Outgoing,
        exchange: Exchange,
    },
    /// The answer is sent and our side shut: throwing away what the client still
    /// sends, until it closes too or `until` passes (see [`Connection::linger`]).
    Lingering { until: Instant },
    /// Finished. The loop drops the connection, which closes the socket.
    Closed,
}
// ANCHOR_END: connection

/// What an extension of stage 6 may change about its connections: chapter 6's
/// exercises plug in here. Stage 6's own is `Extensions::default()`.
#[derive(Clone, Default)]
pub struct Extensions {
    /// How the rest of a file body leaves; `None`: a chunk at a time.
    pub file_sender: Option<Arc<dyn SendFile>>,
    /// Asked on every round while a request head is not whole yet; `None`:
    /// wait as long as the client likes.
    pub head_wait: Option<Arc<dyn HeadWait>>,
}

/// Whether to go on waiting for a request head (the exercise
/// `ch06-request-timeout` gives up on slow clients here). The polling loop
/// visits every connection on every round, so it is asked even when nothing
/// arrived.
pub trait HeadWait: Send + Sync {
    /// An answer to send now instead of waiting longer, or `None` to wait. The
    /// connection closes after it, first throwing away what the client still
    /// sends, so the answer is not lost to a reset.
    fn answer_instead(&self, head: &HeadSoFar, root: &Path) -> Option<Response>;
}

/// What [`HeadWait`] is told about a head still arriving.
pub struct HeadSoFar {
    pub connected_at: Instant,
    /// `None` while not a byte has come.
    pub last_byte_at: Option<Instant>,
    pub bytes_received: usize,
    pub now: Instant,
}

/// The request being answered, for the access log and for a clean close.
struct Exchange {
    request: Option<Request>,
    status: Status,
    /// The client sent bytes we will never read (a body, a second request, the
    /// rest of a head we refused): closing must not turn them into a reset.
    unread_input: bool,
}

/// How long a finished connection keeps throwing away input, at most.
const LINGER_TIME: Duration = Duration::from_secs(2);

impl Connection {
    // ANCHOR: new
    /// Takes a socket that `accept` just returned.
    pub fn new(stream: TcpStream, peer: SocketAddr) -> io::Result<Connection> {
        // On Linux a socket from `accept` does NOT inherit O_NONBLOCK from the
        // listening socket: without this line the first `read` would block the
        // whole server until this one client speaks.
        stream.set_nonblocking(true)?;
        Ok(Connection {
            stream,
            peer,
            state: State::Reading {
                received: Vec::new(),
            },
            connected_at: Instant::now(),
            last_byte_at: None,
            extensions: Extensions::default(),
        })
    }
    // ANCHOR_END: new

    /// The same connection, changed as `extensions` says.
    pub fn with_extensions(mut self, extensions: Extensions) -> Connection {
        self.extensions = extensions;
        self
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether an answer is on its way: what a stopping server still finishes.
    pub fn is_sending(&self) -> bool {
        matches!(self.state, State::Sending { .. })
    }

    // ANCHOR: make_progress
    /// Does what can be done right now without waiting. Returns whether anything
    /// happened, so the loop knows whether a round was idle.
    pub fn make_progress(&mut self, root: &Path, log: &AccessLog) -> bool {
        match self.state {
            State::Reading { .. } => self.read_request(root, log),
            State::Sending { .. } => self.send_answer(log),
            State::Lingering { .. } => self.linger(),
            State::Closed => false,
        }
    }
    // ANCHOR_END: make_progress

    // ANCHOR: read_request
    /// One read. When it completes the head, the answer is prepared and its
    /// first bytes are sent at once.
    fn read_request(&mut self, root: &Path, log: &AccessLog) -> bool {
        if let Some(answer) = self.answer_instead_of_waiting(root) {
            self.state = sending(None, answer, true, &self.extensions);
            self.send_answer(log);
            return true;
        }
        let State::Reading { received } = &mut self.state else {
            return false;
        };
        let mut chunk = [0; 4096];
        match self.stream.read(&mut chunk) {
            // Nothing has arrived. A blocking socket would wait here; this one
            // returns at once, and the loop goes on to the next client.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return false,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return false,
            Ok(count) if count > 0 => {
                received.extend_from_slice(&chunk[..count]);
                self.last_byte_at = Some(Instant::now());
            }
            // Zero bytes means the client closed; an error, that it broke the
            // connection. Either way, before a whole head: nothing to answer.
            Ok(_) | Err(_) => {
                self.state = State::Closed;
                return true;
            }
        }
        let head_end = find_head_end(received);
        if head_end.is_none() && received.len() <= HEAD_LIMIT {
            return true; // part of a head; the rest comes in a later round
        }
        let received = mem::take(received);
        self.state = prepare_answer(&received, head_end, root, &self.extensions);
        self.send_answer(log);
        true
    }
    // ANCHOR_END: read_request

    /// What the extension's [`HeadWait`], if any, answers instead of waiting.
    fn answer_instead_of_waiting(&self, root: &Path) -> Option<Response> {
        let (Some(head_wait), State::Reading { received }) =
            (&self.extensions.head_wait, &self.state)
        else {
            return None;
        };
        let head = HeadSoFar {
            connected_at: self.connected_at,
            last_byte_at: self.last_byte_at,
            bytes_received: received.len(),
            now: Instant::now(),
        };
        head_wait.answer_instead(&head, root)
    }

    // ANCHOR: send_answer
    /// Sends what the socket takes. When the answer is complete, closes, or
    /// lingers first if the client left bytes unread.
    fn send_answer(&mut self, log: &AccessLog) -> bool {
        let State::Sending { outgoing, exchange } = &mut self.state else {
            return false;
        };
        let sent_before = outgoing.bytes_sent();
        let outcome = outgoing.write_to(&mut self.stream);
        let progressed = outgoing.bytes_sent() > sent_before;
        let body_bytes = match outcome {
            // The socket is full: the rest waits in `outgoing` for a later round.
            Ok(WriteOutcome::SocketFull) => return progressed,
            Ok(WriteOutcome::Finished) => outgoing.body_length(),
            // The client went away; there is nobody left to answer.
            Err(_) => 0,
        };
        log.record(
            self.peer,
            exchange.request.as_ref().map(|request| request.line()),
            exchange.status.code,
            body_bytes,
        );
        self.state = match outcome {
            Ok(_) if exchange.unread_input => self.start_lingering(),
            _ => State::Closed,
        };
        true
    }
    // ANCHOR_END: send_answer

    // ANCHOR: linger
    /// Closing a socket that still holds unread input makes the kernel answer
    /// with a reset (RST) instead of a normal close (FIN), and a reset can reach
    /// the client before it has read our answer, destroying it. So, as
    /// `stage02_file_lookup::blocking` does for the blocking stages, we shut down writing (a
    /// FIN after the answer) and throw input away until the client closes too.
    fn start_lingering(&self) -> State {
        match self.stream.shutdown(Shutdown::Write) {
            Ok(()) => State::Lingering {
                until: Instant::now() + LINGER_TIME,
            },
            Err(_) => State::Closed,
        }
    }

    fn linger(&mut self) -> bool {
        let State::Lingering { until } = self.state else {
            return false;
        };
        let mut discard = [0; 4096];
        match self.stream.read(&mut discard) {
            Ok(count) if count > 0 => true,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                if Instant::now() < until {
                    return false;
                }
                self.state = State::Closed;
                true
            }
            // The client closed (or reset) its side: now we may close ours.
            Ok(_) | Err(_) => {
                self.state = State::Closed;
                true
            }
        }
    }
    // ANCHOR_END: linger
}

/// The answer to a complete head, or to a head that grew past the limit.
fn prepare_answer(
    received: &[u8],
    head_end: Option<usize>,
    root: &Path,
    extensions: &Extensions,
) -> State {
    let (request, response) = match head_end {
        Some(length) if length <= HEAD_LIMIT => match parse_request_head(&received[..length]) {
            Ok(request) => {
                let response = respond(&request, root);
                (Some(request), response)
            }
            Err(error) => (None, response_to_bad_request(&error, root)),
        },
        _ => (None, error_response(Status::HEADERS_TOO_LARGE, "", root)),
    };
    let unread_input = match (&request, head_end) {
        (Some(request), Some(length)) => {
            received.len() > length || request.body_length() != Ok(BodyLength::None)
        }
        _ => true,
    };
    sending(request, response, unread_input, extensions)
}

/// The state that sends `response`, then closes.
fn sending(
    request: Option<Request>,
    response: Response,
    unread_input: bool,
    extensions: &Extensions,
) -> State {
    let exchange = Exchange {
        status: response.status,
        request,
        unread_input,
    };
    // Stage 6 closes after every answer, so every head says `Connection: close`.
    let outgoing = Outgoing::new(response, false)
        .map(|outgoing| outgoing.with_file_sender(extensions.file_sender.clone()));
    match outgoing {
        Ok(outgoing) => State::Sending { outgoing, exchange },
        // The file could not be read after all: there is nothing honest to send.
        Err(_) => State::Closed,
    }
}
