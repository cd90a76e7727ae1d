//! Chapter 4's exercises: a status page that shows the pool's load, and a limit
//! on the connections one client address may hold.

use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::{Duration, Instant};

use checker::checks::{Check, expect_content_length, expect_content_type, expect_status};
use checker::client::Connection;
use checker::report::Failure;
use checker::target::{Context, Exchange};

/// The pool `ch04-status-page` is started with (`--pool 4`).
pub const POOL_SIZE: usize = 4;

/// The limit `ch04-per-client-limit` is started with (`--per-client 64`). It is
/// above 50 because the stage's own checks open 50 connections at once, all
/// from 127.0.0.1.
pub const PER_CLIENT: usize = 64;

/// Time for the server to take up connections just opened (start their
/// threads, hand them to the pool) before the check relies on it.
const SETTLE_TIME: Duration = Duration::from_millis(300);

/// How long a client refused for its limit may have to wait, after one of its
/// connections closed, to be served again.
const RECOVERY_TIME: Duration = Duration::from_secs(5);

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "status-counts-requests",
            stages: 4..=4,
            behaviour: "GET /status says requests: N, every request read so far, this one included",
            needs_pid: false,
            run: status_counts_requests,
        },
        Check {
            name: "status-shows-busy-and-queued",
            stages: 4..=4,
            behaviour: "GET /status says how many pool threads are busy and how many connections are queued",
            needs_pid: false,
            run: status_shows_busy_and_queued,
        },
        Check {
            name: "per-client-limit",
            stages: 4..=8,
            behaviour: "a 65th connection from one address gets 429 at once; other addresses are served",
            needs_pid: false,
            run: per_client_limit,
        },
        Check {
            name: "per-client-slots-freed",
            stages: 4..=8,
            behaviour: "a client's connections count again as soon as they end, however they end",
            needs_pid: false,
            run: per_client_slots_freed,
        },
    ]
}

/// The three numbers of a status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Load {
    requests: u64,
    busy: u64,
    queued: u64,
}

const STATUS_PAGE: &str =
    "200 and a text/plain page of three lines: requests: N, busy: N, queued: N";

/// Reads `requests:`, `busy:` and `queued:` lines from a status page.
fn read_load(exchange: &Exchange) -> Result<Load, Failure> {
    if exchange.reply.status != 200 {
        return Err(exchange.fail(
            format!("GET /status got {}", exchange.reply.status),
            STATUS_PAGE,
        ));
    }
    expect_content_length(exchange)?;
    expect_content_type(exchange, "text/plain")?;
    let page = String::from_utf8_lossy(&exchange.reply.body);
    let field = |name: &str| {
        page.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim() == name)
            .and_then(|(_, value)| value.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                exchange.fail(
                    format!("the page has no line \"{name}: NUMBER\""),
                    STATUS_PAGE,
                )
            })
    };
    Ok(Load {
        requests: field("requests")?,
        busy: field("busy")?,
        queued: field("queued")?,
    })
}

fn status(context: &Context) -> Result<(Exchange, Load), Failure> {
    let exchange = context.get("/status")?;
    let load = read_load(&exchange)?;
    Ok((exchange, load))
}

fn open(context: &Context) -> Result<Connection, Failure> {
    Connection::open(context.addr()).map_err(|error| Failure::new(error.describe(), "a connection"))
}

