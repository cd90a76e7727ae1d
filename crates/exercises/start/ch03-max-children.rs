//! Exercise ch03-max-children (chapter 3): a cap on live children.
//!
//! Goal: with `--max-children N`, the server never has more than N children at
//! once. While N are busy, a new client gets `503 Service Unavailable` with a
//! `Retry-After` header at once, from the parent, without a fork; as soon as a
//! child has ended (and been reaped), clients are served again.
//!
//! Stage 3's accept loop asks a hook before every fork, with the new client and
//! the number of children serving now; a `false` drops the connection instead.
//! Stage 3's own hook forks for everyone. Yours is `may_fork`, below.
//!
//! Check your work:  scripts/exercise check ch03-max-children
//! Stuck?            scripts/exercise hint ch03-max-children

use std::net::{SocketAddr, TcpStream};

use common::access_log::AccessLog;
use common::cli::Cli;
use stage03_multiprocess::{serve_with_a_process_each, start_listening, wait_for_children};

const NAME: &str = "ch03-max-children";

/// How many children may serve at once when `--max-children` is not given.
const DEFAULT_MAX_CHILDREN: usize = 64;

fn main() {
    let mut arguments = Cli::new(NAME, 7803, "stage 3 with a cap on live children")
        .option(
            "--max-children",
            "N",
            "serve at most N connections at once; refuse more with 503 [default: 64]",
        )
        .parse();
    let max_children: usize = arguments.count("--max-children", DEFAULT_MAX_CHILDREN);
    let listener = start_listening(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    let root = arguments.server.root.clone();
    let children = serve_with_a_process_each(listener, &root, &log, |stream, peer, children| {
        may_fork(stream, peer, children, max_children)
    });
    wait_for_children(children);
}

/// Whether the accept loop forks a child for this client, with `children`
/// serving now. Start here: for now, every client gets one.
fn may_fork(stream: &mut TcpStream, peer: SocketAddr, children: usize, max: usize) -> bool {
    let _ = (stream, peer, children, max);
    true
}
