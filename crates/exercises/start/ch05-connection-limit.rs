//! Exercise ch05-connection-limit (chapter 5): at most N connections served at once.
//!
//! Goal: with `--max-connections N`, at most N connections are served at the
//! same time. The next ones are accepted and wait, each in its parked
//! coroutine, until a connection being served ends. No client is refused, and
//! waiting never blocks one of `may`'s worker threads: the connections being
//! served keep running meanwhile.
//!
//! This is stage 5's server: a coroutine for each connection, which calls the
//! `serve` below. Stage 5's own `Site` does the serving; yours wraps it.
//!
//! Check your work:  scripts/exercise check ch05-connection-limit
//! Stuck?            scripts/exercise hint ch05-connection-limit

use std::net::SocketAddr;

use stage05_green_threads::{ServeConnection, Site, cli, serve};

const NAME: &str = "ch05-connection-limit";

/// How many connections are served at once when `--max-connections` is not given.
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Stage 5's site, with a limit on the connections it serves at once.
struct LimitedSite {
    site: Site,
    max_connections: usize,
}

impl ServeConnection for LimitedSite {
    /// Start here: every connection is served at once, however many there are.
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr) {
        let _ = self.max_connections;
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
        max_connections,
    });
}
