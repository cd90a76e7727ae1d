//! Stage 5: a green thread per connection.
//!
//! Each connection gets a coroutine of the `may` crate: a function with a stack
//! of its own (32 KiB by default, against a thread's 2 MiB or more), run by a
//! few worker threads that `may` starts, one per CPU core unless `--workers`
//! says otherwise. Inside a coroutine, `may::net` calls look blocking, but when
//! one would block, `may` parks the coroutine and runs another on the same thread;
//! `epoll` tells it when to wake the parked one. Many coroutines on a few threads:
//! "M:N" scheduling.
//!
//! The serving code is stage 2's `stage02_file_lookup::blocking::serve_connection`, unchanged:
//! `coroutine_stream.rs` wraps `may`'s socket so it fits. What this stage teaches
//! is the price of looking blocking: a call that really blocks (a `std` socket,
//! `std::thread::sleep`, a slow disk under `std::fs`) stalls its whole worker
//! thread and every coroutine waiting on it. `go!` is also `unsafe` underneath;
//! chapter 5 of the book says why, and why this program is sound. Chapter 6
//! builds the event loop that `may` hides, by hand.

pub mod coroutine_stream;

use std::mem::size_of;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Arguments, Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals, stop_on_signal};
use may::coroutine::JoinHandle;
use may::go;
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection;

use crate::coroutine_stream::CoroutineStream;

/// The crate's name, which its messages start with.
pub const NAME: &str = "stage05-green-threads";

/// `may`'s default stack: 0x1000 words, 32 KiB on a 64-bit machine.
pub const DEFAULT_STACK_WORDS: usize = 0x1000;

/// The smallest stack `--stack-words` accepts: 4 KiB, too small for serving,
/// which is what the chapter's experiment shows.
pub const MIN_STACK_WORDS: usize = 512;

/// The largest: 1 Mi words, 8 MiB, a thread's usual stack. More would defeat the
/// point of coroutines, and far more makes `may` fail to allocate them at all.
pub const MAX_STACK_WORDS: usize = 1 << 20;
/// How long a client may stay silent, by default, before its coroutine gives up.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

// ANCHOR: compile_parser
/// Makes the request parser compile its regular expressions now, on the main
/// thread's large stack. `stage02_file_lookup::request` compiles them at their first use, and
/// compiling takes far more stack than serving: about 108 KiB in a debug build
/// (27 KiB optimised), more than a coroutine has. Afterwards a request needs
/// about 20 KiB of stack in a debug build and 14 KiB optimised.
pub fn compile_the_request_parser() {
    let _ = stage02_file_lookup::request::parse_request_head(
        b"GET / HTTP/1.1\r\nHost: warm-up\r\n\r\n",
    );
}
// ANCHOR_END: compile_parser

// ANCHOR: configure
/// Sets up `may`'s scheduler; it starts its threads at the first coroutine.
/// `_blocked` proves that the stop signals are blocked in this thread, so those
/// worker threads inherit that and a Ctrl-C can never end the process mid-answer.
pub fn configure_scheduler(workers: Option<usize>, stack_words: usize, _blocked: &StopSignals) {
    let config = may::config();
    if let Some(workers) = workers {
        config.set_workers(workers);
    }
    // The size counts machine words, not bytes: 4096 words are 32 KiB here. And 0
    // does not mean "the default", it gives a tiny stack, so we never pass it.
    config.set_stack_size(stack_words);
    eprintln!(
        "{} worker threads, {} KiB of stack per coroutine",
        config.get_workers(),
        stack_words * size_of::<usize>() / 1024
    );
}
// ANCHOR_END: configure

/// The listening socket, handed over to `may`, which makes it non-blocking and
/// registers it with its `epoll` instance.
pub fn coroutine_listener(listener: TcpListener) -> may::net::TcpListener {
    // SAFETY: `into_raw_fd` gives up ownership of a valid, open listening socket,
    // and `from_raw_fd` takes that ownership over: exactly one owner at a time.
    unsafe { may::net::TcpListener::from_raw_fd(listener.into_raw_fd()) }
}

/// What every connection's coroutine needs, shared through an `Arc`.
pub struct Site {
    pub root: PathBuf,
    pub log: AccessLog,
    pub client_timeout: Duration,
}

