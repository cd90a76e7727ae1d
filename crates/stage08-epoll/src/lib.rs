//! Stage 8: one thread, and the kernel says which sockets are ready.
//!
//! Stage 7 asked every socket, on every round, whether it had anything: with
//! 10,000 quiet connections that is 10,000 system calls per round for nothing,
//! and a core kept busy. `epoll` turns the question around. We tell the kernel
//! once which sockets we care about and for what (readable, writable); then
//! `epoll_wait` sleeps until at least one of them is ready and returns just
//! those. An idle server sleeps; a busy one touches only the sockets that can
//! make progress.
//!
//! The connection is stage 7's, unchanged (`stage07_keep_alive::connection`), and
//! accepting is stage 6's (`stage06_nonblocking::accept`); this file holds the
//! event loop and what it must get right:
//! - level-triggered by default: a ready socket is reported on every
//!   `epoll_wait` until it is no longer ready. `--edge` asks for edge-triggered
//!   (`EPOLLET`): reported once, when it becomes ready, so we must accept and
//!   read until `WouldBlock` or never hear of the rest;
//! - write interest only while output is pending: a socket with room in its send
//!   buffer is writable nearly always, and asking for that would wake us for
//!   nothing, over and over;
//! - idle timeouts from a list ordered by activity (`table.rs`), so `epoll_wait`
//!   sleeps exactly until the next connection would expire;
//! - head deadlines from a second list, of heads in progress in the order they
//!   are due, so a client that trickles its head (and is never idle) gets 408
//!   on time, even when it has stopped sending;
//! - out of file descriptors (EMFILE), the listener is set aside for a moment
//!   instead of reporting the same queued client again and again;
//! - SIGINT and SIGTERM arrive as readable data on a `signalfd` in the same
//!   epoll set, so stopping is just one more event ([`StopSource`]).
//!
//! Chapter 8 of the book explains this stage and its edge-triggered mistake.

pub mod admission;
pub mod table;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::process;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::access_log::{AccessLog, Backlog};
use common::cli::{Arguments, Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::StopSignals;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use stage06_nonblocking::accept::accept_waiting;
use stage07_keep_alive::connection::{
    Connection, DEFAULT_HEAD_TIMEOUT, OpenEachTime, Respond, Waiting,
};
use stage07_keep_alive::{idle_timeout, timeout_options};

use admission::{Admission, AdmitEveryone, refuse};
use table::{ConnectionTable, Token};

/// The crate's name, which its messages start with.
pub const NAME: &str = "stage08-epoll";

/// The event data of the descriptors that are not connections. Connection
/// tokens are table indices, far below these.
const LISTENER: u64 = u64::MAX;
const STOP: u64 = u64::MAX - 1;
const STDOUT: u64 = u64::MAX - 2;

/// How many events one `epoll_wait` may return. More ready sockets simply wait
/// for the next call.
const EVENTS_PER_WAIT: usize = 1024;

/// How long the listener is set aside after `accept` ran out of descriptors.
const LISTENER_PAUSE: Duration = Duration::from_millis(100);

/// A connection and what we last asked epoll to watch it for.
struct Entry {
    connection: Connection,
    interest: EpollFlags,
}

// ANCHOR: server
/// Everything the event loop owns.
pub struct Server {
    epoll: Epoll,
    /// `None` once the server is stopping.
    listener: Option<TcpListener>,
    /// Set while the listener is out of the epoll set after EMFILE.
    listener_paused_until: Option<Instant>,
    /// Readable when the server should stop.
    stop: StopSource,
    connections: ConnectionTable<Entry>,
    /// Connections that stopped only to let others have a turn: run them again
    /// before sleeping.
    next_turn: Vec<Token>,
    /// `EPOLLET` with `--edge`, empty otherwise; added to every registration.
    trigger: EpollFlags,
    idle_timeout: Duration,
    /// How long a request head may take to arrive whole (`--head-timeout`).
    head_timeout: Duration,
    root: PathBuf,
    log: AccessLog,
    /// stdout is in the epoll set: access log lines wait for room in it.
    watching_stdout: bool,
    stopping: bool,
    /// So running out of descriptors is reported once, not ten times a second.
    told_out_of_descriptors: bool,
    /// Who may open a connection: everyone, unless [`Server::with_admission`].
    /// `Send`, like the rest, so a server can be moved to a thread of its own.
    admission: Box<dyn Admission + Send>,
    /// What answers a request: stage 2's `respond`, unless [`Server::with_responder`].
    answers: Box<dyn Respond + Send>,
}
// ANCHOR_END: server

// ANCHOR: stop_source
/// How a server hears that it should stop: one more descriptor in its epoll set.
pub enum StopSource {
    /// SIGINT and SIGTERM, read from a `signalfd`: stage 8's own. A second
    /// signal ends the process at once.
    Signals(SignalFd),
    /// A descriptor that another thread makes readable once and leaves so, such
    /// as an `eventfd`: many servers can watch the same one. A signal cannot be
    /// shared that way: the first reader of a signalfd takes it from the others.
    Shared(Arc<dyn AsFd + Send + Sync>),
}

impl StopSource {
    /// Stage 8's stop: the signals `blocked` holds back, read from a signalfd.
    /// SIGINT and SIGTERM are blocked, so they no longer interrupt anything;
    /// they wait in the process until read, and epoll reports the signalfd
    /// readable while one is pending. No signal handler, no thread.
    pub fn signals(blocked: &StopSignals) -> io::Result<StopSource> {
        let flags = SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC;
        let signals = SignalFd::with_flags(blocked.set(), flags)?;
        Ok(StopSource::Signals(signals))
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            StopSource::Signals(signals) => signals.as_fd(),
            StopSource::Shared(shared) => shared.as_fd(),
        }
    }
}
// ANCHOR_END: stop_source

