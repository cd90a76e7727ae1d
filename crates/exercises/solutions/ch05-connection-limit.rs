//! Reference solution of ch05-connection-limit (chapter 5).
//!
//! A counting semaphore holds N slots; each connection's coroutine takes one
//! before it serves and gives it back when it ends. The semaphore is `may`'s:
//! waiting for a slot parks the coroutine, and its worker thread runs the
//! others meanwhile. A `std::sync` wait would block the worker thread itself,
//! and with it every coroutine queued there, the very connections whose end
//! the waiter is waiting for.

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
use may::sync::Semphore;
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection;

const NAME: &str = "ch05-connection-limit";

/// How long a client may stay silent, by default, before its coroutine gives up.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How many connections are served at once when `--max-connections` is not given.
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

fn main() {
    let mut arguments = Cli::new(NAME, 7805, "stage 5 serving at most N connections at once")
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
            "--max-connections",
            "N",
            "serve at most N connections at once; the others wait [default: 10000]",
        )
        .parse();
    let workers: Option<usize> = arguments.value("--workers");
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    let max_connections: usize = arguments
        .value("--max-connections")
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if workers == Some(0) || max_connections == 0 {
        exit_with_startup_error(NAME, "--workers and --max-connections must be above zero");
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
        slots: Semphore::new(max_connections),
    });
    serve_with_a_coroutine_each(listener, &stop, &site);
}

/// What every connection's coroutine needs, shared through an `Arc`.
struct Site {
    root: PathBuf,
    log: AccessLog,
    client_timeout: Duration,
    /// One slot for each connection that may be served at once (`may` spells
    /// its semaphore "Semphore").
    slots: Semphore,
}

/// A slot taken from the semaphore. Dropping it gives the slot back, on every
/// way a connection can end.
struct Slot<'a>(&'a Semphore);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.post();
    }
}

impl Site {
    /// Serves one connection, in its own coroutine, once a slot is free.
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr) {
        // Parks this coroutine until a slot is free. The client's timeouts start
        // only when it is served: waiting for a slot is the server's doing.
        self.slots.wait();
        let _slot = Slot(&self.slots);
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
