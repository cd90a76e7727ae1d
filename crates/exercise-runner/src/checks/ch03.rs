//! Chapter 3's exercises: a cap on live children, and a pre-forked server.
//!
//! Both look at the server's children through `/proc`, so they need its process
//! id; `scripts/exercise` always has it.

use std::collections::BTreeSet;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::support::{
    checks, connect, expect_retry_after, retry_for, silent_clients, unasked_reply,
};
use checker::checks::{Check, expect_content_length, expect_status, server_pid};
use checker::client::Connection;
use checker::process::children;
use checker::report::Failure;
use checker::target::{Context, Exchange};

/// The cap `ch03-max-children` is started with (`--max-children 64`). It is
/// above 50 because the stage's own checks hold 50 connections at once.
const MAX_CHILDREN: usize = 64;

/// How many children `ch03-prefork` is started with (`--processes 4`).
const PROCESSES: usize = 4;

/// How long the server has to fork, or to reap, the children a step expects.
const SETTLE_TIME: Duration = Duration::from_secs(10);

pub fn checks() -> Vec<Check> {
    checks! {
        pid "children-capped", 3..=3, children_capped,
            "with 64 children busy, a new client gets 503 and Retry-After at once, even one that \
             sends nothing";
        pid "capped-server-serves-again", 3..=3, capped_server_serves_again,
            "a client refused at the cap is served again once a busy child has ended";
        pid "prefork-serves-from-children", 3..=3, prefork_serves_from_children,
            "4 children wait for clients from the start and serve every request: no fork per \
             request";
        pid "prefork-replaces-children", 3..=3, prefork_replaces_children,
            "a child that dies is reaped and replaced, so 4 are always waiting";
    }
}

/// A failure about the server's children, with the command that lists them.
fn children_failure(pid: u32, problem: String, expected: String) -> Failure {
    let mut failure = Failure::new(problem, expected);
    failure.sent = Some(format!("ps -o pid,stat,cmd --ppid {pid}"));
    failure
}

/// Opens `count` more connections that send nothing, and waits until the
/// server has `total` children, zombies included (a zombie still counts for its
/// parent until it is reaped).
fn hold_silent_clients(
    context: &Context,
    pid: u32,
    count: usize,
    total: usize,
) -> Result<Vec<Connection>, Failure> {
    let held = silent_clients(context, None, count)?;
    retry_for(SETTLE_TIME, || {
        let found = children(pid).len();
        if found == total {
            return Ok(Ok(()));
        }
        Ok(Err(children_failure(
            pid,
            format!("with {total} silent clients connected, process {pid} has {found} children"),
            format!(
                "{total}: one child for each client connected; a child whose client has left \
                 ends and is reaped"
            ),
        )))
    })?;
    Ok(held)
}

/// A 503 with `Retry-After` and a correct `Content-Length`.
fn expect_refusal(exchange: &Exchange) -> Result<(), Failure> {
    if exchange.reply.status == 200 {
        return Err(exchange.fail(
            format!(
                "with {MAX_CHILDREN} children busy with silent clients, a new client got 200: a \
                 child was forked past the cap"
            ),
            "503 Service Unavailable at once, from the parent, without a fork",
        ));
    }
    expect_status(exchange, 503)?;
    expect_content_length(exchange)?;
    expect_retry_after(exchange)
}

fn children_capped(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    hold_silent_clients(context, pid, 0, 0)?;
    // One below the cap, a client is served as before.
    let mut held = hold_silent_clients(context, pid, MAX_CHILDREN - 1, MAX_CHILDREN - 1)?;
    let below_cap = context.get("/")?;
    if below_cap.reply.status != 200 {
        return Err(below_cap.fail(
            format!(
                "with {} children busy, a new client got {}",
                MAX_CHILDREN - 1,
                below_cap.reply.status
            ),
            format!("200: the cap is {MAX_CHILDREN} children, so one more may be forked"),
        ));
    }
    // The child that answered must be reaped before the last silent client comes.
    hold_silent_clients(context, pid, 0, MAX_CHILDREN - 1)?;
    held.extend(hold_silent_clients(context, pid, 1, MAX_CHILDREN)?);
    expect_refusal(&context.get("/")?)?;
    // A client that sends nothing: the parent must not wait for its request.
    let mut silent = connect(context, None)?;
    let waited = format!(
        "with {MAX_CHILDREN} children busy, a new client that sent nothing (a parent that reads \
         the request before it refuses waits for this client, and accepts nobody meanwhile)"
    );
    expect_refusal(&unasked_reply(context, &mut silent, &waited, "503 at once, unread")?)?;
    expect_refusal(&context.get("/")?)
}