impl Server {
    // ANCHOR: setup
    /// Sets up the event loop around a listening socket, stopping when `stop`
    /// becomes readable. `edge` asks for edge-triggered epoll (`--edge`).
    pub fn new(
        listener: TcpListener,
        stop: StopSource,
        edge: bool,
        idle_timeout: Duration,
        root: PathBuf,
        log: AccessLog,
    ) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let trigger = if edge {
            EpollFlags::EPOLLET
        } else {
            EpollFlags::empty()
        };
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(
            &listener,
            EpollEvent::new(EpollFlags::EPOLLIN | trigger, LISTENER),
        )?;
        epoll.add(stop.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, STOP))?;
        Ok(Server {
            epoll,
            listener: Some(listener),
            listener_paused_until: None,
            stop,
            connections: ConnectionTable::with_capacity(table_capacity()),
            next_turn: Vec::new(),
            trigger,
            idle_timeout,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            root,
            log,
            watching_stdout: false,
            stopping: false,
            told_out_of_descriptors: false,
            admission: Box::new(AdmitEveryone),
            answers: Box::new(OpenEachTime),
        })
    }

    /// Level-triggered, epoll reports a socket again for as long as input waits
    /// in it, so one read per wake-up is enough; edge-triggered, a connection
    /// must read until `WouldBlock`.
    fn level_triggered_reads(&self, connection: Connection) -> Connection {
        if self.trigger.contains(EpollFlags::EPOLLET) {
            connection
        } else {
            connection.with_one_read_per_turn()
        }
    }

    /// The same server, giving each request head `timeout` to arrive whole
    /// instead of stage 7's [`DEFAULT_HEAD_TIMEOUT`].
    pub fn with_head_timeout(mut self, timeout: Duration) -> Server {
        self.head_timeout = timeout;
        self
    }
    // ANCHOR_END: setup

    /// The same server, with `answers` making every response (chapter 8's
    /// open-file cache exercise brings one that keeps files open).
    pub fn with_responder(mut self, answers: impl Respond + Send + 'static) -> Server {
        self.answers = Box::new(answers);
        self
    }

    /// The same server, asking `admission` who may open a connection.
    pub fn with_admission(mut self, admission: impl Admission + Send + 'static) -> Server {
        self.admission = Box::new(admission);
        self
    }

    // ANCHOR: event_loop
    /// Waits for events and handles them, until a stop signal came and every
    /// connection has finished.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = vec![EpollEvent::empty(); EVENTS_PER_WAIT];
        while !(self.stopping && self.connections.is_empty()) {
            let timeout = self.wait_timeout(Instant::now());
            // The one place this thread sleeps: until a socket is ready, a
            // signal is pending, or the next idle deadline comes.
            let ready = match self.epoll.wait(&mut events, timeout) {
                Ok(count) => count,
                Err(Errno::EINTR) => 0,
                Err(error) => return Err(error.into()),
            };
            let now = Instant::now();
            for event in &events[..ready] {
                match event.data() {
                    LISTENER => self.accept_new_clients(now),
                    STOP => self.hear_stop(now),
                    STDOUT => {} // written below, with this round's lines
                    // Connection tokens are table indices, below u32::MAX.
                    token => self.advance(token as Token, now),
                }
            }
            for token in std::mem::take(&mut self.next_turn) {
                self.advance(token, now);
            }
            self.answer_late_heads(now);
            self.close_idle_connections(now);
            self.resume_listener_when_due(now);
            self.write_access_log();
        }
        self.log.finish();
        Ok(())
    }
    // ANCHOR_END: event_loop

    // ANCHOR: wait_timeout
    /// How long `epoll_wait` may sleep: until the least recently active
    /// connection would reach the idle timeout, the first head in progress is
    /// due, or the listener's pause ends. Without any, forever: only an event
    /// can give us work.
    fn wait_timeout(&self, now: Instant) -> EpollTimeout {
        if !self.next_turn.is_empty() {
            return EpollTimeout::ZERO;
        }
        let idle_deadline = self
            .connections
            .oldest()
            .map(|(_, active_at)| active_at + self.idle_timeout);
        let head_deadline = self.connections.first_head_due().map(|(_, due)| due);
        let deadline = [idle_deadline, head_deadline, self.listener_paused_until]
            .into_iter()
            .flatten()
            .min();
        let Some(deadline) = deadline else {
            return EpollTimeout::NONE;
        };
        // Rounded up: waking a moment before the deadline would find nothing
        // due, and the next wait, of 0 ms, would spin until it came.
        let millis = deadline
            .saturating_duration_since(now)
            .as_nanos()
            .div_ceil(1_000_000);
        EpollTimeout::try_from(millis).unwrap_or(EpollTimeout::MAX)
    }

    /// Advances each connection whose head is due and still not whole: it sees
    /// the deadline has passed and answers 408. The heads list is in the order
    /// they are due, so this looks at no connection that is not due, and a head
    /// trickling in a byte at a time is caught at its deadline even if its last
    /// byte came long before (the activity list alone would put it at the back).
    fn answer_late_heads(&mut self, now: Instant) {
        while let Some((token, due)) = self.connections.first_head_due() {
            if due > now {
                return;
            }
            self.advance(token, now);
            if self.connections.first_head_due() == Some((token, due)) {
                // The connection did not act on its deadline; rather than ask
                // again forever, let it go.
                self.connections.remove(token);
            }
        }
    }

    /// Closes connections quiet for the idle timeout, oldest first; stops at
    /// the first one that is not, because all after it are younger.
    fn close_idle_connections(&mut self, now: Instant) {
        while let Some((token, active_at)) = self.connections.oldest() {
            if now.saturating_duration_since(active_at) < self.idle_timeout {
                return;
            }
            // Dropping the connection closes its socket, and closing a socket
            // removes it from every epoll set.
            self.remove_connection(token);
        }
    }
    // ANCHOR_END: wait_timeout

    // ANCHOR: access_log
    /// Hands the access log's queued lines to stdout, as far as it takes them
    /// now. While lines wait for room, stdout is in the epoll set, so its
    /// becoming writable wakes us; once none wait, it leaves again, or a
    /// writable stdout would wake us for nothing, all the time.
    fn write_access_log(&mut self) {
        let waiting = self.log.write_pending() == Backlog::WaitingForStdout;
        if waiting == self.watching_stdout {
            return;
        }
        let Some(stdout) = self.log.stdout() else {
            return;
        };
        let changed = if waiting {
            let event = EpollEvent::new(EpollFlags::EPOLLOUT, STDOUT);
            self.epoll.add(stdout, event)
        } else {
            self.epoll.delete(stdout)
        };
        if changed.is_ok() {
            self.watching_stdout = waiting;
        }
    }
    // ANCHOR_END: access_log

    // ANCHOR: accept
    /// Accepts every client in the kernel's queue, with stage 6's
    /// `accept_waiting`, which goes on until `WouldBlock`. That matters
    /// edge-triggered: the listener is reported when a client arrives, and
    /// arrivals between two waits merge into one event, so stopping after one
    /// `accept` would leave the others queued until yet another client comes,
    /// perhaps never.
    fn accept_new_clients(&mut self, now: Instant) {
        // Taken out for the round, so the closure may borrow the rest of `self`.
        let Some(listener) = self.listener.take() else {
            return;
        };
        let round = accept_waiting(NAME, &listener, |stream, peer| {
            self.add_connection(stream, peer, now);
        });
        self.listener = Some(listener);
        if round.accepted > 0 {
            self.told_out_of_descriptors = false;
        }
        if round.out_of_descriptors {
            self.pause_listener(now);
        }
    }

    /// Registers a new connection for input. If its request is already here,
    /// the next `epoll_wait` says so at once: adding a socket that is already
    /// ready reports it, even edge-triggered.
    fn add_connection(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        // Asked first: a refused client never becomes a connection.
        if let Err(refusal) = self.admission.admit(peer) {
            refuse(stream, peer, refusal, &self.root, &self.log);
            return;
        }
        let connection = match Connection::new(stream, peer, now) {
            Ok(connection) => {
                self.level_triggered_reads(connection.with_head_timeout(self.head_timeout))
            }
            Err(error) => {
                eprintln!("{NAME}: cannot use a new connection: {error}");
                self.admission.left(peer);
                return;
            }
        };
        let interest = EpollFlags::EPOLLIN;
        let token = self.connections.insert(
            Entry {
                connection,
                interest,
            },
            now,
        );
        let Some(entry) = self.connections.get_mut(token) else {
            return;
        };
        let event = EpollEvent::new(interest | self.trigger, u64::from(token));
        if let Err(error) = self.epoll.add(&entry.connection, event) {
            eprintln!("{NAME}: cannot watch a new connection: {error}");
            self.remove_connection(token);
        }
    }
    // ANCHOR_END: accept

    // ANCHOR: advance
    /// Lets a connection do what it can, then asks epoll to watch it for what
    /// it now waits for: input, or room to write, never both.
    fn advance(&mut self, token: Token, now: Instant) {
        // A token may outlive its connection (a turn queued before it closed);
        // then the slot is empty, or holds a newer connection, which advancing
        // once costs a read that says WouldBlock: harmless.
        let Some(entry) = self.connections.get_mut(token) else {
            return;
        };
        let active_before = entry.connection.last_activity();
        let waiting =
            entry
                .connection
                .advance_answering(&mut *self.answers, &self.root, &self.log, now);
        let wanted = match waiting {
            Waiting::ForInput => EpollFlags::EPOLLIN,
            // Write interest only now, while output is pending. A socket is
            // writable whenever its send buffer has room, which is nearly
            // always: asked for all the time, it would wake us for nothing.
            Waiting::ForOutput => EpollFlags::EPOLLOUT,
            Waiting::ForNextTurn => {
                self.next_turn.push(token);
                entry.interest
            }
            Waiting::Closed => {
                self.remove_connection(token);
                return;
            }
        };
        let moved = entry.connection.last_activity() != active_before;
        let head_due = entry.connection.head_deadline();
        if wanted != entry.interest {
            let mut event = EpollEvent::new(wanted | self.trigger, u64::from(token));
            if self.epoll.modify(&entry.connection, &mut event).is_err() {
                self.remove_connection(token);
                return;
            }
            entry.interest = wanted;
        }
        if moved {
            self.connections.touch(token, now);
        }
        // Most heads arrive whole in one read, so they start and end within one
        // `advance` and never enter the list; only a head still arriving does.
        self.connections.set_head_due(token, head_due);
    }
    // ANCHOR_END: advance

    /// The one way a connection leaves the table, whatever ended it (the
    /// client closed or reset it, it asked to close, it stayed idle too long,
    /// epoll would not watch it), so the admission hears of every end.
    fn remove_connection(&mut self, token: Token) {
        // Dropping the connection closes its socket, and closing a socket
        // removes it from every epoll set.
        if let Some(entry) = self.connections.remove(token) {
            // The address `accept` gave, kept by the connection: after a
            // reset, asking the socket for its peer would fail.
            self.admission.left(entry.connection.peer());
        }
    }

    // ANCHOR: out_of_descriptors
    /// `accept` failed with EMFILE: every descriptor this process may open is
    /// in use. The client stays in the queue, so the listener is still
    /// readable, and a level-triggered epoll would report it again at once,
    /// and again: a loop at 100% CPU that gets nothing done. So the listener
    /// leaves the epoll set for a moment; connections already open go on being
    /// served, and as they close, descriptors come back.
    fn pause_listener(&mut self, now: Instant) {
        if let Some(listener) = &self.listener {
            let _ = self.epoll.delete(listener);
        }
        self.listener_paused_until = Some(now + LISTENER_PAUSE);
        if !self.told_out_of_descriptors {
            eprintln!(
                "{NAME}: out of file descriptors ({} connections open); \
                 new clients wait in the queue",
                self.connections.len()
            );
            self.told_out_of_descriptors = true;
        }
    }

    fn resume_listener_when_due(&mut self, now: Instant) {
        match self.listener_paused_until {
            Some(until) if now >= until => self.listener_paused_until = None,
            _ => return,
        }
        let Some(listener) = &self.listener else {
            return;
        };
        // Adding it back reports it at once if clients are queued, even
        // edge-triggered: nothing that arrived meanwhile is lost.
        let event = EpollEvent::new(EpollFlags::EPOLLIN | self.trigger, LISTENER);
        if let Err(error) = self.epoll.add(listener, event) {
            eprintln!("{NAME}: cannot watch the listener again: {error}");
        }
    }
    // ANCHOR_END: out_of_descriptors

    // ANCHOR: signals
    /// The stop descriptor is readable. A stop signal is pending: the first
    /// starts a graceful stop, a second one ends the process at once. A shared
    /// stop is one stop, announced by whoever raised it.
    fn hear_stop(&mut self, now: Instant) {
        loop {
            let read = match &self.stop {
                StopSource::Signals(signals) => signals.read_signal(),
                StopSource::Shared(_) => return self.begin_stop(now),
            };
            match read {
                Ok(Some(_)) if self.stopping => {
                    eprintln!("stopped at once");
                    process::exit(130);
                }
                Ok(Some(_)) => {
                    eprintln!(
                        "stopping: no new connections, finishing the ones in progress (again to quit now)"
                    );
                    self.begin_stop(now);
                }
                Ok(None) => return, // nothing more pending
                Err(Errno::EINTR) => continue,
                Err(error) => {
                    eprintln!("{NAME}: reading signals failed: {error}");
                    return;
                }
            }
        }
    }

    /// Closes the listener, so new clients are refused, and lets every
    /// connection finish the answer it is sending; idle ones close now.
    ///
    /// The listener, and a shared stop, leave the epoll set by hand: closing a
    /// descriptor removes it from an epoll set only once no copy of it is open
    /// anywhere, and other servers may hold copies of both. Left in, they would
    /// wake this loop for every new client, and on every wait.
    fn begin_stop(&mut self, now: Instant) {
        self.stopping = true;
        if let Some(listener) = self.listener.take() {
            let _ = self.epoll.delete(&listener);
        }
        if let StopSource::Shared(shared) = &self.stop {
            let _ = self.epoll.delete(shared.as_fd());
        }
        self.listener_paused_until = None;
        for token in self.connections.tokens() {
            if let Some(entry) = self.connections.get_mut(token) {
                entry.connection.stop_after_current_response();
            }
            self.advance(token, now);
        }
    }
    // ANCHOR_END: signals
}

