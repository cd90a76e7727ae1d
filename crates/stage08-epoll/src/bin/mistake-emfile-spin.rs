//! Level-triggered epoll with the mistake that makes a server burn a core when it
//! runs out of file descriptors: it reports a failed `accept` and goes back to
//! `epoll_wait`, as if the failure were about one client.
//!
//! When every descriptor the process may open is in use, `accept` fails with
//! EMFILE and the client stays in the listener's queue. The listener is still
//! readable, so a level-triggered `epoll_wait` reports it again at once, the
//! `accept` fails again, and so on: a loop at 100% CPU that serves nobody new and
//! prints a line each time round. Chapter 8 runs it under `ulimit -n 64` with more
//! clients than that and watches `top`; stage 8 instead takes the listener out of
//! the epoll set for a moment (`pause_listener`).

mod naive_epoll;

use std::io;
use std::time::Instant;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use nix::sys::epoll::EpollFlags;

use naive_epoll::NaiveLoop;

const NAME: &str = "mistake-emfile-spin";

fn main() {
    let mut arguments = Cli::new(NAME, 7808, "level-triggered epoll that spins on EMFILE")
        .mistake_of("stage08-epoll")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    let served = NaiveLoop::new(listener, EpollFlags::empty())
        .and_then(|mut naive| naive.run(&arguments.server.root, &log, accept_waiting));
    if let Err(error) = served {
        exit_with_startup_error(NAME, &error.to_string());
    }
}

// ANCHOR: accept_spin
/// Accepts until the queue is empty, which is right, and treats every other
/// failure as one client's problem, which is not. THE MISTAKE: on EMFILE the
/// client is still queued, the listener is still readable, and level-triggered
/// epoll says so again at once.
fn accept_waiting(naive: &mut NaiveLoop, now: Instant) {
    loop {
        match naive.listener.accept() {
            Ok((stream, peer)) => naive.add(stream, peer, now),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
            Err(error) => {
                eprintln!("{NAME}: accept failed: {error}");
                return;
            }
        }
    }
}
// ANCHOR_END: accept_spin
