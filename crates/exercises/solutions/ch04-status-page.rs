//! Reference solution of ch04-status-page (chapter 4).
//!
//! Threads share memory, so the count of requests is one atomic integer that
//! every connection's thread adds to, and the pool itself, which counts its busy
//! threads and its queued jobs, is shared with the threads it runs.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::{Response, Status};
use stage02_file_lookup::site::respond;
use stage04_multithread::{Connections, Job, Site, cli, serve};
use threadpool::ThreadPool;

const NAME: &str = "ch04-status-page";

/// Stage 4's site, with a status page.
struct StatusSite {
    site: Site,
    /// Well-formed requests read since the start. Many threads add to it at
    /// once, so it is an atomic: `fetch_add` is one indivisible step, where
    /// "read, add one, write back" on a plain integer could lose a request when
    /// two threads did it at the same time (and Rust would not compile that).
    requests: AtomicU64,
    /// The pool that runs the connections, if there is one. It counts its busy
    /// threads and its queued jobs itself; a clone of a `ThreadPool` is another
    /// handle on the same pool, not a second one.
    pool: Option<ThreadPool>,
}

impl Connections for StatusSite {
    fn take(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<Job> {
        Some(Box::new(move || {
            self.site
                .serve_with(stream, peer, |request, root| self.answer(request, root));
        }))
    }
}

impl StatusSite {
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
        let (busy, queued) = self
            .pool
            .as_ref()
            .map_or((0, 0), |pool| (pool.active_count(), pool.queued_count()));
        let page = format!("requests: {requests}\nbusy: {busy}\nqueued: {queued}\n");
        let mut response = Response::from_bytes(Status::OK, "text/plain; charset=utf-8", page);
        response.omit_body = method == "HEAD";
        response
    }
}

fn main() {
    let arguments = cli(NAME, "stage 4's pool with a status page").parse();
    serve(NAME, arguments, |site, pool| StatusSite {
        site,
        requests: AtomicU64::new(0),
        pool: pool.cloned(),
    });
}
