//! Stage 1 against the checker, started as a real process on port 0.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use harness::{ServerProcess, startup_errors_are_one_line};

const SERVER: &str = env!("CARGO_BIN_EXE_stage01-fixed-page");
const ONE_READ_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-one-read");

#[test]
fn passes_the_stage_1_checks() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let report = checker::check_stage(&server.target(), 1).unwrap();
    assert!(report.all_passed(), "{report}");
}

#[test]
fn one_read_mistake_answers_before_the_head_ends() {
    let server = ServerProcess::start(ONE_READ_MISTAKE, &[]).unwrap();
    let report = checker::run(&server.target(), 1, Some("waits-for-whole-head"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["waits-for-whole-head"], "{report}");
}

#[test]
fn startup_errors_are_one_clear_line() {
    startup_errors_are_one_line(SERVER).unwrap();
}