fn status_counts_requests(context: &Context) -> Result<(), Failure> {
    let (_, before) = status(context)?;
    for _ in 0..5 {
        expect_status(&context.get("/")?, 200)?;
    }
    // Twenty at once: the threads add to the count at the same time.
    let request = context.request("GET", "/");
    let mut together = Vec::new();
    for _ in 0..20 {
        together.push(open(context)?);
    }
    for connection in &mut together {
        connection.send(&request);
    }
    for connection in &mut together {
        let reply = connection.read_reply(true).map_err(|error| {
            Failure::new(error.describe(), "200").sent(context.addr(), &request)
        })?;
        if reply.status != 200 {
            return Err(
                Failure::new(format!("the status was {}", reply.status), "200")
                    .sent(context.addr(), &request)
                    .received(&reply.raw),
            );
        }
    }
    // Three connections that ask for nothing are not requests.
    for _ in 0..3 {
        drop(open(context)?);
    }
    let (exchange, after) = status(context)?;
    let wanted = before.requests + 26;
    if after.requests == wanted {
        return Ok(());
    }
    let why = match after.requests.checked_sub(before.requests) {
        Some(27..=29) => " (are connections counted instead of requests?)",
        Some(25) => " (is the request for the page itself counted only after the page is made?)",
        _ => "",
    };
    Err(exchange.fail(
        format!(
            "requests went from {} to {} over 26 requests (5 one after another, 20 at once, and this \
             one) and 3 connections that asked nothing{why}",
            before.requests, after.requests
        ),
        format!("requests: {wanted}: every request read, this one included, counted when it is read"),
    ))
}

fn expect_load(
    exchange: &Exchange,
    found: Load,
    busy: u64,
    queued: u64,
    situation: &str,
    why: &str,
) -> Result<(), Failure> {
    if found.busy == busy && found.queued == queued {
        return Ok(());
    }
    Err(exchange.fail(
        format!(
            "{situation}, /status said busy: {}, queued: {}",
            found.busy, found.queued
        ),
        format!("busy: {busy}, queued: {queued} ({why})"),
    ))
}

fn status_shows_busy_and_queued(context: &Context) -> Result<(), Failure> {
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(open(context)?);
    }
    thread::sleep(SETTLE_TIME);
    let (exchange, load) = status(context)?;
    expect_load(
        &exchange,
        load,
        3,
        0,
        &format!("with 2 clients connected and silent (pool of {POOL_SIZE})"),
        "the two silent clients' threads, and the one answering",
    )?;
    // Every thread taken: the request for the page waits in the queue, with two
    // more silent clients behind it.
    for _ in 0..POOL_SIZE - 2 {
        silent.push(open(context)?);
    }
    let mut asking = open(context)?;
    let request = context.request("GET", "/status");
    asking.send(&request);
    for _ in 0..2 {
        silent.push(open(context)?);
    }
    thread::sleep(SETTLE_TIME);
    // One silent client leaves; its thread takes the next job in line: the page.
    silent.remove(0);
    let reply = asking.read_reply(true).map_err(|error| {
        Failure::new(
            format!(
                "with {POOL_SIZE} silent clients holding the pool, a request for /status waited; \
                 one silent client left, and then: {}",
                error.describe()
            ),
            "the page, once the thread the silent client held is free",
        )
        .sent(context.addr(), &request)
        .received(error.received())
    })?;
    let exchange = Exchange {
        addr: context.addr(),
        request,
        reply,
    };
    let load = read_load(&exchange)?;
    expect_load(
        &exchange,
        load,
        POOL_SIZE as u64,
        2,
        &format!(
            "with {} silent clients holding threads and 2 more queued behind this request",
            POOL_SIZE - 1
        ),
        "every thread busy, the page's included, and the two silent clients queued",
    )
}