/// Room for as many connections as the process may open descriptors (each
/// connection is one), up to a bound that keeps a huge limit from reserving
/// gigabytes of address space.
fn table_capacity() -> usize {
    const MOST_RESERVED: u64 = 1 << 20;
    getrlimit(Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft.min(MOST_RESERVED))
        .try_into()
        .unwrap_or(1024)
}

// ANCHOR: descriptor_limit
/// Every connection is a file descriptor. Many systems start a program with a
/// soft limit of 1024 open files (a number from the days of `select`, whose
/// bitmaps stopped there) under a far higher hard limit. A process may raise its
/// own soft limit up to the hard one, and epoll has no reason to stop at 1024.
pub fn raise_descriptor_limit() {
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        // If this fails, the old limit stays; EMFILE is handled anyway.
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}
// ANCHOR_END: descriptor_limit

/// Stage 8's command line: port 7808, `--idle-timeout` and `--edge`. An
/// extension adds its own options before it calls `parse`.
pub fn cli(name: &'static str, about: &'static str) -> Cli {
    timeout_options(Cli::new(name, 7808, about)).switch(
        "--edge",
        "edge-triggered epoll (EPOLLET) instead of level-triggered",
    )
}

/// What stage 8's command line says about the server, beyond its address: to
/// build one [`Server`], or several that share a port (`ch08-worker-threads`).
pub struct Setup {
    edge: bool,
    idle_timeout: Duration,
    head_timeout: Duration,
    root: PathBuf,
    quiet: bool,
}

