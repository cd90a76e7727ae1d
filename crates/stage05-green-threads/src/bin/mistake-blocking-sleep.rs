//! Stage 5 with the green-thread mistake, kept here to be broken on purpose:
//! each request first waits for a pretend slow backend with `std::thread::sleep`,
//! a call that blocks the THREAD. A coroutine that calls it does not give its
//! worker thread back to `may`, so every other coroutine on that worker waits
//! too, even the ones whose clients only want a small file.
//!
//! `--coroutine-sleep` waits with `may::coroutine::sleep` instead, which parks
//! only the coroutine. Chapter 5's experiment runs ten requests at once against
//! both, with one worker: the blocking sleeps add up, the coroutine sleeps
//! overlap. Any blocking call does the same: a `std::net` socket, a lock held
//! long, a DNS lookup, reading a file from a slow disk.

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, listen_or_exit};
use may::go;
use stage02_file_lookup::blocking::serve_connection;

// The stage's own wrapper that lets `serve_connection` use may's socket.
#[path = "../coroutine_stream.rs"]
mod coroutine_stream;

use coroutine_stream::CoroutineStream;

const NAME: &str = "mistake-blocking-sleep";

fn main() {
    let mut arguments = Cli::new(NAME, 7805, "stage 5 with a blocking call in every request")
        .option("--workers", "N", "worker threads [default: 1]")
        .option(
            "--delay-ms",
            "MS",
            "how long the pretend backend takes [default: 1000]",
        )
        .switch(
            "--coroutine-sleep",
            "wait with may::coroutine::sleep instead",
        )
        .mistake_of("stage05-green-threads")
        .parse();
    let workers = arguments.value("--workers").unwrap_or(1);
    let delay = Duration::from_millis(arguments.value("--delay-ms").unwrap_or(1000));
    let park_only_the_coroutine = arguments.switch("--coroutine-sleep");
    let listener = listen_or_exit(NAME, &mut arguments.server);
    // Compile the parser's regular expressions on the main thread (see main.rs).
    let _ = stage02_file_lookup::request::parse_request_head(b"GET / HTTP/1.0\r\n\r\n");
    may::config().set_workers(workers);
    // SAFETY: the listening socket passes from `std`'s owner to `may`'s.
    let listener = unsafe { may::net::TcpListener::from_raw_fd(listener.into_raw_fd()) };
    let root: Arc<Path> = Arc::from(arguments.server.root.as_path());
    let log = AccessLog::new(arguments.server.quiet);
    loop {
        let Ok((stream, peer)) = listener.accept() else {
            continue;
        };
        let root = Arc::clone(&root);
        go!(move || {
            ask_the_slow_backend(delay, park_only_the_coroutine);
            serve(stream, peer, &root, &log);
        });
    }
}

// ANCHOR: blocking_sleep
fn ask_the_slow_backend(delay: Duration, park_only_the_coroutine: bool) {
    if park_only_the_coroutine {
        // Parks this coroutine; its worker thread runs the others meanwhile.
        may::coroutine::sleep(delay);
    } else {
        // THE MISTAKE: blocks the worker thread, and every coroutine on it.
        std::thread::sleep(delay);
    }
}
// ANCHOR_END: blocking_sleep

fn serve(stream: may::net::TcpStream, peer: SocketAddr, root: &Path, log: &AccessLog) {
    if stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .is_ok()
    {
        serve_connection(&mut CoroutineStream(stream), peer, root, log);
    }
}
