//! Stage 7 against the checker, started as a real process on port 0, and the
//! two-writes variant that chapter 7 times.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use checker::graceful_stop::in_flight_answer_survives;
use checker::harness::{ServerProcess, run_expecting_startup_error, startup_errors_are_one_line};

const SERVER: &str = env!("CARGO_BIN_EXE_stage07-keep-alive");
const TWO_WRITES_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-two-writes");
const NO_LENGTH_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-no-content-length");

/// A short idle timeout, so the checker's idle-timeout check is quick.
const IDLE_TIMEOUT_SECS: u64 = 2;

fn start_with_short_timeout() -> (ServerProcess, checker::Target) {
    let timeout = IDLE_TIMEOUT_SECS.to_string();
    let server = ServerProcess::start(SERVER, &["--idle-timeout", &timeout]).unwrap();
    let mut target = server.target();
    target.idle_timeout = Some(Duration::from_secs(IDLE_TIMEOUT_SECS));
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
