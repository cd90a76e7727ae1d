//! The `idle-clients` experiment program of chapters 4 to 8, run against tiny
//! thread-per-connection servers started here.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

const IDLE_CLIENTS: &str = env!("CARGO_BIN_EXE_idle-clients");

/// A server that answers every request with `ok`, and waits for a request on a
/// connection for `patience` before it closes it without a word.
fn tiny_server(patience: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            thread::spawn(move || {
                stream.set_read_timeout(Some(patience)).unwrap();
                if read_until_blank_line(&mut stream) {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                }
            });
        }
    });
    addr
}

/// Reads until the blank line that ends a request head: `false` if the client
/// left, or stayed silent past the read timeout, first. (The checker's tests
/// share no code with the servers, so this tiny reader is their own.)
fn read_until_blank_line(stream: &mut impl Read) -> bool {
    let mut received = Vec::new();
    let mut byte = [0; 1];
    while !received.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => received.push(byte[0]),
            _ => return false,
        }
    }
    true
}

fn idle_clients(arguments: &[&str]) -> (Output, String) {
    let output = Command::new(IDLE_CLIENTS).args(arguments).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

#[test]
fn holds_connections_times_requests_and_reads_the_server() {
    let url = format!("http://{}/", tiny_server(Duration::from_secs(60)));
    let pid = std::process::id().to_string();
    let (output, stdout) = idle_clients(&[&url, "20", "--seconds", "2", "--pid", &pid]);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("20 idle connections open to"), "{stdout}");
    assert!(
        stdout.contains("  1 s:    20 open; GET / got 200 in"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  2 s:    20 open; GET / got 200 in"),
        "{stdout}"
    );
    assert!(stdout.contains("server: CPU "), "{stdout}");
    // This test's process has one child: idle-clients itself.
    assert!(stdout.contains("threads, 1 child process,"), "{stdout}");
    assert!(stdout.contains("kB resident"), "{stdout}");
    assert!(
        stdout.contains("after 2 s: 20 of 20 still open; median GET / "),
        "{stdout}"
    );
}

#[test]
fn counts_the_connections_a_server_closes() {
    let url = format!("http://{}/", tiny_server(Duration::from_millis(300)));
    let (output, stdout) = idle_clients(&[&url, "20", "--seconds", "1"]);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("  1 s:     0 open;"), "{stdout}");
    assert!(stdout.contains("after 1 s: 0 of 20 still open"), "{stdout}");
}

#[test]
fn refuses_more_than_its_bounds_and_a_wrong_pid() {
    let url = format!("http://{}/", tiny_server(Duration::from_secs(1)));
    let (output, _) = idle_clients(&[&url, "1000000"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("at most 15000 connections"));
    // Process ids stop well below this (see /proc/sys/kernel/pid_max).
    let (output, stdout) = idle_clients(&[&url, "5", "--pid", "4294967295"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.is_empty(), "{stdout}");
}

/// `--pid $(pgrep ...)` with two matching processes gives two ids: the error
/// must name the stray one, not blame the URL.
#[test]
fn a_stray_argument_is_named() {
    let (output, _) = idle_clients(&["http://127.0.0.1:9/", "10", "--pid", "123", "456"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unexpected argument '456'"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
