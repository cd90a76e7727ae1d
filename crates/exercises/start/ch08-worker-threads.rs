//! Exercise ch08-worker-threads (chapter 8): one event loop per core.
//!
//! Goal: with `--workers N`, the server runs N threads, each with its own epoll
//! event loop, and all of them accept and serve connections from the same
//! listening port. Under load every worker does a share of the work. Ctrl-C or
//! SIGTERM still stops the whole server cleanly: every worker finishes the
//! answers it is sending, then the process exits with status 0.
//!
//! One event loop is one thread, and one thread uses one core: under load,
//! stage 8 keeps one core busy while the others idle. nginx runs one such loop
//! per core, in its worker processes; this exercise does it with threads.
//!
//! Stage 8's library builds a `Server` from a listening socket and a
//! `StopSource` (`stage08_epoll::Setup::server`); `stage08_epoll::serve` builds
//! one, stopped by a signalfd, and runs it on this thread. Start at `main`.
//!
//! Check your work:  scripts/exercise check ch08-worker-threads
//! Stuck?            scripts/exercise hint ch08-worker-threads

use stage08_epoll::admission::AdmitEveryone;

const NAME: &str = "ch08-worker-threads";

fn main() {
    let arguments = stage08_epoll::cli(NAME, "stage 8 with one event loop per worker thread")
        .option(
            "--workers",
            "N",
            "event loops, each on a thread of its own [default: 1]",
        )
        .parse();
    let workers: usize = arguments.count("--workers", 1);
    // Start here: one server, on this thread, whatever --workers says.
    let _ = workers;
    stage08_epoll::serve(NAME, arguments, AdmitEveryone);
}
