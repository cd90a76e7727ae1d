//! Chapter 3's exercises: a cap on live children, and a pre-forked server.
//!
//! Both look at the server's children through `/proc`, so they need its process
//! id; `scripts/exercise` always has it.

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use checker::checks::server_pid;
use checker::checks::{Check, expect_content_length, expect_status};
use checker::client::Connection;
use checker::process::children;
use checker::report::Failure;
use checker::target::{Context, Exchange};

/// The cap `ch03-max-children` is started with (`--max-children 64`). It is
/// above 50 because the stage's own checks hold 50 connections at once.
pub const MAX_CHILDREN: usize = 64;

/// How many children `ch03-prefork` is started with (`--processes 4`).
pub const PROCESSES: usize = 4;

/// How long the server has to fork, or to reap, the children a step expects.
const SETTLE_TIME: Duration = Duration::from_secs(10);

/// How long a pre-forked server has to show its children: a few forks take
/// milliseconds, and the server forks them before anyone connects.
const PREFORK_TIME: Duration = Duration::from_secs(5);

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
        Check {
            name: "prefork-serves-from-children",
            stages: 3..=3,
            behaviour: "4 children wait for clients from the start and serve every request: no fork per request",
            needs_pid: true,
            run: prefork_serves_from_children,
        },
        Check {
            name: "prefork-replaces-children",
            stages: 3..=3,
            behaviour: "a child that dies is reaped and replaced, so 4 are always waiting",
            needs_pid: true,
            run: prefork_replaces_children,
        },
    ]
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

/// The live (not zombie) children of `pid`.
fn live_children(pid: u32) -> BTreeSet<u32> {
    children(pid)
        .into_iter()
        .filter(|child| child.state != 'Z')
        .map(|child| child.pid)
        .collect()
}

/// Waits until `pid` has exactly [`PROCESSES`] children, none a zombie, and
/// returns them.
fn waiting_children(pid: u32, situation: &str) -> Result<BTreeSet<u32>, Failure> {
    let deadline = Instant::now() + PREFORK_TIME;
    loop {
        let all = children(pid);
        let live = live_children(pid);
        if all.len() == PROCESSES && live.len() == PROCESSES {
            return Ok(live);
        }
        if Instant::now() >= deadline {
            return Err(children_failure(
                pid,
                format!(
                    "{situation}, process {pid} has {} children{}",
                    all.len(),
                    match all.len() - live.len() {
                        0 => String::new(),
                        zombies => format!(" ({zombies} of them zombies)"),
                    }
                ),
                format!(
                    "{PROCESSES} children (--processes {PROCESSES}), forked at start, each \
                     waiting to accept a connection"
                ),
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Asks for `/` `count` times and checks that each answer names one of
/// `children` in `X-Served-By`.
fn served_by_children(
    context: &Context,
    pid: u32,
    children: &BTreeSet<u32>,
    count: usize,
) -> Result<(), Failure> {
    let listed = children
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let expected = format!("X-Served-By: the pid of the child that served, one of {listed}");
    for _ in 0..count {
        let exchange = context.get("/")?;
        expect_status(&exchange, 200)?;
        let Some(value) = exchange.reply.header("x-served-by") else {
            return Err(exchange.fail("there is no X-Served-By header", expected));
        };
        match value.trim().parse::<u32>() {
            Ok(served_by) if children.contains(&served_by) => {}
            Ok(served_by) if served_by == pid => {
                return Err(exchange.fail(
                    format!(
                        "X-Served-By names {pid}, the parent: was the pid read before the fork?"
                    ),
                    expected,
                ));
            }
            Ok(served_by) => {
                return Err(exchange.fail(
                    format!(
                        "X-Served-By names {served_by}, which is not one of the children that \
                         were waiting ({listed}): was it forked later, for this request, or to \
                         replace a child that ended after serving one connection?"
                    ),
                    expected,
                ));
            }
            Err(_) => {
                return Err(exchange.fail(format!("X-Served-By is {value:?}"), expected));
            }
        }
    }
    Ok(())
}

fn prefork_serves_from_children(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    let before = waiting_children(pid, "before any client came")?;
    served_by_children(context, pid, &before, 20)?;
    let after = waiting_children(pid, "after 20 requests")?;
    if after != before {
        return Err(children_failure(
            pid,
            format!(
                "the children were {before:?} before 20 requests and {after:?} after: they are \
                 not the same processes"
            ),
            "the same children before and after: each serves one client after another".into(),
        ));
    }
    Ok(())
}

fn prefork_replaces_children(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    let before = waiting_children(pid, "before any child was stopped")?;
    let Some(&victim) = before.first() else {
        return Err(Failure::new("no child to stop", "children"));
    };
    // Only a process that /proc has just shown to be the server's child.
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).map_err(|error| {
        Failure::new(
            format!("cannot stop child {victim}: {error}"),
            "a child the checker may signal",
        )
    })?;
    let deadline = Instant::now() + SETTLE_TIME;
    let after = loop {
        let all: Vec<u32> = children(pid).into_iter().map(|child| child.pid).collect();
        let live = live_children(pid);
        if all.len() == PROCESSES && live.len() == PROCESSES && !all.contains(&victim) {
            break live;
        }
        if Instant::now() >= deadline {
            let state = if all.contains(&victim) {
                format!("child {victim} is a zombie (never reaped)")
            } else {
                format!("child {victim} was reaped")
            };
            return Err(children_failure(
                pid,
                format!(
                    "{} s after child {victim} was killed, {state} and {} children are alive",
                    SETTLE_TIME.as_secs(),
                    live.len()
                ),
                format!(
                    "the dead child reaped, and a new one forked in its place: {PROCESSES} alive"
                ),
            ));
        }
        thread::sleep(Duration::from_millis(50));
    };
    served_by_children(context, pid, &after, 8)
}
