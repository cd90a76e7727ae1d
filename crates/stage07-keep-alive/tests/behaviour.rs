//! Stage 7 against the checker, started as a real process on port 0, and the
//! two-writes variant that chapter 7 times.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use harness::graceful_stop::in_flight_answer_survives;
use harness::{
    ServerProcess, answer_to_a_half_head, answers_requests_within, run_expecting_startup_error,
    startup_errors_are_one_line,
};

const SERVER: &str = env!("CARGO_BIN_EXE_stage07-keep-alive");
const TWO_WRITES_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-two-writes");
const NO_LENGTH_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-no-content-length");

/// A short idle timeout, so the checker's idle-timeout check is quick.
const IDLE_TIMEOUT_SECS: u64 = 2;

/// A short head timeout, so the checker's head-timeout check is quick.
const HEAD_TIMEOUT_SECS: u64 = 2;

fn start_with_short_timeout() -> (ServerProcess, checker::Target) {
    let (idle, head) = (IDLE_TIMEOUT_SECS.to_string(), HEAD_TIMEOUT_SECS.to_string());
    let arguments = ["--idle-timeout", &idle, "--head-timeout", &head];
    let server = ServerProcess::start(SERVER, &arguments).unwrap();
    let mut target = server.target();
    target.idle_timeout = Some(Duration::from_secs(IDLE_TIMEOUT_SECS));
    target.head_timeout = Some(Duration::from_secs(HEAD_TIMEOUT_SECS));
    (server, target)
}

#[test]
fn passes_the_stage_7_checks() {
    let (_server, target) = start_with_short_timeout();
    let report = checker::check_stage(&target, 7).unwrap();
    assert!(report.all_passed(), "{report}");
    assert!(report.outcome_of("pipelining").is_some(), "{report}");
}

/// Without `Content-Length` a kept-alive client cannot tell where an answer
/// ends: the checker's keep-alive check, which asks twice on one connection,
/// fails.
#[test]
fn no_content_length_mistake_fails_the_keep_alive_check() {
    let server = ServerProcess::start(NO_LENGTH_MISTAKE, &[]).unwrap();
    let report = checker::run(&server.target(), 7, Some("keep-alive"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["keep-alive"], "{report}");
}

/// A client may send its request and then close its sending side at once
/// (`printf ... | nc -N`). It still reads, so it must still get its answer.
#[test]
fn a_client_that_closed_its_side_still_gets_its_answer() {
    let (server, _) = start_with_short_timeout();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut everything = Vec::new();
    stream.read_to_end(&mut everything).unwrap();
    let text = String::from_utf8_lossy(&everything);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{text}");
}

#[test]
fn sigterm_finishes_the_answer_in_flight_then_exits() {
    let mut server = ServerProcess::start(SERVER, &["--poll-sleep-ms", "1"]).unwrap();
    in_flight_answer_survives(&mut server, "TERM").unwrap();
}

#[test]
fn startup_errors_are_one_clear_line() {
    startup_errors_are_one_line(SERVER).unwrap();
    let (code, stderr) = run_expecting_startup_error(SERVER, &["--idle-timeout", "0"]).unwrap();
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// The two-writes variant is slow (chapter 7 times it), not wrong: it passes
/// the keep-alive checks.
#[test]
fn two_writes_mistake_is_correct_but_slow() {
    let server = ServerProcess::start(TWO_WRITES_MISTAKE, &[]).unwrap();
    for check in ["keep-alive", "pipelining"] {
        let report = checker::run(&server.target(), 7, Some(check), |_| {}).unwrap();
        assert!(report.all_passed(), "{report}");
    }
}

/// Without a head deadline of its own (here, one too long to matter), a client
/// that trickles its head is never idle, and the server waits for it forever:
/// the checker's head-timeout check catches that.
#[test]
fn without_a_head_deadline_the_trickling_client_is_caught() {
    let server = ServerProcess::start(SERVER, &["--head-timeout", "3600"]).unwrap();
    let mut target = server.target();
    target.head_timeout = Some(Duration::from_secs(HEAD_TIMEOUT_SECS));
    let report = checker::run(&target, 7, Some("head-timeout"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["head-timeout"], "{report}");
}

/// A client that sends half a head and then nothing: no byte arrives to wake
/// the loop, yet the 408 must come at the head's deadline, long before the
/// idle timeout.
#[test]
fn a_half_head_gets_408_at_its_deadline_not_at_the_idle_timeout() {
    let arguments = ["--idle-timeout", "60", "--head-timeout", "1"];
    let server = ServerProcess::start(SERVER, &arguments).unwrap();
    let (answer, waited) = answer_to_a_half_head(server.addr).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer:?}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "answered after {waited:?}"
    );
}

/// The access log must never stall the loop: with stdout a pipe that nobody
/// reads, a blocking write would stop every client once the pipe is full
/// (after about a thousand lines). Lines are dropped instead, and counted.
#[test]
fn an_unread_stdout_does_not_stall_serving() {
    let server = ServerProcess::start_with_unread_stdout(SERVER, &[]).unwrap();
    let took = answers_requests_within(server.addr, 10_000, 100, Duration::from_secs(60));
    assert!(took.is_ok(), "{took:?}");
}
