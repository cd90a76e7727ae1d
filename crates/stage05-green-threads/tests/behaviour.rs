//! Stage 5 against the checker, started as a real process on port 0; thousands
//! of idle connections held by a few threads; the blocking-call mistake of
//! chapter 5; and an orderly stop that lets a download finish.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use checker::process::thread_count;
use harness::graceful_stop::in_flight_answer_survives;
use harness::{ServerProcess, run_expecting_startup_error, startup_errors_are_one_line};

const SERVER: &str = env!("CARGO_BIN_EXE_stage05-green-threads");
const BLOCKING_SLEEP_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-blocking-sleep");

#[test]
fn passes_the_stage_5_checks() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let report = checker::check_stage(&server.target(), 5).unwrap();
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.skipped(), 0, "{report}");
}

#[test]
fn passes_the_stage_5_checks_on_one_worker() {
    let server = ServerProcess::start(SERVER, &["--workers", "1"]).unwrap();
    let report = checker::check_stage(&server.target(), 5).unwrap();
    assert!(report.all_passed(), "{report}");
}

/// Two thousand silent clients cost no thread each: the thread count does not
/// move, and a new client is still answered.
#[test]
fn holds_thousands_of_idle_connections_on_a_few_threads() {
    let server = ServerProcess::start(SERVER, &["--workers", "2", "--read-timeout", "60"]).unwrap();
    assert!(get(&server).starts_with(b"HTTP/1.1 200 OK\r\n"));
    let threads_before = thread_count(server.pid()).unwrap();
    let idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    assert!(get(&server).starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(thread_count(server.pid()).unwrap(), threads_before);
    drop(idle);
}

/// The experiment of chapter 5, with one worker thread and two requests at once,
/// each waiting 3 s for a pretend backend. A blocking sleep holds the worker, so
/// the sleeps add up; a coroutine sleep parks only its coroutine, so they overlap.
#[test]
fn a_blocking_call_stalls_every_coroutine_on_its_worker() {
    let blocking = ServerProcess::start(
        BLOCKING_SLEEP_MISTAKE,
        &["--workers", "1", "--delay-ms", "3000"],
    )
    .unwrap();
    let slowest = slowest_of_two_requests(&blocking);
    assert!(slowest >= Duration::from_millis(5500), "{slowest:?}");

    let parking = ServerProcess::start(
        BLOCKING_SLEEP_MISTAKE,
        &["--workers", "1", "--delay-ms", "3000", "--coroutine-sleep"],
    )
    .unwrap();
    let slowest = slowest_of_two_requests(&parking);
    assert!(slowest < Duration::from_millis(5900), "{slowest:?}");
}

/// Sends two requests at once and returns how long the later answer took.
fn slowest_of_two_requests(server: &ServerProcess) -> Duration {
    let started = Instant::now();
    let mut clients: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut client = TcpStream::connect(server.addr).unwrap();
            client.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            client
        })
        .collect();
    for client in &mut clients {
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
    started.elapsed()
}

/// SIGTERM while a client downloads 24 MiB: no new connection is accepted, the
/// server keeps running until the download has arrived whole, then exits with
/// status 0.
#[test]
fn stop_signal_lets_a_download_finish() {
    let mut server = ServerProcess::start(SERVER, &[]).unwrap();
    in_flight_answer_survives(&mut server, "TERM").unwrap();
}

#[test]
fn startup_errors_are_one_clear_line() {
    startup_errors_are_one_line(SERVER).unwrap();
    let bad_values = [
        ["--stack-words", "0"],
        ["--stack-words", "99999999999999"],
        ["--workers", "0"],
        ["--read-timeout", "-1"],
        ["--read-timeout", "1e20"],
    ];
    for bad in bad_values {
        let (code, stderr) = run_expecting_startup_error(SERVER, &bad).unwrap();
        assert!(matches!(code, Some(1 | 2)), "{bad:?}: exit code {code:?}");
        assert_eq!(stderr.lines().count(), 1, "{bad:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bad:?}: {stderr}");
    }
}

/// One request on its own connection, read to the end (the server closes).
fn get(server: &ServerProcess) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    response
}
