//! Reference solution of ch06-sendfile (chapter 6).
//!
//! A small body still goes with the head in one write, read as before. A larger
//! file goes out with `sendfile`: the kernel copies it from the page cache to
//! the socket, and this program never touches its bytes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use exercises::polling::PolledConnection;
use nix::errno::Errno;
use nix::sys::sendfile::sendfile;
use stage01_fixed_page::head::{HEAD_LIMIT, find_head_end};
use stage02_file_lookup::request::{BodyLength, Request, parse_request_head};
use stage02_file_lookup::response::{Body, Response, Status};
use stage02_file_lookup::site::{error_response, respond, response_to_bad_request};

const NAME: &str = "ch06-sendfile";

fn main() {
    let arguments = exercises::polling::cli(NAME, "stage 6, sending files with sendfile").parse();
    exercises::polling::serve(NAME, arguments, Connection::new);
}

// ---------------------------------------------------------------------------
// A response on its way out: the head from memory, a file body by `sendfile`.
// ---------------------------------------------------------------------------

/// A body up to this size is read and sent with the head, in one write: one
/// segment on the wire, and nothing for Nagle's algorithm to hold back.
/// Anything larger costs a write for the head alone, which a large body's
/// full-sized segments soon make up for.
const INLINE_LIMIT: u64 = 16 * 1024;

/// The most one `sendfile` call is asked for. Linux stops at about 2 GiB per
/// call anyway; on a non-blocking socket it stops far sooner, when the send
/// buffer is full.
const MOST_PER_SENDFILE: usize = 1 << 30;

/// A response that is partly sent: the bytes in memory, then the file.
struct Outgoing {
    /// The head, and the body too when it is small.
    ready: Vec<u8>,
    /// How many bytes at the front of `ready` the kernel has already taken.
    taken: usize,
    /// A larger file body, sent from the file's current position.
    file: Option<File>,
    /// How many bytes of `file` are still to send.
    file_left: u64,
    /// How many body bytes the response carries (none for `HEAD`), for the log.
    body_length: u64,
    /// Every byte the kernel has taken so far, head included.
    bytes_sent: u64,
}

/// Where [`Outgoing::write_to`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteOutcome {
    Finished,
    SocketFull,
}

impl Outgoing {
    fn new(response: Response, keep_alive: bool) -> io::Result<Outgoing> {
        let mut outgoing = Outgoing {
            ready: response.head(keep_alive),
            taken: 0,
            file: None,
            file_left: 0,
            body_length: response.bytes_to_send(),
            bytes_sent: 0,
        };
        if response.omit_body {
            return Ok(outgoing);
        }
        match response.body {
            Body::Bytes(bytes) => outgoing.ready.extend_from_slice(&bytes),
            Body::File { mut file, length } if length <= INLINE_LIMIT => {
                let start = outgoing.ready.len();
                outgoing.ready.resize(start + length as usize, 0);
                // `read_exact` fails if the file is shorter than announced.
                file.read_exact(&mut outgoing.ready[start..])?;
            }
            Body::File { file, length } => {
                outgoing.file = Some(file);
                outgoing.file_left = length;
            }
        }
        Ok(outgoing)
    }

    /// Sends as much as the socket takes now: first what is in memory, then
    /// the file. Returns when everything is sent or the socket is full.
    fn write_to(&mut self, stream: &mut TcpStream) -> io::Result<WriteOutcome> {
        while self.taken < self.ready.len() {
            match stream.write(&self.ready[self.taken..]) {
                Ok(count) if count > 0 => {
                    self.taken += count;
                    self.bytes_sent += count as u64;
                }
                Ok(_) => return Err(io::ErrorKind::WriteZero.into()),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(WriteOutcome::SocketFull);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
        self.send_file(stream)
    }

    /// `sendfile` until the file body is gone or the socket is full. Like
    /// `write` on a non-blocking socket, it may take only part of what it is
    /// asked for, and says `EAGAIN` when the send buffer has no room at all.
    /// Given no offset, it starts at the file's position and moves it on, as
    /// `read` would, so the next call carries on where this one stopped.
    fn send_file(&mut self, stream: &TcpStream) -> io::Result<WriteOutcome> {
        let Some(file) = &self.file else {
            return Ok(WriteOutcome::Finished);
        };
        while self.file_left > 0 {
            let wanted = usize::try_from(self.file_left)
                .unwrap_or(MOST_PER_SENDFILE)
                .min(MOST_PER_SENDFILE);
            match sendfile(stream, file, None, wanted) {
                Ok(count) if count > 0 => {
                    self.file_left -= count as u64;
                    self.bytes_sent += count as u64;
                }
                // The file ended before the length we announced: closing shows
                // the client a cut, never a hang.
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was sent",
                    ));
                }
                Err(Errno::EAGAIN) => return Ok(WriteOutcome::SocketFull),
                Err(Errno::EINTR) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        // Done: the file closes now rather than when the connection does.
        self.file = None;
        Ok(WriteOutcome::Finished)
    }
}

// ---------------------------------------------------------------------------
// Stage 6's connection, as chapter 6 shows it. You should not need to change it.
// ---------------------------------------------------------------------------

/// A client, as the polling loop sees it.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    state: State,
}

