//! Reference solution of ch05-connection-limit (chapter 5).
//!
//! A counting semaphore from `may::sync` holds one slot per connection that may
//! be served at once. A coroutine takes a slot before it serves and gives it
//! back when it ends; waiting for one parks the coroutine, never its thread.

use std::net::SocketAddr;

use may::sync::Semphore;
use stage05_green_threads::{ServeConnection, Site, cli, serve};

const NAME: &str = "ch05-connection-limit";

/// How many connections are served at once when `--max-connections` is not given.
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Stage 5's site, with a limit on the connections it serves at once.
struct LimitedSite {
    site: Site,
    /// One slot for each connection that may be served at once (`may` spells
    /// its semaphore "Semphore"). `std::sync` would block the worker thread,
    /// and with it the coroutines whose end we are waiting for.
    slots: Semphore,
}

/// A slot taken from the semaphore. Dropping it gives the slot back, on every
/// way a connection can end.
struct Slot<'a>(&'a Semphore);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.post();
    }
}

impl ServeConnection for LimitedSite {
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr) {
        // Parks this coroutine until a slot is free. The client's timeouts start
        // only when it is served: waiting for a slot is the server's doing.
        self.slots.wait();
        let _slot = Slot(&self.slots);
        self.site.serve(stream, peer);
    }
}

fn main() {
    let arguments = cli(NAME, "stage 5, serving at most N connections at once")
        .option(
            "--max-connections",
            "N",
            "serve at most N connections at once; the others wait [default: 10000]",
        )
        .parse();
    let max_connections = arguments.count("--max-connections", DEFAULT_MAX_CONNECTIONS);
    serve(NAME, arguments, |site| LimitedSite {
        site,
        slots: Semphore::new(max_connections),
    });
}
