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
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::access_log::AccessLog;
use common::shutdown::{StopFlag, StopSignals};
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection;
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

impl Site {
    // ANCHOR: serve
    /// Serves one connection, in whichever thread runs it.
    fn serve(&self, mut stream: TcpStream, peer: SocketAddr) {
        // A silent client makes `read` fail after the timeout (the client gets
        // 408); a client that stops reading makes `write` fail the same way. Either
        // way the thread is free again.
        let timeouts_set = stream.set_read_timeout(Some(self.client_timeout)).is_ok()
            && stream.set_write_timeout(Some(self.client_timeout)).is_ok();
        if timeouts_set {
            serve_connection(&mut stream, peer, &self.root, &self.log);
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
    site: &Arc<Site>,
    _blocked: &StopSignals,
) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = next_connection(&listener, stop) {
        // Forget the threads that have ended, so the list stays as long as the
        // number of connections in progress.
        threads.retain(|thread| !thread.is_finished());
        let site = Arc::clone(site);
        let started = thread::Builder::new().spawn(move || site.serve(stream, peer));
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
/// At most `size` threads, started once; connections wait in the pool's queue
/// until a thread is free. The pool bounds threads, not connections: a queued
/// connection is accepted and holds a file descriptor while it waits.
pub fn serve_from_a_pool(
    listener: TcpListener,
    stop: &StopFlag,
    size: usize,
    site: &Arc<Site>,
    _blocked: &StopSignals,
) {
    let pool = ThreadPool::new(size);
    while let Some((stream, peer)) = next_connection(&listener, stop) {
        let site = Arc::clone(site);
        pool.execute(move || site.serve(stream, peer));
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
