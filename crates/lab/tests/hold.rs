//! `lab hold` against a listener that accepts and keeps every connection.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::Command;
use std::thread;

#[test]
fn holds_silent_connections_and_reports_json() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and keep: the held connections stay open until the test ends.
    thread::spawn(move || {
        let mut kept = Vec::new();
        for stream in listener.incoming().flatten() {
            kept.push(stream);
        }
    });
    let output = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args([
            "hold",
            "--addr",
            &addr.to_string(),
            "--connections",
            "50",
            "--idle",
            "silent",
        ])
        .args([
            "--pid",
            &std::process::id().to_string(),
            "--probes",
            "0",
            "--cpu-secs",
            "0.2",
        ])
        .output()
        .unwrap();
    let json = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{json}");
    assert!(
        json.contains("\"requested\":50,\"opened\":50,\"open_failure\":null,\"still_open\":50"),
        "{json}"
    );
    assert!(
        json.contains("\"memory_before\":") && json.contains("\"cpu_percent\":"),
        "{json}"
    );
}
