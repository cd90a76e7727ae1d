//! Who may open a connection. Stage 8 holds ten thousand connections easily,
//! and that is a danger too: each is a file descriptor, and one client could
//! open them all. The server asks an [`Admission`] at every accept and tells it
//! at every close; stage 8's own, [`AdmitEveryone`], turns nobody away, and the
//! exercise `ch08-per-client-limit` writes one that counts per client.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;

use common::access_log::AccessLog;
use stage02_file_lookup::response::Status;
use stage02_file_lookup::site::error_response;
use stage06_nonblocking::outgoing::Outgoing;

/// Why a new connection is turned away: the status of its answer, and a few
/// words for its error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: Status,
    pub reason: &'static str,
}

/// Asked at every accept, told at every close.
pub trait Admission {
    /// Whether the new connection from `peer` is served; a refused one gets the
    /// refusal's answer and the close, and never becomes a connection.
    fn admit(&mut self, peer: SocketAddr) -> Result<(), Refusal>;
    /// A connection that `admit` let in has ended, however it ended: closed by
    /// either side, reset, idle too long, or refused by epoll.
    fn left(&mut self, peer: SocketAddr);
}

/// Stage 8's own admission: everyone is served.
pub struct AdmitEveryone;

impl Admission for AdmitEveryone {
    fn admit(&mut self, _peer: SocketAddr) -> Result<(), Refusal> {
        Ok(())
    }

    fn left(&mut self, _peer: SocketAddr) {}
}

/// How many reads [`refuse`] spends throwing away what a refused client sent.
const REFUSAL_READS: usize = 16;

/// Answers a refused connection and closes it, without waiting for anything.
///
/// What the client has sent so far is read and thrown away first: closing a
/// socket that holds unread input makes the kernel reset the connection, and
/// the reset can reach the client before it reads our answer. A request that
/// arrives after we close still draws a reset, but by then the answer is on its way.
pub fn refuse(
    mut stream: TcpStream,
    peer: SocketAddr,
    refusal: Refusal,
    root: &Path,
    log: &AccessLog,
) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut discard = [0; 4096];
    for _ in 0..REFUSAL_READS {
        if !matches!(stream.read(&mut discard), Ok(count) if count > 0) {
            break;
        }
    }
    let response = error_response(refusal.status, refusal.reason, root);
    let body_bytes = response.bytes_to_send();
    // The send buffer of a new socket is empty and the answer small: one call
    // sends it all. If not, the client sees a cut answer, then the close.
    let sent =
        Outgoing::new(response, false).and_then(|mut outgoing| outgoing.write_to(&mut stream));
    log.record_refusal(
        peer,
        refusal.status.code,
        if sent.is_ok() { body_bytes } else { 0 },
    );
    let _ = stream.shutdown(Shutdown::Write);
}
