//! Reference solution of ch05-head-deadline (chapter 5).
//!
//! `serve_connection` reads through any `BlockingStream`, so the deadline lives
//! in a wrapper around stage 5's `CoroutineStream`, a newtype as chapter 5's
//! own: before each read it cuts the read timeout down to the time left, and
//! once no time is left it fails the read as timed out, which
//! `serve_connection` already answers with `408`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
use stage02_file_lookup::blocking::{BlockingStream, serve_connection};

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
    /// How long a client may take to send its whole head.
    head_deadline: Duration,
}

impl Site {
    /// Serves one connection, in its own coroutine.
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr) {
        // The clock starts now, at accept, not at the client's first byte: a
        // client that connects and waits is using up its time too.
        let deadline = Instant::now() + self.head_deadline;
        if stream.set_write_timeout(Some(self.client_timeout)).is_err() {
            return;
        }
        let mut stream = HeadDeadline {
            stream: CoroutineStream(stream),
            deadline: Some(deadline),
            read_timeout: self.client_timeout,
        };
        serve_connection(&mut stream, peer, &self.root, &self.log);
    }
}

/// A connection whose reads must all be done by a deadline, until the answer
/// starts. `--read-timeout` still bounds each single wait.
struct HeadDeadline {
    stream: CoroutineStream,
    /// `None` once the answer has started.
    deadline: Option<Instant>,
    /// The longest one read of the head may wait.
    read_timeout: Duration,
}

impl Read for HeadDeadline {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // `serve_connection` takes a timed-out read for a late client: 408.
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request head did not arrive in time",
                ));
            }
            // A socket's read timeout may not be zero (that is an error, not "do
            // not wait"); `left` is not, it was checked above.
            self.stream
                .set_read_timeout(Some(self.read_timeout.min(left)))?;
        }
        self.stream.read(buffer)
    }
}

impl Write for HeadDeadline {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // The answer has started (a 408 as well as a page): from here on, reads
        // are only the lingering close, which `serve_connection` bounds itself.
        self.deadline = None;
        self.stream.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl BlockingStream for HeadDeadline {
    fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown_write()
    }

    /// Only the lingering close sets a timeout, after the answer has started, when
    /// the deadline no longer applies: it reaches the socket unchanged.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
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
