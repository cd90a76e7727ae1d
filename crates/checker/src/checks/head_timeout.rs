//! Stages 7 and 8: a request head has a deadline of its own.
//!
//! On a kept-alive connection the idle timeout counts from the last byte that
//! moved. A client that sends its head one byte at a time, each just before the
//! idle timeout (the "slow-loris" attack), is therefore never idle, and a few
//! hundred of them hold a few hundred descriptors as long as they please. So the
//! whole head must arrive within a deadline that counts from its first byte;
//! when it has not, the server answers `408 Request Timeout` and closes.

use std::time::{Duration, Instant};

use super::{Check, expect_status};
use crate::client::Connection;
use crate::report::Failure;
use crate::target::{Context, Exchange};

/// The head timeout assumed when the checker is not told the server's.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How late after the deadline the 408 and the close may come: a loop that
/// wakes for deadlines needs far less, but a machine under load may be slow.
const GRACE: Duration = Duration::from_secs(2);

/// The pause between two bytes of the trickling head: far below any idle
/// timeout, so every byte counts as activity.
const TRICKLE_PAUSE: Duration = Duration::from_millis(100);

pub fn checks() -> Vec<Check> {
    vec![Check {
        name: "head-timeout",
        stages: 7..=8,
        behaviour: "a head trickled a byte at a time gets 408 and a close once its deadline passes",
        needs_pid: false,
        run: head_timeout,
    }]
}

// ANCHOR: head_timeout
/// Sends a head a byte every 100 ms, never finishing it (a header that goes on
/// and on), and expects a 408 and the end of the connection by the deadline
/// plus [`GRACE`].
fn head_timeout(context: &Context) -> Result<(), Failure> {
    let timeout = context.target.head_timeout.unwrap_or(DEFAULT_HEAD_TIMEOUT);
    let expected = format!(
        "408 Request Timeout and a close within {:.1} s of the head's first byte \
         (the checker assumes a head timeout of {:.1} s; see its --head-timeout)",
        (timeout + GRACE).as_secs_f64(),
        timeout.as_secs_f64()
    );
    let endless = endless_head(context, timeout + GRACE);
    let mut connection = Connection::open(context.addr())
        .map_err(|error| Failure::new(error.describe(), expected.clone()))?;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < timeout + GRACE && sent < endless.len() {
        connection.send(&endless[sent..=sent]);
        sent += 1;
        match connection.wait_for_close(TRICKLE_PAUSE) {
            Err(received) if received.is_empty() => {} // nothing yet: one more byte
            _ => break,                                // an answer, or the end
        }
    }
    let trickled_for = started.elapsed();
    let request = endless[..sent].to_vec();
    let reply = connection.read_reply(true).map_err(|error| {
        Failure::new(
            format!(
                "after a head trickled for {:.1} s ({sent} bytes, one every {} ms): {}",
                trickled_for.as_secs_f64(),
                TRICKLE_PAUSE.as_millis(),
                error.describe()
            ),
            expected.clone(),
        )
        .sent(context.addr(), &request)
        .received(error.received())
    })?;
    let exchange = Exchange {
        addr: context.addr(),
        request,
        reply,
    };
    expect_status(&exchange, 408)?;
    let left = (started + timeout + GRACE).saturating_duration_since(Instant::now());
    if connection.wait_for_close(left).is_err() {
        return Err(exchange.fail(
            format!(
                "the connection was still open {:.1} s after the head's first byte, \
                 after the 408",
                started.elapsed().as_secs_f64()
            ),
            expected,
        ));
    }
    Ok(())
}
// ANCHOR_END: head_timeout

/// A head that does not end within `lasting` at one byte per pause: a request
/// line, `Host`, and a header whose value goes on and on.
fn endless_head(context: &Context, lasting: Duration) -> Vec<u8> {
    let bytes = (lasting.as_millis() / TRICKLE_PAUSE.as_millis()) as usize + 100;
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nX-Slowly: ",
        context.fixtures.url_of("page.html"),
        context.addr()
    )
    .into_bytes();
    head.resize(head.len() + bytes, b'z');
    head
}