impl Setup {
    /// Reads the options of [`cli`] (a bad value ends the program with one
    /// line), and raises this process's descriptor limit.
    pub fn from_arguments(name: &'static str, arguments: &Arguments) -> Setup {
        raise_descriptor_limit();
        Setup {
            edge: arguments.switch("--edge"),
            idle_timeout: idle_timeout(name, arguments),
            head_timeout: arguments.seconds("--head-timeout", DEFAULT_HEAD_TIMEOUT),
            root: arguments.server.root.clone(),
            quiet: arguments.server.quiet,
        }
    }

    /// A server accepting from `listener` (or from a copy of it: copies share
    /// the port and the kernel's queue of clients) until `stop`.
    pub fn server(&self, listener: TcpListener, stop: StopSource) -> io::Result<Server> {
        let server = Server::new(
            listener,
            stop,
            self.edge,
            self.idle_timeout,
            self.root.clone(),
            // Queued and written without waiting: a stdout nobody reads must not stop the loop.
            AccessLog::non_blocking(self.quiet),
        )?;
        Ok(server.with_head_timeout(self.head_timeout))
    }
}

/// Stage 8's server as its `main` runs it, from the parsed command line to the
/// stop, with `admission` deciding who may open a connection ([`AdmitEveryone`]
/// for stage 8 itself).
pub fn serve(name: &'static str, arguments: Arguments, admission: impl Admission + Send + 'static) {
    serve_answering(name, arguments, admission, OpenEachTime);
}

