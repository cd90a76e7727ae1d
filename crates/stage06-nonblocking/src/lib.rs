//! Stage 6: many clients, one thread, no waiting.
//!
//! Every socket here is non-blocking: a call that would have to wait (an `accept`
//! with no client queued, a `read` with no bytes to give, a `write` to a full send
//! buffer) fails at once with `WouldBlock` instead. So one thread can look after
//! every client: it goes round them in a loop, does for each whatever can be done
//! right now, and never waits for any one of them.
//!
//! Each connection keeps its own state ([`connection`]): the bytes of its request
//! head so far, and the part of its answer the socket has not taken yet
//! ([`outgoing`], which stages 7 and 8 reuse). The listener is non-blocking
//! too, and [`accept`] sorts what a non-blocking `accept` can answer. A head may come in many
//! pieces, and a 24 MiB answer leaves in as many writes as the client's reading
//! speed allows, a chunk of the file at a time.
//!
//! What it deliberately does not do: know which socket is ready. It asks every one
//! on every round, so it keeps a core busy even when nothing happens; with
//! `--poll-sleep-ms N` it rests after an idle round, and a request that arrives
//! meanwhile waits for the rest to end. Connections still close after each
//! response (keeping them open is stage 7). Chapter 6 of the book explains this
//! stage; chapter 8 replaces the polling with epoll.
//!
//! What it builds on: the request parser, the path resolver and the response
//! writer of stage 2 (`stage02-file-lookup`), and the request-head rules of
//! stage 1 (`stage01-fixed-page`).

pub mod accept;
pub mod connection;
pub mod outgoing;

use std::net::TcpListener;
use std::path::Path;
use std::thread;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Arguments, Cli};
use common::shutdown::{StopFlag, StopSignals, stop_flag_on_signal};

use accept::{accept_waiting, listen_non_blocking_or_exit};
use connection::{Connection, Extensions};

/// The crate's name, which its messages start with.
pub const NAME: &str = "stage06-nonblocking";

// ANCHOR: polling_loop
/// Goes round the listener and every connection, again and again, doing what
/// each allows right now. Returns once a stop signal came and every answer in
/// flight is sent.
pub fn serve_by_polling(
    listener: TcpListener,
    root: &Path,
    log: &AccessLog,
    poll_sleep: Duration,
    stop: &StopFlag,
    extensions: &Extensions,
) {
    let mut listener = Some(listener);
    let mut connections: Vec<Connection> = Vec::new();
    loop {
        if stop.is_raised() && listener.is_some() {
            // Dropping the listener closes it: new clients are refused. A client
            // that is not being answered has nothing in flight and goes too.
            listener = None;
            connections.retain(Connection::is_sending);
        }
        let mut progressed = match &listener {
            Some(listener) => accept_new_clients(listener, &mut connections, extensions),
            None => false,
        };
        for connection in &mut connections {
            progressed |= connection.make_progress(root, log);
        }
        // Dropping a closed connection closes its socket.
        connections.retain(|connection| !connection.is_closed());
        // The round's log lines, as far as stdout takes them now: this thread
        // serves everyone, so it never waits for whoever reads our output.
        log.write_pending();
        if listener.is_none() && connections.is_empty() {
            log.finish();
            return;
        }
        // A round where nothing happened: with 0 we go round again at once, and
        // keep a core busy; with N > 0 we rest, and a new request waits for us.
        if !progressed && !poll_sleep.is_zero() {
            thread::sleep(poll_sleep);
        }
    }
}
// ANCHOR_END: polling_loop

// ANCHOR: accept_new_clients
/// Accepts every client waiting in the kernel's queue. Returns whether there
/// was any. Out of file descriptors, the clients stay queued, and the next
/// round tries again, when an answered connection may have closed.
fn accept_new_clients(
    listener: &TcpListener,
    connections: &mut Vec<Connection>,
    extensions: &Extensions,
) -> bool {
    let round = accept_waiting(NAME, listener, |stream, peer| {
        match Connection::new(stream, peer) {
            Ok(connection) => connections.push(connection.with_extensions(extensions.clone())),
            Err(error) => eprintln!("{NAME}: cannot use a new connection: {error}"),
        }
    });
    round.accepted > 0
}
// ANCHOR_END: accept_new_clients

/// Stage 6's command line: port 7806 and `--poll-sleep-ms`. An extension adds
/// its own options before it calls `parse`.
pub fn cli(name: &'static str, about: &'static str) -> Cli {
    Cli::new(name, 7806, about).option(
        "--poll-sleep-ms",
        "N",
        "rest N ms after a round that found nothing to do [default: 0, never rest]",
    )
}

// ANCHOR: serve
/// Stage 6's server as its `main` runs it, from the parsed command line to the
/// stop, its connections changed as `extensions` says (not at all for stage 6).
pub fn serve(name: &'static str, mut arguments: Arguments, extensions: Extensions) {
    let poll_sleep = Duration::from_millis(arguments.value("--poll-sleep-ms").unwrap_or(0));
    // First, before any other thread exists: Ctrl-C and SIGTERM raise `stop`.
    let blocked = StopSignals::block_or_exit(name);
    let stop = stop_flag_on_signal(name, &blocked);
    let listener = listen_non_blocking_or_exit(name, &mut arguments.server);
    // Queued and written without waiting: a stdout nobody reads must not stop the loop.
    let log = AccessLog::non_blocking(arguments.server.quiet);
    let root = arguments.server.root.clone();
    serve_by_polling(listener, &root, &log, poll_sleep, &stop, &extensions);
}
// ANCHOR_END: serve
