//! Reference solution of ch04-per-client-limit (chapter 4).
//!
//! The accept loop and the connection threads share one map from client
//! address to open connections, behind a `Mutex`. The loop counts a connection
//! in before it starts a thread; the thread's `ConnectionSlot` counts it out
//! when dropped, which happens however the connection ends.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

use stage02_file_lookup::response::{Status, write_response};
use stage02_file_lookup::site::error_response;
use stage04_multithread::{Connections, Job, Site, cli, serve};

const NAME: &str = "ch04-per-client-limit";

/// How many connections one address may hold when `--per-client` is not given.
const DEFAULT_PER_CLIENT: usize = 64;

const TOO_MANY_REQUESTS: Status = Status::new(429, "Too Many Requests");

/// How many connections each client address has open. The accept loop adds to
/// it and every connection's thread takes away, so it sits behind a `Mutex`: a
/// count and its check must happen as one step, or two threads could both see
/// 63 and both make it 64.
type OpenConnections = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// Stage 4's site, with a limit on the connections one address holds at once.
struct LimitPerClient {
    site: Site,
    per_client: usize,
    open: OpenConnections,
}

impl Connections for LimitPerClient {
    fn take(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<Job> {
        // Counted here, in the one thread that accepts, before the connection's
        // thread exists: the next `accept` already sees this connection.
        let Some(slot) = ConnectionSlot::take(&self.open, peer.ip(), self.per_client) else {
            refuse(stream, peer, &self.site);
            return None;
        };
        // The slot moves into the thread's work. If the thread cannot start,
        // the work is dropped, and the slot with it.
        Some(Box::new(move || {
            let _slot = slot;
            self.site.serve(stream, peer);
        }))
    }
}

/// One counted connection. It lives in the connection's thread, and its `Drop`
/// counts the connection out on every way that thread can end: the response
/// sent, the client gone, a timeout, even a panic.
struct ConnectionSlot {
    open: OpenConnections,
    address: IpAddr,
}

impl ConnectionSlot {
    /// Counts one more connection from `address`, unless it already holds `limit`.
    fn take(open: &OpenConnections, address: IpAddr, limit: usize) -> Option<ConnectionSlot> {
        // A thread that panicked while holding the lock left the counts as they
        // were (every change is one statement): they are still good to use.
        let mut counts = open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(address).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        let open = Arc::clone(open);
        Some(ConnectionSlot { open, address })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.open.lock().unwrap_or_else(PoisonError::into_inner);
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

/// Answers `429 Too Many Requests` from the accept loop and closes. It reads
/// nothing: a client over its limit that sends nothing would otherwise hold up
/// the accept loop, or, in a thread of its own, hold the very thread the limit
/// is there to save. A fresh connection's send buffer is empty, so the write
/// does not wait; non-blocking makes sure.
fn refuse(mut stream: TcpStream, peer: SocketAddr, site: &Site) {
    let reason = "this address has as many connections open as it may";
    let mut response = error_response(TOO_MANY_REQUESTS, reason, &site.root);
    response
        .extra_headers
        .push(("Retry-After", "1".to_string()));
    let body_bytes = response.bytes_to_send();
    let written = stream
        .set_nonblocking(true)
        .and_then(|()| write_response(&mut stream, response, false));
    let logged_bytes = if written.is_ok() { body_bytes } else { 0 };
    site.log
        .record_refusal(peer, TOO_MANY_REQUESTS.code, logged_bytes);
}

fn main() {
    let arguments = cli(NAME, "stage 4 with a limit per client")
        .option(
            "--per-client",
            "N",
            "at most N connections at once from one address; more get 429 [default: 64]",
        )
        .parse();
    let per_client: usize = arguments.count("--per-client", DEFAULT_PER_CLIENT);
    serve(NAME, arguments, |site, _pool| LimitPerClient {
        site,
        per_client,
        open: Arc::default(),
    });
}
