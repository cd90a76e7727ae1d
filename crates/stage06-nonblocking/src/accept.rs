//! Accepting on a non-blocking listener, and what each failure of `accept` means.
//!
//! A blocking `accept` waits for a client; a non-blocking one returns at once,
//! and most of what it returns is not an error at all. Stages 6, 7 and 8 all
//! accept this way, and they all sort the answers here, in one place:
//! - `WouldBlock`: nobody is waiting. The normal end of every accept loop.
//! - `Interrupted` (`EINTR`): a signal arrived during the call. Call again.
//! - `ConnectionAborted` (`ECONNABORTED`): a client gave up while it waited in
//!   the queue. Take the next one.
//! - out of descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`): the
//!   client stays in the queue, so asking again at once fails again at once.
//!   The loop must stop accepting for a while and go on serving the clients it
//!   has; as they finish, descriptors come back.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};

use common::cli::{ServerOptions, exit_with_startup_error, listen_or_exit};
use stage01_fixed_page::accept::is_exhaustion;

// ANCHOR: listen_non_blocking
/// The listening socket `--addr` names, made non-blocking: `accept` then
/// returns `WouldBlock` when nobody waits, instead of stopping the whole loop
/// until a client comes. A socket from `accept` does not inherit the flag; each
/// connection sets its own. A start-up error ends the program with one line.
pub fn listen_non_blocking_or_exit(name: &str, options: &mut ServerOptions) -> TcpListener {
    let listener = listen_or_exit(name, options);
    if let Err(error) = listener.set_nonblocking(true) {
        let message = format!("cannot make the listener non-blocking: {error}");
        exit_with_startup_error(name, &message);
    }
    listener
}
// ANCHOR_END: listen_non_blocking

// ANCHOR: accept_failure
/// What a failed non-blocking `accept` tells the loop to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptFailure {
    /// `WouldBlock`: the queue is empty; stop accepting until the next round.
    NoneWaiting,
    /// A signal interrupted the call, or the client gave up while queued:
    /// nothing is wrong, accept again at once.
    TryAgain,
    /// The process (or the system) is out of descriptors or memory: the client
    /// stays queued, and accepting again now would fail the same way.
    OutOfDescriptors,
    /// Anything else: worth a line on stderr, then the next round tries again.
    Unexpected,
}

impl AcceptFailure {
    /// Sorts an error from `accept` into what the loop should do about it.
    pub fn of(error: &io::Error) -> AcceptFailure {
        match error.kind() {
            io::ErrorKind::WouldBlock => AcceptFailure::NoneWaiting,
            io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => {
                AcceptFailure::TryAgain
            }
            _ if is_exhaustion(error) => AcceptFailure::OutOfDescriptors,
            _ => AcceptFailure::Unexpected,
        }
    }
}
// ANCHOR_END: accept_failure

/// How a round of [`accept_waiting`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptRound {
    /// How many clients were taken from the queue.
    pub accepted: usize,
    /// The round ended because descriptors ran out: clients are still queued.
    pub out_of_descriptors: bool,
}

// ANCHOR: accept_waiting
/// Accepts every client waiting in the kernel's queue and hands each to
/// `take`. It stops at `WouldBlock`, so an edge-triggered loop, which hears of
/// the listener only when a new client arrives, leaves no one behind in the
/// queue; or when descriptors run out, which the caller sees in the round.
pub fn accept_waiting(
    name: &str,
    listener: &TcpListener,
    mut take: impl FnMut(TcpStream, SocketAddr),
) -> AcceptRound {
    let mut round = AcceptRound::default();
    loop {
        let error = match listener.accept() {
            Ok((stream, peer)) => {
                take(stream, peer);
                round.accepted += 1;
                continue;
            }
            Err(error) => error,
        };
        match AcceptFailure::of(&error) {
            AcceptFailure::NoneWaiting => return round,
            AcceptFailure::TryAgain => continue,
            AcceptFailure::OutOfDescriptors => {
                round.out_of_descriptors = true;
                return round;
            }
            AcceptFailure::Unexpected => {
                eprintln!("{name}: accept failed: {error}");
                return round;
            }
        }
    }
}
// ANCHOR_END: accept_waiting

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(errno: nix::errno::Errno) -> AcceptFailure {
        AcceptFailure::of(&io::Error::from_raw_os_error(errno as i32))
    }

    #[test]
    fn every_answer_of_accept_is_sorted() {
        use nix::errno::Errno;
        assert_eq!(failure(Errno::EAGAIN), AcceptFailure::NoneWaiting);
        assert_eq!(failure(Errno::EINTR), AcceptFailure::TryAgain);
        assert_eq!(failure(Errno::ECONNABORTED), AcceptFailure::TryAgain);
        assert_eq!(failure(Errno::EMFILE), AcceptFailure::OutOfDescriptors);
        assert_eq!(failure(Errno::ENFILE), AcceptFailure::OutOfDescriptors);
        assert_eq!(failure(Errno::EINVAL), AcceptFailure::Unexpected);
    }

    #[test]
    fn accepts_every_queued_client_then_stops_at_would_block() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let _clients: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        // Connections complete in the kernel before `accept`; give the last
        // handshake a moment on a loaded machine.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut taken = Vec::new();
        let round = accept_waiting("test", &listener, |stream, _| taken.push(stream));
        assert_eq!(round.accepted, 3);
        assert_eq!(taken.len(), 3);
        assert!(!round.out_of_descriptors);
        let round = accept_waiting("test", &listener, |_, _| {});
        assert_eq!(round, AcceptRound::default());
    }
}
