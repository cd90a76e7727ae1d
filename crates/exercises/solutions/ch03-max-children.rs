//! Reference solution of ch03-max-children (chapter 3).
//!
//! The parent already knows how many children are alive: it counts each fork
//! and each reaped child. At the cap it answers `503` itself, at once, without
//! reading the request, and goes back to `accept`.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection;
use stage02_file_lookup::response::{Status, write_response};
use stage02_file_lookup::site::error_response;
use stage03_multiprocess::signals;

const NAME: &str = "ch03-max-children";

/// How long a child waits for its client before it gives up (the client gets 408).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many children may serve at once when `--max-children` is not given.
const DEFAULT_MAX_CHILDREN: usize = 64;

fn main() {
    let mut arguments = Cli::new(NAME, 7803, "stage 3 with a cap on live children")
        .option(
            "--max-children",
            "N",
            "serve at most N connections at once; refuse more with 503 [default: 64]",
        )
        .parse();
    let max_children: usize = arguments
        .value("--max-children")
        .unwrap_or(DEFAULT_MAX_CHILDREN);
    if max_children == 0 {
        exit_with_startup_error(NAME, "--max-children must be above zero");
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
    let children = serve_with_a_process_each(listener, &arguments.server.root, &log, max_children);
    wait_for_children(children);
}

/// Accepts connections and forks a child for each, until Ctrl-C or SIGTERM,
/// but never more than `max_children` at once. Returns how many children are
/// still serving.
fn serve_with_a_process_each(
    listener: TcpListener,
    root: &Path,
    log: &AccessLog,
    max_children: usize,
) -> usize {
    let mut children: usize = 0;
    loop {
        children = children.saturating_sub(reap_finished_children());
        if signals::stop_requested() {
            return children;
        }
        if !signals::wait_for_connection(&listener) {
            continue; // a signal came: loop round to reap or to stop
        }
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => {
                after_accept_error(NAME, &error);
                continue;
            }
        };
        // `children` counts the children not yet reaped, so a child that has just
        // ended still counts until its SIGCHLD has brought us round to reap it.
        // The client refused in that moment is told to come back in a second.
        if children >= max_children {
            refuse(stream, peer, root, log);
            continue;
        }
        // SAFETY: this process runs a single thread, so the child's copy of memory
        // holds no lock that another thread was holding at the moment of the fork.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => serve_in_child(listener, stream, peer, root, log),
            Ok(ForkResult::Parent { .. }) => {
                children += 1;
                // The child has its own copy of the socket; ours must go.
                drop(stream);
            }
            Err(error) => eprintln!("{NAME}: fork failed, dropping {peer}: {error}"),
        }
    }
}

/// Answers `503 Service Unavailable` (with `Retry-After: 1`, which
/// `error_response` adds) from the parent, and closes the connection.
///
/// The parent must never wait for a client: while it waits, nobody accepts. So
/// it does not read the request (a client that sends nothing would hold it up
/// exactly as in stage 2), and it writes without blocking. A fresh connection's
/// send buffer is empty, so these few hundred bytes fit at once; should they not,
/// the client is dropped rather than waited for.
///
/// Closing a socket whose request we never read makes the kernel send a reset
/// instead of a normal close. A client on Linux still reads the bytes that
/// arrived before the reset, so it sees the `503`; another system may drop
/// them, which costs that client nothing worse than the refusal it was getting.
fn refuse(mut stream: TcpStream, peer: SocketAddr, root: &Path, log: &AccessLog) {
    let response = error_response(
        Status::SERVICE_UNAVAILABLE,
        "the server is serving as many clients as it may; try again in a moment",
        root,
    );
    let body_bytes = response.bytes_to_send();
    let written = stream
        .set_nonblocking(true)
        .and_then(|()| write_response(&mut stream, response, false));
    log.record_refusal(
        peer,
        Status::SERVICE_UNAVAILABLE.code,
        if written.is_ok() { body_bytes } else { 0 },
    );
}

/// The child's whole life: serve one connection, then end the process.
fn serve_in_child(
    listener: TcpListener,
    mut stream: TcpStream,
    peer: SocketAddr,
    root: &Path,
    log: &AccessLog,
) -> ! {
    drop(listener);
    signals::become_child();
    let ready = stream.set_nonblocking(false).is_ok()
        && stream.set_read_timeout(Some(CLIENT_TIMEOUT)).is_ok()
        && stream.set_write_timeout(Some(CLIENT_TIMEOUT)).is_ok();
    if ready {
        serve_connection(&mut stream, peer, root, log);
    }
    drop(stream);
    let _ = io::stdout().flush();
    // SAFETY: `_exit` ends this process at once, running none of the parent's
    // exit handlers and flushing none of its buffers.
    unsafe { libc::_exit(0) }
}

/// Collects every child that has exited, without waiting for the others, and
/// returns how many there were.
fn reap_finished_children() -> usize {
    let mut reaped = 0;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return reaped,
            Ok(WaitStatus::Signaled(child, signal, _)) => {
                eprintln!("{NAME}: child {child} was killed by {signal}");
                reaped += 1;
            }
            Ok(_) => reaped += 1,
            Err(Errno::EINTR) => continue,
            Err(_) => return reaped, // ECHILD: no children at all
        }
    }
}

/// After a stop request: waits until every child has finished its response.
fn wait_for_children(children: usize) {
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
            Err(_) => return,
        }
    }
}
