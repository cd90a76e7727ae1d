//! Stage 3: one process per connection.
//!
//! The accept loop of stage 2 stays, but it no longer serves anyone itself: for
//! each connection it calls `fork`, and the copy of the process that `fork` makes
//! (the child) serves that one connection and exits. The parent goes straight back
//! to `accept`, so a client that sends nothing holds up its own child and nobody
//! else.
//!
//! Three duties come with `fork`, and this file is about them:
//! - the parent closes its copy of the client's socket at once, or the client
//!   never sees the connection end;
//! - the child never returns into the accept loop, and ends with `_exit`, so it
//!   runs none of the parent's clean-up a second time;
//! - the parent collects ("reaps") every child that has exited, or each one stays
//!   in the process table as a zombie. `signals.rs` holds the signal handling this
//!   needs, and the orderly stop on Ctrl-C.
//!
//! Serving one connection is stage 2's `serve_connection_with` and `respond`,
//! unchanged (`stage02_file_lookup`). What this stage deliberately does not do:
//! share anything between connections (each child has its own copy of memory),
//! or make a process cheap.
//! Chapter 3 of the book explains this stage; chapter 4 replaces processes with
//! threads.

pub mod signals;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{ServerOptions, exit_with_startup_error, listen_or_exit};
use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection_with;
use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;
use stage02_file_lookup::site::respond;

/// The crate's name, which its messages start with.
pub const NAME: &str = "stage03-multiprocess";

/// How long a child waits for its client to send, and for a stalled client to
/// take more of the response, before it gives up. Without it, a client that
/// connects and sends nothing would keep its process alive forever.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Installs stage 3's signal handling, then opens the listening socket,
/// non-blocking (see `signals::wait_for_connection`); or one line and exit 1.
pub fn start_listening(name: &str, server: &mut ServerOptions) -> TcpListener {
    // Signals first: from the moment the `listening on` line is out, a Ctrl-C
    // must mean an orderly stop.
    if let Err(error) = signals::install() {
        exit_with_startup_error(name, &format!("cannot set up signal handling: {error}"));
    }
    let listener = listen_or_exit(name, server);
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            name,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    listener
}

// ANCHOR: accept_loop
/// Accepts connections and forks a child for each, until Ctrl-C or SIGTERM.
/// Returns how many children are still serving.
///
/// Before each fork the loop asks `may_fork`, with the client and the number of
/// children serving now: `false` drops the connection instead (stage 3's own
/// says `true` to every client; `ch03-max-children` writes one that refuses).
pub fn serve_with_a_process_each(
    listener: TcpListener,
    root: &Path,
    log: &AccessLog,
    mut may_fork: impl FnMut(&mut TcpStream, SocketAddr, usize) -> bool,
) -> usize {
    let mut children: usize = 0;
    loop {
        children = children.saturating_sub(reap_finished_children().len());
        if signals::stop_requested() {
            // Dropping the listener closes it: new clients are refused from now on,
            // instead of waiting in a queue nobody will ever accept from.
            return children;
        }
        if !signals::wait_for_connection(&listener) {
            continue; // a signal came: loop round to reap or to stop
        }
        let (mut stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The queue was empty after all: go back to waiting.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => {
                after_accept_error(NAME, &error);
                continue;
            }
        };
        if !may_fork(&mut stream, peer, children) {
            continue;
        }
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
    serve_with_timeouts(&mut stream, peer, root, log, respond);
    drop(stream);
    end_child()
}

/// Serves one connection, answering with `respond` (stage 2's is
/// `stage02_file_lookup::site::respond`), blocking, with [`CLIENT_TIMEOUT`].
pub fn serve_with_timeouts(
    stream: &mut TcpStream,
    peer: SocketAddr,
    root: &Path,
    log: &AccessLog,
    respond: impl Fn(&Request, &Path) -> Response,
) {
    // On Linux an accepted socket does not inherit the listener's non-blocking
    // mode; other systems differ, so say what we want.
    let ready = stream.set_nonblocking(false).is_ok()
        && stream.set_read_timeout(Some(CLIENT_TIMEOUT)).is_ok()
        && stream.set_write_timeout(Some(CLIENT_TIMEOUT)).is_ok();
    if ready {
        serve_connection_with(stream, peer, root, log, respond);
    }
}

/// Ends a child process at once, its access log lines written.
pub fn end_child() -> ! {
    let _ = io::stdout().flush();
    // SAFETY: `_exit` ends this process at once. Unlike `process::exit`, it runs
    // no exit handlers and flushes no buffers: whatever the parent had buffered
    // when it forked belongs to the parent, and must not be written twice.
    unsafe { libc::_exit(0) }
}
// ANCHOR_END: child

// ANCHOR: reap
/// Collects every child that has exited, without waiting for the others, and
/// returns their process ids. Until its parent collects it with `waitpid`, an
/// exited child stays in the process table as a zombie, holding its process id
/// and its exit status for the parent to read.
pub fn reap_finished_children() -> Vec<Pid> {
    let mut reaped = Vec::new();
    loop {
        // -1: any child. WNOHANG: return at once when none has exited yet.
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return reaped,
            Ok(WaitStatus::Signaled(child, signal, _)) => {
                // The exit status is what reaping is for: here, a crash to report.
                eprintln!("{NAME}: child {child} was killed by {signal}");
                reaped.push(child);
            }
            Ok(status) => reaped.extend(status.pid()),
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
