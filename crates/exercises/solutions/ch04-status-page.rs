//! Reference solution of ch04-status-page (chapter 4).
//!
//! Threads share memory, so the count of requests is one atomic integer that
//! every connection's thread adds to, and the pool itself, which counts its busy
//! threads and its queued jobs, is shared with the threads it runs.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals};
use exercises::stopping::{next_connection, stop_on_signal};
use stage02_file_lookup::blocking::serve_connection_with;
use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::{Response, Status};
use stage02_file_lookup::site::respond;
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
        requests: AtomicU64::new(0),
        pool: ThreadPool::new(pool_size),
    });
    serve_from_a_pool(listener, &stop, &site);
}

/// What every connection's thread needs, shared by all of them through an `Arc`.
struct Site {
    root: PathBuf,
    log: AccessLog,
    client_timeout: Duration,
    /// Well-formed requests read since the start. Many threads add to it at
    /// once, so it is an atomic: `fetch_add` is one indivisible step, where
    /// "read, add one, write back" on a plain integer could lose a request when
    /// two threads did it at the same time (and Rust would not compile that).
    requests: AtomicU64,
    /// The pool that runs the connections. It counts its busy threads and its
    /// queued jobs itself; a clone of a `ThreadPool` is another handle on the same
    /// pool, not a second one.
    pool: ThreadPool,
}

impl Site {
    /// Serves one connection, in whichever thread runs it.
    fn serve(&self, mut stream: TcpStream, peer: SocketAddr) {
        let timeouts_set = stream.set_read_timeout(Some(self.client_timeout)).is_ok()
            && stream.set_write_timeout(Some(self.client_timeout)).is_ok();
        if timeouts_set {
            serve_connection_with(&mut stream, peer, &self.root, &self.log, |request, root| {
                self.answer(request, root)
            });
        }
    }

    /// Answers one well-formed request: the status page, or a file as before.
    fn answer(&self, request: &Request, root: &Path) -> Response {
        // Counted before the page is written, so the page counts its own request.
        // `Relaxed`: the count orders nothing else, it only has to add up.
        let requests = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let method = request.method.as_str();
        if request.path() != "/status" || !matches!(method, "GET" | "HEAD") {
            return respond(request, root);
        }
        // Two separate readings: another thread may take a job between them, so
        // the page is a close look at a moving pool, not an exact snapshot.
        let page = format!(
            "requests: {requests}\nbusy: {}\nqueued: {}\n",
            self.pool.active_count(),
            self.pool.queued_count()
        );
        let mut response = Response::from_bytes(Status::OK, "text/plain; charset=utf-8", page);
        response.omit_body = method == "HEAD";
        response
    }
}

/// At most as many threads as the site's pool has, started once; connections
/// wait in the pool's queue until a thread is free.
fn serve_from_a_pool(listener: TcpListener, stop: &StopFlag, site: &Arc<Site>) {
    while let Some((stream, peer)) = next_connection(NAME, &listener, stop) {
        let job_site = Arc::clone(site);
        site.pool.execute(move || job_site.serve(stream, peer));
    }
    // Stopping: refuse new clients, then wait until the queue is empty and every
    // thread is idle.
    drop(listener);
    site.pool.join();
}
