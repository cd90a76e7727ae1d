//! Exercise ch05-head-deadline (chapter 5): a deadline for the request head.
//!
//! Goal: with `--head-deadline SECS`, a client has SECS from the moment it is
//! accepted to send its whole request head. One that has not finished by then
//! gets `408 Request Timeout`, however steadily it trickles bytes; a client that
//! sends its head in a few pieces, in time, is served as before.
//!
//! `--read-timeout` is not enough: it bounds each wait for a `read`, so a client
//! that sends a byte every second never trips it, and keeps its coroutine (and
//! its socket, and its stack) for as long as it likes. Coroutines are cheap, not
//! free.
//!
//! This is stage 5's `main.rs`; the setup of `may` and the stop on Ctrl-C are
//! stage 5's too, in `exercises::green_threads` and `exercises::stopping`.
//!
//! Check your work:  scripts/exercise check ch05-head-deadline
//! Stuck?            scripts/exercise hint ch05-head-deadline

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals};
use exercises::coroutine_stream::CoroutineStream;
use exercises::green_threads::{
    compile_the_request_parser, configure_scheduler, coroutine_listener,
};
use exercises::stopping::stop_on_signal;
use may::coroutine::JoinHandle;
use may::go;
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection;

const NAME: &str = "ch05-head-deadline";

/// How long a client may stay silent, by default, before its coroutine gives up.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send its whole head, by default.
const DEFAULT_HEAD_DEADLINE_SECS: f64 = 10.0;

fn main() {
    let mut arguments = Cli::new(NAME, 7805, "stage 5 with a deadline for the request head")
        .option(
            "--workers",
            "N",
            "threads that run the coroutines [default: one per CPU core]",
        )
        .option(
            "--read-timeout",
            "SECS",
            "how long a client may stay silent (or stop reading) [default: 10]",
        )
        .option(
            "--head-deadline",
            "SECS",
            "how long a client may take to send its whole request head [default: 10]",
        )
        .parse();
    let workers: Option<usize> = arguments.value("--workers");
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    let head_deadline: f64 = arguments
        .value("--head-deadline")
        .unwrap_or(DEFAULT_HEAD_DEADLINE_SECS);
    let positive = |seconds: f64| seconds.is_finite() && seconds > 0.0;
    if workers == Some(0) || !positive(head_deadline) {
        exit_with_startup_error(
            NAME,
            "--workers, --read-timeout and --head-deadline must be above zero",
        );
    }
    // Hold Ctrl-C and SIGTERM back until the thread that takes them up exists.
    let blocked = StopSignals::block_or_exit(NAME);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    compile_the_request_parser();
    // Before `may` starts its threads: they must inherit the blocked signals.
    let stop = stop_on_signal(NAME, &blocked, &listener);
    configure_scheduler(workers);
    let listener = coroutine_listener(listener);
    let site = Arc::new(Site {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        client_timeout: read_timeout,
        head_deadline: Duration::from_secs_f64(head_deadline),
    });
    serve_with_a_coroutine_each(listener, &stop, &site);
}

/// What every connection's coroutine needs, shared through an `Arc`.
struct Site {
    root: PathBuf,
    log: AccessLog,
    client_timeout: Duration,
    /// How long a client may take to send its whole head: not enforced yet.
    head_deadline: Duration,
}

impl Site {
    /// Serves one connection, in its own coroutine. Start here.
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr) {
        let _ = self.head_deadline;
        let timeouts_set = stream.set_read_timeout(Some(self.client_timeout)).is_ok()
            && stream.set_write_timeout(Some(self.client_timeout)).is_ok();
        if timeouts_set {
            serve_connection(&mut CoroutineStream(stream), peer, &self.root, &self.log);
        }
    }
}

/// A coroutine for every connection, until a stop signal; then waits for the
/// coroutines still serving.
fn serve_with_a_coroutine_each(listener: may::net::TcpListener, stop: &StopFlag, site: &Arc<Site>) {
    let mut coroutines: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let accepted = listener.accept();
        if stop.is_raised() {
            break;
        }
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                after_accept_error(NAME, &error);
                continue;
            }
        };
        coroutines.retain(|coroutine| !coroutine.is_done());
        let site = Arc::clone(site);
        // Sound as in stage 5: `serve` keeps no reference to a thread-local across
        // a call that may switch coroutines (chapter 5 explains).
        coroutines.push(go!(move || site.serve(stream, peer)));
    }
    drop(listener);
    for coroutine in coroutines {
        if coroutine.join().is_err() {
            eprintln!("{NAME}: a connection's coroutine panicked");
        }
    }
}
