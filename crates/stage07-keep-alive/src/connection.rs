//! One HTTP/1.1 connection on a non-blocking socket, kept open between requests.
//!
//! Chapter 7 builds this for stage 7's polling loop. It never waits:
//! [`Connection::advance`] reads, answers and writes as far as the socket allows
//! right now, then says what it is waiting for (more input, room to write, or
//! just its next turn), and the loop decides when to call again. Stage 7's loop
//! simply calls again on its next round; chapter 8's epoll loop uses the answer
//! to tell the kernel what to wake it for.
//!
//! Keeping a connection open makes one stream of bytes carry many requests, so
//! the server must know exactly where each one ends, and so must the client:
//! - a request ends with its head, unless its headers announce a body. A body
//!   with `Content-Length` is read and thrown away (this server never uses one).
//!   A chunked body, or one over [`BODY_LIMIT`], is refused with 411 or 413, and
//!   the connection closes: we no longer know where the next request starts;
//! - a head we cannot trust (400) or will not read (431) closes it too, and so
//!   does one that has not arrived whole by its deadline (408, see below);
//! - every response says `Content-Length`, so the client knows where it ends;
//! - requests sent before the previous answer came (pipelining) wait in the
//!   input buffer and are answered one at a time, in order;
//! - `Connection: close`, and HTTP/1.0 without `Connection: keep-alive`, close
//!   after the answer.
//!
//! The idle timeout belongs to the loop: it compares [`Connection::last_activity`]
//! with the clock and drops the connections that stayed quiet too long.
//!
//! The idle timeout alone cannot stop a client that sends its head one byte at a
//! time, each byte just before the timeout (the "slow-loris" attack): every byte
//! is activity, so the connection is never idle, and a few hundred such clients
//! hold a few hundred descriptors for as long as they like. So a head also has a
//! deadline of its own, [`Connection::head_deadline`]: it starts with the head's
//! first byte (between requests only the idle timeout applies), and a head that
//! is not whole by then gets `408 Request Timeout` and the connection closes.
//! The connection checks the deadline whenever it is advanced; the loop must
//! advance it when the deadline comes, even if the client sends nothing more.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::mem;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use stage01_fixed_page::head::{HEAD_LIMIT, find_head_end};
use stage02_file_lookup::request::{BodyLength, Request, RequestError, parse_request_head};
use stage02_file_lookup::response::{Response, Status};
use stage02_file_lookup::site::{error_response, respond, response_to_bad_request};
use stage06_nonblocking::outgoing::{Outgoing, WriteOutcome};

use crate::policy::{KeepAlivePolicy, KeepWhatIsAsked};

/// The largest request body we read (and throw away) to keep a connection open.
/// A larger one gets `413 Content Too Large`, and the connection closes.
pub const BODY_LIMIT: u64 = 1024 * 1024;

/// How long a request head may take to arrive, from its first byte to its blank
/// line, unless [`Connection::with_head_timeout`] says otherwise. A person typing
/// a request into `nc` needs longer than a browser, which sends its head in one
/// packet; 10 s is enough for the first and far more than the second needs.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How many bytes one `read` asks for.
const READ_CHUNK: usize = 16 * 1024;

// ANCHOR: read_buffer
thread_local! {
    /// Where every connection of this thread reads into before keeping what
    /// came in its own `input`. Safe Rust reads only into initialised memory,
    /// so a buffer made for each read would be zeroed for each read (16 KiB
    /// written to receive a 100-byte request); this one is zeroed once. And no
    /// connection holds 16 KiB while it waits: `input` keeps only what came.
    static READ_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}
// ANCHOR_END: read_buffer

/// How many steps (a read, a write, a parsed head) one call to
/// [`Connection::advance`] may take before it lets other connections have a turn:
/// without a bound, one client with a long pipeline, or a fast reader of a large
/// file, would keep the loop to itself.
const STEPS_PER_TURN: usize = 64;

