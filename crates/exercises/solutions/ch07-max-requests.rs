//! Reference solution of ch07-max-requests (chapter 7).
//!
//! The connection counts its requests and asks the policy about each answer
//! that could keep it open. The answer that uses the last request allowed
//! closes; every answer that keeps the connection says so in a `Keep-Alive`
//! header, with the idle timeout and how many requests are left.

use std::sync::Arc;
use std::time::Duration;

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
    let policy = MaxRequests {
        max_requests,
        idle_timeout: stage07_keep_alive::idle_timeout(NAME, &arguments),
    };
    stage07_keep_alive::serve(NAME, arguments, Arc::new(policy));
}

/// At most `max_requests` requests per connection, announced in every answer
/// that keeps one open.
struct MaxRequests {
    max_requests: u32,
    /// The loop's idle timeout, to announce as `timeout=`.
    idle_timeout: Duration,
}

impl KeepAlivePolicy for MaxRequests {
    fn keep_alive(&self, request_number: u32, response: &mut Response) -> bool {
        let requests_left = self.max_requests.saturating_sub(request_number);
        if requests_left == 0 {
            // The last one allowed: it says `Connection: close`, and nothing
            // pipelined behind it is read as a request.
            return false;
        }
        response.extra_headers.push((
            "Keep-Alive",
            format!(
                "timeout={}, max={requests_left}",
                self.idle_timeout.as_secs()
            ),
        ));
        true
    }
}
