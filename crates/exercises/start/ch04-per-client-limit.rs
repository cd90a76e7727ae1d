//! Exercise ch04-per-client-limit (chapter 4): at most N connections per client.
//!
//! Goal: with `--per-client N`, one client address may hold at most N
//! connections at once. Its next connection gets `429 Too Many Requests` with a
//! `Retry-After` header at once, without the request being read and without a
//! thread being started; other addresses are served as usual, and as soon as
//! one of the client's connections ends, the client may open another.
//!
//! This is stage 4's server. Its accept loop hands every new connection to the
//! `take` below, on the one thread that accepts, before the connection has a
//! thread of its own; what `take` returns is what that thread then does.
//!
//! Check your work:  scripts/exercise check ch04-per-client-limit
//! Stuck?            scripts/exercise hint ch04-per-client-limit

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use stage04_multithread::{Connections, Job, Site, cli, serve};

const NAME: &str = "ch04-per-client-limit";

/// How many connections one address may hold when `--per-client` is not given.
const DEFAULT_PER_CLIENT: usize = 64;

/// Stage 4's site, with a limit on the connections one address holds at once.
struct LimitPerClient {
    site: Site,
    per_client: usize,
}

impl Connections for LimitPerClient {
    /// Start here: every connection gets a thread, whoever opened it.
    fn take(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<Job> {
        let _ = self.per_client;
        Some(Box::new(move || self.site.serve(stream, peer)))
    }
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
    });
}
