//! Exercise ch07-max-requests (chapter 7): a limit on requests per connection,
//! and a `Keep-Alive` header that announces it.
//!
//! Goal: the answer to the `--max-requests`-th request on a connection says
//! `Connection: close`, and the connection closes; requests pipelined behind it
//! are never answered. Every answer that keeps the connection open says how
//! long it will stay open and how many more requests it will take:
//! `Keep-Alive: timeout=5, max=3`, with `max` counting down. An answer that
//! closes has no `Keep-Alive` header.
//!
//! Servers bound the requests on one connection (nginx's `keepalive_requests`,
//! Apache's `MaxKeepAliveRequests`) so that no client holds one connection, and
//! whatever memory it gathered, for ever. The header lets a client see the end
//! coming: it stops reusing a connection before the server closes it under its
//! feet, the race chapter 7 describes.
//!
//! The connection below is a copy of `common::connection`, as chapter 7 shows
//! it; the loop that drives it is stage 7's (`exercises::kept_alive`).
//!
//! Check your work:  scripts/exercise check ch07-max-requests
//! Stuck?            scripts/exercise hint ch07-max-requests

use std::io::{self, Read};
use std::mem;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Instant;

use common::access_log::AccessLog;
use exercises::kept_alive::KeptConnection;
use stage01_fixed_page::head::{HEAD_LIMIT, find_head_end};
use stage02_file_lookup::request::{BodyLength, Request, parse_request_head};
use stage02_file_lookup::response::{Response, Status};
use stage02_file_lookup::site::{error_response, respond, response_to_bad_request};
use stage06_nonblocking::outgoing::{Outgoing, WriteOutcome};
use stage07_keep_alive::connection::{DEFAULT_HEAD_TIMEOUT, Waiting};

const NAME: &str = "ch07-max-requests";

fn main() {
    let arguments =
        exercises::kept_alive::cli(NAME, "stage 7, with a limit on requests per connection")
            .option(
                "--max-requests",
                "N",
                "close a connection once it has carried N requests [default: 100]",
            )
            .parse();
    exercises::kept_alive::serve(NAME, arguments, Connection::new);
}

/// The largest request body we read (and throw away) to keep a connection open.
/// A larger one gets `413 Content Too Large`, and the connection closes.
const BODY_LIMIT: u64 = 1024 * 1024;

/// How many bytes one `read` asks for.
const READ_CHUNK: usize = 16 * 1024;

/// How many steps (a read, a write, a parsed head) one call to
/// `advance` may take before it lets other connections have a turn.
const STEPS_PER_TURN: usize = 64;

/// A kept-alive connection and everything it has not finished yet.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes received and not used yet: part of a head, part of a body to skip,
    /// or whole requests that were sent ahead (pipelined).
    input: Vec<u8>,
    /// A read returned 0: the client will send nothing more.
    input_ended: bool,
    state: State,
    /// When bytes last moved, either way. The loop's idle timeout counts from here.
    last_activity: Instant,
    /// When the first byte of the head being read arrived (stage 7's head
    /// deadline); `None` between requests and while answering.
    head_started: Option<Instant>,
    /// The server is stopping: finish the answer in flight, then close.
    stopping: bool,
}

/// Where a connection is between two requests, or inside one.
enum State {
    /// Waiting for a whole head in `input` (between requests, or inside a head).
    ReadingHead,
    /// `left` more bytes of a request body to throw away, then `request` is answered.
    SkippingBody { left: u64, request: Request },
    /// Sending an answer; nothing more is read until it is gone.
    Sending {
        outgoing: Outgoing,
        exchange: Exchange,
    },
    /// The last answer is sent and our side shut; reading and throwing away
    /// whatever the client still sends, until it closes too.
    Lingering,
    /// Finished: the loop drops the connection, which closes the socket.
    Closed,
}

/// The request being answered, for the access log and for what comes after.
struct Exchange {
    request: Option<Request>,
    status: Status,
    keep_alive: bool,
}

/// The result of one step: the state to go on from, and whether to stop there.
enum Step {
    Go(State),
    Stop(State, Waiting),
}

/// What one read brought.
enum Received {
    Bytes,
    WouldBlock,
    End,
    Broken,
}

impl Connection {
    /// Takes a socket that `accept` just returned.
    fn new(stream: TcpStream, peer: SocketAddr, now: Instant) -> io::Result<Connection> {
        // A socket from `accept` does not inherit O_NONBLOCK from the listener.
        stream.set_nonblocking(true)?;
        Ok(Connection {
            stream,
            peer,
            input: Vec::new(),
            input_ended: false,
            state: State::ReadingHead,
            last_activity: now,
            head_started: None,
            stopping: false,
        })
    }

