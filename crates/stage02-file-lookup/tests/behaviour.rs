//! Stage 2 against the checker, started as a real process on port 0, and the
//! experiment that ends chapter 2: one silent client blocks everyone.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use harness::{ServerProcess, startup_errors_are_one_line};

const SERVER: &str = env!("CARGO_BIN_EXE_stage02-file-lookup");
const STRING_PATH_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-string-path");

#[test]
fn passes_the_stage_2_checks() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let report = checker::check_stage(&server.target(), 2).unwrap();
    assert!(report.all_passed(), "{report}");
    assert!(report.passed() > 25, "{report}");
}

#[test]
fn string_path_mistake_serves_files_outside_the_root() {
    let server = ServerProcess::start(STRING_PATH_MISTAKE, &[]).unwrap();
    let report = checker::run(&server.target(), 2, Some("traversal-dot-dot"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["traversal-dot-dot"], "{report}");
}

// ANCHOR: idle_client_blocks_everyone
/// The weakness of this stage, which chapter 3 fixes: while one client holds its
/// connection without sending, nobody else is served.
#[test]
fn idle_client_blocks_everyone() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let silent = TcpStream::connect(server.addr).unwrap();

    let mut other = TcpStream::connect(server.addr).unwrap();
    other.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut first_byte = [0; 1];
    let waited = other.read(&mut first_byte);
    assert!(
        waited.is_err(),
        "the other client was answered while the silent one held the server"
    );

    // Once the silent client leaves, the server reaches the other one.
    drop(silent);
    other
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = Vec::new();
    other.read_to_end(&mut response).unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
}
// ANCHOR_END: idle_client_blocks_everyone

#[test]
fn startup_errors_are_one_clear_line() {
    startup_errors_are_one_line(SERVER).unwrap();
}
