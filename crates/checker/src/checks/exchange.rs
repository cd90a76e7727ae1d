//! Stage 1: the shape of one HTTP exchange.

use std::time::{Duration, SystemTime};

use super::{Check, expect_content_length, expect_content_type, expect_status};
use crate::client::{self, Connection};
use crate::http_date::{format_http_date, parse_http_date};
use crate::report::Failure;
use crate::target::{Context, Exchange};

/// How far a server's `Date` may be from the checker's clock. A server on the
/// same machine agrees to the second; one elsewhere may drift a little.
const DATE_TOLERANCE: Duration = Duration::from_secs(5 * 60);

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "answers-get",
            stages: 1..=8,
            behaviour: "GET / gets a well-formed 200 response with a body",
            needs_pid: false,
            run: answers_get,
        },
        Check {
            name: "content-length",
            stages: 1..=8,
            behaviour: "the response says Content-Length, and it is the body's length",
            needs_pid: false,
            run: content_length,
        },
        Check {
            name: "content-type",
            stages: 1..=8,
            behaviour: "the page comes with Content-Type: text/html",
            needs_pid: false,
            run: content_type,
        },
        Check {
            name: "date-header",
            stages: 1..=8,
            behaviour: "every response carries one Date: the current time as an IMF-fixdate",
            needs_pid: false,
            run: date_header,
        },
        Check {
            name: "closes-after-response",
            stages: 1..=6,
            behaviour: "says Connection: close, then closes the connection",
            needs_pid: false,
            run: closes_after_response,
        },
        Check {
            name: "waits-for-whole-head",
            stages: 1..=8,
            behaviour: "no answer comes before the blank line that ends the request head",
            needs_pid: false,
            run: waits_for_whole_head,
        },
        Check {
            name: "head-in-pieces",
            stages: 1..=8,
            behaviour: "a request head that arrives in eight pieces is still answered",
            needs_pid: false,
            run: head_in_pieces,
        },
        Check {
            name: "survives-early-close",
            stages: 1..=8,
            behaviour: "clients that leave before finishing a request do not stop the server",
            needs_pid: false,
            run: survives_early_close,
        },
        Check {
            name: "sequential-clients",
            stages: 1..=8,
            behaviour: "30 clients one after another are all answered",
            needs_pid: false,
            run: sequential_clients,
        },
    ]
}

fn answers_get(context: &Context) -> Result<(), Failure> {
    let exchange = context.get("/")?;
    expect_status(&exchange, 200)?;
    if exchange.reply.body.is_empty() {
        return Err(exchange.fail("the body is empty", "a page in the body"));
    }
    Ok(())
}

fn content_length(context: &Context) -> Result<(), Failure> {
    expect_content_length(&context.get("/")?)
}

fn content_type(context: &Context) -> Result<(), Failure> {
    expect_content_type(&context.get("/")?, "text/html")
}

fn date_header(context: &Context) -> Result<(), Failure> {
    expect_current_date(&context.get("/")?)?;
    if context.stage >= 2 {
        // An error page is a response too.
        let missing = context.fixtures.url_of("no-such-file.html");
        expect_current_date(&context.get(&missing)?)?;
    }
    Ok(())
}

/// Fails unless the reply has exactly one `Date`, a valid IMF-fixdate within
/// [`DATE_TOLERANCE`] of now (RFC 9110 §6.6.1: an origin server with a clock
/// must send it).
pub fn expect_current_date(exchange: &Exchange) -> Result<(), Failure> {
    let now = SystemTime::now();
    let expected = format!(
        "one Date header with the current time, such as Date: {} (RFC 9110 §6.6.1)",
        format_http_date(now)
    );
    let dates: Vec<&str> = exchange
        .reply
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("date"))
        .map(|(_, value)| value.as_str())
        .collect();
    let date = match dates.as_slice() {
        [] => return Err(exchange.fail("there is no Date header", expected)),
        [date] => *date,
        _ => {
            let problem = format!("there are {} Date headers: {dates:?}", dates.len());
            return Err(exchange.fail(problem, expected));
        }
    };
    let sent_at = parse_http_date(date)
        .map_err(|why| exchange.fail(format!("the Date header is wrong: {why}"), &expected))?;
    let apart = sent_at
        .duration_since(now)
        .or_else(|_| now.duration_since(sent_at))
        .unwrap_or_default();
    if apart > DATE_TOLERANCE {
        let problem = format!(
            "Date: {date} is {} minutes away from the checker's clock",
            apart.as_secs() / 60
        );
        return Err(exchange.fail(problem, expected));
    }
    Ok(())
}

