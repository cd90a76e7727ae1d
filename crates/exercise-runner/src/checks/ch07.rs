//! Chapter 7's exercises: a limit on requests per connection with a
//! `Keep-Alive` header that announces it, and `Expect: 100-continue`.

use std::time::{Duration, Instant};

use super::support::{ask, checks, expect_closed_after};
use checker::checks::{Check, expect_body, expect_status, kept_request, next_reply, open};
use checker::client::Reply;
use checker::report::Failure;
use checker::target::Context;

pub fn checks() -> Vec<Check> {
    checks! {
        "keep-alive-header", 7..=8, keep_alive_header,
            "answers that keep the connection say Keep-Alive: timeout=5, max=N, N counting down; \
             one that closes does not";
        "max-requests", 7..=8, max_requests,
            "the 4th answer on a connection says Connection: close and the connection closes, \
             pipelined or not";
        "expect-100-continue", 7..=8, expect_100_continue,
            "Expect: 100-continue gets 100 Continue before the body, but not for a body refused \
             with 413, nor for HTTP/1.0";
    }
}

/// The limit the exercise starts its server with (`--max-requests 4`).
const MAX_REQUESTS: u64 = 4;

/// `Connection: close`, or `no Connection header`, for a failure's problem line.
fn header_as_sent(reply: &Reply, name: &str) -> String {
    match reply.header(name) {
        Some(value) => format!("{name}: {value}"),
        None => format!("no {name} header"),
    }
}

/// `timeout=5, max=3` read into its two numbers; `None` for anything else.
fn keep_alive_parameters(reply: &Reply) -> Option<(u64, u64)> {
    let (mut timeout, mut max) = (None, None);
    for parameter in reply.header("keep-alive")?.split(',') {
        let (name, number) = parameter.split_once('=')?;
        let number = number.trim().parse().ok()?;
        match name.trim().to_ascii_lowercase().as_str() {
            "timeout" => timeout = Some(number),
            "max" => max = Some(number),
            _ => {}
        }
    }
    Some((timeout?, max?))
}

/// Three requests on one connection: each answer announces the idle timeout
/// and how many more requests the connection takes (3, 2, 1 with a limit of
/// 4). An HTTP/1.0 client that asks for keep-alive is told the same. An answer
/// that closes the connection announces nothing.
fn keep_alive_header(context: &Context) -> Result<(), Failure> {
    let timeout = context.target.idle_timeout.unwrap_or(Duration::from_secs(5)).as_secs();
    let path = context.fixtures.url_of("page.html");
    let request = kept_request(context, "GET", &path);
    let mut connection = open(context, &request)?;
    for number in 1..MAX_REQUESTS {
        let left = MAX_REQUESTS - number;
        let expected = format!(
            "Keep-Alive: timeout={timeout}, max={left} (the exercise starts the server with \
             --max-requests {MAX_REQUESTS}; the checker assumes an idle timeout of {timeout} s)"
        );
        let which = format!("request {number} on one connection");
        let exchange = ask(context, &mut connection, &request, &which, &expected)?;
        expect_status(&exchange, 200)?;
        if keep_alive_parameters(&exchange.reply) != Some((timeout, left)) {
            let found = header_as_sent(&exchange.reply, "Keep-Alive");
            return Err(exchange.fail(format!("answer {number} has {found}"), expected));
        }
    }
    let host = context.addr();
    let http10 = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n");
    let exchange = context.send(http10.as_bytes())?;
    if keep_alive_parameters(&exchange.reply) != Some((timeout, MAX_REQUESTS - 1)) {
        let found = header_as_sent(&exchange.reply, "Keep-Alive");
        return Err(exchange.fail(
            format!("the answer to an HTTP/1.0 request with Connection: keep-alive has {found}"),
            format!("Keep-Alive: timeout={timeout}, max={}", MAX_REQUESTS - 1),
        ));
    }
    let closing = context.get(&path)?;
    if let Some(value) = closing.reply.header("keep-alive") {
        return Err(closing.fail(
            format!("an answer that says Connection: close also says Keep-Alive: {value}"),
            "no Keep-Alive header: the connection is not kept, there is nothing to announce",
        ));
    }
    Ok(())
}

/// Sends `requests` on a new connection, one at a time or `pipelined` in one
/// write, and reads answers 1 to [`MAX_REQUESTS`]: each a 200 (with the file,
/// for a GET), the last alone saying `Connection: close`. Then the server must
/// close, and answer nothing more.
fn expect_closing_answers(
    context: &Context,
    requests: &[(&str, &str)],
    pipelined: bool,
    expected: &str,
) -> Result<(), Failure> {
    let each: Vec<Vec<u8>> = requests
        .iter()
        .map(|(method, name)| kept_request(context, method, &context.fixtures.url_of(name)))
        .collect();
    let all = each.concat();
    let mut connection = open(context, &all)?;
    if pipelined {
        connection.send(&all);
    }
    let mut last = None;
    for (number, (&(method, name), request)) in (1..=MAX_REQUESTS).zip(requests.iter().zip(&each)) {
        let (sent, which) = if pipelined {
            (&all, format!("answer {number} to {} requests sent in one write", requests.len()))
        } else {
            connection.send(request);
            (request, format!("request {number} on one connection"))
        };
        let is_get = method == "GET";
        let exchange = next_reply(context, &mut connection, sent, is_get, &which, expected)?;
        expect_status(&exchange, 200)?;
        if is_get {
            expect_body(&exchange, &context.fixtures.bytes_of(name), name)?;
        }
        if exchange.reply.connection_has("close") != (number == MAX_REQUESTS) {
            let found = header_as_sent(&exchange.reply, "Connection");
            return Err(
                exchange.fail(format!("answer {number} on one connection has {found}"), expected)
            );
        }
        last = Some(exchange);
    }
    match last {
        Some(last) => expect_closed_after(&mut connection, &last, expected),
        None => Ok(()),
    }
}

