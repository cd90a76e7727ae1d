//! Chapter 3's exercises: a cap on live children.
//!
//! The checks look at the server's children through `/proc`, so they need its process
//! id; `scripts/exercise` always has it.

use std::thread;
use std::time::{Duration, Instant};

use crate::checks::{Check, expect_content_length, expect_status};
use crate::client::Connection;
use crate::process::children;
use crate::report::Failure;
use crate::target::{Context, Exchange};

/// The cap `ch03-max-children` is started with (`--max-children 64`). It is
/// above 50 because the stage's own checks hold 50 connections at once.
pub const MAX_CHILDREN: usize = 64;

/// How long the server has to fork, or to reap, the children a step expects.
const SETTLE_TIME: Duration = Duration::from_secs(10);

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "children-capped",
            stages: 3..=3,
            behaviour: "with 64 children busy, a new client gets 503 and Retry-After at once, even one that sends nothing",
            needs_pid: true,
            run: children_capped,
        },
        Check {
            name: "capped-server-serves-again",
            stages: 3..=3,
            behaviour: "a client refused at the cap is served again once a busy child has ended",
            needs_pid: true,
            run: capped_server_serves_again,
        },
    ]
}

fn server_pid(context: &Context) -> Result<u32, Failure> {
    context
        .target
        .pid
        .ok_or_else(|| Failure::new("no --pid given", "the server's process id"))
}

/// Waits until `pid` has exactly `wanted` children, zombies included (a zombie
/// still counts for its parent until it is reaped); the count found if it never does.
fn wait_for_children(pid: u32, wanted: usize) -> Result<(), usize> {
    let deadline = Instant::now() + SETTLE_TIME;
    loop {
        let found = children(pid).len();
        if found == wanted {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(found);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Opens `count` connections that send nothing, and waits until the server has
/// a child for each (and no other).
fn hold_silent_clients(
    context: &Context,
    pid: u32,
    count: usize,
) -> Result<Vec<Connection>, Failure> {
    let mut held = Vec::with_capacity(count);
    for number in 1..=count {
        let connection = Connection::open(context.addr()).map_err(|error| {
            Failure::new(
                format!("silent client {number} of {count}: {}", error.describe()),
                "a connection",
            )
        })?;
        held.push(connection);
    }
    wait_for_children(pid, count).map_err(|found| {
        children_failure(
            pid,
            format!(
                "{count} clients connected and sent nothing, and process {pid} has {found} children"
            ),
            format!("{count} children, one serving each silent client"),
        )
    })?;
    Ok(held)
}

fn children_failure(pid: u32, problem: String, expected: String) -> Failure {
    let mut failure = Failure::new(problem, expected);
    failure.sent = Some(format!("ps -o pid,stat,cmd --ppid {pid}"));
    failure
}

/// Waits for the children of earlier checks to be gone.
fn no_children_left(pid: u32) -> Result<(), Failure> {
    wait_for_children(pid, 0).map_err(|found| {
        children_failure(
            pid,
            format!(
                "{found} children of process {pid} are still there {} s after their clients left",
                SETTLE_TIME.as_secs()
            ),
            "every child ends when its client leaves, and is reaped".into(),
        )
    })
}

/// A 503 with `Retry-After` and a correct `Content-Length`.
fn expect_refusal(exchange: &Exchange, situation: &str) -> Result<(), Failure> {
    if exchange.reply.status == 200 {
        return Err(exchange.fail(
            format!(
                "{situation}, a new client got 200: the server forked a child past the cap of \
                 {MAX_CHILDREN}"
            ),
            "503 Service Unavailable at once, from the parent, without a fork",
        ));
    }
    expect_status(exchange, 503)?;
    expect_content_length(exchange)?;
    if exchange.reply.header("retry-after").is_none() {
        return Err(exchange.fail(
            "the 503 has no Retry-After header",
            "Retry-After: SECONDS, so the client knows when to come back",
        ));
    }
    Ok(())
}

fn children_capped(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    no_children_left(pid)?;
    // One below the cap, a client is served as before.
    let mut held = hold_silent_clients(context, pid, MAX_CHILDREN - 1)?;
    let below_cap = context.get("/")?;
    if below_cap.reply.status != 200 {
        return Err(below_cap.fail(
            format!(
                "with {} children busy (one below the cap of {MAX_CHILDREN}), a new client got {}",
                MAX_CHILDREN - 1,
                below_cap.reply.status
            ),
            format!("200: the cap is {MAX_CHILDREN} children, so one more may be forked"),
        ));
    }
    wait_for_children(pid, MAX_CHILDREN - 1).map_err(|found| {
        children_failure(
            pid,
            format!("after one answered request, process {pid} has {found} children"),
            format!(
                "{}: the child that answered ends and is reaped",
                MAX_CHILDREN - 1
            ),
        )
    })?;
    // At the cap.
    held.extend(hold_more(context, pid, 1, MAX_CHILDREN)?);
    let situation = format!("with {MAX_CHILDREN} children busy with silent clients");
    expect_refusal(&context.get("/")?, &situation)?;
    // A client that sends nothing: the parent must not wait for its request.
    let mut silent = Connection::open(context.addr())
        .map_err(|error| Failure::new(error.describe(), "a connection"))?;
    let reply = silent.read_reply(true).map_err(|error| {
        Failure::new(
            format!(
                "{situation}, a new client that sent nothing got: {} (a parent that reads the \
                 request before it refuses waits for this client, and nobody is accepted meanwhile)",
                error.describe()
            ),
            "503 at once: refuse without reading the request",
        )
        .received(error.received())
    })?;
    expect_refusal(
        &Exchange {
            addr: context.addr(),
            request: Vec::new(),
            reply,
        },
        &situation,
    )?;
    expect_refusal(&context.get("/")?, &situation)?;
    drop(held);
    Ok(())
}

/// Opens `count` more silent clients on top of those held, until the server
/// has `total` children.
fn hold_more(
    context: &Context,
    pid: u32,
    count: usize,
    total: usize,
) -> Result<Vec<Connection>, Failure> {
    let mut held = Vec::new();
    for _ in 0..count {
        held.push(
            Connection::open(context.addr())
                .map_err(|error| Failure::new(error.describe(), "a connection"))?,
        );
    }
    wait_for_children(pid, total).map_err(|found| {
        children_failure(
            pid,
            format!("with {total} silent clients connected, process {pid} has {found} children"),
            format!("{total} children, one serving each silent client"),
        )
    })?;
    Ok(held)
}

fn capped_server_serves_again(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    no_children_left(pid)?;
    let mut held = hold_silent_clients(context, pid, MAX_CHILDREN)?;
    let situation = format!("with {MAX_CHILDREN} children busy with silent clients");
    expect_refusal(&context.get("/")?, &situation)?;
    // One silent client leaves: its child reads the end of the stream and exits.
    held.pop();
    let deadline = Instant::now() + SETTLE_TIME;
    loop {
        let exchange = context.get("/")?;
        match exchange.reply.status {
            200 => return Ok(()),
            503 if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
            _ => {
                return Err(exchange.fail(
                    format!(
                        "one of the {MAX_CHILDREN} silent clients left {} s ago, and a new client \
                         still got {}: is the child that ended counted off when it is reaped?",
                        SETTLE_TIME.as_secs(),
                        exchange.reply.status
                    ),
                    "200 once a child has ended and been reaped",
                ));
            }
        }
    }
}
