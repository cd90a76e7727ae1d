//! Exercise ch07-max-requests (chapter 7): a limit on requests per connection,
//! and a `Keep-Alive` header that announces it.
//!
//! Goal: the answer to the `--max-requests`-th request on a connection says
//! `Connection: close`, and the connection closes; requests pipelined behind it
//! are never answered. Every answer that keeps the connection open says how
//! long it will stay open and how many more requests it will take:
//! `Keep-Alive: timeout=5, max=3`, with `max` counting down. An answer that
//! closes has no `Keep-Alive` header.
//!
//! Servers bound the requests on one connection (nginx's `keepalive_requests`,
//! Apache's `MaxKeepAliveRequests`) so that no client holds one connection, and
//! whatever memory it gathered, for ever. The header lets a client see the end
//! coming: it stops reusing a connection before the server closes it under its
//! feet, the race chapter 7 describes.
//!
//! Stage 7's connection asks a `KeepAlivePolicy` about every answer that could
//! keep it open (`stage07_keep_alive::policy`); stage 7's own keeps every
//! connection its client wants kept. Yours is below.
//!
//! Check your work:  scripts/exercise check ch07-max-requests
//! Stuck?            scripts/exercise hint ch07-max-requests

use std::sync::Arc;

use stage02_file_lookup::response::Response;
use stage07_keep_alive::policy::KeepAlivePolicy;

const NAME: &str = "ch07-max-requests";

/// How many requests a connection carries, unless `--max-requests` says otherwise
/// (nginx's default for `keepalive_requests` is 1000, Apache's 100).
const DEFAULT_MAX_REQUESTS: u32 = 100;

fn main() {
    let arguments =
        stage07_keep_alive::cli(NAME, "stage 7, with a limit on requests per connection")
            .option(
                "--max-requests",
                "N",
                "close a connection once it has carried N requests [default: 100]",
            )
            .parse();
    let max_requests = arguments.count("--max-requests", DEFAULT_MAX_REQUESTS);
    let policy = MaxRequests { max_requests };
    stage07_keep_alive::serve(NAME, arguments, Arc::new(policy));
}

/// Whether an answer keeps its connection open. Start here: for now, always.
struct MaxRequests {
    max_requests: u32,
}

impl KeepAlivePolicy for MaxRequests {
    fn keep_alive(&self, request_number: u32, response: &mut Response) -> bool {
        let _ = (request_number, response, self.max_requests);
        true
    }
}
