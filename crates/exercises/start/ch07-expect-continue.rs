//! Exercise ch07-expect-continue (chapter 7): `Expect: 100-continue`.
//!
//! Goal: a client about to send a body may ask first whether it is welcome,
//! with `Expect: 100-continue`, and wait before it sends. An HTTP/1.1 request
//! with that header and a body this server will read gets an interim answer,
//! `HTTP/1.1 100 Continue` and a blank line, before the server waits for the
//! body; then the final answer follows as before. A body too large to read gets
//! its `413` at once, with no `100 Continue` first: the client then never sends
//! it. HTTP/1.0 knows no 100 Continue, so an HTTP/1.0 request is answered as
//! before, whatever it says.
//!
//! Today such a client waits for a 100 Continue that never comes (curl gives up
//! waiting after one second and sends anyway), and a client that waits for good
//! waits until the idle timeout closes the connection.
//!
//! This is stage 7's server with a keep-alive policy of its own: stage 7's
//! connection asks the policy's `interim_answer` about every body it is about
//! to read, and sends what it returns, however many writes that takes, before
//! it waits for the body.
//!
//! Check your work:  scripts/exercise check ch07-expect-continue
//! Stuck?            scripts/exercise hint ch07-expect-continue

use std::sync::Arc;

use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;
use stage07_keep_alive::policy::KeepAlivePolicy;
use stage07_keep_alive::{cli, serve};

const NAME: &str = "ch07-expect-continue";

/// Keeps connections open as stage 7 does, and decides which bodies to invite.
struct InviteBodies;

impl KeepAlivePolicy for InviteBodies {
    fn keep_alive(&self, _request_number: u32, _response: &mut Response) -> bool {
        true
    }

    /// Start here: nothing is sent before a body yet.
    fn interim_answer(&self, _request: &Request) -> Option<&'static [u8]> {
        None
    }
}

fn main() {
    let arguments = cli(NAME, "stage 7, answering Expect: 100-continue").parse();
    serve(NAME, arguments, Arc::new(InviteBodies));
}
