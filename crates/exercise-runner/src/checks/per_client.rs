//! The limit on connections per client address, of chapter 4 (a pool of
//! threads) and chapter 8 (an epoll loop): the 65th connection from one
//! address gets 429 at once, other addresses are served, and a connection that
//! ends, however it ends, frees its place.
//!
//! The checks play several clients from different loopback addresses
//! (127.0.0.2, 127.0.0.3, ...), so the server must listen on 127.0.0.1.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::support::{
    checks, connect, expect_retry_after, held_clients, loopback, retry_for, unasked_reply,
};
use checker::checks::{Check, expect_content_length, kept_request, next_reply};
use checker::client::Connection;
use checker::report::Failure;
use checker::target::{Context, Exchange};

pub fn checks() -> Vec<Check> {
    checks! {
        "per-client-limit", 4..=8, per_client_limit,
            "a 65th connection from one address gets 429 at once; other addresses are served";
        "per-client-slots-freed", 4..=8, per_client_slots_freed,
            "a client's connections count again as soon as they end, however they end";
        "epoll-per-client-limit", 8..=8, epoll_per_client_limit,
            "the 65th connection from one address gets 429; other addresses are served; a \
             connection that ends, however it ends, frees its place";
        "epoll-per-client-limit-after-idle", 8..=8, epoll_per_client_limit_after_idle,
            "connections closed by the idle timeout free their places too";
    }
}

/// The limit both exercises start their servers with (`--per-client 64`,
/// `--max-per-client 64`): above the 50 connections at once that the stages'
/// own checks open from 127.0.0.1.
const LIMIT: usize = 64;

/// Time for the server to take up connections just opened (start their
/// threads, hand them to the pool) before the check relies on it.
const SETTLE_TIME: Duration = Duration::from_millis(300);

/// How long a freed place may take to be free again: the server must first
/// see the connection end.
const PLACE_FREED_WITHIN: Duration = Duration::from_secs(5);

fn limit_expected() -> String {
    format!(
        "{LIMIT} connections open from one address at most (the exercise starts the server \
         with a limit of {LIMIT}); one more gets 429 Too Many Requests at once, and the close"
    )
}

/// What became of a new connection that asked for a page.
enum Admission {
    /// 200, and the connection is kept open.
    Served(Connection, Exchange),
    /// 429, then the close.
    Refused(Exchange),
}

/// Asks for a page from `from` on a new connection: served (200) or refused
/// (429, with Retry-After if `retry_after`, then the close); anything else fails.
fn try_connection(
    context: &Context,
    from: IpAddr,
    what: &str,
    retry_after: bool,
) -> Result<Admission, Failure> {
    let request = kept_request(context, "GET", &context.fixtures.url_of("page.html"));
    let which = format!("{what}, from {from}");
    let mut connection = connect(context, Some(from))?;
    connection.send(&request);
    let exchange = next_reply(context, &mut connection, &request, true, &which, &limit_expected())
        .map_err(|failure| from_source(failure, from))?;
    let problem = match exchange.reply.status {
        200 => return Ok(Admission::Served(connection, exchange)),
        429 => {
            expect_content_length(&exchange)?;
            if retry_after {
                expect_retry_after(&exchange)?;
            }
            if connection.wait_for_close(Duration::from_secs(3)).is_ok() {
                return Ok(Admission::Refused(exchange));
            }
            format!("{which}: after the 429 the connection stayed open")
        }
        status => format!("{which}: the status was {status}"),
    };
    Err(from_source(exchange.fail(problem, limit_expected()), from))
}

/// A failure whose command sends from `from`, as the check did.
fn from_source(mut failure: Failure, from: IpAddr) -> Failure {
    let interface = format!("curl --interface {from} ");
    failure.sent = failure.sent.map(|command| command.replacen("curl ", &interface, 1));
    failure
}

/// A connection from `from` that must be served, perhaps only once the server
/// has seen another of that client's connections end: a 429 is tried again
/// for a while.
fn served_soon(context: &Context, from: IpAddr, what: &str) -> Result<Connection, Failure> {
    retry_for(PLACE_FREED_WITHIN, || match try_connection(context, from, what, false)? {
        Admission::Served(connection, _) => Ok(Ok(connection)),
        Admission::Refused(refusal) => Ok(Err(from_source(
            refusal.fail(
                format!("{what}, from {from}: still 429 after {} s", PLACE_FREED_WITHIN.as_secs()),
                format!(
                    "a 200: {from} has fewer than {LIMIT} connections open, and one that has \
                     ended, however it ended, no longer counts"
                ),
            ),
            from,
        ))),
    })
}

/// One more connection from a client that holds its limit: it must be refused.
fn expect_refused(
    context: &Context,
    from: IpAddr,
    what: &str,
    retry_after: bool,
) -> Result<(), Failure> {
    match try_connection(context, from, what, retry_after)? {
        Admission::Refused(_) => Ok(()),
        Admission::Served(_, exchange) => {
            let problem = format!(
                "{what}, from {from}, with {LIMIT} connections of that address open, got 200"
            );
            Err(from_source(exchange.fail(problem, limit_expected()), from))
        }
    }
}

