//! Reference solution of ch03-max-children (chapter 3).
//!
//! The parent already knows how many children are alive: stage 3's loop counts
//! each fork and each reaped child, and hands the count to the hook. At the cap
//! the hook answers `503` itself, at once, without reading the request, and the
//! loop goes back to `accept`.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use common::access_log::AccessLog;
use common::cli::Cli;
use stage02_file_lookup::response::{Status, write_response};
use stage02_file_lookup::site::error_response;
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
        // `children` counts the children not yet reaped, so a child that has
        // just ended still counts until its SIGCHLD has brought the loop round
        // to reap it. The client refused in that moment is told to come back.
        if children < max_children {
            return true;
        }
        refuse(stream, peer, &root, &log);
        false
    });
    wait_for_children(children);
}

/// Answers `503 Service Unavailable` (with `Retry-After: 1`, which
/// `error_response` adds) from the parent; the loop then drops the connection.
///
/// The parent must never wait for a client: while it waits, nobody accepts. So
/// it does not read the request (a client that sends nothing would hold it up
/// exactly as in stage 2), and it writes without blocking. A fresh connection's
/// send buffer is empty, so these few hundred bytes fit at once; should they not,
/// the client is dropped rather than waited for.
///
/// Closing a socket whose request we never read makes the kernel send a reset
/// instead of a normal close. A client on Linux still reads the bytes that
/// arrived before the reset, so it sees the `503`; another system may drop
/// them, which costs that client nothing worse than the refusal it was getting.
fn refuse(stream: &mut TcpStream, peer: SocketAddr, root: &Path, log: &AccessLog) {
    let response = error_response(
        Status::SERVICE_UNAVAILABLE,
        "the server is serving as many clients as it may; try again in a moment",
        root,
    );
    let body_bytes = response.bytes_to_send();
    let written = stream
        .set_nonblocking(true)
        .and_then(|()| write_response(stream, response, false));
    log.record_refusal(
        peer,
        Status::SERVICE_UNAVAILABLE.code,
        if written.is_ok() { body_bytes } else { 0 },
    );
}
