//! Chapter 7's exercises: a limit on requests per connection with a
//! `Keep-Alive` header that announces it, and `Expect: 100-continue`.

use std::time::{Duration, Instant};

use checker::checks::{Check, expect_body, expect_status};
use checker::checks::{kept_request, next_reply, open};
use checker::client::{Connection, Reply};
use checker::report::Failure;
use checker::target::Context;

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "keep-alive-header",
            stages: 7..=8,
            behaviour: "answers that keep the connection say Keep-Alive: timeout=5, max=N, N \
                        counting down; one that closes does not",
            needs_pid: false,
            run: keep_alive_header,
        },
        Check {
            name: "max-requests",
            stages: 7..=8,
            behaviour: "the 4th answer on a connection says Connection: close and the connection \
                        closes, pipelined or not",
            needs_pid: false,
            run: max_requests,
        },
        Check {
            name: "expect-100-continue",
            stages: 7..=8,
            behaviour: "Expect: 100-continue gets 100 Continue before the body, but not for a \
                        body refused with 413, nor for HTTP/1.0",
            needs_pid: false,
            run: expect_100_continue,
        },
    ]
}

/// The limit the exercise starts its server with (`--max-requests 4`).
const MAX_REQUESTS: u32 = 4;

/// `Connection: close`, or `no Connection header`, for a failure's problem line.
fn header_as_sent(reply: &Reply, name: &str) -> String {
    match reply.header(name) {
        Some(value) => format!("{name}: {value}"),
        None => format!("no {name} header"),
    }
}