/// Chapter 4: 127.0.0.2 holds 64 silent connections; one more asking, and one
/// more silent, get 429 at once; 127.0.0.3 is served meanwhile.
fn per_client_limit(context: &Context) -> Result<(), Failure> {
    let (greedy, other) = (loopback(2), loopback(3));
    let _held = held_clients(context, Some(greedy), LIMIT, SETTLE_TIME)?;
    expect_refused(context, greedy, &format!("connection {}", LIMIT + 1), true)?;
    // Over the limit and silent: refused without waiting for a request.
    let mut silent = connect(context, Some(greedy))?;
    let situation = format!(
        "with {LIMIT} connections open from {greedy}, one more that sent nothing (a server that \
         reads the request before it refuses lets a client over its limit hold a thread, or the \
         accept loop, for as long as it stays silent)"
    );
    let refusal = unasked_reply(context, &mut silent, &situation, "429 at once")?;
    if refusal.reply.status != 429 {
        return Err(refusal.fail(situation, "429 at once, unread"));
    }
    served_soon(context, other, &format!("while {greedy} held {LIMIT}, a connection"))?;
    Ok(())
}

/// Chapter 4: one of 64 silent connections closes, and the client is served
/// again; 70 connections opened and closed without a request free their places.
fn per_client_slots_freed(context: &Context) -> Result<(), Failure> {
    let (client, quiet) = (loopback(4), loopback(5));
    let mut held = held_clients(context, Some(client), LIMIT, SETTLE_TIME)?;
    expect_refused(context, client, &format!("connection {}", LIMIT + 1), true)?;
    held.pop();
    served_soon(context, client, &format!("after one of {LIMIT} silent connections closed"))?;
    for _ in 0..LIMIT + 6 {
        drop(connect(context, Some(quiet))?);
    }
    let after = format!("after {} connections opened and closed without a request", LIMIT + 6);
    served_soon(context, quiet, &after).map(drop)
}

/// [`LIMIT`] connections from `from`, each served once and kept open.
fn fill_served(context: &Context, from: IpAddr) -> Result<Vec<Connection>, Failure> {
    (1..=LIMIT)
        .map(|number| served_soon(context, from, &format!("connection {number} of {LIMIT}")))
        .collect()
}

/// The three ways a client's connection can end that the check can cause at once.
const ENDINGS: [&str; 3] =
    ["the client closed them", "the client asked for Connection: close", "the client reset them"];

fn end(context: &Context, ending: &str, mut connection: Connection) {
    if ending == ENDINGS[1] {
        connection.send(&context.request("GET", &context.fixtures.url_of("notes.txt")));
        let _ = connection.read_reply(true);
        let _ = connection.wait_for_close(Duration::from_secs(3));
    } else if ending == ENDINGS[2] {
        // A linger time of zero makes close() send a reset, not a FIN.
        let _ = socket2::SockRef::from(&connection.stream).set_linger(Some(Duration::ZERO));
    }
}

/// Chapter 8: 127.0.0.2 holds 64 served connections; the 65th is refused,
/// 127.0.0.3 is served. Then 4 of 127.0.0.2's connections end each way a client
/// can: 4 new ones must be let in, and the one after them refused again, so the
/// count is exact on every path.
fn epoll_per_client_limit(context: &Context) -> Result<(), Failure> {
    let (busy, other) = (loopback(2), loopback(3));
    let mut held = fill_served(context, busy)?;
    expect_refused(context, busy, &format!("connection {}", LIMIT + 1), false)?;
    let what = format!("while {busy} held {LIMIT} (the limit is per address), a connection");
    let _other = served_soon(context, other, &what)?;
    for ending in ENDINGS {
        for connection in held.drain(..4) {
            end(context, ending, connection);
        }
        for number in 1..=4 {
            let what = format!("new connection {number} of 4, after 4 ended because {ending}");
            held.push(served_soon(context, busy, &what)?);
        }
        let what = format!("a 5th new connection, after 4 ended because {ending}");
        expect_refused(context, busy, &what, false)?;
    }
    Ok(())
}

/// Chapter 8: 127.0.0.4 opens its 64 connections and leaves them idle until the
/// server closes them; then all 64 places must be free again.
fn epoll_per_client_limit_after_idle(context: &Context) -> Result<(), Failure> {
    let client = loopback(4);
    let mut held = fill_served(context, client)?;
    expect_refused(context, client, &format!("connection {}", LIMIT + 1), false)?;
    let timeout = context.target.idle_timeout.unwrap_or(Duration::from_secs(5));
    let give_up = Instant::now() + timeout + Duration::from_secs(3);
    for connection in &mut held {
        let left = give_up.saturating_duration_since(Instant::now());
        if connection.wait_for_close(left).is_err() {
            return Err(Failure::new(
                format!(
                    "a connection from {client} left idle was still open after the idle timeout"
                ),
                format!(
                    "the close after the idle timeout (the checker assumes {} s)",
                    timeout.as_secs()
                ),
            ));
        }
    }
    drop(held);
    let after = format!("after the idle timeout closed the {LIMIT} before");
    for number in 1..=LIMIT {
        served_soon(context, client, &format!("new connection {number} of {LIMIT}, {after}"))?;
    }
    Ok(())
}