/// [`serve`], with `answers` making every response instead of stage 2's
/// `respond` (the open-file cache exercise of chapter 8 brings its own).
pub fn serve_answering(
    name: &'static str,
    mut arguments: Arguments,
    admission: impl Admission + Send + 'static,
    answers: impl Respond + Send + 'static,
) {
    // First, before any other thread exists: the stop signals wait to be read.
    let blocked = StopSignals::block_or_exit(name);
    let setup = Setup::from_arguments(name, &arguments);
    let listener = listen_or_exit(name, &mut arguments.server);
    let server = StopSource::signals(&blocked).and_then(|stop| setup.server(listener, stop));
    let mut server = match server {
        Ok(server) => server.with_admission(admission).with_responder(answers),
        Err(error) => exit_with_startup_error(name, &format!("cannot set up epoll: {error}")),
    };
    if let Err(error) = server.run() {
        eprintln!("{name}: {error}");
        process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection is its slot in the table and nothing on the heap
    /// (its input buffer is given back while it waits), so the slot's size is
    /// what ten thousand idle connections cost, ten thousand times. Boxing what
    /// only a request in progress needs, 32-bit tokens and one copy of the
    /// peer's address keep it at 232 bytes on 64-bit Linux; before, 472.
    #[test]
    fn an_idle_connection_takes_at_most_240_bytes_of_table() {
        let slot = ConnectionTable::<Entry>::slot_size();
        assert!(slot <= 240, "a slot of the table takes {slot} bytes");
    }
}