// ANCHOR: connection
/// A kept-alive connection and everything it has not finished yet.
pub struct Connection {
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
    /// When the first byte of the head being read arrived; `None` between
    /// requests and while answering.
    head_started: Option<Instant>,
    /// How long a head may take to arrive whole, counted from `head_started`.
    head_timeout: Duration,
    /// The server is stopping: finish the answer in flight, then close.
    stopping: bool,
    /// Whether an answer keeps the connection open ([`crate::policy`]);
    /// `None` is stage 7's own, [`KeepWhatIsAsked`], which needs no memory.
    policy: Option<Arc<dyn KeepAlivePolicy>>,
    /// Requests answered on this connection so far, for the policy.
    answered: u32,
    /// The loop hears about waiting input for as long as it waits
    /// ([`Connection::with_one_read_per_turn`]).
    one_read_per_turn: bool,
    /// A read was made in this call to `advance`.
    read_this_turn: bool,
}

/// Where a connection is between two requests, or inside one.
///
/// An enum is as large as its largest variant, and a server holds one `State`
/// for every connection, most of them idle (`ReadingHead`, no data at all). So
/// what only a request in progress needs, the parsed request and the response
/// on its way out, is boxed: on the heap while it is needed, a pointer here.
enum State {
    /// Waiting for a whole head in `input` (between requests, or inside a head).
    ReadingHead,
    /// Sending the interim answer the policy asked for before a body
    /// ([`KeepAlivePolicy::interim_answer`]); then the body is skipped as usual.
    SendingInterim(Box<Interim>),
    /// `left` more bytes of a request body to throw away, then `request` is answered.
    SkippingBody { left: u64, request: Box<Request> },
    /// Sending an answer; nothing more is read until it is gone.
    Sending {
        outgoing: Box<Outgoing>,
        exchange: Box<Exchange>,
    },
    /// The last answer is sent and our side shut; reading and throwing away
    /// whatever the client still sends, until it closes too.
    Lingering,
    /// Finished: the loop drops the connection, which closes the socket.
    Closed,
}

// ANCHOR: respond
/// What makes the response to a complete, well-formed request. Every stage
/// answers with stage 2's `respond`, which opens the file anew for each request
/// ([`OpenEachTime`]); a loop may bring its own, which keeps what it learns
/// from one request to the next (chapter 8's open-file cache exercise).
pub trait Respond {
    fn respond(&mut self, request: &Request, root: &Path) -> Response;
}

/// Stage 2's answer: the file is found and opened for every request.
pub struct OpenEachTime;

impl Respond for OpenEachTime {
    fn respond(&mut self, request: &Request, root: &Path) -> Response {
        respond(request, root)
    }
}
// ANCHOR_END: respond

/// What [`Connection::advance`] stopped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// For the client to send more. The last read said `WouldBlock`.
    ForInput,
    /// For room in the socket's send buffer. The last write said `WouldBlock`.
    ForOutput,
    /// For nothing: it stopped only so other connections get a turn. Call
    /// `advance` again soon, without waiting for the socket.
    ForNextTurn,
    /// The connection is finished; drop it.
    Closed,
}
// ANCHOR_END: connection

/// An interim answer on its way out, and the request whose body it invites.
struct Interim {
    /// What is still to send of the interim answer.
    unsent: &'static [u8],
    /// The body's length, to skip once the interim answer is gone.
    left: u64,
    request: Box<Request>,
}

