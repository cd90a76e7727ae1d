//! Stages 7 and 8: persistent connections. One connection carries many requests,
//! the server answers them in order, closes when either side asks, and closes
//! connections that stay idle too long. Because several requests share one
//! stream of bytes, the server must also know exactly where each request ends:
//! a body is never read as the next request, and heads that two servers could
//! read differently are refused.

use std::time::{Duration, Instant};

use super::{Check, expect_body, expect_content_length, expect_status};
use crate::client::{Connection, Reply};
use crate::report::Failure;
use crate::target::{Context, Exchange};

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "keep-alive",
            stages: 7..=8,
            behaviour: "three HTTP/1.1 requests, one after another, on one connection",
            needs_pid: false,
            run: keep_alive,
        },
        Check {
            name: "pipelining",
            stages: 7..=8,
            behaviour: "GET, HEAD and GET sent in one write are answered in order",
            needs_pid: false,
            run: pipelining,
        },
        Check {
            name: "connection-close-honoured",
            stages: 7..=8,
            behaviour: "after a request with Connection: close, the server answers and closes",
            needs_pid: false,
            run: connection_close_honoured,
        },
        Check {
            name: "http10-keep-alive-only-when-asked",
            stages: 7..=8,
            behaviour: "HTTP/1.0 closes after the answer unless it says Connection: keep-alive",
            needs_pid: false,
            run: http10_keep_alive_only_when_asked,
        },
        Check {
            name: "idle-timeout",
            stages: 7..=8,
            behaviour: "a connection is kept while in use, and closed once idle past the timeout",
            needs_pid: false,
            run: idle_timeout,
        },
        Check {
            name: "body-not-read-as-request",
            stages: 7..=8,
            behaviour: "a request's body (Content-Length or chunked) is never taken for the next request",
            needs_pid: false,
            run: body_not_read_as_request,
        },
        Check {
            name: "host-and-header-rules",
            stages: 7..=8,
            behaviour: "HTTP/1.1 without Host or with two, `Name :` and folded headers get 400",
            needs_pid: false,
            run: host_and_header_rules,
        },
    ]
}

/// An HTTP/1.1 request that does not ask to close: a keep-alive server keeps
/// the connection open after answering it.
pub fn kept_request(context: &Context, method: &str, path: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
        context.addr()
    )
    .into_bytes()
}

/// Reads the next reply on `connection` as an [`Exchange`], or a failure that
/// says which request on the connection it was.
pub fn next_reply(
    context: &Context,
    connection: &mut Connection,
    request: &[u8],
    expect_body: bool,
    which: &str,
    expected: &str,
) -> Result<Exchange, Failure> {
    match connection.read_reply(expect_body) {
        Ok(reply) => Ok(Exchange {
            addr: context.addr(),
            request: request.to_vec(),
            reply,
        }),
        Err(error) => Err(
            Failure::new(format!("{which}: {}", error.describe()), expected)
                .sent(context.addr(), request)
                .received(error.received()),
        ),
    }
}

pub fn open(context: &Context, request: &[u8]) -> Result<Connection, Failure> {
    Connection::open(context.addr()).map_err(|error| {
        Failure::new(error.describe(), "a connection").sent(context.addr(), request)
    })
}

