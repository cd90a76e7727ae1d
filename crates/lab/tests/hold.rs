//! `lab hold`, in both its views, against tiny servers started here: one that
//! answers once and closes, one that keeps a connection for more requests.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

/// How the tiny server treats a connection after it has answered a request.
#[derive(Clone, Copy)]
enum AfterAnswer {
    Close,
    KeepAlive,
}

/// A server that answers every request with `ok`, and waits for a request on a
/// connection for `patience` before it closes it without a word.
fn tiny_server(patience: Duration, after_answer: AfterAnswer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream, patience, after_answer));
        }
    });
    addr
}

fn serve(mut stream: TcpStream, patience: Duration, after_answer: AfterAnswer) {
    stream.set_read_timeout(Some(patience)).unwrap();
    while let Some(head) = read_head(&mut stream) {
        // Only the two paths the tests ask for exist.
        let found = head.starts_with(b"GET / ") || head.starts_with(b"GET /index.html ");
        let status = if found { "200 OK" } else { "404 Not Found" };
        let close = match after_answer {
            AfterAnswer::Close => "Connection: close\r\n",
            AfterAnswer::KeepAlive => "",
        };
        let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n{close}\r\nok");
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
        if let AfterAnswer::Close = after_answer {
            return;
        }
    }
}

/// Reads a request head, up to the blank line that ends it: `None` if the
/// client left, or stayed silent past the read timeout, first.
fn read_head(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut byte = [0; 1];
    while !received.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => received.push(byte[0]),
            _ => return None,
        }
    }
    Some(received)
}

fn lab_hold(arguments: &[&str]) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("hold")
        .args(arguments)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

fn url_of(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

#[test]
fn holds_connections_times_requests_and_reads_the_server() {
    let url = url_of(tiny_server(Duration::from_secs(60), AfterAnswer::Close));
    let pid = std::process::id().to_string();
    let (output, stdout) = lab_hold(&[&url, "20", "--seconds", "2", "--pid", &pid]);
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
    // This test's process has lab as a child (and the other tests' lab
    // processes, when they run at the same time).
    assert!(children_counted(&stdout) >= 1, "{stdout}");
    assert!(stdout.contains("kB resident"), "{stdout}");
    assert!(
        stdout.contains("after 2 s: 20 of 20 still open; median GET / "),
        "{stdout}"
    );
}

/// The number in the first `threads, N child process` of the output.
fn children_counted(stdout: &str) -> usize {
    stdout
        .split("threads, ")
        .nth(1)
        .and_then(|rest| rest.split(" child process").next())
        .and_then(|number| number.parse().ok())
        .unwrap_or(0)
}

#[test]
fn counts_the_connections_a_server_closes() {
    let url = url_of(tiny_server(Duration::from_millis(300), AfterAnswer::Close));
    let (output, stdout) = lab_hold(&[&url, "20", "--seconds", "1"]);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("  1 s:     0 open;"), "{stdout}");
    assert!(stdout.contains("after 1 s: 0 of 20 still open"), "{stdout}");
}

/// The fresh requests ask for the URL's path (the tiny server has no other),
/// and say which.
#[test]
fn asks_for_the_path_of_the_url() {
    let url = format!(
        "{}index.html",
        url_of(tiny_server(Duration::from_secs(60), AfterAnswer::Close))
    );
    let (output, stdout) = lab_hold(&[&url, "1", "--seconds", "1"]);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("  1 s:     1 open; GET /index.html got 200 in"),
        "{stdout}"
    );
}

#[test]
fn measures_silent_connections_as_json() {
    let addr = tiny_server(Duration::from_secs(60), AfterAnswer::Close);
    let pid = std::process::id().to_string();
    let (output, json) = lab_hold(&[
        &url_of(addr),
        "50",
        "--json",
        "--pid",
        &pid,
        "--probes",
        "3",
        "--seconds",
        "0.2",
    ]);
    assert!(output.status.success(), "{json}");
    let json = json.trim();
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    assert_eq!(json.lines().count(), 1, "{json}");
    assert!(
        json.contains("\"requested\":50,\"opened\":50,\"open_failure\":null,\"still_open\":50"),
        "{json}"
    );
    assert!(
        json.contains("\"memory_before\":") && !json.contains("\"cpu_percent\":null"),
        "{json}"
    );
    assert!(json.contains("\"probe_failures\":0}"), "{json}");
    assert!(!json.contains("\"probe_median_ms\":null"), "{json}");
}

/// A kept-alive connection gets one answer first: a server that keeps it is
/// still holding it at the end, one that closes after answering is not.
#[test]
fn keep_alive_connections_stay_only_where_the_server_keeps_them() {
    let still_open = |after_answer| {
        let addr = tiny_server(Duration::from_secs(60), after_answer);
        let (output, json) = lab_hold(&[
            &url_of(addr),
            "10",
            "--idle",
            "keep-alive",
            "--json",
            "--probes",
            "1",
        ]);
        assert!(output.status.success(), "{json}");
        assert!(json.contains("\"opened\":10,"), "{json}");
        json.split("\"still_open\":")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .to_string()
    };
    assert_eq!(still_open(AfterAnswer::KeepAlive), "10");
    assert_eq!(still_open(AfterAnswer::Close), "0");
}

#[test]
fn refuses_more_than_its_bounds_and_a_wrong_pid() {
    let url = url_of(tiny_server(Duration::from_secs(1), AfterAnswer::Close));
    let (output, _) = lab_hold(&[&url, "1000000"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("at most 20000 connections"));
    let (output, _) = lab_hold(&[&url, "10", "--seconds", "86400"]);
    assert_eq!(output.status.code(), Some(2));
    // Process ids stop well below this (see /proc/sys/kernel/pid_max).
    for view in [&[][..], &["--json"][..]] {
        let (output, stdout) =
            lab_hold(&[&[url.as_str(), "5", "--pid", "4294967295"], view].concat());
        assert_eq!(output.status.code(), Some(1));
        assert!(stdout.is_empty(), "{stdout}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--pid 4294967295"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

/// Nothing to connect to is one line, not a panic and not an empty measurement.
#[test]
fn a_server_that_is_not_there_is_one_line() {
    // Bound and dropped: nothing listens on the port now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (output, stdout) = lab_hold(&[&url_of(addr), "5", "--json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("could not connect"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// `--pid $(pgrep ...)` with two matching processes gives two ids: the error
/// must name the stray one, not blame the URL.
#[test]
fn a_stray_argument_is_named() {
    let (output, _) = lab_hold(&["http://127.0.0.1:9/", "10", "--pid", "123", "456"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unexpected argument '456'"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
