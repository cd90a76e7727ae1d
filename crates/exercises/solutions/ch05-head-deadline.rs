//! Reference solution of ch05-head-deadline (chapter 5).
//!
//! `serve_connection` reads through any `BlockingStream`, so the deadline lives
//! in a wrapper around stage 5's `CoroutineStream`, a newtype as chapter 5's
//! own: before each read it cuts the read timeout down to the time left, and
//! once no time is left it fails the read as timed out, which
//! `serve_connection` already answers with `408`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stage02_file_lookup::blocking::{BlockingStream, serve_connection};
use stage05_green_threads::coroutine_stream::CoroutineStream;
use stage05_green_threads::{ServeConnection, Site, cli, serve};

const NAME: &str = "ch05-head-deadline";

/// How long a client may take to send its head when `--head-deadline` is not given.
const DEFAULT_HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// Stage 5's site, with a deadline for each request head.
struct DeadlineSite {
    site: Site,
    head_deadline: Duration,
}

impl ServeConnection for DeadlineSite {
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr) {
        // The clock starts now, at accept, not at the client's first byte: a
        // client that connects and waits is using up its time too.
        let deadline = Some(Instant::now() + self.head_deadline);
        let read_timeout = self.site.client_timeout;
        if stream.set_write_timeout(Some(read_timeout)).is_ok() {
            let stream = CoroutineStream(stream);
            let mut stream = HeadDeadline {
                stream,
                deadline,
                read_timeout,
            };
            serve_connection(&mut stream, peer, &self.site.root, &self.site.log);
        }
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
            let timeout = self.read_timeout.min(left);
            self.stream.set_read_timeout(Some(timeout))?;
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

fn main() {
    let arguments = cli(NAME, "stage 5, with a deadline for the request head")
        .option(
            "--head-deadline",
            "SECS",
            "answer 408 to a client whose head is not whole this long after accept [default: 10]",
        )
        .parse();
    let head_deadline = arguments.seconds("--head-deadline", DEFAULT_HEAD_DEADLINE);
    serve(NAME, arguments, |site| DeadlineSite {
        site,
        head_deadline,
    });
}
