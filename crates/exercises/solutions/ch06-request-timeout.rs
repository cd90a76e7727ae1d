//! Reference solution of ch06-request-timeout (chapter 6).
//!
//! Each connection's head has a deadline, counted from the moment it connected.
//! The polling loop visits every connection on every round, so the connection
//! asks about its deadline even when nothing arrived, and a client that has gone
//! silent is answered on time.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stage02_file_lookup::response::{Response, Status};
use stage02_file_lookup::site::error_response;
use stage06_nonblocking::connection::{Extensions, HeadSoFar, HeadWait};
use stage06_nonblocking::{cli, serve};

const NAME: &str = "ch06-request-timeout";

/// How long a client may take to send its request head, from the moment it
/// connected, unless `--request-timeout` says otherwise.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers 408 to a client whose head is not whole `timeout` after it connected.
struct RequestTimeout {
    timeout: Duration,
}

impl HeadWait for RequestTimeout {
    fn answer_instead(&self, head: &HeadSoFar, root: &Path) -> Option<Response> {
        // From the connection, never from the last byte: a client that sends one
        // byte a second must not keep us forever (that is the slowloris attack).
        if head.now < head.connected_at + self.timeout {
            return None;
        }
        let reason = "the request head did not arrive in time";
        Some(error_response(Status::REQUEST_TIMEOUT, reason, root))
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
    let timeout = arguments.seconds("--request-timeout", DEFAULT_REQUEST_TIMEOUT);
    let extensions = Extensions {
        head_wait: Some(Arc::new(RequestTimeout { timeout })),
        ..Extensions::default()
    };
    serve(NAME, arguments, extensions);
}
