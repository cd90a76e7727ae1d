//! Reference solution of ch08-per-client-limit (chapter 8).
//!
//! The server counts the open connections of each client address. A client at
//! its limit has its new connection answered with a 429 and closed at once; it
//! never becomes a `Connection`. Every way a connection can end goes through
//! one method, `remove_connection`, so no path forgets to count it out.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::StopSignals;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use stage02_file_lookup::response::Status;
use stage02_file_lookup::site::error_response;
use stage06_nonblocking::outgoing::Outgoing;
use stage07_keep_alive::connection::{Connection, Waiting};

use exercises::table::{ConnectionTable, Token};

const NAME: &str = "ch08-per-client-limit";

/// The client's doing, not the server's trouble: 429 rather than 503.
const TOO_MANY_REQUESTS: Status = Status::new(429, "Too Many Requests");

/// The event data of the two sockets that are not connections. Connection
/// tokens are table indices, far below these.
const LISTENER: u64 = u64::MAX;
const SIGNALS: u64 = u64::MAX - 1;

/// How many events one `epoll_wait` may return. More ready sockets simply wait
/// for the next call.
const EVENTS_PER_WAIT: usize = 1024;

/// How long the listener is set aside after `accept` ran out of descriptors.
const LISTENER_PAUSE: Duration = Duration::from_millis(100);

const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 5;

/// How many connections one client address may hold, unless `--max-per-client`
/// says otherwise. Many browsers open six per site; a hundred leaves room for
/// many people behind one address (an office, a mobile carrier's gateway).
const DEFAULT_MAX_PER_CLIENT: usize = 100;

/// How many reads `refuse` spends throwing away what a refused client sent.
const REFUSAL_READS: usize = 16;

/// A connection and what we last asked epoll to watch it for.
struct Entry {
    connection: Connection,
    interest: EpollFlags,
    /// Whose connection it is, kept from `accept`: after a reset, asking the
    /// socket for its peer would fail.
    client: IpAddr,
}

/// Everything the event loop owns.
struct Server {
    epoll: Epoll,
    /// `None` once the server is stopping.
    listener: Option<TcpListener>,
    /// Set while the listener is out of the epoll set after EMFILE.
    listener_paused_until: Option<Instant>,
    signals: SignalFd,
    connections: ConnectionTable<Entry>,
    /// Connections that stopped only to let others have a turn: run them again
    /// before sleeping.
    next_turn: Vec<Token>,
    /// `EPOLLET` with `--edge`, empty otherwise; added to every registration.
    trigger: EpollFlags,
    idle_timeout: Duration,
    root: PathBuf,
    log: AccessLog,
    stopping: bool,
    /// So running out of descriptors is reported once, not ten times a second.
    told_out_of_descriptors: bool,
    max_per_client: usize,
    /// Open connections by client address; an address with none has no entry.
    open_per_client: HashMap<IpAddr, usize>,
}

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7808,
        "stage 8, with a limit on connections per client",
    )
    .option(
        "--idle-timeout",
        "SECS",
        "close a connection that stays quiet this long [default: 5]",
    )
    .switch(
        "--edge",
        "edge-triggered epoll (EPOLLET) instead of level-triggered",
    )
    .option(
        "--max-per-client",
        "N",
        "the most connections one client address may have open at once [default: 100]",
    )
    .parse();
    let idle_timeout = arguments
        .value("--idle-timeout")
        .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
    if idle_timeout == 0 {
        exit_with_startup_error(NAME, "--idle-timeout must be at least 1 second");
    }
    let max_per_client = arguments
        .value("--max-per-client")
        .unwrap_or(DEFAULT_MAX_PER_CLIENT);
    if max_per_client == 0 {
        exit_with_startup_error(NAME, "--max-per-client must be at least 1");
    }
    raise_descriptor_limit();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let trigger = if arguments.switch("--edge") {
        EpollFlags::EPOLLET
    } else {
        EpollFlags::empty()
    };
    let server = Server::new(
        listener,
        trigger,
        Duration::from_secs(idle_timeout),
        max_per_client,
        arguments.server.root.clone(),
        AccessLog::new(arguments.server.quiet),
    );
    let mut server = match server {
        Ok(server) => server,
        Err(error) => exit_with_startup_error(NAME, &format!("cannot set up epoll: {error}")),
    };
    if let Err(error) = server.run() {
        eprintln!("{NAME}: {error}");
        process::exit(1);
    }
}

