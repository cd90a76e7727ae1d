//! Stage 4: a thread per connection, or a bounded pool of threads.
//!
//! Threads run in one process and share its memory, so starting one costs far
//! less than a `fork`, and every connection can use the same `root` and access
//! log without copying them. By default each connection gets a thread of its own;
//! `--pool N` serves them instead from N threads that take connections from a
//! queue (the `threadpool` crate), so a flood of clients cannot make the server
//! start ten thousand threads.
//!
//! Both models block: a thread waits in `read` while its client is silent. So
//! `--read-timeout SECS` bounds how long a silent client may hold a thread, and
//! chapter 4's experiment shows why a pool of N needs it: N idle clients starve
//! it. Ctrl-C or SIGTERM stops accepting and lets the responses in flight finish
//! (`common::shutdown`).
//!
//! What this stage deliberately does not do: serve more connections than it has
//! threads at once, when pooled, nor hold thousands of idle clients cheaply.
//! Chapter 4 of the book explains this stage; chapter 5 moves to green threads.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Arguments, Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals, stop_on_signal};
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection_with;
use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;
use stage02_file_lookup::site::respond;
use threadpool::ThreadPool;

/// The crate's name, which its messages start with.
pub const NAME: &str = "stage04-multithread";

/// How long a client may stay silent, by default, before its thread gives up.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection's thread needs, shared by all of them through an `Arc`:
/// threads share memory, so there is one copy, not one per connection.
pub struct Site {
    pub root: PathBuf,
    pub log: AccessLog,
    pub client_timeout: Duration,
}

/// The work a thread does for one connection.
pub type Job = Box<dyn FnOnce() + Send>;

/// What the accept loop does with each new connection. Stage 4's own is
/// [`Site`]: hand it to a thread as it is. Chapter 4's exercises look at it
/// first (a status page, a limit per client).
pub trait Connections: Send + Sync + 'static {
    /// Called in the accept loop, on the one thread that accepts, before the
    /// connection has a thread: the work a thread does for it, or `None` when
    /// it was dealt with here.
    fn take(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<Job>;
}

impl Connections for Site {
    fn take(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<Job> {
        Some(Box::new(move || self.serve(stream, peer)))
    }
}

impl Site {
    /// Serves one connection, in whichever thread runs it.
    pub fn serve(&self, stream: TcpStream, peer: SocketAddr) {
        self.serve_with(stream, peer, respond);
    }

    // ANCHOR: serve
    /// Serves one connection, answering each well-formed request with `answer`
    /// (stage 2's `respond`, for stage 4 itself).
    pub fn serve_with(
        &self,
        mut stream: TcpStream,
        peer: SocketAddr,
        answer: impl Fn(&Request, &Path) -> Response,
    ) {
        // A silent client makes `read` fail after the timeout (the client gets
        // 408); a client that stops reading makes `write` fail the same way. Either
        // way the thread is free again.
        let timeouts_set = stream.set_read_timeout(Some(self.client_timeout)).is_ok()
            && stream.set_write_timeout(Some(self.client_timeout)).is_ok();
        if timeouts_set {
            serve_connection_with(&mut stream, peer, &self.root, &self.log, answer);
        }
    }
    // ANCHOR_END: serve
}

// ANCHOR: thread_each
/// A new thread for every connection. Nothing limits how many run at once.
/// `_blocked` proves that the stop signals are blocked, so the threads started
/// here inherit that: a Ctrl-C can never land in one and end the process.
pub fn serve_with_a_thread_each(
    listener: TcpListener,
    stop: &StopFlag,
    site: &Arc<impl Connections>,
    _blocked: &StopSignals,
) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = next_connection(&listener, stop) {
        // Forget the threads that have ended, so the list stays as long as the
        // number of connections in progress.
        threads.retain(|thread| !thread.is_finished());
        let Some(job) = Arc::clone(site).take(stream, peer) else {
            continue;
        };
        let started = thread::Builder::new().spawn(job);
        match started {
            Ok(thread) => threads.push(thread),
            // Out of memory or over the system's limit of threads: this client's
            // connection (moved into the closure) is closed, the server goes on.
            Err(error) => eprintln!("{NAME}: cannot start a thread for {peer}: {error}"),
        }
    }
    // Stopping. Close the listener first, so new clients are refused at once
    // instead of waiting in a queue nobody will accept from; then let every
    // response in progress finish.
    drop(listener);
    for thread in threads {
        let _ = thread.join();
    }
}
// ANCHOR_END: thread_each

// ANCHOR: pool
/// At most `pool.max_count()` threads, started once; connections wait in the
/// pool's queue until a thread is free. The pool bounds threads, not
/// connections: a queued connection is accepted and holds a file descriptor
/// while it waits.
pub fn serve_from_a_pool(
    listener: TcpListener,
    stop: &StopFlag,
    pool: ThreadPool,
    site: &Arc<impl Connections>,
    _blocked: &StopSignals,
) {
    while let Some((stream, peer)) = next_connection(&listener, stop) {
        if let Some(job) = Arc::clone(site).take(stream, peer) {
            pool.execute(job);
        }
    }
    // Stopping: refuse new clients, then wait until the queue is empty and every
    // thread is idle.
    drop(listener);
    pool.join();
}
// ANCHOR_END: pool

/// The next connection, or `None` once a stop signal has come.
fn next_connection(listener: &TcpListener, stop: &StopFlag) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = listener.accept();
        if stop.is_raised() {
            // Whatever woke us (our own wake-up connection, or a client that came
            // too late) is dropped, which closes it.
            return None;
        }
        match accepted {
            Ok(connection) => return Some(connection),
            Err(error) => after_accept_error(NAME, &error),
        }
    }
}

/// Stage 4's command line: port 7804, `--pool` and `--read-timeout`. An
/// extension adds its own options before it calls `parse`.
pub fn cli(name: &'static str, about: &'static str) -> Cli {
    Cli::new(name, 7804, about)
        .option(
            "--pool",
            "N",
            "serve from a pool of N threads [default: a new thread per connection]",
        )
        .option(
            "--read-timeout",
            "SECS",
            "how long a client may stay silent (or stop reading) [default: 10]",
        )
}

/// Stage 4's server as its `main` runs it, from the parsed command line to the
/// stop. `connections` makes what the accept loop hands each connection to,
/// from stage 4's [`Site`] and the pool when there is one (for stage 4 itself,
/// the site as it is).
pub fn serve<C: Connections>(
    name: &'static str,
    mut arguments: Arguments,
    connections: impl FnOnce(Site, Option<&ThreadPool>) -> C,
) {
    let pool_size: Option<usize> = arguments.value("--pool");
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    if pool_size == Some(0) {
        exit_with_startup_error(name, "--pool must be above zero");
    }
    // Hold Ctrl-C and SIGTERM back from the start: `stop_on_signal` can only take
    // them up once the listener exists, and one that came in between must wait
    // for it rather than end the process.
    let blocked = StopSignals::block_or_exit(name);
    let listener = listen_or_exit(name, &mut arguments.server);
    let stop = stop_on_signal(name, &blocked, &listener);
    let site = Site {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        client_timeout: read_timeout,
    };
    // A clone of a `ThreadPool` is another handle on the same pool.
    let pool = pool_size.map(ThreadPool::new);
    let connections = Arc::new(connections(site, pool.as_ref()));
    match pool {
        None => serve_with_a_thread_each(listener, &stop, &connections, &blocked),
        Some(pool) => serve_from_a_pool(listener, &stop, pool, &connections, &blocked),
    }
}
