//! Stage 5's setup of `may`, unchanged (chapter 5 explains each step), for the
//! chapter 5 exercises: compile the request parser on the main thread's large
//! stack, start the scheduler, and hand the listening socket over to `may`.

use std::mem::size_of;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, IntoRawFd};

/// `may`'s default stack: 0x1000 words, 32 KiB on a 64-bit machine.
const STACK_WORDS: usize = 0x1000;

/// Compiles the request parser's regular expressions now, on the main thread:
/// compiling them takes more stack than a coroutine has.
pub fn compile_the_request_parser() {
    let _ = stage02_file_lookup::request::parse_request_head(
        b"GET / HTTP/1.1\r\nHost: warm-up\r\n\r\n",
    );
}

/// Sets up `may`'s scheduler: `workers` threads (one per core when `None`), and
/// the default stack, given explicitly in words.
pub fn configure_scheduler(workers: Option<usize>) {
    let config = may::config();
    if let Some(workers) = workers {
        config.set_workers(workers);
    }
    config.set_stack_size(STACK_WORDS);
    eprintln!(
        "{} worker threads, {} KiB of stack per coroutine",
        config.get_workers(),
        STACK_WORDS * size_of::<usize>() / 1024
    );
}

/// The listening socket, handed over to `may`.
pub fn coroutine_listener(listener: TcpListener) -> may::net::TcpListener {
    // SAFETY: `into_raw_fd` gives up ownership of a valid, open listening socket,
    // and `from_raw_fd` takes that ownership over: exactly one owner at a time.
    unsafe { may::net::TcpListener::from_raw_fd(listener.into_raw_fd()) }
}
