//! Reference solution of ch06-request-timeout (chapter 6).
//!
//! Each connection is born with a deadline for its request head. The polling
//! loop visits every connection in every round, so the connection itself
//! compares the clock with its deadline whenever it has not got a whole head.

use std::io::{self, Read};
use std::mem;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use exercises::polling::PolledConnection;
use stage01_fixed_page::head::{HEAD_LIMIT, find_head_end};
use stage02_file_lookup::request::{BodyLength, Request, parse_request_head};
use stage02_file_lookup::response::Status;
use stage02_file_lookup::site::{error_response, respond, response_to_bad_request};
use stage06_nonblocking::outgoing::{Outgoing, WriteOutcome};

const NAME: &str = "ch06-request-timeout";

/// How long a client may take to send its request head, from the moment it
/// connected, unless `--request-timeout` says otherwise.
const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 10;

fn main() {
    let arguments = exercises::polling::cli(NAME, "stage 6, with a deadline for the request head")
        .option(
            "--request-timeout",
            "SECS",
            "answer 408 to a client whose request head is not complete this long after it \
             connected [default: 10]",
        )
        .parse();
    let request_timeout = Duration::from_secs(
        arguments
            .value("--request-timeout")
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS),
    );
    exercises::polling::serve(NAME, arguments, move |stream, peer| {
        Connection::new(stream, peer, request_timeout)
    });
}

/// A client, as the polling loop sees it.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    state: State,
}

/// The life of a stage 6 connection: read one request, send the answer, close.
enum State {
    /// `deadline` is fixed when the client connects. It is not moved when bytes
    /// arrive: a client that sends one byte a second must not keep us forever.
    Reading {
        received: Vec<u8>,
        deadline: Instant,
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
    fn new(
        stream: TcpStream,
        peer: SocketAddr,
        request_timeout: Duration,
    ) -> io::Result<Connection> {
        // A socket from `accept` does not inherit O_NONBLOCK from the listener.
        stream.set_nonblocking(true)?;
        Ok(Connection {
            stream,
            peer,
            state: State::Reading {
                received: Vec::new(),
                deadline: Instant::now() + request_timeout,
            },
        })
    }

    /// One read. When it completes the head, the answer is prepared and its
    /// first bytes are sent at once.
    fn read_request(&mut self, root: &Path, log: &AccessLog) -> bool {
        let State::Reading { received, deadline } = &mut self.state else {
            return false;
        };
        if Instant::now() >= *deadline {
            self.state = timed_out(root);
            self.send_answer(log);
            return true;
        }
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
        let sent_before = outgoing.bytes_sent();
        let outcome = outgoing.write_to(&mut self.stream);
        let progressed = outgoing.bytes_sent() > sent_before;
        let body_bytes = match outcome {
            Ok(WriteOutcome::SocketFull) => return progressed,
            Ok(WriteOutcome::Finished) => outgoing.body_length(),
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

/// The answer to a client that did not finish its head in time. It may still
/// be sending one (a byte now and then), so the close lingers: closing on
/// unread input would reset the connection and could destroy the 408.
fn timed_out(root: &Path) -> State {
    let response = error_response(
        Status::REQUEST_TIMEOUT,
        "the request head did not arrive in time",
        root,
    );
    let exchange = Exchange {
        request: None,
        status: response.status,
        unread_input: true,
    };
    match Outgoing::new(response, false) {
        Ok(outgoing) => State::Sending { outgoing, exchange },
        Err(_) => State::Closed,
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
