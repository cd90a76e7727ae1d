//! Edge-triggered epoll with the mistake many first event loops make: one
//! `accept` per event on the listener, as if each event meant one client.
//!
//! Edge-triggered (`EPOLLET`), Linux reports the listener when a new client
//! arrives, but the clients that arrive between two `epoll_wait` calls merge
//! into one event: fifty clients that connect at once may be one event. This
//! program accepts one of them; the others stay in the queue, and nothing
//! reports them again until yet another client arrives. They have connected
//! (the kernel finished their handshakes), they have sent their requests, and
//! they wait, perhaps forever. A load tool that opens its connections at once
//! wedges it on the first second. (This program reads correctly: the
//! connections are stage 7's, which read until `WouldBlock`; reading once per
//! event is `mistake-read-once`.)
//!
//! Chapter 8 shows the stall with the checker's load and with `wrk`, then the
//! fix, which stage 8 takes from stage 6's `accept_waiting`: accept until
//! `WouldBlock`.

mod naive_epoll;

use std::time::Instant;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use nix::sys::epoll::EpollFlags;

use naive_epoll::NaiveLoop;

const NAME: &str = "mistake-edge-once";

fn main() {
    let mut arguments = Cli::new(NAME, 7808, "edge-triggered epoll, one accept per event")
        .mistake_of("stage08-epoll")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    let served = NaiveLoop::new(listener, EpollFlags::EPOLLET)
        .and_then(|mut naive| naive.run(&arguments.server.root, &log, accept_once));
    if let Err(error) = served {
        exit_with_startup_error(NAME, &error.to_string());
    }
}

// ANCHOR: accept_once
/// THE MISTAKE: one accept per event. Edge-triggered, one event may stand for
/// many queued clients; the rest are not reported again.
fn accept_once(naive: &mut NaiveLoop, now: Instant) {
    if let Ok((stream, peer)) = naive.listener.accept() {
        naive.add(stream, peer, now);
    }
}
// ANCHOR_END: accept_once
