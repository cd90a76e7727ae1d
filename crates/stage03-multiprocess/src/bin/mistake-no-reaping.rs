//! Stage 3 with the second `fork` mistake, kept here to be broken on purpose: the
//! parent never reaps its children. Each child serves its client and exits, but
//! an exited process stays in the process table, a zombie, until its parent asks
//! for its exit status with `wait`/`waitpid`. This parent never asks, so zombies
//! pile up, one per request, until the parent itself exits (then `init` adopts
//! and reaps them) or the system runs out of process ids.
//!
//! Chapter 3's experiment counts them with `ps`; the checker's
//! `no-zombie-children` check (run with `--pid`) fails against it.

use std::io::{self, Write};

use common::access_log::AccessLog;
use common::cli::{Cli, listen_or_exit};
use nix::unistd::{ForkResult, fork};
use stage02_file_lookup::blocking::serve_connection;

const NAME: &str = "mistake-no-reaping";

fn main() {
    let mut arguments = Cli::new(NAME, 7803, "stage 3 with the no-reaping mistake")
        .mistake_of("stage03-multiprocess")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    // ANCHOR: no_reaping
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
            // The parent closes its copy of the socket (by dropping it) and goes
            // back to accept. THE MISTAKE: nothing here, or anywhere, ever calls
            // `waitpid`, so every child that exits stays behind as a zombie.
            Ok(ForkResult::Parent { .. }) => drop(stream),
            Err(error) => eprintln!("{NAME}: fork failed: {error}"),
        }
    }
    // ANCHOR_END: no_reaping
}
