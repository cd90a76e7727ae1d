//! The `idle-clients` experiment program of chapters 6 to 8, run against a tiny
//! thread-per-connection server.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::thread;

use common::head::read_request_head;

const IDLE_CLIENTS: &str = env!("CARGO_BIN_EXE_idle-clients");

#[test]
fn holds_connections_and_times_requests() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            thread::spawn(move || {
                if read_request_head(&mut stream, &mut Vec::new()).is_ok() {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                }
            });
        }
    });
    let output = Command::new(IDLE_CLIENTS)
        .args([
            &format!("http://{addr}/"),
            "20",
            "--seconds",
            "1",
            "--pid",
            &std::process::id().to_string(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("20 idle connections open"), "{stdout}");
    assert!(stdout.contains("second 1: GET / answered in"), "{stdout}");
    assert!(stdout.contains("median GET /"), "{stdout}");
    assert!(stdout.contains("% of a core"), "{stdout}");
}