/// A client address of its own for each part of a check, so that connections a
/// server is still closing from one part cannot change the next.
fn client(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn open_from(context: &Context, source: IpAddr) -> Result<Connection, Failure> {
    Connection::open_from(source, context.addr()).map_err(|error| {
        Failure::new(
            format!("from {source}: {}", error.describe()),
            "a connection",
        )
    })
}

/// `GET /` from `source`, and the reply.
fn get_from(context: &Context, source: IpAddr) -> Result<Exchange, Failure> {
    let request = context.request("GET", "/");
    let mut connection = open_from(context, source)?;
    connection.send(&request);
    let reply = connection.read_reply(true).map_err(|error| {
        Failure::new(
            format!("from {source}: {}", error.describe()),
            "a complete response",
        )
        .sent(context.addr(), &request)
        .received(error.received())
    })?;
    Ok(Exchange {
        addr: context.addr(),
        request,
        reply,
    })
}

/// Opens [`PER_CLIENT`] connections from `source` that send nothing.
fn fill_limit(context: &Context, source: IpAddr) -> Result<Vec<Connection>, Failure> {
    let mut held = Vec::with_capacity(PER_CLIENT);
    for _ in 0..PER_CLIENT {
        held.push(open_from(context, source)?);
    }
    thread::sleep(SETTLE_TIME);
    Ok(held)
}

/// A failure whose command sends from `source`, as the check did.
fn from_source(mut failure: Failure, source: IpAddr) -> Failure {
    failure.sent = failure
        .sent
        .map(|command| command.replacen("curl ", &format!("curl --interface {source} "), 1));
    failure
}

fn expect_too_many(exchange: &Exchange, source: IpAddr) -> Result<(), Failure> {
    expect_refusal(exchange, source).map_err(|failure| from_source(failure, source))
}

fn expect_refusal(exchange: &Exchange, source: IpAddr) -> Result<(), Failure> {
    if exchange.reply.status != 429 {
        return Err(exchange.fail(
            format!(
                "with {PER_CLIENT} connections open from {source}, one more from {source} got {}",
                exchange.reply.status
            ),
            "429 Too Many Requests at once",
        ));
    }
    expect_content_length(exchange)?;
    if exchange.reply.header("retry-after").is_none() {
        return Err(exchange.fail(
            "the 429 has no Retry-After header",
            "Retry-After: SECONDS, so the client knows when to come back",
        ));
    }
    Ok(())
}

fn per_client_limit(context: &Context) -> Result<(), Failure> {
    let greedy = client(2);
    let held = fill_limit(context, greedy)?;
    expect_too_many(&get_from(context, greedy)?, greedy)?;
    // Over the limit and silent: refused without waiting for a request.
    let mut silent = open_from(context, greedy)?;
    let reply = silent.read_reply(true).map_err(|error| {
        Failure::new(
            format!(
                "with {PER_CLIENT} connections open from {greedy}, one more that sent nothing got: \
                 {} (a server that reads the request before it refuses lets a client over its \
                 limit hold a thread, or the accept loop, for as long as it stays silent)",
                error.describe()
            ),
            "429 at once: refuse without reading the request",
        )
        .received(error.received())
    })?;
    expect_too_many(
        &Exchange {
            addr: context.addr(),
            request: Vec::new(),
            reply,
        },
        greedy,
    )?;
    // The limit is per address: another one is served meanwhile.
    let other = client(3);
    let exchange = get_from(context, other)?;
    if exchange.reply.status != 200 {
        return Err(from_source(
            exchange.fail(
                format!(
                    "while {greedy} held {PER_CLIENT} connections, a client from {other} got {}",
                    exchange.reply.status
                ),
                "200: the limit counts each address on its own",
            ),
            other,
        ));
    }
    drop(held);
    Ok(())
}

/// Asks from `source` until the answer is 200, for up to [`RECOVERY_TIME`].
fn served_again(context: &Context, source: IpAddr, after: &str) -> Result<(), Failure> {
    let deadline = Instant::now() + RECOVERY_TIME;
    loop {
        let exchange = get_from(context, source)?;
        match exchange.reply.status {
            200 => return Ok(()),
            429 if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
            status => {
                return Err(from_source(
                    exchange.fail(
                        format!(
                            "{after}, a client from {source} still got {status} {} s later: are \
                             connections counted out when they end?",
                            RECOVERY_TIME.as_secs()
                        ),
                        "200: a connection that has ended no longer counts",
                    ),
                    source,
                ));
            }
        }
    }
}

fn per_client_slots_freed(context: &Context) -> Result<(), Failure> {
    let source = client(4);
    let mut held = fill_limit(context, source)?;
    expect_too_many(&get_from(context, source)?, source)?;
    held.pop();
    served_again(
        context,
        source,
        &format!("one of {PER_CLIENT} silent connections from {source} closed"),
    )?;
    drop(held);
    // Connections that end without a request must be counted out too.
    let quiet = client(5);
    for _ in 0..PER_CLIENT + 6 {
        drop(open_from(context, quiet)?);
    }
    served_again(
        context,
        quiet,
        &format!(
            "{} connections from {quiet} opened and closed without a request",
            PER_CLIENT + 6
        ),
    )
}
