//! Stage 2: bad input gets a clear HTTP error, and the server keeps serving.

use std::time::Duration;

use super::{Check, expect_content_length, expect_status};
use crate::client::Connection;
use crate::report::Failure;
use crate::target::Context;

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "method-not-allowed",
            stages: 2..=8,
            behaviour: "POST, PUT, DELETE get 405 with an Allow header naming GET and HEAD",
            needs_pid: false,
            run: method_not_allowed,
        },
        Check {
            name: "malformed-request",
            stages: 2..=8,
            behaviour: "a malformed request line or a bad %-escape gets 400",
            needs_pid: false,
            run: malformed_request,
        },
        Check {
            name: "head-too-large",
            stages: 2..=8,
            behaviour: "a 32 KiB request head gets 431 and the connection is closed",
            needs_pid: false,
            run: head_too_large,
        },
        Check {
            name: "keeps-serving-after-bad-input",
            stages: 2..=8,
            behaviour: "after binary junk, cut heads and abrupt resets, GET / still works",
            needs_pid: false,
            run: keeps_serving_after_bad_input,
        },
    ]
}

fn method_not_allowed(context: &Context) -> Result<(), Failure> {
    for method in ["POST", "PUT", "DELETE"] {
        let exchange = context.send(&context.request(method, "/"))?;
        expect_status(&exchange, 405)?;
        expect_content_length(&exchange)?;
        let allow = exchange
            .reply
            .header("allow")
            .unwrap_or_default()
            .to_ascii_uppercase();
        let names: Vec<&str> = allow.split(',').map(str::trim).collect();
        if !names.contains(&"GET") || !names.contains(&"HEAD") {
            return Err(exchange.fail(
                format!("the Allow header is {:?}", exchange.reply.header("allow")),
                "Allow: GET, HEAD (a 405 must say which methods would work)",
            ));
        }
    }
    Ok(())
}

fn malformed_request(context: &Context) -> Result<(), Failure> {
    let host = context.addr();
    let requests = [
        "HELLO\r\n\r\n".to_string(),
        format!("GET\r\nHost: {host}\r\n\r\n"),
        format!("GET /\r\nHost: {host}\r\n\r\n"),
        format!("GET  / HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        format!("GET / HTTP/1.1 extra\r\nHost: {host}\r\n\r\n"),
        format!("GET / FTP/1.0\r\nHost: {host}\r\n\r\n"),
        format!("GET /%zz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        format!("GET /index.html%2 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nthis line has no colon\r\n\r\n"),
    ];
    for request in requests {
        let exchange = context.send(request.as_bytes())?;
        expect_status(&exchange, 400)?;
    }
    Ok(())
}

fn head_too_large(context: &Context) -> Result<(), Failure> {
    let filler = "a".repeat(32 * 1024);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nX-Filler: {filler}\r\n\r\n",
        context.addr()
    )
    .into_bytes();
    let failure = |problem: String| {
        Failure::new(problem, "status 431, then the connection closes")
            .sent(context.addr(), &request)
    };
    let mut connection =
        Connection::open(context.addr()).map_err(|error| failure(error.describe()))?;
    connection.send(&request);
    let reply = connection.read_reply(true).map_err(|error| {
        failure(format!(
            "{} (a server that closes with unread bytes sends a reset, which can destroy its \
             own answer: read what is left, or shut down writing first)",
            error.describe()
        ))
        .received(error.received())
    })?;
    if reply.status != 431 {
        return Err(failure(format!("the status was {}", reply.status)).received(&reply.raw));
    }
    if connection.wait_for_close(Duration::from_secs(3)).is_err() {
        return Err(failure("the connection stayed open after the 431".into()).received(&reply.raw));
    }
    Ok(())
}

fn keeps_serving_after_bad_input(context: &Context) -> Result<(), Failure> {
    let junk: Vec<u8> = (0..4096u32)
        .map(|index| (index * 7919 % 251) as u8)
        .collect();
    let inputs: [&[u8]; 5] = [
        &junk,
        b"\r\n\r\n",
        b"GET /\x00\xff HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: \x01\x02\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost:",
    ];
    for input in inputs {
        if let Ok(mut connection) = Connection::open(context.addr()) {
            connection.send(input);
            connection.finish_sending();
            let _ = connection.wait_for_close(Duration::from_secs(3));
        }
    }
    // A client that vanishes with a reset (RST) in the middle of a head.
    if let Ok(connection) = Connection::open(context.addr()) {
        let mut connection = connection;
        connection.send(b"GET / HTTP/1.1\r\nHo");
        reset(&connection.stream);
    }
    let exchange = context.get("/").map_err(|failure| Failure {
        problem: format!("after a round of bad input: {}", failure.problem),
        ..failure
    })?;
    expect_status(&exchange, 200)
}

/// Closes with a reset instead of a normal close: `SO_LINGER` with a zero timeout
/// tells the kernel to drop the connection at once.
fn reset(stream: &std::net::TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}
