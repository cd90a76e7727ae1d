//! Chapter 5's exercises: a deadline for the request head, and a limit on the
//! connections served at once that makes the others wait without blocking a
//! worker thread.

use std::thread;
use std::time::{Duration, Instant};

use checker::checks::{Check, expect_content_length, expect_status};
use checker::client::Connection;
use checker::report::Failure;
use checker::target::{Context, Exchange};

/// The deadline `ch05-head-deadline` is started with (`--head-deadline 2`).
pub const HEAD_DEADLINE: Duration = Duration::from_secs(2);

/// How long the trickling client keeps at it before the check gives up on a 408.
const TRICKLE_LIMIT: Duration = Duration::from_secs(6);

/// The pause between two bytes of the trickling client.
const TRICKLE_PAUSE: Duration = Duration::from_millis(200);

/// The limit `ch05-connection-limit` is started with (`--max-connections 4`),
/// on two worker threads (`--workers 2`).
pub const MAX_CONNECTIONS: usize = 4;
pub const WORKERS: usize = 2;

/// Time for the server to take up connections just opened, before the check
/// relies on them holding their slots.
const SETTLE_TIME: Duration = Duration::from_millis(500);

/// How long a client over the limit must go unanswered to count as waiting.
const WAITING_TIME: Duration = Duration::from_secs(1);

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "head-deadline",
            stages: 5..=8,
            behaviour: "a head trickled slower than the 2 s deadline gets 408; one sent in pieces in time is served",
            needs_pid: false,
            run: head_deadline,
        },
        Check {
            name: "connection-limit-waits",
            stages: 5..=8,
            behaviour: "with 4 connections being served, a 5th waits, and is served when one of them ends",
            needs_pid: false,
            run: connection_limit_waits,
        },
        Check {
            name: "connection-limit-parks",
            stages: 5..=8,
            behaviour: "3 clients waiting for a slot, on 2 worker threads, do not stop the server: each is served in turn",
            needs_pid: false,
            run: connection_limit_parks,
        },
    ]
}

fn open(context: &Context) -> Result<Connection, Failure> {
    Connection::open(context.addr()).map_err(|error| Failure::new(error.describe(), "a connection"))
}

fn head_deadline(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    // Slow but in time: four pieces over three quarters of a second.
    let mut in_time = open(context)?;
    in_time.send_in_pieces(&request, 4, Duration::from_millis(250));
    let reply = in_time
        .read_reply(true)
        .map_err(|error| Failure::new(error.describe(), "200").sent(context.addr(), &request))?;
    if reply.status != 200 {
        return Err(Failure::new(
            format!(
                "a head sent in 4 pieces over 0.75 s, well within the {} s deadline, got {}",
                HEAD_DEADLINE.as_secs(),
                reply.status
            ),
            "200: the deadline is for the whole head, counted from the connection's start",
        )
        .sent(context.addr(), &request)
        .received(&reply.raw));
    }
    // Too slow: a byte every 200 ms; the head would take 10 s or more.
    let started = Instant::now();
    let mut trickling = open(context)?;
    let mut sent = 0;
    let mut others_checked = false;
    while started.elapsed() < TRICKLE_LIMIT && sent < request.len() {
        trickling.send(&request[sent..=sent]);
        sent += 1;
        match trickling.wait_for_close(TRICKLE_PAUSE) {
            Err(received) if received.is_empty() => {}
            // An answer (or the end of the connection): see below what it is.
            _ => break,
        }
        if !others_checked && started.elapsed() >= Duration::from_millis(600) {
            // Meanwhile, everyone else is served as usual.
            let other = context.get("/")?;
            if other.reply.status != 200 {
                return Err(other.fail(
                    format!(
                        "while another client trickled its head, this one got {}",
                        other.reply.status
                    ),
                    "200",
                ));
            }
            others_checked = true;
        }
    }
    let trickled_for = started.elapsed();
    let shown = String::from_utf8_lossy(&request[..sent]).into_owned();
    let reply = trickling.read_reply(true).map_err(|error| {
        let problem = match &error {
            checker::client::ClientError::Timeout { received } if received.is_empty() => format!(
                "a client sent its head a byte every {} ms; after {:.0} s ({sent} bytes) the \
                 server was still waiting for the rest: each read got a byte in time, so a \
                 timeout per read never fires",
                TRICKLE_PAUSE.as_millis(),
                trickled_for.as_secs_f64()
            ),
            other => format!(
                "a client sent its head a byte every {} ms, and then: {}",
                TRICKLE_PAUSE.as_millis(),
                other.describe()
            ),
        };
        let mut failure = Failure::new(
            problem,
            format!(
                "408 Request Timeout {} s after the connection began",
                HEAD_DEADLINE.as_secs()
            ),
        )
        .received(error.received());
        // The same by hand: a head that never ends, a byte every 200 ms.
        failure.sent = Some(format!(
            "(for i in $(seq 30); do printf x; sleep 0.2; done) | nc {} {}",
            context.addr().ip(),
            context.addr().port()
        ));
        failure
    })?;
    let exchange = Exchange {
        addr: context.addr(),
        request: shown.into_bytes(),
        reply,
    };
    if exchange.reply.status != 408 {
        return Err(exchange.fail(
            format!(
                "a client sent its head a byte every {} ms and got {} after {:.1} s",
                TRICKLE_PAUSE.as_millis(),
                exchange.reply.status,
                trickled_for.as_secs_f64()
            ),
            format!(
                "408 Request Timeout {} s after the connection began, before the head was complete",
                HEAD_DEADLINE.as_secs()
            ),
        ));
    }
    expect_content_length(&exchange)
}

