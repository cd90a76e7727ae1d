//! Every check the checker knows, each tied to the stages it applies to.
//!
//! A check proves one behaviour a student can name ("a missing file gets the 404
//! page"). It sends real bytes over TCP and judges the bytes that come back, so it
//! works against a server written in any language. Checking stage N runs every
//! check whose range of stages includes N: the rules of earlier stages that still
//! hold are checked again.

use std::ops::RangeInclusive;

use crate::report::Failure;
use crate::target::{Context, Exchange};

mod concurrency;
mod errors;
mod event_loop;
mod exchange;
mod files;
mod head_timeout;
mod keep_alive;
mod traversal;

/// One behaviour, and the stages that must have it.
#[derive(Clone)]
pub struct Check {
    /// A short name, used by `--only` and shown in the report.
    pub name: &'static str,
    /// The stages this behaviour belongs to: from the stage that introduces it to
    /// the last one that keeps it (closing after each response stops at stage 6).
    pub stages: RangeInclusive<u8>,
    /// The behaviour, in one line of plain words.
    pub behaviour: &'static str,
    /// The check looks at the server's process (`/proc/PID`), so it needs `--pid`.
    pub needs_pid: bool,
    pub run: fn(&Context) -> Result<(), Failure>,
}

/// Every check, in the order of the stages that introduce them.
pub fn all() -> Vec<Check> {
    let mut all = [
        exchange::checks(),
        files::checks(),
        errors::checks(),
        traversal::checks(),
        concurrency::checks(),
        event_loop::checks(),
        keep_alive::checks(),
        head_timeout::checks(),
    ]
    .concat();
    // A file may hold checks of several stages (event_loop: 6 and 8); the sort
    // is stable, so checks of one stage keep the order they are listed in.
    all.sort_by_key(|check| *check.stages.start());
    all
}

/// The check called `name`.
pub fn find(name: &str) -> Option<Check> {
    all().into_iter().find(|check| check.name == name)
}

// Helpers that other check suites built on this crate (the exercises' runner)
// use too.
pub use concurrency::server_pid;
pub use keep_alive::{kept_request, next_reply, open};

/// Fails unless the reply has the wanted status.
pub fn expect_status(exchange: &Exchange, wanted: u16) -> Result<(), Failure> {
    if exchange.reply.status == wanted {
        return Ok(());
    }
    Err(exchange.fail(
        format!("the status was {}", exchange.reply.status),
        format!("status {wanted}"),
    ))
}

/// Fails unless the reply carries a `Content-Length` equal to its body's length.
pub fn expect_content_length(exchange: &Exchange) -> Result<(), Failure> {
    let reply = &exchange.reply;
    match reply.header("content-length") {
        None => Err(exchange.fail(
            "there is no Content-Length header",
            format!(
                "Content-Length: {} (without it, a client can only find the end of the body when the \
                 connection closes)",
                reply.body.len()
            ),
        )),
        Some(_) if reply.content_length() != Some(reply.body.len() as u64) => Err(exchange.fail(
            format!(
                "Content-Length says {:?} but the body had {} bytes",
                reply.header("content-length").unwrap_or_default(),
                reply.body.len()
            ),
            format!("Content-Length: {}", reply.body.len()),
        )),
        Some(_) => Ok(()),
    }
}

/// Fails unless the body is exactly `wanted`; says where the first difference is.
pub fn expect_body(exchange: &Exchange, wanted: &[u8], what: &str) -> Result<(), Failure> {
    let body = &exchange.reply.body;
    if body == wanted {
        return Ok(());
    }
    let first_difference = body
        .iter()
        .zip(wanted)
        .position(|(got, expected)| got != expected);
    let problem = match first_difference {
        Some(at) => format!("the body differs from {what} at byte {at}"),
        None => format!(
            "the body had {} bytes, {what} has {}",
            body.len(),
            wanted.len()
        ),
    };
    Err(exchange.fail(
        problem,
        format!("the {} bytes of {what}, exactly", wanted.len()),
    ))
}

/// Fails unless `Content-Type` starts with `wanted` (parameters such as
/// `; charset=utf-8` may follow).
pub fn expect_content_type(exchange: &Exchange, wanted: &str) -> Result<(), Failure> {
    let found = exchange.reply.header("content-type").unwrap_or_default();
    let media_type = found.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case(wanted) {
        return Ok(());
    }
    let problem = if found.is_empty() {
        "there is no Content-Type header".to_string()
    } else {
        format!("Content-Type is {found:?}")
    };
    Err(exchange.fail(problem, format!("Content-Type: {wanted}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_check_has_a_name_of_its_own() {
        let mut seen = HashSet::new();
        for check in all() {
            assert!(
                seen.insert(check.name),
                "two checks are called {}",
                check.name
            );
        }
    }
}
