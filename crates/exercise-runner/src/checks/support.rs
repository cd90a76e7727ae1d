//! What the exercises' checks share, on top of the checker's own helpers.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::thread::{self, ScopedJoinHandle};
use std::time::{Duration, Instant};

use checker::checks::next_reply;
use checker::client::Connection;
use checker::report::Failure;
use checker::target::{Context, Exchange};

/// A chapter's checks as a table, one `name, stages, function, "behaviour";`
/// each, the behaviour in one line of plain words. `pid` before the name marks
/// a check that looks at the server's process (`/proc/PID`).
macro_rules! checks {
    ($($($pid:ident)? $name:literal, $stages:expr, $run:ident, $behaviour:literal;)*) => {
        vec![$(checker::checks::Check {
            name: $name,
            stages: $stages,
            behaviour: $behaviour,
            needs_pid: stringify!($($pid)?) == "pid",
            run: $run,
        }),*]
    };
}
pub(crate) use checks;

/// 127.0.0.`last`: Linux routes all of 127/8 to this machine, so a check can
/// play several clients with addresses of their own.
pub fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A new connection, from 127.0.0.1 or from `from`.
pub fn connect(context: &Context, from: Option<IpAddr>) -> Result<Connection, Failure> {
    let opened = match from {
        Some(from) => Connection::open_from(from, context.addr()),
        None => Connection::open(context.addr()),
    };
    opened.map_err(|error| Failure::new(error.describe(), "a connection"))
}

/// `count` connections that send nothing.
pub fn silent_clients(
    context: &Context,
    from: Option<IpAddr>,
    count: usize,
) -> Result<Vec<Connection>, Failure> {
    (0..count).map(|_| connect(context, from)).collect()
}

/// `count` silent connections, and `settle` for the server to take them up
/// (start their threads, hand them to the pool) before the check relies on it.
pub fn held_clients(
    context: &Context,
    from: Option<IpAddr>,
    count: usize,
    settle: Duration,
) -> Result<Vec<Connection>, Failure> {
    let held = silent_clients(context, from, count)?;
    thread::sleep(settle);
    Ok(held)
}

/// `count` new connections that have each sent `request`.
pub fn clients_asking(
    context: &Context,
    request: &[u8],
    count: usize,
) -> Result<Vec<Connection>, Failure> {
    let mut clients = silent_clients(context, None, count)?;
    for client in &mut clients {
        client.send(request);
    }
    Ok(clients)
}

/// Sends `request` on `connection` and reads the reply; `which` and
/// `expected` say what a failure to read it means.
pub fn ask(
    context: &Context,
    connection: &mut Connection,
    request: &[u8],
    which: &str,
    expected: &str,
) -> Result<Exchange, Failure> {
    connection.send(request);
    next_reply(context, connection, request, true, which, expected)
}

/// Runs `attempt` every 50 ms for up to `within`. `Ok(Ok(found))` ends the
/// wait; `Ok(Err(failure))` means not yet, and is the failure if time runs
/// out; `Err` fails at once.
pub fn retry_for<T>(
    within: Duration,
    mut attempt: impl FnMut() -> Result<Result<T, Failure>, Failure>,
) -> Result<T, Failure> {
    let deadline = Instant::now() + within;
    loop {
        match attempt()? {
            Ok(found) => return Ok(found),
            Err(failure) if Instant::now() >= deadline => return Err(failure),
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Fails unless the server closes `connection` within 3 s and sends nothing
/// after `exchange`, its last answer.
pub fn expect_closed_after(
    connection: &mut Connection,
    exchange: &Exchange,
    expected: &str,
) -> Result<(), Failure> {
    let (problem, more) = match connection.wait_for_close(Duration::from_secs(3)) {
        Ok(()) if connection.leftover().is_empty() => return Ok(()),
        Ok(()) => ("more bytes came before the close", connection.leftover().to_vec()),
        Err(more) => ("the connection stayed open for 3 s", more),
    };
    Err(exchange.fail(format!("after this answer, {problem}"), expected).received(&more))
}

/// Fails unless the reply's header `name` is `wanted`.
pub fn expect_header(exchange: &Exchange, name: &str, wanted: &str) -> Result<(), Failure> {
    match exchange.reply.header(name) {
        Some(found) if found == wanted => Ok(()),
        found => Err(exchange.fail(format!("{name} is {found:?}"), format!("{name}: {wanted}"))),
    }
}

/// Fails unless the reply has a `Retry-After` header, as a refusal should.
pub fn expect_retry_after(exchange: &Exchange) -> Result<(), Failure> {
    if exchange.reply.header("retry-after").is_some() {
        return Ok(());
    }
    Err(exchange.fail(
        format!("the {} has no Retry-After header", exchange.reply.status),
        "Retry-After: SECONDS, so the client knows when to come back",
    ))
}

/// The reply a connection that sent nothing gets, as an exchange. A failure's
/// command is `nc` left to type nothing: no command can paste an empty request.
pub fn unasked_reply(
    context: &Context,
    connection: &mut Connection,
    situation: &str,
    expected: &str,
) -> Result<Exchange, Failure> {
    next_reply(context, connection, &[], true, situation, expected).map_err(|mut failure| {
        let (ip, port) = (context.addr().ip(), context.addr().port());
        failure.sent = Some(format!("nc {ip} {port}    (and type nothing)"));
        failure
    })
}

/// Sends `request` a byte every `pause` until the server answers or closes,
/// the request is all sent, or `limit` has passed; how many bytes were sent,
/// and whether anything came back (the answer is left to read).
pub fn trickle(
    connection: &mut Connection,
    request: &[u8],
    pause: Duration,
    limit: Duration,
) -> (usize, bool) {
    let started = Instant::now();
    for sent in 1..=request.len() {
        connection.send(&request[sent - 1..sent]);
        match connection.wait_for_close(pause) {
            Err(received) if received.is_empty() => {}
            _ => return (sent, true),
        }
        if started.elapsed() >= limit {
            return (sent, false);
        }
    }
    (request.len(), false)
}

/// A failure about the check's own work (planting a file, reading `/proc`).
pub fn cannot(what: impl Into<String>) -> impl Fn(io::Error) -> Failure {
    let what = what.into();
    move |error| Failure::new(format!("cannot {what}: {error}"), "")
}

/// What a thread of the check's own found; a panic in it is a failure.
pub fn joined(thread: ScopedJoinHandle<'_, Result<(), Failure>>) -> Result<(), Failure> {
    thread
        .join()
        .unwrap_or_else(|_| Err(Failure::new("a thread of the check panicked", "no panic")))
}
