//! Exercise ch04-status-page (chapter 4): a page that shows the server's load.
//!
//! Goal: `GET /status` answers a small `text/plain` page with three lines,
//!
//! ```text
//! requests: 1234
//! busy: 3
//! queued: 0
//! ```
//!
//! `requests` counts the well-formed requests read since the server started, the
//! one asking included; `busy` is how many of the pool's threads are serving a
//! connection (the one answering included), and `queued` how many accepted
//! connections are waiting for a thread. Every other path is served as before.
//!
//! This is stage 4's `main.rs` with the pool only; the stop on Ctrl-C is stage
//! 4's too, in `exercises::stopping`.
//!
//! Check your work:  scripts/exercise check ch04-status-page
//! Stuck?            scripts/exercise hint ch04-status-page

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals};
use exercises::stopping::{next_connection, stop_on_signal};
use stage02_file_lookup::blocking::serve_connection;
use threadpool::ThreadPool;

const NAME: &str = "ch04-status-page";

/// How many threads serve when `--pool` is not given.
const DEFAULT_POOL_SIZE: usize = 4;
/// How long a client may stay silent, by default, before its thread gives up.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    let mut arguments = Cli::new(NAME, 7804, "stage 4's pool with a status page")
        .option("--pool", "N", "serve from a pool of N threads [default: 4]")
        .option(
            "--read-timeout",
            "SECS",
            "how long a client may stay silent (or stop reading) [default: 10]",
        )
        .parse();
    let pool_size: usize = arguments.value("--pool").unwrap_or(DEFAULT_POOL_SIZE);
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    if pool_size == 0 {
        exit_with_startup_error(NAME, "--pool must be above zero");
    }
    // Hold Ctrl-C and SIGTERM back until the thread that takes them up exists.
    let blocked = StopSignals::block_or_exit(NAME);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let stop = stop_on_signal(NAME, &blocked, &listener);
    let site = Arc::new(Site {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        client_timeout: read_timeout,
    });
    serve_from_a_pool(listener, &stop, pool_size, &site);
}

/// What every connection's thread needs, shared by all of them through an `Arc`.
struct Site {
    root: PathBuf,
    log: AccessLog,
    client_timeout: Duration,
}

impl Site {
    /// Serves one connection, in whichever thread runs it. Start here.
    fn serve(&self, mut stream: TcpStream, peer: SocketAddr) {
        let timeouts_set = stream.set_read_timeout(Some(self.client_timeout)).is_ok()
            && stream.set_write_timeout(Some(self.client_timeout)).is_ok();
        if timeouts_set {
            serve_connection(&mut stream, peer, &self.root, &self.log);
        }
    }
}

/// At most `size` threads, started once; connections wait in the pool's queue
/// until a thread is free.
fn serve_from_a_pool(listener: TcpListener, stop: &StopFlag, size: usize, site: &Arc<Site>) {
    let pool = ThreadPool::new(size);
    while let Some((stream, peer)) = next_connection(NAME, &listener, stop) {
        let site = Arc::clone(site);
        pool.execute(move || site.serve(stream, peer));
    }
    // Stopping: refuse new clients, then wait until the queue is empty and every
    // thread is idle.
    drop(listener);
    pool.join();
}
