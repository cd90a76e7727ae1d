//! What the exercises' checks share, on top of the checker's own helpers.

use std::net::{IpAddr, Ipv4Addr};
use std::thread;
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

/// Runs `attempt` every 50 ms until it gives `Some`, for up to `within`;
/// `None` if it never did.
pub fn poll<T>(
    within: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>, Failure>,
) -> Result<Option<T>, Failure> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = attempt()? {
            return Ok(Some(found));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(50));
    }
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
