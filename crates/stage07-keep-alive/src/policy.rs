//! What a kept-alive connection decides about each answer: whether the
//! connection stays open after it, and what the answer says about that.
//!
//! Stage 7's own [`KeepWhatIsAsked`] keeps every connection whose client asks
//! for it. Real servers bound it (nginx's `keepalive_requests`, Apache's
//! `MaxKeepAliveRequests`): the exercise `ch07-max-requests` writes that policy.
//! A policy may also invite a request's body with an interim answer before the
//! connection reads it: the exercise `ch07-expect-continue` does that.

use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;

/// Asked for every answer on a connection that could stay open: the client
/// wants it kept and the server is not stopping. Never asked about a refusal,
/// after which a connection always closes.
pub trait KeepAlivePolicy: Send + Sync {
    /// Whether the connection stays open after this answer. `request_number`
    /// counts this connection's answered requests, this one included, from 1.
    /// May add headers to `response`: it is sent as it is returned.
    fn keep_alive(&self, request_number: u32, response: &mut Response) -> bool;

    /// Asked once a head announces a body (a `Content-Length` above 0) that the
    /// connection is about to read: bytes to send before it waits for the body,
    /// a whole interim answer such as `100 Continue`. Never asked about a body
    /// that is refused (411, 413): the refusal is the final answer. The default,
    /// stage 7's own, sends nothing.
    fn interim_answer(&self, _request: &Request) -> Option<&'static [u8]> {
        None
    }
}

/// Stage 7's own policy: a connection stays open for as long as its client wants.
pub struct KeepWhatIsAsked;

impl KeepAlivePolicy for KeepWhatIsAsked {
    fn keep_alive(&self, _request_number: u32, _response: &mut Response) -> bool {
        true
    }
}
