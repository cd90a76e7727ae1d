//! Exercise ch06-sendfile (chapter 6): let the kernel send the files.
//!
//! Goal: a file's bytes go from the page cache to the socket with the system
//! call `sendfile`, without ever passing through this program. Today `Outgoing`
//! (below, a copy of `common::outgoing`) reads each 64 KiB chunk of the file
//! into a buffer and writes the buffer to the socket: two copies of every byte,
//! and two system calls per chunk. Everything else stays as it is: the head
//! still says `Content-Length`, a partial send is finished later, `HEAD` gets no
//! body, a small page still leaves in one write.
//!
//! The connection further down is stage 6's own; the loop that drives it is
//! stage 6's too (`exercises::polling`). What you change is `Outgoing`.
//!
//! Check your work:  scripts/exercise check ch06-sendfile
//! Stuck?            scripts/exercise hint ch06-sendfile

use std::fs::File;
use std::io::{self, Read, Take, Write};
use std::mem;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use exercises::polling::PolledConnection;
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
// A response on its way out. Start here.
// ---------------------------------------------------------------------------

/// How much of a file is read into memory at a time.
const CHUNK_SIZE: usize = 64 * 1024;

/// A response that is partly sent: what is ready to go, and what is still in its file.
struct Outgoing {
    /// Bytes ready to send: at first the head and the start of the body, later
    /// each chunk read from the file.
    ready: Vec<u8>,
    /// How many bytes at the front of `ready` the kernel has already taken.
    taken: usize,
    /// The rest of a file body, limited to the length the head announced.
    rest_of_file: Option<Take<File>>,
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
    /// Prepares `response` for sending. The first chunk of a file body goes
    /// right after the head, so that a small page leaves in a single write.
    fn new(response: Response, keep_alive: bool) -> io::Result<Outgoing> {
        let mut outgoing = Outgoing {
            ready: response.head(keep_alive),
            taken: 0,
            rest_of_file: None,
            body_length: response.bytes_to_send(),
            bytes_sent: 0,
        };
        if response.omit_body {
            return Ok(outgoing);
        }
        match response.body {
            Body::Bytes(bytes) => outgoing.ready.extend_from_slice(&bytes),
            Body::File { file, length } => {
                outgoing.rest_of_file = Some(file.take(length));
                outgoing.read_next_chunk()?;
            }
        }
        Ok(outgoing)
    }

    /// Sends as much as the socket takes now: until everything is sent or the
    /// socket is full. An `Err` means the connection is broken.
    fn write_to(&mut self, stream: &mut TcpStream) -> io::Result<WriteOutcome> {
        loop {
            if self.taken == self.ready.len() {
                // All that was ready is gone: fetch the next chunk of the file.
                self.ready.clear();
                self.taken = 0;
                if !self.read_next_chunk()? {
                    return Ok(WriteOutcome::Finished);
                }
            }
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
    }

    /// Appends the next chunk of the file to `ready`. `false` when the body is done.
    fn read_next_chunk(&mut self) -> io::Result<bool> {
        let Some(file) = self.rest_of_file.as_mut() else {
            return Ok(false);
        };
        let wanted = CHUNK_SIZE.min(usize::try_from(file.limit()).unwrap_or(CHUNK_SIZE));
        if wanted == 0 {
            self.rest_of_file = None;
            return Ok(false);
        }
        let start = self.ready.len();
        self.ready.resize(start + wanted, 0);
        let read = loop {
            match file.read(&mut self.ready[start..]) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(count) if count > 0 => {
                self.ready.truncate(start + count);
                Ok(true)
            }
            // The file ended before the length we announced: closing shows the
            // client a cut, never a hang.
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was sent",
            )),
            Err(error) => Err(error),
        }
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
