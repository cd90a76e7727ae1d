//! What a blocking accept loop does when `accept` fails.

use std::io;
use std::thread;
use std::time::Duration;

/// How long to pause when the process has run out of something `accept` needs.
const PAUSE_WHEN_EXHAUSTED: Duration = Duration::from_millis(100);

// ANCHOR: after_accept_error
/// Reports a failed `accept`, and pauses when pausing helps.
///
/// Most failures concern one connection (the client gave up while it waited in
/// the queue), and the loop simply goes on. Running out of file descriptors
/// (`EMFILE`, `ENFILE`) or of kernel memory is different: the connection stays
/// in the queue, so the very next `accept` fails the same way at once, and a loop
/// that only reports it spins at full speed, printing thousands of lines a
/// second. A short pause lets the connections being served finish and give a
/// descriptor back.
pub fn after_accept_error(name: &str, error: &io::Error) {
    eprintln!("{name}: accept failed: {error}");
    if is_exhaustion(error) {
        thread::sleep(PAUSE_WHEN_EXHAUSTED);
    }
}
// ANCHOR_END: after_accept_error

/// Whether an error says the process or the system ran out of a resource.
pub fn is_exhaustion(error: &io::Error) -> bool {
    use nix::errno::Errno;
    let exhausted = [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM];
    error
        .raw_os_error()
        .is_some_and(|code| exhausted.iter().any(|errno| *errno as i32 == code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_exhaustion_from_a_lost_connection() {
        assert!(is_exhaustion(&io::Error::from_raw_os_error(
            nix::errno::Errno::EMFILE as i32
        )));
        assert!(!is_exhaustion(&io::Error::from_raw_os_error(
            nix::errno::Errno::ECONNABORTED as i32
        )));
    }
}
