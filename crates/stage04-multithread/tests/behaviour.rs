//! Stage 4 against the checker, with a thread per connection and with a pool,
//! started as a real process on port 0; the pool's weakness (idle clients starve
//! it until the read timeout frees it); the held-lock mistake of chapter 4; and an
//! orderly stop that lets a download finish.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use checker::process::thread_count;
use harness::graceful_stop::in_flight_answer_survives;
use harness::{ServerProcess, run_expecting_startup_error, startup_errors_are_one_line};

const SERVER: &str = env!("CARGO_BIN_EXE_stage04-multithread");
const HELD_LOCK_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-held-lock-pool");

#[test]
fn passes_the_stage_4_checks_with_a_thread_per_connection() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let report = checker::check_stage(&server.target(), 4).unwrap();
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.skipped(), 0, "{report}");
}

#[test]
fn passes_the_stage_4_checks_with_a_pool_of_8() {
    let server = ServerProcess::start(SERVER, &["--pool", "8"]).unwrap();
    let report = checker::check_stage(&server.target(), 4).unwrap();
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.skipped(), 0, "{report}");
}

#[test]
fn held_lock_mistake_serves_one_client_at_a_time() {
    let server = ServerProcess::start(HELD_LOCK_MISTAKE, &[]).unwrap();
    let report = checker::run(
        &server.target(),
        4,
        Some("idle-client-does-not-block"),
        |_| {},
    )
    .unwrap();
    assert_eq!(
        report.failures(),
        ["idle-client-does-not-block"],
        "{report}"
    );

    let fixed = ServerProcess::start(HELD_LOCK_MISTAKE, &["--fixed"]).unwrap();
    let report = checker::check_stage(&fixed.target(), 4).unwrap();
    assert!(report.all_passed(), "{report}");
}

/// Every connection's thread ends with its connection: after hundreds of
/// clients, some of them silent, the count is back to the main thread and the
/// one that waits for stop signals.
#[test]
fn no_thread_is_left_behind() {
    let server = ServerProcess::start(SERVER, &["--read-timeout", "1"]).unwrap();
    let silent: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    for _ in 0..200 {
        assert!(get(&server).starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
    drop(silent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while thread_count(server.pid()).unwrap() != 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(thread_count(server.pid()).unwrap(), 2);
}

/// A silent client is answered 408 once the read timeout has passed.
#[test]
fn silent_client_times_out_with_408() {
    let server = ServerProcess::start(SERVER, &["--read-timeout", "1"]).unwrap();
    let mut silent = TcpStream::connect(server.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    silent.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
}

/// The experiment of chapter 4: as many silent clients as the pool has threads
/// hold every thread, and the next client waits until the read timeout (and the
/// lingering close after the 408) frees one.
#[test]
fn idle_clients_starve_a_pool_until_their_timeout() {
    let server = ServerProcess::start(SERVER, &["--pool", "2", "--read-timeout", "2"]).unwrap();
    let silent: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(200));

    let mut waiting = TcpStream::connect(server.addr).unwrap();
    waiting.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    assert!(
        waiting.read(&mut [0; 1]).is_err(),
        "answered while both pool threads were held by silent clients"
    );

    waiting
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut answer = Vec::new();
    waiting.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
    drop(silent);
}

#[test]
fn stop_signal_lets_a_download_finish_with_a_thread_each() {
    download_survives_stop_signal(&[]);
}

#[test]
fn stop_signal_lets_a_download_finish_with_a_pool() {
    download_survives_stop_signal(&["--pool", "4"]);
}

/// SIGTERM while a client downloads 24 MiB: no new connection is accepted, the
/// server keeps running until the download has arrived whole, then exits with
/// status 0.
fn download_survives_stop_signal(arguments: &[&str]) {
    let mut server = ServerProcess::start(SERVER, arguments).unwrap();
    in_flight_answer_survives(&mut server, "TERM").unwrap();
}

#[test]
fn startup_errors_are_one_clear_line() {
    startup_errors_are_one_line(SERVER).unwrap();
    let bad_values = [
        ["--pool", "0"],
        ["--read-timeout", "0"],
        ["--read-timeout", "-1"],
        ["--read-timeout", "NaN"],
        // Finite, but more seconds than a `Duration` holds.
        ["--read-timeout", "1e20"],
    ];
    for bad in bad_values {
        let (code, stderr) = run_expecting_startup_error(SERVER, &bad).unwrap();
        assert!(matches!(code, Some(1 | 2)), "{bad:?}: exit code {code:?}");
        assert_eq!(stderr.lines().count(), 1, "{bad:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bad:?}: {stderr}");
    }
}

/// A thread per connection, with nothing to bound them, under a limit on the
/// address space (`ulimit -v`, which binds root too, unlike `ulimit -u`): each
/// thread reserves its stack, so after some dozens of silent clients `spawn`
/// fails, and a newcomer is turned away with its connection closed unanswered.
/// (Or an allocation fails once a thread has started, Rust aborts, and the
/// server is gone for everyone: which of the two depends on timing, and both
/// leave the newcomer unanswered.) The same server with a handful of silent
/// clients answers the newcomer, so it is the crowd, not the limit alone, that
/// breaks it.
#[test]
fn unbounded_threads_run_out_under_a_memory_limit() {
    for (silent_clients, newcomer_answered) in [(10, true), (400, false)] {
        let server = ServerProcess::start_raw(std::process::Command::new("sh").args([
            "-c",
            "ulimit -v 600000 && exec \"$0\" \"$@\" 2>/dev/null",
            SERVER,
            "--addr",
            "127.0.0.1:0",
            "--quiet",
            "--read-timeout",
            "30",
        ]))
        .unwrap();
        // A connection the server can no longer take is refused: that is the
        // failure under test, not the test's.
        let silent: Vec<TcpStream> = (0..silent_clients)
            .filter_map(|_| TcpStream::connect(server.addr).ok())
            .collect();
        thread::sleep(Duration::from_millis(500));
        let answer = get_or_nothing(&server);
        assert_eq!(
            answer.starts_with(b"HTTP/1.1 200 OK"),
            newcomer_answered,
            "with {silent_clients} silent clients: {:?}",
            String::from_utf8_lossy(&answer)
        );
        drop(server);
        drop(silent);
    }
}

/// Like [`get`], but a reset or an early close gives what arrived, maybe nothing.
fn get_or_nothing(server: &ServerProcess) -> Vec<u8> {
    let mut response = Vec::new();
    if let Ok(mut stream) = TcpStream::connect(server.addr) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if stream
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .is_ok()
        {
            let _ = stream.read_to_end(&mut response);
        }
    }
    response
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
