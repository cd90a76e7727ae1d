//! Stage 6: many clients, one thread, no waiting.
//!
//! Every socket here is non-blocking: a call that would have to wait (an `accept`
//! with no client queued, a `read` with no bytes to give, a `write` to a full send
//! buffer) fails at once with `WouldBlock` instead. So one thread can look after
//! every client: it goes round them in a loop, does for each whatever can be done
//! right now, and never waits for any one of them.
//!
//! Each connection keeps its own state (`connection.rs`): the bytes of its request
//! head so far, and the part of its answer the socket has not taken yet
//! (`common::outgoing`, which stages 7 and 8 reuse). A head may come in many
//! pieces, and a 24 MiB answer leaves in as many writes as the client's reading
//! speed allows, a chunk of the file at a time.
//!
//! What it deliberately does not do: know which socket is ready. It asks every one
//! on every round, so it keeps a core busy even when nothing happens; with
//! `--poll-sleep-ms N` it rests after an idle round, and a request that arrives
//! meanwhile waits for the rest to end. Connections still close after each
//! response (keeping them open is stage 7). Chapter 6 of the book explains this
//! stage; chapter 8 replaces the polling with epoll.

mod connection;

use std::io;
use std::net::TcpListener;
use std::path::Path;
use std::thread;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, on_stop_signal};
use nix::errno::Errno;

use connection::Connection;

const NAME: &str = "stage06-nonblocking";

// ANCHOR: main
fn main() {
    let mut arguments = Cli::new(
        NAME,
        7806,
        "serves many clients from one thread by polling non-blocking sockets",
    )
    .option(
        "--poll-sleep-ms",
        "N",
        "rest N ms after a round that found nothing to do [default: 0, never rest]",
    )
    .parse();
    let poll_sleep = Duration::from_millis(arguments.value("--poll-sleep-ms").unwrap_or(0));
    // First, before any other thread exists: Ctrl-C and SIGTERM raise `stop`.
    let stop = StopFlag::new();
    let raise_stop = stop.clone();
    if let Err(error) = on_stop_signal(move || raise_stop.raise()) {
        exit_with_startup_error(NAME, &format!("cannot watch for Ctrl-C: {error}"));
    }
    let listener = listen_or_exit(NAME, &mut arguments.server);
    // `accept` on a non-blocking listener returns `WouldBlock` when nobody waits.
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            NAME,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    let log = AccessLog::new(arguments.server.quiet);
    serve_by_polling(listener, &arguments.server.root, &log, poll_sleep, &stop);
}
// ANCHOR_END: main

// ANCHOR: polling_loop
/// Goes round the listener and every connection, again and again, doing what
/// each allows right now. Returns once a stop signal came and every answer in
/// flight is sent.
fn serve_by_polling(
    listener: TcpListener,
    root: &Path,
    log: &AccessLog,
    poll_sleep: Duration,
    stop: &StopFlag,
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
            Some(listener) => accept_waiting(listener, &mut connections),
            None => false,
        };
        for connection in &mut connections {
            progressed |= connection.make_progress(root, log);
        }
        // Dropping a closed connection closes its socket.
        connections.retain(|connection| !connection.is_closed());
        if listener.is_none() && connections.is_empty() {
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

// ANCHOR: accept_waiting
/// Accepts every client waiting in the kernel's queue. Returns whether there
/// was any.
fn accept_waiting(listener: &TcpListener, connections: &mut Vec<Connection>) -> bool {
    let mut accepted = false;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => match Connection::new(stream, peer) {
                Ok(connection) => {
                    connections.push(connection);
                    accepted = true;
                }
                Err(error) => eprintln!("{NAME}: cannot use a new connection: {error}"),
            },
            // Nobody is waiting: the usual way out of this loop.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return accepted,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            // A client that gave up while it waited in the queue.
            Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => continue,
            // Out of file descriptors: the client stays queued, and the next
            // round tries again, when an answered connection may have closed.
            Err(error) if is_out_of_descriptors(&error) => return accepted,
            Err(error) => {
                eprintln!("{NAME}: accept failed: {error}");
                return accepted;
            }
        }
    }
}
// ANCHOR_END: accept_waiting

/// EMFILE (this process's limit) or ENFILE (the whole system's).
fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE)
    )
}
