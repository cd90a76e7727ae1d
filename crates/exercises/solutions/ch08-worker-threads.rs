//! Reference solution of ch08-worker-threads (chapter 8).
//!
//! `serve` starts N worker threads, each with a `Server` of its own: its own
//! epoll set, its own table of connections, and a copy (a `dup`) of the one
//! listening socket, so the workers share the port and the kernel's accept
//! queue. Nothing else is shared, so nothing needs a lock.
//!
//! Stopping needs one new piece. A signal that `signalfd` reports is taken by
//! whichever reader comes first, so with N loops only one would ever hear it.
//! Instead one thread waits for the signals (`common::shutdown::on_stop_signal`,
//! as in stages 4 to 7) and then writes to an `eventfd` that every worker
//! watches: readable once written, for all of them at once.

use stage08_epoll::{admission, table};

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::access_log::{AccessLog, Backlog};
use common::cli::{Arguments, Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopSignals, on_stop_signal};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use stage06_nonblocking::accept::accept_waiting;
use stage07_keep_alive::connection::{Connection, DEFAULT_HEAD_TIMEOUT, Waiting};
use stage07_keep_alive::{idle_timeout, timeout_options};

use admission::{Admission, AdmitEveryone, refuse};
use table::{ConnectionTable, Token};

const NAME: &str = "ch08-worker-threads";

/// The event data of the two sockets that are not connections. Connection
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
    /// Whose connection it is, kept from `accept` to tell the admission when it
    /// ends: after a reset, asking the socket for its peer would fail.
    peer: SocketAddr,
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
    /// Readable, for every worker, once a stop signal came.
    stop: Arc<EventFd>,
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
    /// Who may open a connection: everyone.
    /// Sent to its worker thread with the rest of the server.
    admission: Box<dyn Admission + Send>,
}
// ANCHOR_END: server

impl Server {
    // ANCHOR: setup
    /// Sets up the event loop around a listening socket. `edge` asks for
    /// edge-triggered epoll (`--edge`).
    pub fn new(
        listener: TcpListener,
        stop: Arc<EventFd>,
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
            EpollEvent::new(listener_interest(trigger), LISTENER),
        )?;
        epoll.add(&*stop, EpollEvent::new(EpollFlags::EPOLLIN, STOP))?;
        Ok(Server {
            epoll,
            listener: Some(listener),
            listener_paused_until: None,
            stop,
            connections: ConnectionTable::new(),
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
        })
    }

    /// The same server, giving each request head `timeout` to arrive whole
    /// instead of stage 7's [`DEFAULT_HEAD_TIMEOUT`].
    pub fn with_head_timeout(mut self, timeout: Duration) -> Server {
        self.head_timeout = timeout;
        self
    }
    // ANCHOR_END: setup

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
                    STOP => self.begin_stop(now),
                    STDOUT => {} // written below, with this round's lines
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
            Ok(connection) => connection.with_head_timeout(self.head_timeout),
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
                peer,
                interest,
            },
            now,
        );
        let Some(entry) = self.connections.get_mut(token) else {
            return;
        };
        let event = EpollEvent::new(interest | self.trigger, token as u64);
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
        let wanted = match entry.connection.advance(&self.root, &self.log, now) {
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
            let mut event = EpollEvent::new(wanted | self.trigger, token as u64);
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
            self.admission.left(entry.peer);
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
        let event = EpollEvent::new(listener_interest(self.trigger), LISTENER);
        if let Err(error) = self.epoll.add(listener, event) {
            eprintln!("{NAME}: cannot watch the listener again: {error}");
        }
    }
    // ANCHOR_END: out_of_descriptors

    // ANCHOR: signals
    /// Closes the listener, so new clients are refused, and lets every
    /// connection finish the answer it is sending; idle ones close now.
    ///
    /// Both the listener and the eventfd leave the epoll set by hand. Closing
    /// a descriptor removes it from an epoll set only once no copy of it is
    /// open anywhere, and the other workers hold copies: left in the set, the
    /// listener would still wake this worker for every new client, and the
    /// eventfd, readable for good, on every wait, at 100% CPU.
    fn begin_stop(&mut self, now: Instant) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        let _ = self.epoll.delete(&*self.stop);
        if let Some(listener) = self.listener.take() {
            let _ = self.epoll.delete(&listener);
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

/// What a worker watches its copy of the listener for. `EPOLLEXCLUSIVE` asks
/// the kernel to wake one worker sleeping on it per new client, instead of all
/// of them (the "thundering herd", which would wake N threads to let one win
/// the `accept`); a worker that is busy is skipped, so the clients spread out.
fn listener_interest(trigger: EpollFlags) -> EpollFlags {
    EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE | trigger
}

/// Stage 8's server with `--workers N` event loops.
fn serve(name: &'static str, mut arguments: Arguments) {
    let idle_timeout = idle_timeout(name, &arguments);
    let workers: usize = arguments.value("--workers").unwrap_or(1);
    if workers == 0 {
        exit_with_startup_error(name, "--workers must be at least 1");
    }
    let head_timeout = arguments.seconds("--head-timeout", DEFAULT_HEAD_TIMEOUT);
    let stop = stop_event_on_signal(name);
    raise_descriptor_limit();
    let listener = listen_or_exit(name, &mut arguments.server);
    let log = AccessLog::non_blocking(arguments.server.quiet);
    let mut running = Vec::with_capacity(workers);
    for number in 1..=workers {
        let started = listener.try_clone().and_then(|listener| {
            let server = Server::new(
                listener,
                Arc::clone(&stop),
                arguments.switch("--edge"),
                idle_timeout,
                arguments.server.root.clone(),
                log,
            )?;
            let server = server.with_head_timeout(head_timeout);
            thread::Builder::new()
                .name(format!("worker-{number}"))
                .spawn(move || run_worker(name, server))
        });
        match started {
            Ok(worker) => running.push(worker),
            Err(error) => exit_with_startup_error(name, &format!("cannot start a worker: {error}")),
        }
    }
    // The workers hold copies of the listener; this one is not needed any more.
    drop(listener);
    let mut failed = false;
    for worker in running {
        failed |= !matches!(worker.join(), Ok(true));
    }
    if failed {
        process::exit(1);
    }
}

/// First, before any other thread exists: blocks the stop signals (every
/// thread started later inherits that) and has one thread wait for them and
/// raise the `eventfd` every worker watches. Never read, it stays readable.
fn stop_event_on_signal(name: &str) -> Arc<EventFd> {
    let stop = match EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK) {
        Ok(stop) => Arc::new(stop),
        Err(error) => exit_with_startup_error(name, &format!("cannot make an eventfd: {error}")),
    };
    let raise_stop = Arc::clone(&stop);
    let blocked = StopSignals::block_or_exit(name);
    let watched = on_stop_signal(&blocked, move || {
        let _ = raise_stop.write(1);
    });
    if let Err(error) = watched {
        exit_with_startup_error(name, &format!("cannot watch for Ctrl-C: {error}"));
    }
    stop
}

/// One worker's life: its loop, until the stop. Whether it ended well.
fn run_worker(name: &str, mut server: Server) -> bool {
    match server.run() {
        Ok(()) => true,
        Err(error) => {
            eprintln!("{name}: {error}");
            false
        }
    }
}

fn main() {
    let arguments = cli(NAME, "stage 8, with one event loop per worker thread")
        .option(
            "--workers",
            "N",
            "serve with N threads, each running its own event loop [default: 1]",
        )
        .parse();
    serve(NAME, arguments);
}