/// Opens [`MAX_CONNECTIONS`] connections that send nothing and lets the server
/// give each its slot.
fn hold_every_slot(context: &Context) -> Result<Vec<Connection>, Failure> {
    let mut held = Vec::with_capacity(MAX_CONNECTIONS);
    for _ in 0..MAX_CONNECTIONS {
        held.push(open(context)?);
    }
    thread::sleep(SETTLE_TIME);
    Ok(held)
}

/// Sends `request` on a new connection.
fn ask(context: &Context, request: &[u8]) -> Result<Connection, Failure> {
    let mut asking = open(context)?;
    asking.send(request);
    Ok(asking)
}

/// Fails if an answer, or the end of the connection, comes within `wait`: the
/// client should be waiting for a slot.
fn expect_still_waiting(
    context: &Context,
    connection: &mut Connection,
    request: &[u8],
    wait: Duration,
) -> Result<(), Failure> {
    let situation = format!(
        "with {MAX_CONNECTIONS} connections held by silent clients (--max-connections \
         {MAX_CONNECTIONS}), one more client asked"
    );
    let closed = connection.wait_for_close(wait).is_ok();
    let received = connection.leftover();
    if !received.is_empty() {
        return Err(Failure::new(
            format!("{situation} and was answered at once"),
            format!("no answer yet: it waits until one of the {MAX_CONNECTIONS} ends"),
        )
        .sent(context.addr(), request)
        .received(received));
    }
    if closed {
        return Err(Failure::new(
            format!("{situation} and its connection was closed without an answer"),
            "no answer yet, and no refusal: it waits for a slot",
        )
        .sent(context.addr(), request));
    }
    Ok(())
}

/// Fails unless a 200 comes (within the client's step timeout).
fn expect_served(
    context: &Context,
    connection: &mut Connection,
    request: &[u8],
    after: &str,
) -> Result<(), Failure> {
    let reply = connection.read_reply(true).map_err(|error| {
        Failure::new(
            format!(
                "{after}, a client that was waiting for a slot got: {} (does the wait for a slot \
                 block a worker thread? std::sync's Mutex and Condvar do; may::sync's park only \
                 the coroutine)",
                error.describe()
            ),
            "200 as soon as a slot is free",
        )
        .sent(context.addr(), request)
        .received(error.received())
    })?;
    expect_status(
        &Exchange {
            addr: context.addr(),
            request: request.to_vec(),
            reply,
        },
        200,
    )
}

fn connection_limit_waits(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    let mut held = hold_every_slot(context)?;
    let mut waiting = ask(context, &request)?;
    expect_still_waiting(context, &mut waiting, &request, WAITING_TIME)?;
    held.remove(0);
    expect_served(
        context,
        &mut waiting,
        &request,
        &format!("one of the {MAX_CONNECTIONS} silent clients left"),
    )
}

fn connection_limit_parks(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    let mut held = hold_every_slot(context)?;
    // More waiting clients than worker threads: if waiting blocked a worker, no
    // thread would be left to run the coroutines that give the slots back.
    let mut waiting = Vec::new();
    for _ in 0..=WORKERS {
        waiting.push(ask(context, &request)?);
    }
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
