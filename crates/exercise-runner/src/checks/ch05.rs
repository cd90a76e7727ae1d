//! Chapter 5's exercises: a deadline for the whole request head, and a limit
//! on connections that makes the extra ones wait, parked, not refused.

use std::thread;
use std::time::{Duration, Instant};

use super::support::{checks, clients_asking, connect, held_clients, trickle};
use checker::checks::{Check, expect_content_length, expect_status, next_reply};
use checker::client::Connection;
use checker::report::Failure;
use checker::target::Context;

/// The deadline `ch05-head-deadline` is started with (`--head-deadline 2`).
const HEAD_DEADLINE: Duration = Duration::from_secs(2);

/// How long the trickling client goes on at most, and its pause per byte.
const TRICKLE_LIMIT: Duration = Duration::from_secs(6);
const TRICKLE_PAUSE: Duration = Duration::from_millis(200);

/// `ch05-connection-limit` is started with `--max-connections 4` on two
/// worker threads.
const MAX_CONNECTIONS: usize = 4;
const WORKERS: usize = 2;

/// Time for the server to take up connections just opened.
const SETTLE_TIME: Duration = Duration::from_millis(500);

/// How long a client over the limit must be kept waiting, unanswered.
const WAITING_TIME: Duration = Duration::from_secs(1);

pub fn checks() -> Vec<Check> {
    checks! {
        "head-deadline", 5..=8, head_deadline,
            "a head trickled slower than the 2 s deadline gets 408; one sent in pieces in time \
             is served";
        "connection-limit-waits", 5..=8, connection_limit_waits,
            "with 4 connections being served, a 5th waits, and is served when one of them ends";
        "connection-limit-parks", 5..=8, connection_limit_parks,
            "3 clients waiting for a slot, on 2 worker threads, do not stop the server: each is \
             served in turn";
    }
}

/// A head in four pieces within the deadline is served; a head trickled a byte
/// every 200 ms gets 408 at the deadline: a timeout per read never fires.
fn head_deadline(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    let mut in_time = connect(context, None)?;
    in_time.send_in_pieces(&request, 4, Duration::from_millis(250));
    let which = "a head sent in 4 pieces over 0.75 s, within the deadline";
    let expected = "200: the deadline is for the whole head, from the connection's start";
    expect_status(&next_reply(context, &mut in_time, &request, true, which, expected)?, 200)?;

    let started = Instant::now();
    let mut trickling = connect(context, None)?;
    let (sent, answered) = trickle(&mut trickling, &request, TRICKLE_PAUSE, TRICKLE_LIMIT);
    let which = format!(
        "a client sent its head a byte every {} ms; after {:.1} s ({sent} bytes)",
        TRICKLE_PAUSE.as_millis(),
        started.elapsed().as_secs_f64()
    );
    let expected = format!(
        "408 Request Timeout {} s after the connection began, before the head was complete",
        HEAD_DEADLINE.as_secs()
    );
    if !answered {
        let (ip, port) = (context.addr().ip(), context.addr().port());
        let mut failure = Failure::new(
            format!(
                "{which} the server was still waiting for the rest: each read got a byte in time, \
                 so a timeout per read never fires"
            ),
            expected,
        )
        .received(&[]);
        failure.sent =
            Some(format!("(for i in $(seq 30); do printf x; sleep 0.2; done) | nc {ip} {port}"));
        return Err(failure);
    }
    let sent = &request[..sent];
    let exchange = next_reply(context, &mut trickling, sent, true, &which, &expected)?;
    if exchange.reply.status != 408 {
        return Err(exchange.fail(format!("{which}, it got {}", exchange.reply.status), expected));
    }
    expect_content_length(&exchange)
}

/// A client over the limit must get neither an answer nor the close yet.
fn expect_still_waiting(
    context: &Context,
    connection: &mut Connection,
    request: &[u8],
    wait: Duration,
) -> Result<(), Failure> {
    let closed = connection.wait_for_close(wait).is_ok();
    let problem = if !connection.leftover().is_empty() {
        "was answered at once"
    } else if closed {
        "was closed without an answer"
    } else {
        return Ok(());
    };
    let situation = format!(
        "with {MAX_CONNECTIONS} connections held by silent clients (--max-connections \
         {MAX_CONNECTIONS}), one more client asked"
    );
    Err(Failure::new(format!("{situation} and {problem}"), "no answer yet: it waits for a slot")
        .sent(context.addr(), request)
        .received(connection.leftover()))
}

fn expect_served(
    context: &Context,
    connection: &mut Connection,
    request: &[u8],
    after: &str,
) -> Result<(), Failure> {
    let which = format!(
        "{after}, a client that was waiting for a slot got (does the wait for a slot block a \
         worker thread? std::sync's Mutex and Condvar do; may::sync's park only the coroutine)"
    );
    let exchange =
        next_reply(context, connection, request, true, &which, "200 once a slot is free")?;
    expect_status(&exchange, 200)
}

fn connection_limit_waits(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    let mut held = held_clients(context, None, MAX_CONNECTIONS, SETTLE_TIME)?;
    let mut waiting = connect(context, None)?;
    waiting.send(&request);
    expect_still_waiting(context, &mut waiting, &request, WAITING_TIME)?;
    held.remove(0);
    let after = format!("one of the {MAX_CONNECTIONS} silent clients left");
    expect_served(context, &mut waiting, &request, &after)
}

/// More clients waiting than there are worker threads: a wait that blocks its
/// thread would stop the whole server.
fn connection_limit_parks(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    let mut held = held_clients(context, None, MAX_CONNECTIONS, SETTLE_TIME)?;
    let mut waiting = clients_asking(context, &request, WORKERS + 1)?;
    thread::sleep(WAITING_TIME);
    for connection in &mut waiting {
        expect_still_waiting(context, connection, &request, Duration::from_millis(50))?;
    }
    held.truncate(MAX_CONNECTIONS - waiting.len());
    let after = format!(
        "{} clients waited on {WORKERS} worker threads and {} held connections then closed",
        waiting.len(),
        waiting.len()
    );
    for connection in &mut waiting {
        expect_served(context, connection, &request, &after)?;
    }
    Ok(())
}
