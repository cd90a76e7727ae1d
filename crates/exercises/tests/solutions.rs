//! What the exercise checks cannot see, proven on the reference solutions:
//! the checks only talk to a server, and some promises are about how it ends.
//! `scripts/exercise verify` proves the rest.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use harness::ServerProcess;
use harness::graceful_stop::in_flight_answer_survives;

const WORKER_THREADS: &str = env!("CARGO_BIN_EXE_solution-ch08-worker-threads");

/// With several event loops, one stop signal must still stop them all: each
/// finishes what it is sending, and the process exits with status 0.
#[test]
fn worker_threads_all_stop_on_sigterm() {
    let mut server = ServerProcess::start(WORKER_THREADS, &["--workers", "3"]).unwrap();
    in_flight_answer_survives(&mut server, "TERM").unwrap();
}

#[test]
fn worker_threads_all_stop_on_sigint_edge_triggered() {
    let mut server = ServerProcess::start(WORKER_THREADS, &["--workers", "3", "--edge"]).unwrap();
    in_flight_answer_survives(&mut server, "INT").unwrap();
}
