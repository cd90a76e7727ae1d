//! What a kept-alive connection decides about each answer: whether the
//! connection stays open after it, and what the answer says about that.
//!
//! Stage 7's own [`KeepWhatIsAsked`] keeps every connection whose client asks
//! for it. Real servers bound it (nginx's `keepalive_requests`, Apache's
//! `MaxKeepAliveRequests`): the exercise `ch07-max-requests` writes that policy.

use stage02_file_lookup::response::Response;

/// Asked for every answer on a connection that could stay open: the client
/// wants it kept and the server is not stopping. Never asked about a refusal,
/// after which a connection always closes.
pub trait KeepAlivePolicy: Send + Sync {
    /// Whether the connection stays open after this answer. `request_number`
    /// counts this connection's answered requests, this one included, from 1.
    /// May add headers to `response`: it is sent as it is returned.
    fn keep_alive(&self, request_number: u32, response: &mut Response) -> bool;
}

/// Stage 7's own policy: a connection stays open for as long as its client wants.
pub struct KeepWhatIsAsked;

impl KeepAlivePolicy for KeepWhatIsAsked {
    fn keep_alive(&self, _request_number: u32, _response: &mut Response) -> bool {
        true
    }
}
