//! Reference solution of ch04-per-client-limit (chapter 4).
//!
//! The accept loop and the connection threads share one map from client
//! address to open connections, behind a `Mutex`. The loop counts a connection
//! in before it starts a thread; the thread's `ConnectionSlot` counts it out
//! when dropped, which happens however the connection ends.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals};
use exercises::stopping::{next_connection, stop_on_signal};
use stage02_file_lookup::blocking::serve_connection;
use stage02_file_lookup::response::{Status, write_response};
use stage02_file_lookup::site::error_response;

const NAME: &str = "ch04-per-client-limit";

/// How many connections one address may hold when `--per-client` is not given.
const DEFAULT_PER_CLIENT: usize = 64;
/// How long a client may stay silent, by default, before its thread gives up.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    let mut arguments = Cli::new(NAME, 7804, "stage 4 with a limit per client")
        .option(
            "--per-client",
            "N",
            "at most N connections at once from one address; more get 429 [default: 64]",
        )
        .option(
            "--read-timeout",
            "SECS",
            "how long a client may stay silent (or stop reading) [default: 10]",
        )
        .parse();
    let per_client: usize = arguments
        .value("--per-client")
        .unwrap_or(DEFAULT_PER_CLIENT);
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    if per_client == 0 {
        exit_with_startup_error(NAME, "--per-client must be above zero");
    }
    // Hold Ctrl-C and SIGTERM back until the thread that takes them up exists.
    let blocked = StopSignals::block_or_exit(NAME);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let stop = stop_on_signal(NAME, &blocked, &listener);
    let site = Arc::new(Site {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        client_timeout: read_timeout,
        per_client,
        open: Arc::new(OpenConnections::default()),
    });
    serve_with_a_thread_each(listener, &stop, &site);
}

/// What every connection's thread needs, shared by all of them through an `Arc`.
struct Site {
    root: PathBuf,
    log: AccessLog,
    client_timeout: Duration,
    /// How many connections one address may hold at once.
    per_client: usize,
    /// How many each address holds now.
    open: Arc<OpenConnections>,
}

const TOO_MANY_REQUESTS: Status = Status::new(429, "Too Many Requests");

/// How many connections each client address has open. The accept loop adds to
/// it and every connection's thread takes away, so it sits behind a `Mutex`: a
/// count and its check must happen as one step, or two threads could both see
/// 63 and both make it 64.
#[derive(Default)]
struct OpenConnections(Mutex<HashMap<IpAddr, usize>>);

impl OpenConnections {
    fn counts(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // A thread that panicked while holding the lock left the counts as they
        // were (every change is one statement): they are still good to use.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more connection from `address`, unless it already holds
    /// `limit`. The slot returned counts it out again when dropped.
    fn try_open(self: &Arc<Self>, address: IpAddr, limit: usize) -> Option<ConnectionSlot> {
        let mut counts = self.counts();
        let count = counts.entry(address).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            open: Arc::clone(self),
            address,
        })
    }
}

/// One counted connection. It lives in the connection's thread, and its `Drop`
/// counts the connection out on every way that thread can end: the response
/// sent, the client gone, a timeout, even a panic.
struct ConnectionSlot {
    open: Arc<OpenConnections>,
    address: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.open.counts();
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                // Forget the address, or the map would grow by one entry for
                // every address that ever connected.
                counts.remove(&self.address);
            }
        }
    }
}

impl Site {
    /// Serves one connection, in whichever thread runs it.
    fn serve(&self, mut stream: TcpStream, peer: SocketAddr) {
        let timeouts_set = stream.set_read_timeout(Some(self.client_timeout)).is_ok()
            && stream.set_write_timeout(Some(self.client_timeout)).is_ok();
        if timeouts_set {
            serve_connection(&mut stream, peer, &self.root, &self.log);
        }
    }
}

/// A new thread for every connection, as long as its client holds fewer than
/// `per_client` connections.
fn serve_with_a_thread_each(listener: TcpListener, stop: &StopFlag, site: &Arc<Site>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = next_connection(NAME, &listener, stop) {
        threads.retain(|thread| !thread.is_finished());
        // Counted here, in the one thread that accepts, before the connection's
        // thread exists: the next `accept` already sees this connection.
        let Some(slot) = site.open.try_open(peer.ip(), site.per_client) else {
            refuse(stream, peer, site);
            continue;
        };
        let site = Arc::clone(site);
        // The slot moves into the thread. If the thread cannot start, the closure
        // is dropped, and the slot with it.
        let started = thread::Builder::new().spawn(move || {
            let _slot = slot;
            site.serve(stream, peer);
        });
        match started {
            Ok(thread) => threads.push(thread),
            Err(error) => eprintln!("{NAME}: cannot start a thread for {peer}: {error}"),
        }
    }
    drop(listener);
    for thread in threads {
        let _ = thread.join();
    }
}

/// Answers `429 Too Many Requests` from the accept loop and closes. It reads
/// nothing: a client over its limit that sends nothing would otherwise hold up
/// the accept loop, or, in a thread of its own, hold the very thread the limit
/// is there to save. A fresh connection's send buffer is empty, so the write
/// does not wait; non-blocking makes sure.
fn refuse(mut stream: TcpStream, peer: SocketAddr, site: &Site) {
    let mut response = error_response(
        TOO_MANY_REQUESTS,
        "this address has as many connections open as it may",
        &site.root,
    );
    response
        .extra_headers
        .push(("Retry-After", "1".to_string()));
    let body_bytes = response.bytes_to_send();
    let written = stream
        .set_nonblocking(true)
        .and_then(|()| write_response(&mut stream, response, false));
    site.log.record(
        peer,
        None::<&str>,
        TOO_MANY_REQUESTS.code,
        if written.is_ok() { body_bytes } else { 0 },
    );
}
