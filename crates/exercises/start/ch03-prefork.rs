//! Exercise ch03-prefork (chapter 3): children forked in advance.
//!
//! Goal: with `--processes N`, the server forks N children when it starts, before
//! any client comes, and never forks per connection. Each child accepts from the
//! listening socket it inherited and serves one connection after another; every
//! response names the child that served it in an `X-Served-By: PID` header. The
//! parent only supervises: when a child dies, it reaps it and forks another, so
//! N children are always waiting.
//!
//! The loop itself is the exercise. Stage 3's library has the pieces:
//! `start_listening`, `serve_with_timeouts` (one connection, in this process),
//! `end_child`, `reap_finished_children`, `wait_for_children`, and in
//! `stage03_multiprocess::signals` waiting for "a connection or a signal".
//!
//! Check your work:  scripts/exercise check ch03-prefork
//! Stuck?            scripts/exercise hint ch03-prefork

use common::access_log::AccessLog;
use common::cli::Cli;
use stage03_multiprocess::{serve_with_a_process_each, start_listening, wait_for_children};

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
    let processes: usize = arguments.count("--processes", DEFAULT_PROCESSES);
    let listener = start_listening(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    // Start here: this is stage 3's loop, a fork per connection, whatever
    // --processes says.
    let _ = processes;
    let fork_for_everyone = |_: &mut _, _, _| true;
    let children =
        serve_with_a_process_each(listener, &arguments.server.root, &log, fork_for_everyone);
    wait_for_children(children);
}