/// `timeout=5, max=3` read into its two numbers; `None` for anything else.
fn keep_alive_parameters(reply: &Reply) -> Option<(u64, u64)> {
    let value = reply.header("keep-alive")?;
    let (mut timeout, mut max) = (None, None);
    for parameter in value.split(',') {
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
    let timeout = context
        .target
        .idle_timeout
        .unwrap_or(Duration::from_secs(5))
        .as_secs();
    let first = kept_request(context, "GET", &context.fixtures.url_of("page.html"));
    let mut connection = open(context, &first)?;
    for number in 1..MAX_REQUESTS {
        let left = u64::from(MAX_REQUESTS - number);
        let expected = format!(
            "Keep-Alive: timeout={timeout}, max={left} (the exercise starts the server with \
             --max-requests {MAX_REQUESTS}; the checker assumes an idle timeout of {timeout} s)"
        );
        let request = kept_request(context, "GET", &context.fixtures.url_of("page.html"));
        connection.send(&request);
        let exchange = next_reply(
            context,
            &mut connection,
            &request,
            true,
            &format!("request {number} on one connection"),
            &expected,
        )?;
        expect_status(&exchange, 200)?;
        if keep_alive_parameters(&exchange.reply) != Some((timeout, left)) {
            return Err(exchange.fail(
                format!(
                    "answer {number} on one connection has {}",
                    header_as_sent(&exchange.reply, "Keep-Alive")
                ),
                expected,
            ));
        }
    }
    let path = context.fixtures.url_of("page.html");
    let http10 = format!(
        "GET {path} HTTP/1.0\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n",
        context.addr()
    )
    .into_bytes();
    let expected = format!("Keep-Alive: timeout={timeout}, max={}", MAX_REQUESTS - 1);
    let exchange = context.send(&http10)?;
    if keep_alive_parameters(&exchange.reply) != Some((timeout, u64::from(MAX_REQUESTS - 1))) {
        return Err(exchange.fail(
            format!(
                "the answer to an HTTP/1.0 request with Connection: keep-alive has {}",
                header_as_sent(&exchange.reply, "Keep-Alive")
            ),
            expected,
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
    let first = kept_request(context, "GET", &context.fixtures.url_of("notes.txt"));
    let mut connection = open(context, &first)?;
    for number in 1..=MAX_REQUESTS {
        let request = kept_request(context, "GET", &context.fixtures.url_of("notes.txt"));
        connection.send(&request);
        let exchange = next_reply(
            context,
            &mut connection,
            &request,
            true,
            &format!("request {number} on one connection"),
            &expected,
        )?;
        expect_status(&exchange, 200)?;
        let closes = exchange.reply.connection_has("close");
        if number < MAX_REQUESTS && closes {
            return Err(exchange.fail(
                format!("answer {number} already says Connection: close"),
                expected,
            ));
        }
        if number == MAX_REQUESTS && !closes {
            return Err(exchange.fail(
                format!(
                    "answer {number} has {}",
                    header_as_sent(&exchange.reply, "Connection")
                ),
                expected,
            ));
        }
    }
    expect_close_and_nothing_more(context, &mut connection, &first, &expected)?;

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
    for (number, (method, name)) in requests.iter().enumerate().take(MAX_REQUESTS as usize) {
        let exchange = next_reply(
            context,
            &mut connection,
            &all,
            *method == "GET",
            &format!("answer {} to six requests sent in one write", number + 1),
            &expected,
        )?;
        expect_status(&exchange, 200)?;
        if *method == "GET" {
            expect_body(&exchange, &context.fixtures.bytes_of(name), name)?;
        }
        let last = number + 1 == MAX_REQUESTS as usize;
        if exchange.reply.connection_has("close") != last {
            return Err(exchange.fail(
                format!(
                    "answer {} to six pipelined requests has {}",
                    number + 1,
                    header_as_sent(&exchange.reply, "Connection")
                ),
                expected,
            ));
        }
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
    match connection.wait_for_close(Duration::from_secs(3)) {
        Ok(()) if connection.leftover().is_empty() => Ok(()),
        Ok(()) => Err(Failure::new(
            "after the answer that said Connection: close, more answers came",
            expected,
        )
        .sent(context.addr(), request)
        .received(connection.leftover())),
        Err(more) => Err(Failure::new(
            "after the answer that said Connection: close, the connection stayed open for 3 s",
            expected,
        )
        .sent(context.addr(), request)
        .received(&more)),
    }
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
    let host = context.addr();
    let path = context.fixtures.url_of("page.html");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 11\r\n\
         Expect: 100-continue\r\n\r\n"
    )
    .into_bytes();
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
    let interim = next_reply(
        context,
        &mut connection,
        &head,
        true,
        "the interim answer",
        expected,
    )?;
    expect_status(&interim, 100)?;
    let rest = [
        b"hello world".as_slice(),
        &kept_request(context, "GET", &context.fixtures.url_of("page.html")),
    ]
    .concat();
    connection.send(&rest);
    let sent = [head.as_slice(), &rest].concat();
    let last = next_reply(
        context,
        &mut connection,
        &sent,
        true,
        "after the body",
        expected,
    )?;
    expect_status(&last, 405)?;
    let page = next_reply(
        context,
        &mut connection,
        &sent,
        true,
        "the GET sent after the body",
        "the page, on the same connection",
    )?;
    expect_status(&page, 200)?;
    expect_body(&page, &context.fixtures.bytes_of("page.html"), "page.html")?;

    let too_large = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2000000\r\n\
         Expect: 100-continue\r\n\r\n"
    )
    .into_bytes();
    let exchange = context.send(&too_large)?;
    if exchange.reply.status == 100 {
        return Err(exchange.fail(
            "the server invited a 2 MB body that it refuses to read: the client now sends it \
             all for nothing",
            "413 Content Too Large at once, without 100 Continue first",
        ));
    }
    expect_status(&exchange, 413)?;

    let http10 = format!(
        "POST {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 11\r\n\
         Expect: 100-continue\r\n\r\nhello world"
    )
    .into_bytes();
    let exchange = context.send(&http10)?;
    if exchange.reply.status == 100 {
        return Err(exchange.fail(
            "an HTTP/1.0 request got 100 Continue",
            "the final answer only: RFC 9110 has a server ignore 100-continue in an HTTP/1.0 \
             request, whose client knows no interim answers",
        ));
    }
    expect_status(&exchange, 405)
}
