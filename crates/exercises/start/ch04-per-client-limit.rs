//! Exercise ch04-per-client-limit (chapter 4): at most N connections per client.
//!
//! Goal: with `--per-client N`, one client address may hold at most N
//! connections at once. Its next connection gets `429 Too Many Requests` with a
//! `Retry-After` header at once, without the request being read and without a
//! thread being started; other addresses are served as usual, and as soon as
//! one of the client's connections ends, the client may open another.
//!
//! This is stage 4's `main.rs` with a thread per connection only; the stop on
//! Ctrl-C is stage 4's too, in `exercises::stopping`.
//!
//! Check your work:  scripts/exercise check ch04-per-client-limit
//! Stuck?            scripts/exercise hint ch04-per-client-limit

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals};
use exercises::stopping::{next_connection, stop_on_signal};
use stage02_file_lookup::blocking::serve_connection;

const NAME: &str = "ch04-per-client-limit";

/// How many connections one address may hold when `--per-client` is not given.
const DEFAULT_PER_CLIENT: usize = 64;
/// How long a client may stay silent, by default, before its thread gives up.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    let mut arguments = Cli::new(NAME, 7804, "stage 4 with a limit per client")
        .option(
            "--per-client",
            "N",
            "at most N connections at once from one address; more get 429 [default: 64]",
        )
        .option(
            "--read-timeout",
            "SECS",
            "how long a client may stay silent (or stop reading) [default: 10]",
        )
        .parse();
    let per_client: usize = arguments
        .value("--per-client")
        .unwrap_or(DEFAULT_PER_CLIENT);
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    if per_client == 0 {
        exit_with_startup_error(NAME, "--per-client must be above zero");
    }
    // Hold Ctrl-C and SIGTERM back until the thread that takes them up exists.
    let blocked = StopSignals::block_or_exit(NAME);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let stop = stop_on_signal(NAME, &blocked, &listener);
    let site = Arc::new(Site {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        client_timeout: read_timeout,
        per_client,
    });
    serve_with_a_thread_each(listener, &stop, &site);
}

/// What every connection's thread needs, shared by all of them through an `Arc`.
struct Site {
    root: PathBuf,
    log: AccessLog,
    client_timeout: Duration,
    /// How many connections one address may hold at once: not enforced yet.
    per_client: usize,
}

impl Site {
    /// Serves one connection, in whichever thread runs it.
    fn serve(&self, mut stream: TcpStream, peer: SocketAddr) {
        let timeouts_set = stream.set_read_timeout(Some(self.client_timeout)).is_ok()
            && stream.set_write_timeout(Some(self.client_timeout)).is_ok();
        if timeouts_set {
            serve_connection(&mut stream, peer, &self.root, &self.log);
        }
    }
}

/// A new thread for every connection. Start here: nothing limits how many one
/// client may have.
fn serve_with_a_thread_each(listener: TcpListener, stop: &StopFlag, site: &Arc<Site>) {
    let _ = site.per_client;
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = next_connection(NAME, &listener, stop) {
        threads.retain(|thread| !thread.is_finished());
        let site = Arc::clone(site);
        let started = thread::Builder::new().spawn(move || site.serve(stream, peer));
        match started {
            Ok(thread) => threads.push(thread),
            Err(error) => eprintln!("{NAME}: cannot start a thread for {peer}: {error}"),
        }
    }
    drop(listener);
    for thread in threads {
        let _ = thread.join();
    }
}
