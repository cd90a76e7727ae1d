//! Exercise ch06-request-timeout (chapter 6): a deadline for the request head.
//!
//! Goal: a client whose request head is not complete `--request-timeout` seconds
//! after it connected gets `408 Request Timeout`, and the connection closes.
//! Today a client may take forever: one that connects and says nothing, or one
//! that sends a byte now and then, holds a socket and a descriptor for as long
//! as it likes, and a few thousand such clients (the "slowloris" attack) use up
//! the server. A client that is downloading, however slowly, is not affected:
//! the deadline is for the request, not for the answer.
//!
//! This is stage 6's server. Its loop visits every connection on every round,
//! and a connection still waiting for its head asks the `HeadWait` below
//! whether to answer now instead: it sends that answer, then closes gently.
//!
//! Check your work:  scripts/exercise check ch06-request-timeout
//! Stuck?            scripts/exercise hint ch06-request-timeout

use std::path::Path;
use std::sync::Arc;

use stage02_file_lookup::response::Response;
use stage06_nonblocking::connection::{Extensions, HeadSoFar, HeadWait};
use stage06_nonblocking::{cli, serve};

const NAME: &str = "ch06-request-timeout";

/// Decides when a client has taken too long to send its request head.
struct RequestTimeout;

impl HeadWait for RequestTimeout {
    /// Start here: every client may take as long as it likes.
    fn answer_instead(&self, _head: &HeadSoFar, _root: &Path) -> Option<Response> {
        None
    }
}

fn main() {
    let arguments = cli(NAME, "stage 6, with a deadline for the request head")
        .option(
            "--request-timeout",
            "SECS",
            "answer 408 to a client whose head is not whole this long after it connected",
        )
        .parse();
    let extensions = Extensions {
        head_wait: Some(Arc::new(RequestTimeout)),
        ..Extensions::default()
    };
    serve(NAME, arguments, extensions);
}
