//! Exercise ch04-status-page (chapter 4): a page that shows the server's load.
//!
//! Goal: `GET /status` answers a small `text/plain` page with three lines,
//!
//! ```text
//! requests: 1234
//! busy: 3
//! queued: 0
//! ```
//!
//! `requests` counts the well-formed requests read since the server started, the
//! one asking included; `busy` is how many of the pool's threads are serving a
//! connection (the one answering included), and `queued` how many accepted
//! connections are waiting for a thread. Every other path is served as before.
//!
//! This is stage 4's server. Its accept loop hands every new connection to the
//! `take` below, and a thread, from the pool with `--pool N`, then does the work
//! `take` returned.
//!
//! Check your work:  scripts/exercise check ch04-status-page
//! Stuck?            scripts/exercise hint ch04-status-page

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use stage04_multithread::{Connections, Job, Site, cli, serve};

const NAME: &str = "ch04-status-page";

/// Stage 4's site, with a status page.
struct StatusSite {
    site: Site,
}

impl Connections for StatusSite {
    /// Start here: every request is answered as stage 4 answers it.
    fn take(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<Job> {
        Some(Box::new(move || self.site.serve(stream, peer)))
    }
}

fn main() {
    let arguments = cli(NAME, "stage 4's pool with a status page").parse();
    serve(NAME, arguments, |site, _pool| StatusSite { site });
}
