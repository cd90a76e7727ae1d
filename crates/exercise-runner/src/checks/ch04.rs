//! Chapter 4's status page, which shows the pool's load. (Its limit on
//! connections per client is in `per_client.rs`, with chapter 8's.)

use std::time::Duration;

use super::support::{checks, clients_asking, connect, held_clients, silent_clients};
use checker::checks::{
    Check, expect_content_length, expect_content_type, expect_status, next_reply,
};
use checker::report::Failure;
use checker::target::{Context, Exchange};

/// The pool `ch04-status-page` is started with (`--pool 4`).
const POOL_SIZE: usize = 4;

/// Time for the server to take up connections just opened (start their
/// threads, hand them to the pool) before the check relies on it.
const SETTLE_TIME: Duration = Duration::from_millis(300);

pub fn checks() -> Vec<Check> {
    checks! {
        "status-counts-requests", 4..=4, status_counts_requests,
            "GET /status says requests: N, every request read so far, this one included";
        "status-shows-busy-and-queued", 4..=4, status_shows_busy_and_queued,
            "GET /status says how many pool threads are busy and how many connections are queued";
    }
}

const STATUS_PAGE: &str =
    "200 and a text/plain page of three lines: requests: N, busy: N, queued: N";

/// The `requests:`, `busy:` and `queued:` numbers of a status page.
fn read_load(exchange: &Exchange) -> Result<[u64; 3], Failure> {
    if exchange.reply.status != 200 {
        let problem = format!("GET /status got {}", exchange.reply.status);
        return Err(exchange.fail(problem, STATUS_PAGE));
    }
    expect_content_length(exchange)?;
    expect_content_type(exchange, "text/plain")?;
    let page = String::from_utf8_lossy(&exchange.reply.body);
    let field = |name: &str| {
        page.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim() == name)
            .and_then(|(_, value)| value.trim().parse::<u64>().ok())
            .ok_or_else(|| exchange.fail(format!("no line \"{name}: NUMBER\""), STATUS_PAGE))
    };
    Ok([field("requests")?, field("busy")?, field("queued")?])
}

fn status_counts_requests(context: &Context) -> Result<(), Failure> {
    let [before, ..] = read_load(&context.get("/status")?)?;
    for _ in 0..5 {
        expect_status(&context.get("/")?, 200)?;
    }
    // Twenty at once: the threads add to the count at the same time.
    let request = context.request("GET", "/");
    let mut together = clients_asking(context, &request, 20)?;
    for connection in &mut together {
        expect_status(&next_reply(context, connection, &request, true, "", "200")?, 200)?;
    }
    // Three connections that ask for nothing are not requests.
    drop(silent_clients(context, None, 3)?);
    let exchange = context.get("/status")?;
    let [after, ..] = read_load(&exchange)?;
    if after == before + 26 {
        return Ok(());
    }
    let why = match after.checked_sub(before) {
        Some(27..=29) => " (are connections counted instead of requests?)",
        Some(25) => " (is the request for the page itself counted only after the page is made?)",
        _ => "",
    };
    Err(exchange.fail(
        format!(
            "requests went from {before} to {after} over 26 requests (5 one after another, 20 at \
             once, and this one) and 3 connections that asked nothing{why}"
        ),
        format!("requests: {}: every request, this one included, counted when read", before + 26),
    ))
}

fn expect_load(
    exchange: &Exchange,
    situation: &str,
    busy: u64,
    queued: u64,
    why: &str,
) -> Result<(), Failure> {
    let [_, found_busy, found_queued] = read_load(exchange)?;
    if (found_busy, found_queued) == (busy, queued) {
        return Ok(());
    }
    Err(exchange.fail(
        format!("{situation}, /status said busy: {found_busy}, queued: {found_queued}"),
        format!("busy: {busy}, queued: {queued} ({why})"),
    ))
}

fn status_shows_busy_and_queued(context: &Context) -> Result<(), Failure> {
    let mut silent = held_clients(context, None, 2, SETTLE_TIME)?;
    let situation = format!("with 2 clients connected and silent (pool of {POOL_SIZE})");
    let why = "the two silent clients' threads, and the one answering";
    expect_load(&context.get("/status")?, &situation, 3, 0, why)?;
    // Every thread taken: the request for the page waits in the queue, with two
    // more silent clients behind it.
    silent.extend(silent_clients(context, None, POOL_SIZE - 2)?);
    let request = context.request("GET", "/status");
    let mut asking = connect(context, None)?;
    asking.send(&request);
    silent.extend(held_clients(context, None, 2, SETTLE_TIME)?);
    // One silent client leaves; its thread takes the next job in line: the page.
    silent.remove(0);
    let which = format!(
        "with {POOL_SIZE} silent clients holding the pool, a request for /status waited; one \
         silent client left, and then"
    );
    let exchange = next_reply(context, &mut asking, &request, true, &which, "the page")?;
    let situation = format!(
        "with {} silent clients holding threads and 2 more queued behind this request",
        POOL_SIZE - 1
    );
    let why = "every thread busy, the page's included, and the two silent clients queued";
    expect_load(&exchange, &situation, POOL_SIZE as u64, 2, why)
}
