//! Reference solution of ch03-prefork (chapter 3).
//!
//! The parent forks `--processes N` children before any client comes, and from
//! then on only supervises: it sleeps until a signal arrives, reaps the children
//! that died, and forks replacements. Each child runs stage 3's accept loop
//! itself (wait in `ppoll`, accept, serve) with one change: it serves the
//! connection instead of forking for it. The `fork` is paid N times, not once
//! per request.

use std::net::TcpListener;
use std::path::Path;
use std::process;
use std::thread;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::Cli;
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::site::respond;
use stage03_multiprocess::{
    end_child, reap_finished_children, serve_with_timeouts, signals, start_listening,
    wait_for_children,
};

const NAME: &str = "ch03-prefork";

/// How many children serve when `--processes` is not given.
const DEFAULT_PROCESSES: usize = 4;

/// How long the parent waits before it tries again when `fork` fails.
const FORK_RETRY_PAUSE: Duration = Duration::from_secs(1);

fn main() {
    let mut arguments = Cli::new(NAME, 7803, "stage 3 with pre-forked children")
        .option(
            "--processes",
            "N",
            "children forked at start, each serving one connection after another [default: 4]",
        )
        .parse();
    let processes: usize = arguments.count("--processes", DEFAULT_PROCESSES);
    // Non-blocking, as in stage 3, and shared: the flag belongs to the listening
    // socket itself, which every child's copy of the descriptor points at.
    let listener = start_listening(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    let children = supervise(&listener, processes, &arguments.server.root, &log);
    // Ctrl-C in a terminal reaches the children too, but `kill PID` reaches only
    // us: pass the stop on. Each child finishes the response it is sending first.
    for &child in &children {
        let _ = kill(child, Signal::SIGTERM);
    }
    wait_for_children(children.len());
}

/// Keeps `processes` children serving from `listener` until Ctrl-C or SIGTERM,
/// and returns the children still running then.
fn supervise(listener: &TcpListener, processes: usize, root: &Path, log: &AccessLog) -> Vec<Pid> {
    let mut children: Vec<Pid> = Vec::with_capacity(processes);
    let parent = getpid();
    loop {
        for ended in reap_finished_children() {
            children.retain(|&child| child != ended);
        }
        if signals::stop_requested() {
            return children;
        }
        if children.len() < processes {
            // SAFETY: this process runs a single thread, so the child's copy of
            // memory holds no lock that another thread was holding at the fork.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => serve_in_child(parent, listener, root, log),
                Ok(ForkResult::Parent { child }) => children.push(child),
                Err(error) => {
                    eprintln!("{NAME}: fork failed, trying again in a moment: {error}");
                    // The stop signals stay blocked during the pause, so none
                    // is lost: the next turn of the loop sees it.
                    thread::sleep(FORK_RETRY_PAUSE);
                }
            }
            continue;
        }
        // Sleep until a signal comes: a child has exited, or we are asked to stop.
        // As `ppoll` does for stage 3's loop, `sigsuspend` unblocks the signals
        // only while it waits, in one call, so one that came while we were busy
        // is delivered now instead of being missed.
        let _ = SigSet::empty().suspend();
    }
}

/// A child's whole life: accept and serve, one connection after another, until
/// a stop signal. It never returns into the parent's loop.
///
/// The child keeps the parent's signal handlers and blocked signals. A Ctrl-C
/// that comes while it serves stays pending until it is back in `ppoll`, so a
/// response is never cut off; there it ends the loop.
fn serve_in_child(parent: Pid, listener: &TcpListener, root: &Path, log: &AccessLog) -> ! {
    // A parent killed outright (`kill -KILL`, the out-of-memory killer) can tell
    // nobody to stop, and its children would serve on, unsupervised, for ever.
    // Linux can send a child a signal when its parent dies: ask for a stop. If
    // the parent died before we asked, we have been adopted already: stop now.
    let _ = set_pdeathsig(Signal::SIGTERM);
    if getppid() != parent {
        end_child();
    }
    while !signals::stop_requested() {
        // Every waiting child wakes for each new connection (a "thundering herd")
        // and only one wins the `accept`. With a few children that costs little;
        // a blocking `accept` would wake only one, but then a stop signal could
        // slip in between looking at the flag and going to sleep.
        if !signals::wait_for_connection(listener) {
            continue;
        }
        match listener.accept() {
            Ok((mut stream, peer)) => {
                serve_with_timeouts(&mut stream, peer, root, log, |request, root| {
                    let mut response = respond(request, root);
                    // `process::id` asks the kernel each time, so in a child it
                    // is the child's own pid; one read in `main` is the parent's.
                    let served_by = process::id().to_string();
                    response.extra_headers.push(("X-Served-By", served_by));
                    response
                });
            }
            // Another child took this connection.
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => after_accept_error(NAME, &error),
        }
    }
    end_child()
}