// ANCHOR: keep_alive
fn keep_alive(context: &Context) -> Result<(), Failure> {
    let names = ["page.html", "style.css", "notes.txt"];
    let first = kept_request(context, "GET", &context.fixtures.url_of(names[0]));
    let mut connection = open(context, &first)?;
    for (number, name) in names.iter().enumerate() {
        let request = kept_request(context, "GET", &context.fixtures.url_of(name));
        connection.send(&request);
        let exchange = next_reply(
            context,
            &mut connection,
            &request,
            true,
            &format!("request {} of 3 on the same connection", number + 1),
            "an answer to every request: HTTP/1.1 keeps a connection open unless a side says \
             Connection: close",
        )?;
        expect_status(&exchange, 200)?;
        expect_content_length(&exchange)?;
        expect_body(&exchange, &context.fixtures.bytes_of(name), name)?;
        if exchange.reply.connection_has("close") {
            return Err(exchange.fail(
                "the server said Connection: close to an HTTP/1.1 request that did not ask for it",
                "no Connection: close; the connection stays open for the next request",
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: keep_alive

// ANCHOR: pipelining
fn pipelining(context: &Context) -> Result<(), Failure> {
    let requests = [
        ("GET", "page.html"),
        ("HEAD", "notes.txt"),
        ("GET", "style.css"),
    ];
    let all: Vec<u8> = requests
        .iter()
        .flat_map(|(method, name)| kept_request(context, method, &context.fixtures.url_of(name)))
        .collect();
    let mut connection = open(context, &all)?;
    // All three in one write: they may well arrive in one read, too.
    connection.send(&all);
    for (number, (method, name)) in requests.iter().enumerate() {
        let is_get = *method == "GET";
        let exchange = next_reply(
            context,
            &mut connection,
            &all,
            is_get,
            &format!("answer {} of 3 to requests sent in one write", number + 1),
            "three answers, in the order of the requests",
        )?;
        expect_status(&exchange, 200)?;
        let wanted = context.fixtures.bytes_of(name);
        if is_get {
            expect_body(&exchange, &wanted, name)?;
        } else if exchange.reply.content_length() != Some(wanted.len() as u64) {
            return Err(exchange.fail(
                format!(
                    "the answer to HEAD {name} says Content-Length {:?}",
                    exchange.reply.header("content-length")
                ),
                format!("Content-Length: {}, in the second answer", wanted.len()),
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: pipelining

fn connection_close_honoured(context: &Context) -> Result<(), Failure> {
    // A request that asks to close, and a second one right behind it that a
    // server honouring the first must never answer.
    let closing = context.request("GET", &context.fixtures.url_of("page.html"));
    let after = kept_request(context, "GET", &context.fixtures.url_of("notes.txt"));
    let both = [closing.as_slice(), &after].concat();
    let mut connection = open(context, &both)?;
    connection.send(&both);
    let expected = "one answer that says Connection: close, then the connection closes";
    let exchange = next_reply(
        context,
        &mut connection,
        &both,
        true,
        "the answer",
        expected,
    )?;
    expect_status(&exchange, 200)?;
    if !exchange.reply.connection_has("close") {
        return Err(exchange.fail("the answer does not say Connection: close", expected));
    }
    match connection.wait_for_close(Duration::from_secs(3)) {
        Ok(()) if connection.leftover().is_empty() => Ok(()),
        Ok(()) => Err(Failure::new(
            "after Connection: close, the server went on to answer the next request",
            expected,
        )
        .sent(context.addr(), &both)
        .received(connection.leftover())),
        Err(more) => Err(Failure::new(
            "the server said Connection: close but kept the connection open for 3 s",
            expected,
        )
        .sent(context.addr(), &both)
        .received(&[exchange.reply.raw, more].concat())),
    }
}

fn http10_keep_alive_only_when_asked(context: &Context) -> Result<(), Failure> {
    let path = context.fixtures.url_of("page.html");
    let host = context.addr();
    // Plain HTTP/1.0: one answer, then the server closes.
    let plain = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").into_bytes();
    let mut connection = open(context, &plain)?;
    connection.send(&plain);
    let expected = "an answer, then the close: HTTP/1.0 keeps a connection only when asked";
    let exchange = next_reply(context, &mut connection, &plain, true, "HTTP/1.0", expected)?;
    expect_status(&exchange, 200)?;
    if exchange.reply.connection_has("keep-alive") {
        return Err(exchange.fail(
            "the answer to a plain HTTP/1.0 request says Connection: keep-alive",
            expected,
        ));
    }
    if let Err(more) = connection.wait_for_close(Duration::from_secs(3)) {
        return Err(Failure::new(
            "an HTTP/1.0 client that did not ask for keep-alive was kept waiting for 3 s",
            expected,
        )
        .sent(context.addr(), &plain)
        .received(&[exchange.reply.raw, more].concat()));
    }
    // HTTP/1.0 with `Connection: keep-alive`: the answer must say it will keep
    // the connection (a 1.0 client assumes a close otherwise), and keep it.
    let asking = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n")
        .into_bytes();
    let mut connection = open(context, &asking)?;
    let expected = "Connection: keep-alive in the answer, and a second answer on the connection";
    for number in 1..=2 {
        connection.send(&asking);
        let exchange = next_reply(
            context,
            &mut connection,
            &asking,
            true,
            &format!("HTTP/1.0 with Connection: keep-alive, request {number} of 2"),
            expected,
        )?;
        expect_status(&exchange, 200)?;
        if !exchange.reply.connection_has("keep-alive") {
            return Err(exchange.fail(
                "the answer to an HTTP/1.0 keep-alive request does not say Connection: keep-alive",
                expected,
            ));
        }
    }
    Ok(())
}

// ANCHOR: idle_timeout
/// A kept-alive connection is used again after half the timeout (it must still
/// be open), then left alone (it must be closed soon after the timeout). A
/// connection that never sends anything must be closed too.
fn idle_timeout(context: &Context) -> Result<(), Failure> {
    let timeout = context
        .target
        .idle_timeout
        .unwrap_or(Duration::from_secs(5));
    let grace = Duration::from_secs(3);
    let request = kept_request(context, "GET", &context.fixtures.url_of("page.html"));
    let mut silent = open(context, &request)?;
    let silent_opened = Instant::now();
    let mut kept = open(context, &request)?;
    let expected = format!(
        "the connection open while in use, and closed within {} s of idling \
         (the checker assumes an idle timeout of {} s; see its --idle-timeout)",
        (timeout + grace).as_secs(),
        timeout.as_secs_f64()
    );
    for (number, pause) in [(1, Duration::ZERO), (2, timeout / 2)] {
        std::thread::sleep(pause);
        kept.send(&request);
        let which = match number {
            1 => "the first request".to_string(),
            _ => format!(
                "a request {:.1} s after the previous answer, half the idle timeout",
                pause.as_secs_f64()
            ),
        };
        let exchange = next_reply(context, &mut kept, &request, true, &which, &expected)?;
        expect_status(&exchange, 200)?;
    }
    let idle_since = Instant::now();
    for (connection, since, what) in [
        (&mut kept, idle_since, "a kept-alive connection"),
        (
            &mut silent,
            silent_opened,
            "a connection that never sent anything",
        ),
    ] {
        let left = (since + timeout + grace).saturating_duration_since(Instant::now());
        if connection.wait_for_close(left).is_err() {
            return Err(Failure::new(
                format!(
                    "{what} was still open {:.1} s after it went idle",
                    since.elapsed().as_secs_f64()
                ),
                expected,
            )
            .sent(context.addr(), &request));
        }
    }
    Ok(())
}
// ANCHOR_END: idle_timeout

// ANCHOR: body_not_read_as_request
/// Each case sends a request with a body that is itself a request for
/// `notes.txt`, then a real request for `page.html`. The server may answer the
/// first with anything (405, 411, 413...) and may then close; but if it answers
/// a second time, that answer must be `page.html`. Answering with `notes.txt`
/// means the body was read as a request: the door to request smuggling.
fn body_not_read_as_request(context: &Context) -> Result<(), Failure> {
    let host = context.addr();
    let smuggled = kept_request(context, "GET", &context.fixtures.url_of("notes.txt"));
    let smuggled = String::from_utf8_lossy(&smuggled).into_owned();
    let real = kept_request(context, "GET", &context.fixtures.url_of("page.html"));
    let cases = [
        format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        ),
        format!(
            "GET / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        ),
        format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{smuggled}\r\n0\r\n\r\n",
            smuggled.len()
        ),
    ];
    let smuggled_answer = context.fixtures.bytes_of("notes.txt");
    for case in cases {
        let sent = [case.as_bytes(), &real].concat();
        let mut connection = open(context, &sent)?;
        connection.send(&sent);
        let expected = "an answer to the first request, then either the close or page.html";
        for number in 1..=2 {
            let reply = match connection.read_reply(true) {
                Ok(reply) => reply,
                // Closing after the first answer is a fine way to avoid the question.
                Err(crate::client::ClientError::Closed { received })
                    if number == 2 && received.is_empty() =>
                {
                    break;
                }
                Err(error) => {
                    return Err(Failure::new(
                        format!("answer {number}: {}", error.describe()),
                        expected,
                    )
                    .sent(context.addr(), &sent)
                    .received(error.received()));
                }
            };
            if reply.body == smuggled_answer {
                return Err(smuggling_failure(context, &sent, &reply, expected));
            }
            if number == 2 {
                let exchange = Exchange {
                    addr: context.addr(),
                    request: sent.clone(),
                    reply,
                };
                expect_body(
                    &exchange,
                    &context.fixtures.bytes_of("page.html"),
                    "page.html",
                )?;
            }
        }
    }
    Ok(())
}
// ANCHOR_END: body_not_read_as_request

fn smuggling_failure(context: &Context, sent: &[u8], reply: &Reply, expected: &str) -> Failure {
    Failure::new(
        "the server answered a request hidden in the body of another: it read the body as \
         the next request",
        expected,
    )
    .sent(context.addr(), sent)
    .received(&reply.raw)
}

fn host_and_header_rules(context: &Context) -> Result<(), Failure> {
    let host = context.addr();
    let refused = [
        ("no Host", "GET / HTTP/1.1\r\n\r\n".to_string()),
        (
            "two Host headers",
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nHost: other.example\r\n\r\n"),
        ),
        (
            "white space before a colon",
            format!("GET / HTTP/1.1\r\nHost : {host}\r\n\r\n"),
        ),
        (
            "a folded header line",
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nX-Folded: one\r\n two\r\n\r\n"),
        ),
    ];
    for (what, request) in refused {
        let exchange = context
            .send(request.as_bytes())
            .map_err(|failure| Failure {
                problem: format!("with {what}: {}", failure.problem),
                ..failure
            })?;
        if exchange.reply.status != 400 {
            return Err(exchange.fail(
                format!("with {what}, the status was {}", exchange.reply.status),
                format!("status 400: RFC 9112 says a request with {what} is malformed"),
            ));
        }
    }
    // HTTP/1.0 needs no Host: refusing it would be wrong the other way.
    let exchange = context.send(b"GET / HTTP/1.0\r\n\r\n")?;
    expect_status(&exchange, 200)
}
