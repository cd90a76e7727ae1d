//! Stage 6 against the checker, started as a real process on port 0; its
//! single-write mistake; and the weaknesses chapters 7 and 8 fix, shown by the
//! later stages' checks failing here.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use checker::Outcome;
use harness::graceful_stop::in_flight_answer_survives;
use harness::{ServerProcess, answers_requests_within, startup_errors_are_one_line};

const SERVER: &str = env!("CARGO_BIN_EXE_stage06-nonblocking");
const SINGLE_WRITE_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-single-write");

#[test]
fn passes_the_stage_6_checks() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let report = checker::check_stage(&server.target(), 6).unwrap();
    assert!(report.all_passed(), "{report}");
    assert!(report.outcome_of("sustained-load").is_some(), "{report}");
}

#[test]
fn single_write_mistake_cuts_a_large_body() {
    let server = ServerProcess::start(SINGLE_WRITE_MISTAKE, &[]).unwrap();
    let report = checker::run(&server.target(), 6, Some("large-file-slow-reader"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["large-file-slow-reader"], "{report}");
}

/// One thread, yet a client that connects and says nothing holds up nobody:
/// what stage 2 could not do.
#[test]
fn silent_client_does_not_block_others() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let _silent = TcpStream::connect(server.addr).unwrap();
    let mut other = TcpStream::connect(server.addr).unwrap();
    other.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut response = Vec::new();
    other.read_to_end(&mut response).unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn sigterm_finishes_the_answer_in_flight_then_exits() {
    let mut server = ServerProcess::start(SERVER, &["--poll-sleep-ms", "1"]).unwrap();
    in_flight_answer_survives(&mut server, "TERM").unwrap();
}

#[test]
fn startup_errors_are_one_clear_line() {
    startup_errors_are_one_line(SERVER).unwrap();
}

#[test]
fn a_bad_poll_sleep_is_one_clear_line() {
    let (code, stderr) =
        harness::run_expecting_startup_error(SERVER, &["--poll-sleep-ms", "soon"]).unwrap();
    assert_eq!(code, Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// The weakness chapter 8 fixes: with nothing to do, the polling loop still
/// keeps a core busy, so the stage 8 check for idle CPU fails here.
#[test]
fn the_polling_loop_burns_a_core_while_idle() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let report = checker::run(&server.target(), 8, Some("idle-cpu"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["idle-cpu"], "{report}");
}

/// Resting between idle rounds brings the CPU down, at the price of latency
/// (chapter 6 measures both).
#[test]
fn resting_between_rounds_spares_the_cpu() {
    let server = ServerProcess::start(SERVER, &["--poll-sleep-ms", "10"]).unwrap();
    let report = checker::run(&server.target(), 8, Some("idle-cpu"), |_| {}).unwrap();
    assert!(report.all_passed(), "{report}");
}

/// The weakness chapter 7 fixes: every connection closes after one answer, so
/// the keep-alive checks of stage 7 fail here.
#[test]
fn keep_alive_checks_fail_here() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let mut target = server.target();
    target.idle_timeout = Some(Duration::from_secs(2));
    target.head_timeout = Some(Duration::from_secs(1));
    let report = checker::check_stage(&target, 7).unwrap();
    for check in [
        "keep-alive",
        "pipelining",
        "http10-keep-alive-only-when-asked",
        "idle-timeout",
    ] {
        assert!(
            matches!(report.outcome_of(check), Some(Outcome::Failed(_))),
            "{check} should fail against stage 6:\n{report}"
        );
    }
    // What stage 6 already does right still passes.
    for check in [
        "connection-close-honoured",
        "body-not-read-as-request",
        "host-and-header-rules",
    ] {
        assert!(
            matches!(report.outcome_of(check), Some(Outcome::Passed)),
            "{check} should pass against stage 6:\n{report}"
        );
    }
}

/// The access log must never stall the loop: with stdout a pipe that nobody
/// reads, a blocking write would stop every client once the pipe is full
/// (after about a thousand lines). Lines are dropped instead, and counted.
#[test]
fn an_unread_stdout_does_not_stall_serving() {
    let server = ServerProcess::start_with_unread_stdout(SERVER, &[]).unwrap();
    let took = answers_requests_within(server.addr, 10_000, 1, Duration::from_secs(60));
    assert!(took.is_ok(), "{took:?}");
}
