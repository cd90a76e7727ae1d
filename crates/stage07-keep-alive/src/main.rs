//! Stage 7: the polling loop of stage 6, with connections kept alive.
//!
//! Stage 6 closed every connection after one answer, as HTTP/1.0 did: a page
//! with a stylesheet and three images cost five TCP handshakes. HTTP/1.1 keeps a
//! connection open for the next request unless a side says `Connection: close`.
//! That only works because every response says `Content-Length`: the client
//! knows where one answer ends and the next begins without waiting for a close.
//!
//! The connection itself, which chapter 7 walks through, lives in
//! `common::connection`, because stage 8 drives the very same type from epoll:
//! requests one after another on one connection, pipelined requests answered in
//! order, bodies skipped or refused so they are never read as a request,
//! `Connection: close` and HTTP/1.0 honoured. This file holds the loop: stage 6's
//! round over every socket, plus the idle timeout, because a kept connection
//! that nobody uses still holds a socket and a file descriptor.
//!
//! What it still does not do: know which socket is ready. Chapter 8 does that.

use std::io;
use std::net::TcpListener;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::connection::{Connection, Waiting};
use common::shutdown::{StopFlag, on_stop_signal};
use nix::errno::Errno;

const NAME: &str = "stage07-keep-alive";

/// How long a connection may stay quiet before we close it, unless
/// `--idle-timeout` says otherwise (Apache's default, too).
const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 5;

/// What the loop needs besides the sockets.
struct Settings {
    root: PathBuf,
    log: AccessLog,
    idle_timeout: Duration,
    poll_sleep: Duration,
}

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7807,
        "keeps HTTP/1.1 connections alive, serving them all from one polling thread",
    )
    .option(
        "--idle-timeout",
        "SECS",
        "close a connection that stays quiet this long [default: 5]",
    )
    .option(
        "--poll-sleep-ms",
        "N",
        "rest N ms after a round that found nothing to do [default: 0, never rest]",
    )
    .parse();
    let idle_timeout = arguments
        .value("--idle-timeout")
        .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
    if idle_timeout == 0 {
        exit_with_startup_error(NAME, "--idle-timeout must be at least 1 second");
    }
    let stop = StopFlag::new();
    let raise_stop = stop.clone();
    if let Err(error) = on_stop_signal(move || raise_stop.raise()) {
        exit_with_startup_error(NAME, &format!("cannot watch for Ctrl-C: {error}"));
    }
    let listener = listen_or_exit(NAME, &mut arguments.server);
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            NAME,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    let settings = Settings {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        idle_timeout: Duration::from_secs(idle_timeout),
        poll_sleep: Duration::from_millis(arguments.value("--poll-sleep-ms").unwrap_or(0)),
    };
    serve_by_polling(listener, &settings, &stop);
}

// ANCHOR: polling_loop
/// Stage 6's loop, with kept-alive connections and an idle timeout.
fn serve_by_polling(listener: TcpListener, settings: &Settings, stop: &StopFlag) {
    let mut listener = Some(listener);
    let mut connections: Vec<Connection> = Vec::new();
    loop {
        let now = Instant::now();
        if stop.is_raised() && listener.is_some() {
            listener = None; // closed: new clients are refused
            for connection in &mut connections {
                connection.stop_after_current_response();
            }
        }
        let mut progressed = match &listener {
            Some(listener) => accept_waiting(listener, &mut connections, now),
            None => false,
        };
        connections.retain_mut(|connection| {
            let active_before = connection.last_activity();
            let waiting = connection.advance(&settings.root, &settings.log, now);
            progressed |=
                connection.last_activity() != active_before || waiting == Waiting::ForNextTurn;
            // Returning false drops the connection, and dropping closes its socket.
            waiting != Waiting::Closed && !idle_too_long(connection, now, settings)
        });
        if listener.is_none() && connections.is_empty() {
            return;
        }
        if !progressed && !settings.poll_sleep.is_zero() {
            thread::sleep(settings.poll_sleep);
        }
    }
}

/// A connection nobody has used for the idle timeout holds a socket and a
/// descriptor for nothing. The client may have gone without a word (a laptop
/// shut, a cable pulled): TCP itself would never tell us.
fn idle_too_long(connection: &Connection, now: Instant, settings: &Settings) -> bool {
    now.saturating_duration_since(connection.last_activity()) >= settings.idle_timeout
}
// ANCHOR_END: polling_loop

/// Accepts every client waiting in the kernel's queue, as stage 6 does.
fn accept_waiting(listener: &TcpListener, connections: &mut Vec<Connection>, now: Instant) -> bool {
    let mut accepted = false;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => match Connection::new(stream, peer, now) {
                Ok(connection) => {
                    connections.push(connection);
                    accepted = true;
                }
                Err(error) => eprintln!("{NAME}: cannot use a new connection: {error}"),
            },
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return accepted,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => continue,
            // Out of file descriptors: the client stays queued until one frees up.
            Err(error) if is_out_of_descriptors(&error) => return accepted,
            Err(error) => {
                eprintln!("{NAME}: accept failed: {error}");
                return accepted;
            }
        }
    }
}

/// EMFILE (this process's limit) or ENFILE (the whole system's).
fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE)
    )
}
