//! Reference solution of ch08-worker-threads (chapter 8).
//!
//! N worker threads, each with a `Server` of its own: its own epoll set, its own
//! table of connections, and a copy (a `dup`) of the one listening socket, so
//! the workers share the port and the kernel's accept queue. Nothing else is
//! shared, so nothing needs a lock.
//!
//! Stopping needs one new piece. A signal that a `signalfd` reports is taken by
//! whichever reader comes first, so with N loops only one would ever hear it.
//! Instead one thread waits for the signals (`common::shutdown::on_stop_signal`,
//! as in stages 4 to 7) and then writes to an `eventfd` that every worker
//! watches: readable once written, for all of them at once.

use std::process;
use std::sync::Arc;
use std::thread;

use common::cli::{exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopSignals, on_stop_signal};
use nix::sys::eventfd::{EfdFlags, EventFd};
use stage08_epoll::{Server, Setup, StopSource};

const NAME: &str = "ch08-worker-threads";

fn main() {
    let mut arguments = stage08_epoll::cli(NAME, "stage 8 with one event loop per worker thread")
        .option(
            "--workers",
            "N",
            "event loops, each on a thread of its own [default: 1]",
        )
        .parse();
    let workers: usize = arguments.count("--workers", 1);
    let stop = stop_event_on_signal();
    let setup = Setup::from_arguments(NAME, &arguments);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let mut running = Vec::with_capacity(workers);
    for number in 1..=workers {
        let started = listener.try_clone().and_then(|copy| {
            let server = setup.server(copy, StopSource::Shared(stop.clone()))?;
            thread::Builder::new()
                .name(format!("worker-{number}"))
                .spawn(move || run_worker(server))
        });
        match started {
            Ok(worker) => running.push(worker),
            Err(error) => exit_with_startup_error(NAME, &format!("cannot start a worker: {error}")),
        }
    }
    // The workers hold copies of the listener. This one must go, or the port
    // would stay open, queueing clients nobody accepts, once they have stopped.
    drop(listener);
    let mut failed = false;
    for worker in running {
        failed |= !matches!(worker.join(), Ok(true));
    }
    if failed {
        process::exit(1);
    }
}

/// First, before any other thread exists: blocks the stop signals (every thread
/// started later inherits that) and has one thread wait for them and raise the
/// `eventfd` every worker watches. Never read, it stays readable.
fn stop_event_on_signal() -> Arc<EventFd> {
    let stop = match EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK) {
        Ok(stop) => Arc::new(stop),
        Err(error) => exit_with_startup_error(NAME, &format!("cannot make an eventfd: {error}")),
    };
    let raise_stop = Arc::clone(&stop);
    let blocked = StopSignals::block_or_exit(NAME);
    let watched = on_stop_signal(&blocked, move || {
        let _ = raise_stop.write(1);
    });
    if let Err(error) = watched {
        exit_with_startup_error(NAME, &format!("cannot watch for Ctrl-C: {error}"));
    }
    stop
}

/// One worker's life: its loop, until the stop. Whether it ended well.
fn run_worker(mut server: Server) -> bool {
    match server.run() {
        Ok(()) => true,
        Err(error) => {
            eprintln!("{NAME}: {error}");
            false
        }
    }
}