/// The request being answered, for the access log and for what comes after.
struct Exchange {
    request: Option<Box<Request>>,
    status: Status,
    keep_alive: bool,
    /// A refusal (400, 411, 413, 431): the client may still be sending.
    refused: bool,
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
    pub fn new(stream: TcpStream, peer: SocketAddr, now: Instant) -> io::Result<Connection> {
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
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            stopping: false,
            policy: None,
            answered: 0,
            one_read_per_turn: false,
            read_this_turn: false,
        })
    }

    // ANCHOR: one_read_per_turn
    /// The same connection, for a loop that is told about input for as long as
    /// it waits unread (level-triggered epoll): after one read in a turn,
    /// [`Connection::advance`] stops for input rather than read again only to
    /// hear `WouldBlock`, a system call per request that finds nothing. If more
    /// was there, the loop is told again at once. An edge-triggered loop is told
    /// once, so it must not use this: what it leaves unread it never hears of.
    pub fn with_one_read_per_turn(mut self) -> Connection {
        self.one_read_per_turn = true;
        self
    }
    // ANCHOR_END: one_read_per_turn

    /// The same connection, with `timeout` for each request head to arrive
    /// whole instead of [`DEFAULT_HEAD_TIMEOUT`].
    pub fn with_head_timeout(mut self, timeout: Duration) -> Connection {
        self.head_timeout = timeout;
        self
    }

    /// When the head now arriving must be whole, or `None` if no head has begun
    /// (between requests, or while an answer is sent). A loop that sleeps must
    /// wake by then and call [`Connection::advance`], which answers 408.
    pub fn head_deadline(&self) -> Option<Instant> {
        self.head_started.map(|started| started + self.head_timeout)
    }

    /// The same connection, deciding with `policy` whether it stays open after
    /// each answer (stage 7's own keeps it for as long as the client asks).
    pub fn with_policy(mut self, policy: Arc<dyn KeepAlivePolicy>) -> Connection {
        self.policy = Some(policy);
        self
    }

    fn policy(&self) -> &dyn KeepAlivePolicy {
        self.policy.as_deref().unwrap_or(&KeepWhatIsAsked)
    }

    /// The client's address, as `accept` gave it.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// When bytes last moved on this connection, either way.
    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    /// The server is stopping: the answer in flight is finished (and says
    /// `Connection: close` if it has not started yet), then the connection
    /// closes. Call [`Connection::advance`] afterwards: an idle connection closes
    /// there at once.
    pub fn stop_after_current_response(&mut self) {
        self.stopping = true;
    }

    // ANCHOR: advance
    /// Does everything that can be done now without waiting, and says what the
    /// connection waits for next.
    ///
    /// It returns [`Waiting::ForInput`] only after a read said `WouldBlock`
    /// (or, [`Connection::with_one_read_per_turn`], after one read), and
    /// [`Waiting::ForOutput`] only after a write did: it never stops while the
    /// socket could still give or take bytes. The polling loop does not need
    /// that promise (it asks again next round anyway); chapter 8's
    /// edge-triggered loop is built on it.
    pub fn advance(&mut self, root: &Path, log: &AccessLog, now: Instant) -> Waiting {
        self.advance_answering(&mut OpenEachTime, root, log, now)
    }

    /// [`Connection::advance`], with `answers` making the response to each
    /// complete request instead of stage 2's `respond`.
    pub fn advance_answering(
        &mut self,
        answers: &mut dyn Respond,
        root: &Path,
        log: &AccessLog,
        now: Instant,
    ) -> Waiting {
        self.read_this_turn = false;
        for _ in 0..STEPS_PER_TURN {
            let step = match mem::replace(&mut self.state, State::Closed) {
                State::ReadingHead => self.read_head(answers, root, now),
                State::SendingInterim(interim) => self.send_interim(interim, now),
                State::SkippingBody { left, request } => {
                    self.skip_body(left, request, answers, root, now)
                }
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
    // ANCHOR_END: advance

    // ANCHOR: read_head
    /// Looks for a whole head in what has arrived, and reads more if there is none.
    fn read_head(&mut self, answers: &mut dyn Respond, root: &Path, now: Instant) -> Step {
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
            let parsed = parse_request_head(&self.input[..head_end]);
            self.input.drain(..head_end);
            return Step::Go(self.start_request(parsed, answers, root));
        }
        if self.input.len() > HEAD_LIMIT {
            self.head_started = None;
            return Step::Go(
                self.refuse(None, error_response(Status::HEADERS_TOO_LARGE, "", root)),
            );
        }
        if self.head_is_late(now) {
            self.head_started = None;
            return Step::Go(self.refuse(None, error_response(Status::REQUEST_TIMEOUT, "", root)));
        }
        if self.input_ended || (self.stopping && self.input.is_empty()) {
            // The client left (between requests, or half way through a head), or
            // we are stopping and nothing is in flight here.
            return Step::Stop(State::Closed, Waiting::Closed);
        }
        if self.one_read_per_turn && self.read_this_turn {
            self.release_empty_input();
            return Step::Stop(State::ReadingHead, Waiting::ForInput);
        }
        match self.receive(now) {
            Received::Bytes | Received::End => Step::Go(State::ReadingHead),
            Received::WouldBlock => {
                self.release_empty_input();
                Step::Stop(State::ReadingHead, Waiting::ForInput)
            }
            Received::Broken => Step::Stop(State::Closed, Waiting::Closed),
        }
    }

    // ANCHOR: release_empty_input
    /// Gives `input`'s memory back while nothing is in it: a kept-alive
    /// connection spends most of its life waiting between requests, and a server
    /// holds thousands of them. The next request's bytes allocate it again.
    fn release_empty_input(&mut self) {
        if self.input.is_empty() {
            self.input = Vec::new();
        }
    }
    // ANCHOR_END: release_empty_input

    /// Starts the head's clock at its first byte, and says whether the head's
    /// deadline has passed without a whole head. Checked before reading more:
    /// a client that trickles bytes must not buy itself time with each one.
    fn head_is_late(&mut self, now: Instant) -> bool {
        if self.input.is_empty() {
            return false;
        }
        let started = *self.head_started.get_or_insert(now);
        now >= started + self.head_timeout
    }
    // ANCHOR_END: read_head

    // ANCHOR: start_request
    /// Decides what a complete head leads to: a body to skip, an answer, or a
    /// refusal that closes the connection.
    fn start_request(
        &mut self,
        parsed: Result<Request, RequestError>,
        answers: &mut dyn Respond,
        root: &Path,
    ) -> State {
        let request = match parsed {
            Ok(request) => Box::new(request),
            Err(error) => return self.refuse(None, response_to_bad_request(&error, root)),
        };
        match request.body_length() {
            Ok(BodyLength::None) => self.answer(request, answers, root),
            Ok(BodyLength::Fixed(length)) if length <= BODY_LIMIT => {
                // Only a body we will read may be invited; a client may wait
                // for the invitation before it sends (`Expect: 100-continue`).
                match self
                    .policy()
                    .interim_answer(&request)
                    .filter(|_| length > 0)
                {
                    Some(interim) => State::SendingInterim(Box::new(Interim {
                        unsent: interim,
                        left: length,
                        request,
                    })),
                    None => State::SkippingBody {
                        left: length,
                        request,
                    },
                }
            }
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
    fn answer(&mut self, request: Box<Request>, answers: &mut dyn Respond, root: &Path) -> State {
        let mut response = answers.respond(&request, root);
        self.answered = self.answered.saturating_add(1);
        // The policy is asked only when the connection could stay open.
        let keep_alive = request.wants_keep_alive()
            && !self.stopping
            && self.policy().keep_alive(self.answered, &mut response);
        self.start_sending(Some(request), response, keep_alive, false)
    }

    /// An answer after which the connection closes: once we refuse a request we
    /// cannot tell where the next one would start.
    fn refuse(&mut self, request: Option<Box<Request>>, response: Response) -> State {
        self.start_sending(request, response, false, true)
    }
    // ANCHOR_END: start_request

    fn start_sending(
        &mut self,
        request: Option<Box<Request>>,
        response: Response,
        keep_alive: bool,
        refused: bool,
    ) -> State {
        let exchange = Exchange {
            request,
            status: response.status,
            keep_alive,
            refused,
        };
        match Outgoing::new(response, keep_alive) {
            Ok(outgoing) => State::Sending {
                outgoing: Box::new(outgoing),
                exchange: Box::new(exchange),
            },
            // The file could not be read after all: there is nothing honest to send.
            Err(_) => State::Closed,
        }
    }

    /// Sends what is left of an interim answer. It is tiny, but a client that
    /// pipelined a large download before this request and reads slowly may
    /// have filled the send buffer: then it waits for room like any answer.
    fn send_interim(&mut self, mut interim: Box<Interim>, now: Instant) -> Step {
        match self.stream.write(interim.unsent) {
            Ok(count) if count > 0 => {
                self.last_activity = now;
                interim.unsent = &interim.unsent[count..];
                if interim.unsent.is_empty() {
                    let Interim { left, request, .. } = *interim;
                    Step::Go(State::SkippingBody { left, request })
                } else {
                    Step::Go(State::SendingInterim(interim))
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                Step::Stop(State::SendingInterim(interim), Waiting::ForOutput)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                Step::Go(State::SendingInterim(interim))
            }
            // A write of 0, or a broken connection: nobody is listening.
            Ok(_) | Err(_) => Step::Stop(State::Closed, Waiting::Closed),
        }
    }

    /// Throws away what has arrived of a body, reads more if needed, then answers.
    fn skip_body(
        &mut self,
        left: u64,
        request: Box<Request>,
        answers: &mut dyn Respond,
        root: &Path,
        now: Instant,
    ) -> Step {
        let from_input =
            usize::try_from(left).map_or(self.input.len(), |left| left.min(self.input.len()));
        self.input.drain(..from_input);
        let left = left - from_input as u64;
        if left == 0 {
            return Step::Go(self.answer(request, answers, root));
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

    // ANCHOR: send
    /// Sends what the socket takes. Once the answer is gone: the next request,
    /// or a gentle close.
    fn send(
        &mut self,
        mut outgoing: Box<Outgoing>,
        exchange: Box<Exchange>,
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
            Ok(_) => Step::Go(self.close_gently(exchange.refused)),
            Err(_) => Step::Stop(State::Closed, Waiting::Closed),
        }
    }
    // ANCHOR_END: send

    // ANCHOR: close_gently
    /// Closes after a last answer without risking a reset.
    ///
    /// We stop reading while we answer, so the client may have sent more that we
    /// have not read; closing a socket with unread input makes the kernel send a
    /// reset (RST), which can destroy our answer before the client reads it.
    /// After a refusal (the client may still be sending) or when more is already
    /// here, we shut down writing (our FIN follows the answer), then read and
    /// throw away until the client closes too; the idle timeout bounds the wait.
    /// Otherwise one read that says `WouldBlock` proves nothing is waiting, and
    /// a plain close is a clean FIN, without a round trip to wait for.
    fn close_gently(&mut self, refused: bool) -> State {
        if !refused && self.input.is_empty() && self.nothing_more_sent() {
            return State::Closed;
        }
        self.input.clear();
        match self.stream.shutdown(Shutdown::Write) {
            Ok(()) => State::Lingering,
            Err(_) => State::Closed,
        }
    }

    /// Whether the socket holds no unread byte (or the client has closed).
    fn nothing_more_sent(&mut self) -> bool {
        let mut probe = [0; 1];
        loop {
            return match self.stream.read(&mut probe) {
                Ok(0) => true,
                Ok(_) => false,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => error.kind() == io::ErrorKind::WouldBlock,
            };
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
    // ANCHOR_END: close_gently

    // ANCHOR: receive
    /// One read into `input`.
    fn receive(&mut self, now: Instant) -> Received {
        self.read_this_turn = true;
        READ_BUFFER.with_borrow_mut(|chunk| {
            loop {
                return match self.stream.read(chunk) {
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
        })
    }
    // ANCHOR_END: receive
}

/// The connection's socket, for a loop that asks the kernel to watch it
/// (stage 8 registers it with epoll).
impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;
    use std::net::TcpListener;
    use std::path::PathBuf;
    use std::time::Duration;

    /// A connected pair over loopback: our client end and the server's `Connection`.
    fn pair() -> (TcpStream, Connection) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (
            client,
            Connection::new(stream, peer, Instant::now()).unwrap(),
        )
    }

    fn root(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("stage07-conn-{name}-{}", std::process::id()));
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("a.txt"), "AAA").unwrap();
        fs::write(root.join("b.txt"), "BBBB").unwrap();
        root
    }

    /// Advances the connection until it waits for input again (or closes).
    fn run_until_idle(connection: &mut Connection, root: &Path) -> Waiting {
        let log = AccessLog::new(true);
        for _ in 0..100 {
            match connection.advance(root, &log, Instant::now()) {
                Waiting::ForOutput | Waiting::ForNextTurn => continue,
                waiting => return waiting,
            }
        }
        panic!("the connection never settled");
    }

    fn read_available(client: &mut TcpStream) -> String {
        std::thread::sleep(Duration::from_millis(50));
        client.set_nonblocking(true).unwrap();
        let mut bytes = Vec::new();
        let _ = client.read_to_end(&mut bytes);
        client.set_nonblocking(false).unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn pipelined_requests_with_a_body_are_answered_in_order() {
        let root = root("pipeline");
        let (mut client, mut connection) = pair();
        client
            .write_all(
                b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\n\r\n\
                  GET /a.txt HTTP/1.1\
                  GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(run_until_idle(&mut connection, &root), Waiting::ForInput);
        let answers = read_available(&mut client);
        let first = answers.find("405 Method Not Allowed").unwrap();
        let second = answers.find("BBBB").unwrap();
        assert!(first < second, "{answers}");
        assert!(
            !answers.contains("AAA"),
            "the body was read as a request: {answers}"
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_chunked_body_is_refused_and_the_connection_closes() {
        let root = root("chunked");
        let (mut client, mut connection) = pair();
        client
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            .unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(run_until_idle(&mut connection, &root), Waiting::Closed);
        let answer = read_available(&mut client);
        assert!(
            answer.starts_with("HTTP/1.1 411 Length Required\r\n"),
            "{answer}"
        );
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_head_not_whole_by_its_deadline_gets_408_however_it_trickles() {
        let root = root("late-head");
        let (mut client, connection) = pair();
        let mut connection = connection.with_head_timeout(Duration::from_secs(2));
        let log = AccessLog::new(true);
        let start = Instant::now();
        client.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(connection.advance(&root, &log, start), Waiting::ForInput);
        let deadline = start + Duration::from_secs(2);
        assert_eq!(connection.head_deadline(), Some(deadline));
        // One more byte just before the deadline is activity, but buys no time.
        client.write_all(b"s").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let almost = deadline - Duration::from_millis(1);
        assert_eq!(connection.advance(&root, &log, almost), Waiting::ForInput);
        assert_eq!(connection.last_activity(), almost);
        assert_eq!(connection.head_deadline(), Some(deadline));
        connection.advance(&root, &log, deadline);
        let answer = read_available(&mut client);
        assert!(
            answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{answer}"
        );
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
        assert_eq!(connection.head_deadline(), None);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn between_requests_only_the_idle_timeout_applies() {
        let root = root("between");
        let (mut client, connection) = pair();
        let mut connection = connection.with_head_timeout(Duration::from_secs(1));
        let log = AccessLog::new(true);
        let start = Instant::now();
        client
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(connection.advance(&root, &log, start), Waiting::ForInput);
        assert_eq!(connection.head_deadline(), None);
        let much_later = start + Duration::from_secs(60);
        assert_eq!(
            connection.advance(&root, &log, much_later),
            Waiting::ForInput
        );
        let answers = read_available(&mut client);
        assert!(answers.starts_with("HTTP/1.1 200 OK\r\n"), "{answers}");
        assert!(!answers.contains("408"), "{answers}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_connection_waiting_between_requests_holds_no_buffer() {
        let root = root("no-buffer");
        let (mut client, mut connection) = pair();
        client
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(run_until_idle(&mut connection, &root), Waiting::ForInput);
        assert!(read_available(&mut client).ends_with("AAA"));
        assert_eq!(connection.input.capacity(), 0);
        assert!(matches!(connection.state, State::ReadingHead));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn stopping_closes_an_idle_connection_at_once() {
        let root = root("stop");
        let (_client, mut connection) = pair();
        assert_eq!(run_until_idle(&mut connection, &root), Waiting::ForInput);
        connection.stop_after_current_response();
        assert_eq!(run_until_idle(&mut connection, &root), Waiting::Closed);
        fs::remove_dir_all(root).unwrap();
    }

    /// A request followed by the client's FIN: the read that drains the socket
    /// after the answer finds the end at once, so only a connection that reads
    /// once per turn is still open after the turn.
    fn answer_then_end(
        connection: &mut Connection,
        client: &mut TcpStream,
        root: &Path,
    ) -> Waiting {
        client
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let waiting = run_until_idle(connection, root);
        assert!(
            read_available(client).ends_with("AAA"),
            "the request was answered"
        );
        waiting
    }

    #[test]
    fn one_read_per_turn_leaves_the_rest_for_the_next_turn() {
        let root = root("one-read");
        let (mut client, connection) = pair();
        let mut connection = connection.with_one_read_per_turn();
        assert_eq!(
            answer_then_end(&mut connection, &mut client, &root),
            Waiting::ForInput
        );
        // Level-triggered epoll reports the end as input: the next turn reads it.
        assert_eq!(run_until_idle(&mut connection, &root), Waiting::Closed);

        let (mut client, mut connection) = pair();
        assert_eq!(
            answer_then_end(&mut connection, &mut client, &root),
            Waiting::Closed
        );
        fs::remove_dir_all(root).unwrap();
    }
}