    /// Looks for a whole head in what has arrived, and reads more if there is none.
    fn read_head(&mut self, root: &Path, now: Instant) -> Step {
        // RFC 9112 asks servers to ignore empty lines before a request line; some
        // clients send one after a body.
        let blank = self
            .input
            .iter()
            .take_while(|&&byte| byte == b'\r' || byte == b'\n');
        let blank = blank.count();
        self.input.drain(..blank);
        if let Some(head_end) = find_head_end(&self.input) {
            self.head_started = None;
            if head_end > HEAD_LIMIT {
                return Step::Go(
                    self.refuse(None, error_response(Status::HEADERS_TOO_LARGE, "", root)),
                );
            }
            let head: Vec<u8> = self.input.drain(..head_end).collect();
            return Step::Go(self.start_request(&head, root));
        }
        if self.input.len() > HEAD_LIMIT {
            self.head_started = None;
            return Step::Go(
                self.refuse(None, error_response(Status::HEADERS_TOO_LARGE, "", root)),
            );
        }
        // Stage 7's head deadline: a head not whole 10 s after its first byte gets 408.
        if !self.input.is_empty() {
            let started = *self.head_started.get_or_insert(now);
            if now >= started + DEFAULT_HEAD_TIMEOUT {
                self.head_started = None;
                let response = error_response(Status::REQUEST_TIMEOUT, "", root);
                return Step::Go(self.refuse(None, response));
            }
        }
        if self.input_ended || (self.stopping && self.input.is_empty()) {
            // The client left (between requests, or half way through a head), or
            // we are stopping and nothing is in flight here.
            return Step::Stop(State::Closed, Waiting::Closed);
        }
        match self.receive(now) {
            Received::Bytes | Received::End => Step::Go(State::ReadingHead),
            Received::WouldBlock => Step::Stop(State::ReadingHead, Waiting::ForInput),
            Received::Broken => Step::Stop(State::Closed, Waiting::Closed),
        }
    }

    /// Decides what a complete head leads to: a body to skip, an answer, or a
    /// refusal that closes the connection.
    fn start_request(&mut self, head: &[u8], root: &Path) -> State {
        let request = match parse_request_head(head) {
            Ok(request) => request,
            Err(error) => return self.refuse(None, response_to_bad_request(&error, root)),
        };
        match request.body_length() {
            Ok(BodyLength::None) => self.answer(request, root),
            Ok(BodyLength::Fixed(length)) if length <= BODY_LIMIT => State::SkippingBody {
                left: length,
                request,
            },
            Ok(BodyLength::Fixed(_)) => {
                let response = error_response(Status::CONTENT_TOO_LARGE, "", root);
                self.refuse(Some(request), response)
            }
            // Decoding chunks only to throw them away is not worth the code (and
            // the bugs): 411 says "send a Content-Length instead".
            Ok(BodyLength::Chunked) => {
                let response = error_response(Status::LENGTH_REQUIRED, "", root);
                self.refuse(Some(request), response)
            }
            Err(error) => self.refuse(Some(request), response_to_bad_request(&error, root)),
        }
    }

    /// The answer to a complete request: kept alive if the client wants it.
    /// Start here: this is where a connection decides whether it stays open.
    fn answer(&mut self, request: Request, root: &Path) -> State {
        let keep_alive = request.wants_keep_alive() && !self.stopping;
        let response = respond(&request, root);
        self.start_sending(Some(request), response, keep_alive)
    }

    /// An answer after which the connection closes: once we refuse a request we
    /// cannot tell where the next one would start.
    fn refuse(&mut self, request: Option<Request>, response: Response) -> State {
        self.start_sending(request, response, false)
    }

    fn start_sending(
        &mut self,
        request: Option<Request>,
        response: Response,
        keep_alive: bool,
    ) -> State {
        let exchange = Exchange {
            request,
            status: response.status,
            keep_alive,
        };
        match Outgoing::new(response, keep_alive) {
            Ok(outgoing) => State::Sending { outgoing, exchange },
            // The file could not be read after all: there is nothing honest to send.
            Err(_) => State::Closed,
        }
    }

