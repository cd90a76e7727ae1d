//! Reference solution of ch07-expect-continue (chapter 7).
//!
//! Stage 7's connection asks the policy about a body only when it will read
//! it, so a refused body (413, 411) is never invited: the client that waits
//! for 100 Continue gets the final answer instead, and never sends it. What is
//! left to decide is whether this client waits at all.

use std::sync::Arc;

use stage02_file_lookup::request::{Request, Version};
use stage02_file_lookup::response::Response;
use stage07_keep_alive::policy::KeepAlivePolicy;
use stage07_keep_alive::{cli, serve};

const NAME: &str = "ch07-expect-continue";

/// The interim answer that invites the body. It has no headers and no body,
/// and nothing of it goes to the access log: the final answer follows.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Keeps connections open as stage 7 does, and invites the bodies that
/// clients wait to be asked for.
struct InviteBodies;

impl KeepAlivePolicy for InviteBodies {
    fn keep_alive(&self, _request_number: u32, _response: &mut Response) -> bool {
        true
    }

    fn interim_answer(&self, request: &Request) -> Option<&'static [u8]> {
        waits_for_continue(request).then_some(CONTINUE)
    }
}

/// Whether the client waits for `100 Continue` before it sends its body. Only
/// HTTP/1.1 has interim answers: RFC 9110 tells a server to ignore the
/// expectation in an HTTP/1.0 request. The value is compared without regard to
/// case, as RFC 9110 asks.
fn waits_for_continue(request: &Request) -> bool {
    request.version == Version::Http11
        && request
            .header("expect")
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("100-continue"))
}

fn main() {
    let arguments = cli(NAME, "stage 7, answering Expect: 100-continue").parse();
    serve(NAME, arguments, Arc::new(InviteBodies));
}
