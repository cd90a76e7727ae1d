//! Stage 7: the polling loop of stage 6, with connections kept alive.
//!
//! Stage 6 closed every connection after one answer, as HTTP/1.0 did: a page
//! with a stylesheet and three images cost five TCP handshakes. HTTP/1.1 keeps a
//! connection open for the next request unless a side says `Connection: close`.
//! That only works because every response says `Content-Length`: the client
//! knows where one answer ends and the next begins without waiting for a close.
//!
//! The kept-alive connection, which chapter 7 walks through, is [`connection`]:
//! requests one after another on one connection, pipelined requests answered in
//! order, bodies skipped or refused so they are never read as a request,
//! `Connection: close` and HTTP/1.0 honoured. This file holds the loop: stage 6's
//! round over every socket, plus the idle timeout, because a kept connection
//! that nobody uses still holds a socket and a file descriptor, and the head
//! timeout, because a client that trickles its head is never idle.
//!
//! What it builds on: stage 6 (`stage06-nonblocking`) for accepting on a
//! non-blocking listener and for the response still to be sent; stage 2
//! (`stage02-file-lookup`) for parsing requests and answering them.
//!
//! What it still does not do: know which socket is ready. Chapter 8 does that,
//! and drives this same connection from epoll.

pub mod connection;
pub mod policy;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use common::cli::{Arguments, Cli, exit_with_startup_error};
use common::shutdown::{StopFlag, StopSignals, stop_flag_on_signal};
use stage06_nonblocking::accept::{accept_waiting, listen_non_blocking_or_exit};

use connection::{Connection, DEFAULT_HEAD_TIMEOUT, Waiting};
use policy::KeepAlivePolicy;

/// The crate's name, which its messages start with.
pub const NAME: &str = "stage07-keep-alive";

/// How long a connection may stay quiet before we close it, unless
/// `--idle-timeout` says otherwise (Apache's default, too).
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 5;

/// What the loop needs besides the sockets.
pub struct Settings {
    pub root: PathBuf,
    pub log: AccessLog,
    pub idle_timeout: Duration,
    /// How long a request head may take to arrive whole (`--head-timeout`).
    pub head_timeout: Duration,
    pub poll_sleep: Duration,
    /// Whether an answer keeps its connection open: `policy::KeepWhatIsAsked`
    /// for stage 7 itself.
    pub policy: Arc<dyn KeepAlivePolicy>,
}

// ANCHOR: polling_loop
/// Stage 6's loop, with kept-alive connections and an idle timeout.
pub fn serve_by_polling(listener: TcpListener, settings: &Settings, stop: &StopFlag) {
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
            Some(listener) => accept_new_clients(listener, &mut connections, settings, now),
            None => false,
        };
        // Every connection is advanced on every round, so each sees its head
        // deadline pass within a round: this loop needs nothing more for it.
        connections.retain_mut(|connection| {
            let active_before = connection.last_activity();
            let waiting = connection.advance(&settings.root, &settings.log, now);
            progressed |=
                connection.last_activity() != active_before || waiting == Waiting::ForNextTurn;
            // Returning false drops the connection, and dropping closes its socket.
            waiting != Waiting::Closed && !idle_too_long(connection, now, settings)
        });
        // As in stage 6: the round's log lines, without waiting for stdout.
        settings.log.write_pending();
        if listener.is_none() && connections.is_empty() {
            settings.log.finish();
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

/// Accepts every client waiting in the kernel's queue, with stage 6's
/// `accept_waiting`. Returns whether there was any.
fn accept_new_clients(
    listener: &TcpListener,
    connections: &mut Vec<Connection>,
    settings: &Settings,
    now: Instant,
) -> bool {
    let round = accept_waiting(NAME, listener, |stream, peer| {
        match Connection::new(stream, peer, now) {
            Ok(connection) => connections.push(
                connection
                    .with_head_timeout(settings.head_timeout)
                    .with_policy(Arc::clone(&settings.policy)),
            ),
            Err(error) => eprintln!("{NAME}: cannot use a new connection: {error}"),
        }
    });
    round.accepted > 0
}

/// Stage 7's command line: port 7807, `--idle-timeout` and `--poll-sleep-ms`.
/// An extension adds its own options before it calls `parse`.
pub fn cli(name: &'static str, about: &'static str) -> Cli {
    timeout_options(Cli::new(name, 7807, about)).option(
        "--poll-sleep-ms",
        "N",
        "rest N ms after a round that found nothing to do [default: 0, never rest]",
    )
}

/// The two timeouts of a kept-alive connection, `--idle-timeout` and
/// `--head-timeout`: stage 8 takes them from here, with the connection.
pub fn timeout_options(cli: Cli) -> Cli {
    cli.option(
        "--idle-timeout",
        "SECS",
        "close a connection that stays quiet this long [default: 5]",
    )
    .option(
        "--head-timeout",
        "SECS",
        "answer 408 to a request head not whole this long after its first byte [default: 10]",
    )
}

/// The idle timeout the command line asks for; a start-up error if it is 0.
pub fn idle_timeout(name: &str, arguments: &Arguments) -> Duration {
    let seconds = arguments
        .value("--idle-timeout")
        .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
    if seconds == 0 {
        exit_with_startup_error(name, "--idle-timeout must be at least 1 second");
    }
    Duration::from_secs(seconds)
}

/// Stage 7's server as its `main` runs it, from the parsed command line to the
/// stop, with `policy` deciding whether an answer keeps its connection open.
pub fn serve(name: &'static str, mut arguments: Arguments, policy: Arc<dyn KeepAlivePolicy>) {
    let idle_timeout = idle_timeout(name, &arguments);
    let head_timeout = arguments.seconds("--head-timeout", DEFAULT_HEAD_TIMEOUT);
    // First, before any other thread exists: Ctrl-C and SIGTERM raise `stop`.
    let blocked = StopSignals::block_or_exit(name);
    let stop = stop_flag_on_signal(name, &blocked);
    let listener = listen_non_blocking_or_exit(name, &mut arguments.server);
    let settings = Settings {
        root: arguments.server.root.clone(),
        // Queued and written without waiting: a stdout nobody reads must not stop the loop.
        log: AccessLog::non_blocking(arguments.server.quiet),
        idle_timeout,
        head_timeout,
        poll_sleep: Duration::from_millis(arguments.value("--poll-sleep-ms").unwrap_or(0)),
        policy,
    };
    serve_by_polling(listener, &settings, &stop);
}