/// One request at a time: answers 1 to 3 keep the connection, the 4th says
/// `Connection: close` and the server closes. Then six requests in one write on
/// a new connection: exactly four answers, the last saying close, and not a
/// byte more. (That the second connection starts counting again shows the count
/// belongs to the connection, not to the server.)
fn max_requests(context: &Context) -> Result<(), Failure> {
    let expected = format!(
        "answers 1 to {} keep the connection; answer {MAX_REQUESTS} says Connection: close, \
         then the connection closes (the exercise starts the server with --max-requests \
         {MAX_REQUESTS})",
        MAX_REQUESTS - 1
    );
    let one_at_a_time = [("GET", "notes.txt"); MAX_REQUESTS as usize];
    expect_closing_answers(context, &one_at_a_time, false, &expected)?;
    let pipelined = [
        ("GET", "page.html"),
        ("HEAD", "page.html"),
        ("GET", "notes.txt"),
        ("GET", "style.css"),
        ("GET", "page.html"),
        ("GET", "notes.txt"),
    ];
    expect_closing_answers(context, &pipelined, true, &expected)
}

/// How long a client waits for `100 Continue` here before it calls the server
/// silent. curl waits one second, then sends its body anyway.
const CONTINUE_WAIT: Duration = Duration::from_secs(2);

/// A POST that expects 100-continue and holds its 11-byte body back: the
/// server must invite the body, then answer (405) once it has come, then answer
/// the GET pipelined behind it. A POST announcing 2 MB, more than the server
/// reads, must get its 413 at once, without an invitation. An HTTP/1.0 POST
/// must never get a 100: HTTP/1.0 has no interim answers.
fn expect_100_continue(context: &Context) -> Result<(), Failure> {
    let (host, path) = (context.addr(), context.fixtures.url_of("page.html"));
    let post = |version: &str, length: usize| {
        format!(
            "POST {path} HTTP/{version}\r\nHost: {host}\r\nContent-Length: {length}\r\n\
             Expect: 100-continue\r\n\r\n"
        )
        .into_bytes()
    };
    let head = post("1.1", 11);
    let expected = "HTTP/1.1 100 Continue and a blank line, then, once the body has come, the \
                    final answer";
    let mut connection = open(context, &head)?;
    connection.send(&head);
    let asked = Instant::now();
    let _ = connection.stream.set_read_timeout(Some(CONTINUE_WAIT));
    if connection.stream.peek(&mut [0; 1]).is_err() {
        return Err(Failure::new(
            format!(
                "the server sent nothing for {:.1} s after a head with Expect: 100-continue and \
                 Content-Length: 11: it waits for a body that the client holds back until it \
                 hears 100 Continue",
                asked.elapsed().as_secs_f64()
            ),
            expected,
        )
        .sent(context.addr(), &head));
    }
    let interim =
        next_reply(context, &mut connection, &head, true, "the interim answer", expected)?;
    expect_status(&interim, 100)?;
    let rest = [b"hello world".as_slice(), &kept_request(context, "GET", &path)].concat();
    connection.send(&rest);
    let sent = [head.as_slice(), &rest].concat();
    let last = next_reply(context, &mut connection, &sent, true, "after the body", expected)?;
    expect_status(&last, 405)?;
    let (which, wanted) = ("the GET sent after the body", "the page, on the same connection");
    let page = next_reply(context, &mut connection, &sent, true, which, wanted)?;
    expect_status(&page, 200)?;
    expect_body(&page, &context.fixtures.bytes_of("page.html"), "page.html")?;

    let exchange = context.send(&post("1.1", 2_000_000))?;
    if exchange.reply.status == 100 {
        return Err(exchange.fail(
            "the server invited a 2 MB body that it refuses to read: the client now sends it all \
             for nothing",
            "413 Content Too Large at once, without 100 Continue first",
        ));
    }
    expect_status(&exchange, 413)?;

    let exchange = context.send(&[post("1.0", 11), b"hello world".to_vec()].concat())?;
    if exchange.reply.status == 100 {
        return Err(exchange.fail(
            "an HTTP/1.0 request got 100 Continue",
            "the final answer only: RFC 9110 has a server ignore 100-continue in an HTTP/1.0 \
             request, whose client knows no interim answers",
        ));
    }
    expect_status(&exchange, 405)
}
