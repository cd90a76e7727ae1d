//! Stage 3 against the checker, started as a real process on port 0, and the two
//! `fork` mistakes of chapter 3 caught by the checks made for them. The tests
//! never fork themselves: they start the real program and look at its process
//! through `/proc`.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use checker::process::{children, thread_count, zombie_children};
use harness::{ServerProcess, startup_errors_are_one_line};

const SERVER: &str = env!("CARGO_BIN_EXE_stage03-multiprocess");
const KEEPS_SOCKET_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-keeps-socket");
const NO_REAPING_MISTAKE: &str = env!("CARGO_BIN_EXE_mistake-no-reaping");

#[test]
fn passes_the_stage_3_checks() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let report = checker::check_stage(&server.target(), 3).unwrap();
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.skipped(), 0, "{report}");
}

#[test]
fn keeps_socket_mistake_never_closes_the_connection() {
    let server = ServerProcess::start(KEEPS_SOCKET_MISTAKE, &[]).unwrap();
    let report = checker::run(&server.target(), 3, Some("closes-after-response"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["closes-after-response"], "{report}");
}

#[test]
fn no_reaping_mistake_leaves_zombies() {
    let server = ServerProcess::start(NO_REAPING_MISTAKE, &[]).unwrap();
    let report = checker::run(&server.target(), 3, Some("no-zombie-children"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["no-zombie-children"], "{report}");
}

/// `fork` copies only the thread that calls it, so the program must never have
/// more than one: a lock held by another thread would stay locked in the child.
#[test]
fn runs_a_single_thread() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    get(&server, "/");
    assert_eq!(thread_count(server.pid()).unwrap(), 1);
}

#[test]
fn no_zombies_after_hundreds_of_requests() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    for _ in 0..300 {
        assert!(get(&server, "/").starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !zombie_children(server.pid()).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(zombie_children(server.pid()), Vec::<u32>::new());
}

/// SIGTERM in the middle of a download: the child finishes sending, the parent
/// waits for it and exits 0, and no child is left behind without its parent.
/// Ctrl-C in a terminal sends SIGINT to the child too, which ignores it.
#[test]
fn stop_signal_lets_the_download_finish_and_leaves_no_children() {
    let mut server = ServerProcess::start(SERVER, &[]).unwrap();
    let size = 24 * 1024 * 1024;
    fs::write(server.root.join("big.bin"), vec![7u8; size]).unwrap();

    let mut client = TcpStream::connect(server.addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut start = [0; 64 * 1024];
    client.read_exact(&mut start).unwrap();
    let serving: Vec<u32> = children(server.pid())
        .into_iter()
        .map(|child| child.pid)
        .collect();
    assert_eq!(serving.len(), 1, "one child serves the download");

    // What Ctrl-C would send the child; the parent gets SIGTERM (a second stop
    // signal to the parent would mean "quit now").
    let status = std::process::Command::new("kill")
        .args(["-INT", &serving[0].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.signal("TERM").unwrap();
    thread::sleep(Duration::from_millis(300));
    assert!(server.is_running(), "the parent waits for its child");
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "no new connection is accepted once stopping"
    );

    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    let head_end = start.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        start.len() - head_end + rest.len(),
        size,
        "the whole body arrived"
    );

    let status = server.wait_for_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{status}");
    assert!(
        !std::path::Path::new(&format!("/proc/{}", serving[0])).exists(),
        "the child is gone too"
    );
}

#[test]
fn startup_errors_are_one_clear_line() {
    startup_errors_are_one_line(SERVER).unwrap();
}

/// One request on its own connection, read to the end (the server closes).
fn get(server: &ServerProcess, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    response
}
