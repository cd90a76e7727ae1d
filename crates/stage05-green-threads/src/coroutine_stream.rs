//! `may`'s TCP stream, dressed as the blocking stream that
//! `stage02_file_lookup::blocking::serve_connection` expects.
//!
//! `serve_connection` is written against the `BlockingStream` trait, which
//! `common` implements for `std::net::TcpStream`. Rust's orphan rule forbids us to
//! implement a trait from one crate (`common`) for a type from another (`may`), so
//! we wrap the type in one of our own, a "newtype", and implement the trait for
//! that.
//!
//! The calls look blocking, and inside a coroutine they behave that way for the
//! coroutine: a `read` with no data parks it. But the thread is not blocked: `may`
//! sets the socket non-blocking, and when a call would block it switches to
//! another coroutine, until `epoll` says the socket is ready.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use stage02_file_lookup::blocking::BlockingStream;

// ANCHOR: newtype
/// A connection served by a coroutine.
pub struct CoroutineStream(pub may::net::TcpStream);

impl Read for CoroutineStream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.0.read(buffer)
    }
}

impl Write for CoroutineStream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl BlockingStream for CoroutineStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.0.shutdown(Shutdown::Write)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }
}
// ANCHOR_END: newtype