fn capped_server_serves_again(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    hold_silent_clients(context, pid, 0, 0)?;
    let mut held = hold_silent_clients(context, pid, MAX_CHILDREN, MAX_CHILDREN)?;
    expect_refusal(&context.get("/")?)?;
    // One silent client leaves: its child reads the end of the stream and exits.
    held.pop();
    retry_for(SETTLE_TIME, || {
        let exchange = context.get("/")?;
        if exchange.reply.status == 200 {
            return Ok(Ok(()));
        }
        Ok(Err(exchange.fail(
            format!(
                "one of the {MAX_CHILDREN} silent clients left {} s ago, and a new client still \
                 got {}: is the child that ended counted off when it is reaped?",
                SETTLE_TIME.as_secs(),
                exchange.reply.status
            ),
            "200 once a child has ended and been reaped",
        )))
    })
}

/// Waits until `pid` has exactly [`PROCESSES`] children, none a zombie and
/// none of them `gone`, and returns them.
fn waiting_children(
    pid: u32,
    situation: &str,
    gone: Option<u32>,
) -> Result<BTreeSet<u32>, Failure> {
    retry_for(SETTLE_TIME, || {
        let all = children(pid);
        let live: BTreeSet<u32> =
            all.iter().filter(|child| child.state != 'Z').map(|child| child.pid).collect();
        if all.len() == PROCESSES
            && live.len() == PROCESSES
            && gone.is_none_or(|gone| !live.contains(&gone))
        {
            return Ok(Ok(live));
        }
        Ok(Err(children_failure(
            pid,
            format!(
                "{situation}, process {pid} has {} children, {} of them zombies",
                all.len(),
                all.len() - live.len()
            ),
            format!(
                "{PROCESSES} live children (--processes {PROCESSES}), forked at start and \
                 replaced when they die, each waiting to accept a connection"
            ),
        )))
    })
}

/// Asks for `/` `count` times; each answer must name one of `children` in
/// `X-Served-By`.
fn served_by_children(
    context: &Context,
    pid: u32,
    children: &BTreeSet<u32>,
    count: usize,
) -> Result<(), Failure> {
    let expected = format!("X-Served-By: the pid of the child that served, one of {children:?}");
    for _ in 0..count {
        let exchange = context.get("/")?;
        expect_status(&exchange, 200)?;
        let served_by = exchange.reply.header("x-served-by");
        let problem = match served_by.map(|value| value.trim().parse::<u32>()) {
            Some(Ok(child)) if children.contains(&child) => continue,
            None => "there is no X-Served-By header".to_string(),
            Some(Ok(parent)) if parent == pid => {
                format!("X-Served-By names {pid}, the parent: was the pid read before the fork?")
            }
            Some(Ok(other)) => format!(
                "X-Served-By names {other}, not one of the children that were waiting: was it \
                 forked for this request, or to replace a child that served one connection?"
            ),
            Some(Err(_)) => format!("X-Served-By is {served_by:?}"),
        };
        return Err(exchange.fail(problem, expected));
    }
    Ok(())
}

fn prefork_serves_from_children(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    let before = waiting_children(pid, "before any client came", None)?;
    served_by_children(context, pid, &before, 20)?;
    let after = waiting_children(pid, "after 20 requests", None)?;
    if after != before {
        return Err(children_failure(
            pid,
            format!("the children were {before:?} before 20 requests and {after:?} after"),
            "the same children: each serves one client after another".into(),
        ));
    }
    Ok(())
}

fn prefork_replaces_children(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    let before = waiting_children(pid, "before any child was stopped", None)?;
    let Some(&victim) = before.first() else {
        return Err(Failure::new("no child to stop", "children"));
    };
    // Only a process that /proc has just shown to be the server's child.
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL)
        .map_err(|error| Failure::new(format!("cannot stop child {victim}: {error}"), "a child"))?;
    let situation = format!(
        "{} s after child {victim} was killed (is it still there, a zombie never reaped?)",
        SETTLE_TIME.as_secs()
    );
    let after = waiting_children(pid, &situation, Some(victim))?;
    served_by_children(context, pid, &after, 8)
}
