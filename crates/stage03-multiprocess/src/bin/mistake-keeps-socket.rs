//! Stage 3 with the first `fork` mistake, kept here to be broken on purpose: the
//! parent keeps its copy of each client's socket (here in a list, "to keep track
//! of the clients"). The child answers and closes its copy, but a TCP connection
//! only ends when the LAST copy of its socket is closed, so the client never sees
//! the end: `curl` is fine because `Content-Length` says where the body stops,
//! but `nc`, or any client that reads until the connection closes, hangs. And the
//! parent runs out of file descriptors after a few thousand clients.
//!
//! Chapter 3's experiment runs `nc` against it; the checker's
//! `closes-after-response` check fails against it. Children are reaped here (by
//! ignoring SIGCHLD, see the chapter), so that this program has one mistake only.

use std::io::{self, Write};

use common::access_log::AccessLog;
use common::cli::{Cli, listen_or_exit};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::unistd::{ForkResult, fork};
use stage02_file_lookup::blocking::serve_connection;

const NAME: &str = "mistake-keeps-socket";

fn main() {
    let mut arguments = Cli::new(NAME, 7803, "stage 3 with the kept-socket mistake")
        .mistake_of("stage03-multiprocess")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    // SAFETY: ignoring SIGCHLD installs no handler code. It asks the kernel to
    // reap our children itself, so they never become zombies.
    if unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }.is_err() {
        common::cli::exit_with_startup_error(NAME, "cannot ignore SIGCHLD");
    }
    let mut clients = Vec::new();
    loop {
        let Ok((mut stream, peer)) = listener.accept() else {
            continue;
        };
        // SAFETY: this program runs a single thread, so the child inherits no lock
        // held by a thread that would not exist in it.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                serve_connection(&mut stream, peer, &arguments.server.root, &log);
                let _ = io::stdout().flush();
                // SAFETY: ends the child without running the parent's clean-up.
                unsafe { libc::_exit(0) }
            }
            // ANCHOR: kept_socket
            Ok(ForkResult::Parent { child }) => {
                // THE MISTAKE: the parent keeps its copy of the client's socket.
                // The connection stays open as long as this copy exists.
                clients.push((child, stream));
            }
            // ANCHOR_END: kept_socket
            Err(error) => eprintln!("{NAME}: fork failed: {error}"),
        }
    }
}
