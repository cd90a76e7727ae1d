//! Exercise ch05-head-deadline (chapter 5): a deadline for the request head.
//!
//! Goal: with `--head-deadline SECS`, a client has SECS from the moment it is
//! accepted to send its whole request head. One that has not finished by then
//! gets `408 Request Timeout`, however steadily it trickles bytes; a client that
//! sends its head in a few pieces, in time, is served as before.
//!
//! `--read-timeout` is not enough: it bounds each wait for a `read`, so a client
//! that sends a byte every second never trips it, and keeps its coroutine (and
//! its socket, and its stack) for as long as it likes. Coroutines are cheap, not
//! free.
//!
//! This is stage 5's server: a coroutine for each connection, which calls the
//! `serve` below. It serves as stage 5's `Site` does; the socket it reads
//! through is where a deadline can live.
//!
//! Check your work:  scripts/exercise check ch05-head-deadline
//! Stuck?            scripts/exercise hint ch05-head-deadline

use std::net::SocketAddr;
use std::time::Duration;

use stage02_file_lookup::blocking::serve_connection;
use stage05_green_threads::coroutine_stream::CoroutineStream;
use stage05_green_threads::{ServeConnection, Site, cli, serve};

const NAME: &str = "ch05-head-deadline";

/// How long a client may take to send its head when `--head-deadline` is not given.
const DEFAULT_HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// Stage 5's site, with a deadline for each request head.
struct DeadlineSite {
    site: Site,
    head_deadline: Duration,
}

impl ServeConnection for DeadlineSite {
    /// Start here: stage 5's serving, where only each single read has a timeout.
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr) {
        let _ = self.head_deadline;
        let Site {
            root,
            log,
            client_timeout,
        } = &self.site;
        let timeouts_set = stream.set_read_timeout(Some(*client_timeout)).is_ok()
            && stream.set_write_timeout(Some(*client_timeout)).is_ok();
        if timeouts_set {
            serve_connection(&mut CoroutineStream(stream), peer, root, log);
        }
    }
}

fn main() {
    let arguments = cli(NAME, "stage 5, with a deadline for the request head")
        .option(
            "--head-deadline",
            "SECS",
            "answer 408 to a client whose head is not whole this long after accept [default: 10]",
        )
        .parse();
    let head_deadline = arguments.seconds("--head-deadline", DEFAULT_HEAD_DEADLINE);
    serve(NAME, arguments, |site| DeadlineSite {
        site,
        head_deadline,
    });
}
