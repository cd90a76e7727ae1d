// EXERCISE: BEGIN
//! Exercise ch03-prefork (chapter 3): children forked in advance.
//!
//! Goal: with `--processes N`, the server forks N children when it starts, before
//! any client comes, and never forks per connection. Each child accepts from the
//! listening socket it inherited and serves one connection after another; every
//! response names the child that served it in an `X-Served-By: PID` header. The
//! parent only supervises: when a child dies, it reaps it and forks another, so
//! N children are always waiting.
//!
//! Changing the loop is the exercise, so this file is stage 3's
//! `src/lib.rs`, the loop and the child and the reaping, with this exercise's
//! own lines between `// EXERCISE: BEGIN` and `// EXERCISE: END`; the signal
//! handling is stage 3's (`stage03_multiprocess::signals`). Change anything you
//! like: the course's tests check that the starting point outside those marks
//! is stage 3's code, never your copy.
//!
//! Check your work:  scripts/exercise check ch03-prefork
//! Stuck?            scripts/exercise hint ch03-prefork

use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use stage03_multiprocess::signals;
// EXERCISE: END

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process;
use std::time::Duration;

use common::access_log::AccessLog;
use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection;

// EXERCISE: BEGIN
const NAME: &str = "ch03-prefork";

/// How many children serve when `--processes` is not given.
const DEFAULT_PROCESSES: usize = 4;

fn main() {
    let mut arguments = Cli::new(NAME, 7803, "stage 3 with pre-forked children")
        .option(
            "--processes",
            "N",
            "children forked at start, each serving one connection after another [default: 4]",
        )
        .parse();
    let processes: usize = arguments.value("--processes").unwrap_or(DEFAULT_PROCESSES);
    if processes == 0 {
        exit_with_startup_error(NAME, "--processes must be above zero");
    }
    if let Err(error) = signals::install() {
        exit_with_startup_error(NAME, &format!("cannot set up signal handling: {error}"));
    }
    let listener = listen_or_exit(NAME, &mut arguments.server);
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            NAME,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    let log = AccessLog::new(arguments.server.quiet);
    let children = serve_with_a_process_each(listener, &arguments.server.root, &log, processes);
    wait_for_children(children);
}
// EXERCISE: END

/// How long a child waits for its client to send, and for a stalled client to
/// take more of the response, before it gives up. Without it, a client that
/// connects and sends nothing would keep its process alive forever.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

// ANCHOR: accept_loop
/// Accepts connections and forks a child for each, until Ctrl-C or SIGTERM.
/// Returns how many children are still serving.
// EXERCISE: BEGIN
///
/// Start here: this is stage 3's loop, a fork per connection. `processes` is read
/// from the command line, and nothing uses it yet.
fn serve_with_a_process_each(
    listener: TcpListener,
    root: &Path,
    log: &AccessLog,
    processes: usize,
) -> usize {
    let _ = processes;
    // EXERCISE: END
    let mut children: usize = 0;
    loop {
        children = children.saturating_sub(reap_finished_children());
        if signals::stop_requested() {
            // Dropping the listener closes it: new clients are refused from now on,
            // instead of waiting in a queue nobody will ever accept from.
            return children;
        }
        if !signals::wait_for_connection(&listener) {
            continue; // a signal came: loop round to reap or to stop
        }
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The queue was empty after all: go back to waiting.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => {
                after_accept_error(NAME, &error);
                continue;
            }
        };
        // ANCHOR: fork
        // SAFETY: this process runs a single thread (this stage starts none), so
        // the child's copy of memory holds no lock that another thread was holding
        // at the moment of the fork, and the child may go on running normal code.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => serve_in_child(listener, stream, peer, root, log),
            Ok(ForkResult::Parent { .. }) => {
                children += 1;
                // The child has its own copy of the socket now. Ours must go, or
                // the connection stays open after the child has closed its copy.
                drop(stream);
            }
            Err(error) => eprintln!("{NAME}: fork failed, dropping {peer}: {error}"),
        }
        // ANCHOR_END: fork
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: child
/// The child's whole life: serve one connection, then end the process. It never
/// returns, so it can never fall back into the parent's accept loop.
fn serve_in_child(
    listener: TcpListener,
    mut stream: TcpStream,
    peer: SocketAddr,
    root: &Path,
    log: &AccessLog,
) -> ! {
    // Only the parent accepts. If the parent restarted while this child still
    // ran, the child's copy would keep the old listening socket alive.
    drop(listener);
    signals::become_child();
    // On Linux an accepted socket does not inherit the listener's non-blocking
    // mode; other systems differ, so say what we want.
    let ready = stream.set_nonblocking(false).is_ok()
        && stream.set_read_timeout(Some(CLIENT_TIMEOUT)).is_ok()
        && stream.set_write_timeout(Some(CLIENT_TIMEOUT)).is_ok();
    if ready {
        serve_connection(&mut stream, peer, root, log);
    }
    drop(stream);
    let _ = io::stdout().flush();
    // SAFETY: `_exit` ends this process at once. Unlike `process::exit`, it runs
    // no exit handlers and flushes no buffers: whatever the parent had buffered
    // when it forked belongs to the parent, and must not be written twice.
    unsafe { libc::_exit(0) }
}
// ANCHOR_END: child

// ANCHOR: reap
/// Collects every child that has exited, without waiting for the others, and
/// returns how many there were. Until its parent collects it with `waitpid`, an
/// exited child stays in the process table as a zombie, holding its process id
/// and its exit status for the parent to read.
fn reap_finished_children() -> usize {
    let mut reaped = 0;
    loop {
        // -1: any child. WNOHANG: return at once when none has exited yet.
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return reaped,
            Ok(WaitStatus::Signaled(child, signal, _)) => {
                // The exit status is what reaping is for: here, a crash to report.
                eprintln!("{NAME}: child {child} was killed by {signal}");
                reaped += 1;
            }
            Ok(_) => reaped += 1,
            Err(Errno::EINTR) => continue,
            // ECHILD: no children at all.
            Err(_) => return reaped,
        }
    }
}
// ANCHOR_END: reap

// ANCHOR: wait_for_children
/// After a stop request: waits until every child has finished its response.
/// A second Ctrl-C stops waiting; the children then finish on their own.
pub fn wait_for_children(children: usize) {
    eprintln!(
        "stopping: no new connections, waiting for {children} child process(es) to finish (again to quit now)"
    );
    signals::allow_interruptions();
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(_) => continue,
            Err(Errno::EINTR) if signals::stop_requests() > 1 => {
                eprintln!("stopped at once; the children finish their responses on their own");
                process::exit(130);
            }
            Err(Errno::EINTR) => continue,
            // ECHILD: no child is left.
            Err(_) => return,
        }
    }
}
// ANCHOR_END: wait_for_children