    /// Throws away what has arrived of a body, reads more if needed, then answers.
    fn skip_body(&mut self, left: u64, request: Request, root: &Path, now: Instant) -> Step {
        let from_input =
            usize::try_from(left).map_or(self.input.len(), |left| left.min(self.input.len()));
        self.input.drain(..from_input);
        let left = left - from_input as u64;
        if left == 0 {
            return Step::Go(self.answer(request, root));
        }
        if self.input_ended {
            return Step::Stop(State::Closed, Waiting::Closed);
        }
        let state = State::SkippingBody { left, request };
        match self.receive(now) {
            Received::Bytes | Received::End => Step::Go(state),
            Received::WouldBlock => Step::Stop(state, Waiting::ForInput),
            Received::Broken => Step::Stop(State::Closed, Waiting::Closed),
        }
    }

    /// Sends what the socket takes. Once the answer is gone: the next request,
    /// or a gentle close.
    fn send(
        &mut self,
        mut outgoing: Outgoing,
        exchange: Exchange,
        log: &AccessLog,
        now: Instant,
    ) -> Step {
        let sent_before = outgoing.bytes_sent();
        let outcome = outgoing.write_to(&mut self.stream);
        if outgoing.bytes_sent() > sent_before {
            self.last_activity = now;
        }
        let body_bytes = match outcome {
            Ok(WriteOutcome::SocketFull) => {
                return Step::Stop(State::Sending { outgoing, exchange }, Waiting::ForOutput);
            }
            Ok(WriteOutcome::Finished) => outgoing.body_length(),
            Err(_) => 0, // the client went away
        };
        log.record(
            self.peer,
            exchange.request.as_ref().map(|request| request.line()),
            exchange.status.code,
            body_bytes,
        );
        match outcome {
            Ok(_) if exchange.keep_alive => Step::Go(State::ReadingHead),
            Ok(_) => Step::Go(self.close_gently()),
            Err(_) => Step::Stop(State::Closed, Waiting::Closed),
        }
    }

    /// Closes after a last answer without risking a reset.
    ///
    /// We stop reading while we answer, so the client may have sent more that we
    /// never read; closing a socket with unread input makes the kernel send a
    /// reset (RST), which can destroy our answer before the client reads it. So
    /// we shut down writing (our FIN follows the answer), then read and throw
    /// away until the client closes too. The idle timeout bounds the wait.
    fn close_gently(&mut self) -> State {
        self.input.clear();
        match self.stream.shutdown(Shutdown::Write) {
            Ok(()) => State::Lingering,
            Err(_) => State::Closed,
        }
    }

    fn linger(&mut self) -> Step {
        let mut discard = [0; 4096];
        match self.stream.read(&mut discard) {
            Ok(count) if count > 0 => Step::Go(State::Lingering),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                Step::Stop(State::Lingering, Waiting::ForInput)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Step::Go(State::Lingering),
            // The client closed (or reset) its side: now ours can close.
            Ok(_) | Err(_) => Step::Stop(State::Closed, Waiting::Closed),
        }
    }

    /// One read into `input`.
    fn receive(&mut self, now: Instant) -> Received {
        let mut chunk = [0; READ_CHUNK];
        loop {
            return match self.stream.read(&mut chunk) {
                Ok(0) => {
                    // The client closed its side. It may still read: what it sent
                    // before closing is answered, then we close too.
                    self.input_ended = true;
                    Received::End
                }
                Ok(count) => {
                    self.input.extend_from_slice(&chunk[..count]);
                    self.last_activity = now;
                    Received::Bytes
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => Received::WouldBlock,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => Received::Broken,
            };
        }
    }
}

impl KeptConnection for Connection {
    /// When bytes last moved on this connection, either way.
    fn last_activity(&self) -> Instant {
        self.last_activity
    }

    /// The server is stopping: the answer in flight is finished (and says
    /// `Connection: close` if it has not started yet), then the connection closes.
    fn stop_after_current_response(&mut self) {
        self.stopping = true;
    }

    /// Does everything that can be done now without waiting, and says what the
    /// connection waits for next.
    fn advance(&mut self, root: &Path, log: &AccessLog, now: Instant) -> Waiting {
        for _ in 0..STEPS_PER_TURN {
            let step = match mem::replace(&mut self.state, State::Closed) {
                State::ReadingHead => self.read_head(root, now),
                State::SkippingBody { left, request } => self.skip_body(left, request, root, now),
                State::Sending { outgoing, exchange } => self.send(outgoing, exchange, log, now),
                State::Lingering => self.linger(),
                State::Closed => Step::Stop(State::Closed, Waiting::Closed),
            };
            match step {
                Step::Go(state) => self.state = state,
                Step::Stop(state, waiting) => {
                    self.state = state;
                    return waiting;
                }
            }
        }
        // A client that keeps the socket busy (a long pipeline, a fast reader of a
        // large file) must not keep every other client waiting.
        Waiting::ForNextTurn
    }
}
