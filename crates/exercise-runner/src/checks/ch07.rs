//! Chapter 7's exercises: a limit on requests per connection with a
//! `Keep-Alive` header that announces it, and `Expect: 100-continue`.

use std::time::{Duration, Instant};

use super::support::checks;
use checker::checks::{Check, expect_body, expect_status, kept_request, next_reply, open};
use checker::client::{Connection, Reply};
use checker::report::Failure;
use checker::target::{Context, Exchange};

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

/// Sends `request` on `connection` and reads the answer, which must be a 200.
fn next_ok(
    context: &Context,
    connection: &mut Connection,
    request: &[u8],
    which: &str,
    expected: &str,
) -> Result<Exchange, Failure> {
    connection.send(request);
    let exchange = next_reply(context, connection, request, true, which, expected)?;
    expect_status(&exchange, 200)?;
    Ok(exchange)
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
        let exchange = next_ok(context, &mut connection, &request, &which, &expected)?;
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

/// Fails unless the answer says `Connection: close` exactly when it is the
/// `MAX_REQUESTS`th.
fn expect_close_on_last(exchange: &Exchange, number: u64, expected: &str) -> Result<(), Failure> {
    if exchange.reply.connection_has("close") == (number == MAX_REQUESTS) {
        return Ok(());
    }
    let found = header_as_sent(&exchange.reply, "Connection");
    Err(exchange.fail(format!("answer {number} on one connection has {found}"), expected))
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
    let request = kept_request(context, "GET", &context.fixtures.url_of("notes.txt"));
    let mut connection = open(context, &request)?;
    for number in 1..=MAX_REQUESTS {
        let which = format!("request {number} on one connection");
        let exchange = next_ok(context, &mut connection, &request, &which, &expected)?;
        expect_close_on_last(&exchange, number, &expected)?;
    }
    expect_close_and_nothing_more(context, &mut connection, &request, &expected)?;

    let requests = [
        ("GET", "page.html"),
        ("HEAD", "page.html"),
        ("GET", "notes.txt"),
        ("GET", "style.css"),
        ("GET", "page.html"),
        ("GET", "notes.txt"),
    ];
    let all: Vec<u8> = requests
        .iter()
        .flat_map(|(method, name)| kept_request(context, method, &context.fixtures.url_of(name)))
        .collect();
    let mut connection = open(context, &all)?;
    connection.send(&all);
    for (number, (method, name)) in (1..=MAX_REQUESTS).zip(requests) {
        let which = format!("answer {number} to six requests sent in one write");
        let is_get = method == "GET";
        let exchange = next_reply(context, &mut connection, &all, is_get, &which, &expected)?;
        expect_status(&exchange, 200)?;
        if is_get {
            expect_body(&exchange, &context.fixtures.bytes_of(name), name)?;
        }
        expect_close_on_last(&exchange, number, &expected)?;
    }
    expect_close_and_nothing_more(context, &mut connection, &all, &expected)
}

/// After an answer that said `Connection: close`, the server must close, and
/// must not answer anything sent after it.
fn expect_close_and_nothing_more(
    context: &Context,
    connection: &mut Connection,
    request: &[u8],
    expected: &str,
) -> Result<(), Failure> {
    let (problem, received) = match connection.wait_for_close(Duration::from_secs(3)) {
        Ok(()) if connection.leftover().is_empty() => return Ok(()),
        Ok(()) => ("more answers came", connection.leftover().to_vec()),
        Err(more) => ("the connection stayed open for 3 s", more),
    };
    let problem = format!("after the answer that said Connection: close, {problem}");
    Err(Failure::new(problem, expected).sent(context.addr(), request).received(&received))
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
    let which = "the GET sent after the body";
    let page = next_reply(
        context,
        &mut connection,
        &sent,
        true,
        which,
        "the page, on the same connection",
    )?;
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