/// The life of a stage 6 connection: read one request, send the answer, close.
enum State {
    Reading {
        received: Vec<u8>,
    },
    Sending {
        outgoing: Outgoing,
        exchange: Exchange,
    },
    Lingering {
        until: Instant,
    },
    Closed,
}

/// The request being answered, for the access log and for a clean close.
struct Exchange {
    request: Option<Request>,
    status: Status,
    /// The client sent bytes we will never read: closing must not reset them.
    unread_input: bool,
}

/// How long a finished connection keeps throwing away input, at most.
const LINGER_TIME: Duration = Duration::from_secs(2);

impl Connection {
    fn new(stream: TcpStream, peer: SocketAddr) -> io::Result<Connection> {
        // A socket from `accept` does not inherit O_NONBLOCK from the listener.
        stream.set_nonblocking(true)?;
        Ok(Connection {
            stream,
            peer,
            state: State::Reading {
                received: Vec::new(),
            },
        })
    }

    /// One read. When it completes the head, the answer is prepared and its
    /// first bytes are sent at once.
    fn read_request(&mut self, root: &Path, log: &AccessLog) -> bool {
        let State::Reading { received } = &mut self.state else {
            return false;
        };
        let mut chunk = [0; 4096];
        match self.stream.read(&mut chunk) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return false,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return false,
            Ok(count) if count > 0 => received.extend_from_slice(&chunk[..count]),
            Ok(_) | Err(_) => {
                self.state = State::Closed;
                return true;
            }
        }
        let head_end = find_head_end(received);
        if head_end.is_none() && received.len() <= HEAD_LIMIT {
            return true;
        }
        let received = mem::take(received);
        self.state = prepare_answer(&received, head_end, root);
        self.send_answer(log);
        true
    }

    /// Sends what the socket takes. When the answer is complete, closes, or
    /// lingers first if the client left bytes unread.
    fn send_answer(&mut self, log: &AccessLog) -> bool {
        let State::Sending { outgoing, exchange } = &mut self.state else {
            return false;
        };
        let sent_before = outgoing.bytes_sent;
        let outcome = outgoing.write_to(&mut self.stream);
        let progressed = outgoing.bytes_sent > sent_before;
        let body_bytes = match outcome {
            Ok(WriteOutcome::SocketFull) => return progressed,
            Ok(WriteOutcome::Finished) => outgoing.body_length,
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
            Ok(_) | Err(_) => {
                self.state = State::Closed;
                true
            }
        }
    }
}

impl PolledConnection for Connection {
    fn make_progress(&mut self, root: &Path, log: &AccessLog) -> bool {
        match self.state {
            State::Reading { .. } => self.read_request(root, log),
            State::Sending { .. } => self.send_answer(log),
            State::Lingering { .. } => self.linger(),
            State::Closed => false,
        }
    }

    fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    fn is_sending(&self) -> bool {
        matches!(self.state, State::Sending { .. })
    }
}

/// The answer to a complete head, or to a head that grew past the limit.
fn prepare_answer(received: &[u8], head_end: Option<usize>, root: &Path) -> State {
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
    let exchange = Exchange {
        status: response.status,
        request,
        unread_input,
    };
    match Outgoing::new(response, false) {
        Ok(outgoing) => State::Sending { outgoing, exchange },
        Err(_) => State::Closed,
    }
}