/// How a connection's coroutine serves it. Stage 5's own is [`Site`]; chapter
/// 5's exercises wrap it (a limit on connections served at once, a deadline for
/// the request head).
pub trait ServeConnection: Send + Sync + 'static {
    /// Serves one connection, in its own coroutine.
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr);
}

impl ServeConnection for Site {
    fn serve(&self, stream: may::net::TcpStream, peer: SocketAddr) {
        let timeouts_set = stream.set_read_timeout(Some(self.client_timeout)).is_ok()
            && stream.set_write_timeout(Some(self.client_timeout)).is_ok();
        if timeouts_set {
            serve_connection(&mut CoroutineStream(stream), peer, &self.root, &self.log);
        }
    }
}

// ANCHOR: accept_loop
/// A coroutine for every connection, until a stop signal; then waits for the
/// coroutines still serving.
pub fn serve_with_a_coroutine_each(
    listener: may::net::TcpListener,
    stop: &StopFlag,
    site: &Arc<impl ServeConnection>,
) {
    let mut coroutines: Vec<JoinHandle<()>> = Vec::new();
    loop {
        // The main thread is not a coroutine: here `accept` blocks it, as a
        // plain `accept` would.
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
        // `go!` spawns a coroutine through an `unsafe` function: see chapter 5.
        // It is sound here because `serve` keeps no reference to a thread-local
        // across a call that may switch coroutines.
        coroutines.push(go!(move || site.serve(stream, peer)));
    }
    // Stopping: refuse new clients, then let every response in progress finish.
    drop(listener);
    for coroutine in coroutines {
        if coroutine.join().is_err() {
            eprintln!("{NAME}: a connection's coroutine panicked");
        }
    }
}
// ANCHOR_END: accept_loop

/// Stage 5's command line: port 7805, `--workers`, `--stack-words` and
/// `--read-timeout`. An extension adds its own options before it calls `parse`.
pub fn cli(name: &'static str, about: &'static str) -> Cli {
    Cli::new(name, 7805, about)
        .option(
            "--workers",
            "N",
            "threads that run the coroutines [default: one per CPU core]",
        )
        .option(
            "--stack-words",
            "N",
            "each coroutine's stack, in machine WORDS, not bytes; an odd number makes may \
             print each coroutine's stack use [default: 4096, 32 KiB]",
        )
        .option(
            "--read-timeout",
            "SECS",
            "how long a client may stay silent (or stop reading) [default: 10]",
        )
}

/// Stage 5's server as its `main` runs it, from the parsed command line to the
/// stop. `serve_with` makes what serves each connection from stage 5's [`Site`]
/// (for stage 5 itself, the site as it is).
pub fn serve<S: ServeConnection>(
    name: &'static str,
    mut arguments: Arguments,
    serve_with: impl FnOnce(Site) -> S,
) {
    let workers: Option<usize> = arguments.value("--workers");
    let stack_words = arguments
        .value("--stack-words")
        .unwrap_or(DEFAULT_STACK_WORDS);
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    if workers == Some(0) {
        exit_with_startup_error(name, "--workers must be above zero");
    }
    if !(MIN_STACK_WORDS..=MAX_STACK_WORDS).contains(&stack_words) {
        let message = format!("--stack-words must be from {MIN_STACK_WORDS} to {MAX_STACK_WORDS}");
        exit_with_startup_error(name, &message);
    }
    // Hold Ctrl-C and SIGTERM back from the start: `stop_on_signal` can only take
    // them up once the listener exists, and one that came in between must wait
    // for it rather than end the process.
    let blocked = StopSignals::block_or_exit(name);
    let listener = listen_or_exit(name, &mut arguments.server);
    compile_the_request_parser();
    // Before `may` starts its threads: they must inherit the blocked signals.
    let stop = stop_on_signal(name, &blocked, &listener);
    configure_scheduler(workers, stack_words, &blocked);
    let listener = coroutine_listener(listener);
    let site = Site {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        client_timeout: read_timeout,
    };
    serve_with_a_coroutine_each(listener, &stop, &Arc::new(serve_with(site)));
}