impl Server {
    fn new(
        listener: TcpListener,
        trigger: EpollFlags,
        idle_timeout: Duration,
        max_per_client: usize,
        root: PathBuf,
        log: AccessLog,
    ) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        // SIGINT and SIGTERM are blocked, so they no longer interrupt anything;
        // they wait in the process until read from the signalfd, which epoll
        // reports readable when one is pending. No signal handler, no thread.
        let stop = StopSignals::block()?;
        let signals =
            SignalFd::with_flags(stop.set(), SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;

        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(
            &listener,
            EpollEvent::new(EpollFlags::EPOLLIN | trigger, LISTENER),
        )?;
        epoll.add(&signals, EpollEvent::new(EpollFlags::EPOLLIN, SIGNALS))?;
        Ok(Server {
            epoll,
            listener: Some(listener),
            listener_paused_until: None,
            signals,
            connections: ConnectionTable::new(),
            next_turn: Vec::new(),
            trigger,
            idle_timeout,
            root,
            log,
            stopping: false,
            told_out_of_descriptors: false,
            max_per_client,
            open_per_client: HashMap::new(),
        })
    }

    /// Waits for events and handles them, until a stop signal came and every
    /// connection has finished.
    fn run(&mut self) -> io::Result<()> {
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
                    LISTENER => self.accept_waiting(now),
                    SIGNALS => self.read_signals(now),
                    token => self.advance(token as Token, now),
                }
            }
            for token in std::mem::take(&mut self.next_turn) {
                self.advance(token, now);
            }
            self.close_idle_connections(now);
            self.resume_listener_when_due(now);
        }
        Ok(())
    }

    /// How long `epoll_wait` may sleep: until the least recently active
    /// connection would reach the idle timeout, or the listener's pause ends.
    /// Without either, forever: only an event can give us work.
    fn wait_timeout(&self, now: Instant) -> EpollTimeout {
        if !self.next_turn.is_empty() {
            return EpollTimeout::ZERO;
        }
        let idle_deadline = self
            .connections
            .oldest()
            .map(|(_, active_at)| active_at + self.idle_timeout);
        let deadline = [idle_deadline, self.listener_paused_until]
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

    /// Closes connections quiet for the idle timeout, oldest first; stops at
    /// the first one that is not, because all after it are younger.
    fn close_idle_connections(&mut self, now: Instant) {
        while let Some((token, active_at)) = self.connections.oldest() {
            if now.saturating_duration_since(active_at) < self.idle_timeout {
                return;
            }
            self.remove_connection(token);
        }
    }

    /// Accepts every client in the kernel's queue. Edge-triggered, the
    /// listener is reported when the queue goes from empty to not empty, not
    /// once per client: stop before `WouldBlock`, and the clients left in the
    /// queue wait until yet another one arrives, perhaps forever.
    fn accept_waiting(&mut self, now: Instant) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    self.told_out_of_descriptors = false;
                    if self.open_from(peer.ip()) >= self.max_per_client {
                        self.refuse(stream);
                    } else {
                        self.add_connection(stream, peer, now);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(error) if is_out_of_descriptors(&error) => {
                    self.pause_listener(now);
                    return;
                }
                Err(error) => {
                    eprintln!("{NAME}: accept failed: {error}");
                    return;
                }
            }
        }
    }

    /// Registers a new connection for input. If its request is already here,
    /// the next `epoll_wait` says so at once: adding a socket that is already
    /// ready reports it, even edge-triggered.
    fn add_connection(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        let connection = match Connection::new(stream, peer, now) {
            Ok(connection) => connection,
            Err(error) => {
                eprintln!("{NAME}: cannot use a new connection: {error}");
                return;
            }
        };
        let interest = EpollFlags::EPOLLIN;
        let client = peer.ip();
        let token = self.connections.insert(
            Entry {
                connection,
                interest,
                client,
            },
            now,
        );
        *self.open_per_client.entry(client).or_insert(0) += 1;
        let Some(entry) = self.connections.get_mut(token) else {
            return;
        };
        let event = EpollEvent::new(interest | self.trigger, token as u64);
        if let Err(error) = self.epoll.add(&entry.connection, event) {
            eprintln!("{NAME}: cannot watch a new connection: {error}");
            self.remove_connection(token);
        }
    }

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
    }

    /// How many connections `client` has open now.
    fn open_from(&self, client: IpAddr) -> usize {
        self.open_per_client.get(&client).copied().unwrap_or(0)
    }

    /// The one way a connection leaves: the client closed or reset it, it
    /// asked to close, it was idle too long, or epoll would not watch it. Each
    /// of those must give the client its place back, or a client that once
    /// reached its limit stays locked out for good.
    fn remove_connection(&mut self, token: Token) {
        // Dropping the connection closes its socket, and closing a socket
        // removes it from every epoll set.
        let Some(entry) = self.connections.remove(token) else {
            return;
        };
        if let Some(count) = self.open_per_client.get_mut(&entry.client) {
            *count -= 1;
            if *count == 0 {
                self.open_per_client.remove(&entry.client);
            }
        }
    }

    /// Turns away a client that already has its share of connections: a 429,
    /// and the close. It never becomes a `Connection` and costs no entry.
    ///
    /// What the client has sent so far is read and thrown away first: closing
    /// a socket that holds unread input makes the kernel reset the connection,
    /// and the reset can reach the client before it reads our answer. A
    /// request that arrives after we close still draws a reset, but by then
    /// the 429 is on its way.
    fn refuse(&self, mut stream: TcpStream) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let mut discard = [0; 4096];
        for _ in 0..REFUSAL_READS {
            if !matches!(stream.read(&mut discard), Ok(count) if count > 0) {
                break;
            }
        }
        let response = error_response(
            TOO_MANY_REQUESTS,
            "too many connections from your address",
            &self.root,
        );
        // The send buffer of a new socket is empty and the answer small: one
        // call sends it all. If not, the client sees a cut answer, then the close.
        if let Ok(mut outgoing) = Outgoing::new(response, false) {
            let _ = outgoing.write_to(&mut stream);
        }
        let _ = stream.shutdown(Shutdown::Write);
    }

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

    /// A stop signal is pending: the first starts a graceful stop, a second
    /// one ends the process at once.
    fn read_signals(&mut self, now: Instant) {
        loop {
            match self.signals.read_signal() {
                Ok(Some(_)) if self.stopping => {
                    eprintln!("stopped at once");
                    process::exit(130);
                }
                Ok(Some(_)) => self.begin_stop(now),
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
    fn begin_stop(&mut self, now: Instant) {
        eprintln!(
            "stopping: no new connections, finishing the ones in progress (again to quit now)"
        );
        self.stopping = true;
        self.listener = None;
        self.listener_paused_until = None;
        for token in self.connections.tokens() {
            if let Some(entry) = self.connections.get_mut(token) {
                entry.connection.stop_after_current_response();
            }
            self.advance(token, now);
        }
    }
}

/// Every connection is a file descriptor. Many systems start a program with a
/// soft limit of 1024 open files (a number from the days of `select`, whose
/// bitmaps stopped there) under a far higher hard limit. A process may raise its
/// own soft limit up to the hard one, and epoll has no reason to stop at 1024.
fn raise_descriptor_limit() {
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        // If this fails, the old limit stays; EMFILE is handled anyway.
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// EMFILE (this process's limit) or ENFILE (the whole system's).
fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE)
    )
}