fn closes_after_response(context: &Context) -> Result<(), Failure> {
    // An HTTP/1.1 request that does not ask to close: the server must say it will.
    let request = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", context.addr()).into_bytes();
    let failure = |problem: String| {
        Failure::new(problem, "Connection: close, then the connection closes")
            .sent(context.addr(), &request)
    };
    let mut connection =
        Connection::open(context.addr()).map_err(|error| failure(error.describe()))?;
    connection.send(&request);
    let reply = connection
        .read_reply(true)
        .map_err(|error| failure(error.describe()).received(error.received()))?;
    if !reply.connection_has("close") {
        return Err(
            failure("the response does not say Connection: close".into()).received(&reply.raw),
        );
    }
    if let Err(more) = connection.wait_for_close(Duration::from_secs(3)) {
        let problem = "the server said close but kept the connection open for 3 s".to_string();
        return Err(failure(problem).received(&[reply.raw, more].concat()));
    }
    Ok(())
}

fn waits_for_whole_head(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    let request_line_end = request.iter().position(|&byte| byte == b'\n').unwrap_or(0) + 1;
    let (first_line, rest) = request.split_at(request_line_end);
    let failure = |problem: String| {
        Failure::new(
            problem,
            "silence until the blank line arrives, then the answer",
        )
        .sent(context.addr(), first_line)
    };
    let mut connection =
        Connection::open(context.addr()).map_err(|error| failure(error.describe()))?;
    connection.send(first_line);
    // A correct server has nothing to say yet: the head is not finished.
    let closed = connection
        .wait_for_close(Duration::from_millis(800))
        .is_ok();
    if !connection.leftover().is_empty() {
        let problem = "the server answered the request line alone, before the head ended";
        return Err(failure(problem.into()).received(connection.leftover()));
    }
    if closed {
        return Err(failure(
            "the server closed the connection after the request line alone".into(),
        ));
    }
    connection.send(rest);
    match connection.read_reply(true) {
        Ok(reply) if reply.status == 200 => Ok(()),
        Ok(reply) => Err(failure(format!("the status was {}", reply.status)).received(&reply.raw)),
        Err(error) => Err(failure(error.describe()).received(error.received())),
    }
}

fn head_in_pieces(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    let failure = |problem: String| {
        Failure::new(
            problem,
            "the same 200 response as when the head arrives in one piece",
        )
        .sent(context.addr(), &request)
    };
    let mut connection =
        Connection::open(context.addr()).map_err(|error| failure(error.describe()))?;
    connection.send_in_pieces(&request, 8, Duration::from_millis(60));
    match connection.read_reply(true) {
        Ok(reply) if reply.status == 200 => Ok(()),
        Ok(reply) => Err(failure(format!("the status was {}", reply.status)).received(&reply.raw)),
        Err(error) => Err(failure(format!(
            "{} (a server that parses whatever one read returned breaks this way)",
            error.describe()
        ))
        .received(error.received())),
    }
}

fn survives_early_close(context: &Context) -> Result<(), Failure> {
    // One client connects and leaves at once; another leaves half way through a head.
    if let Ok(stream) = client::connect(context.addr()) {
        drop(stream);
    }
    if let Ok(mut connection) = Connection::open(context.addr()) {
        connection.send(b"GET / HTT");
        connection.finish_sending();
        let _ = connection.wait_for_close(Duration::from_secs(2));
    }
    let exchange = context.get("/").map_err(|failure| Failure {
        problem: format!("after two clients left early: {}", failure.problem),
        ..failure
    })?;
    expect_status(&exchange, 200)
}

fn sequential_clients(context: &Context) -> Result<(), Failure> {
    for round in 1..=30 {
        let exchange = context.get("/").map_err(|failure| Failure {
            problem: format!("client {round} of 30: {}", failure.problem),
            ..failure
        })?;
        expect_status(&exchange, 200)?;
        expect_content_length(&exchange)?;
    }
    Ok(())
}
