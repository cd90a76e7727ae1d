//! Chapter 6's exercises: sending files with `sendfile`, and a timeout for the
//! request to arrive.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use checker::checks::{Check, expect_body, expect_content_length, expect_status, next_reply};
use checker::report::Failure;
use checker::target::{Context, Exchange, LARGE_FILE_SIZE};

use super::support::{
    ask, cannot, checks, connect, expect_closed_after, joined, trickle, unasked_reply,
};

pub fn checks() -> Vec<Check> {
    checks! {
        pid "sendfile-sends-files", 6..=8, sendfile_sends_files,
            "files of every size arrive whole, and a large one leaves through sendfile (wchar in \
             /proc/PID/io)";
        "request-timeout", 6..=8, request_timeout,
            "a client silent for the request timeout (2 s) gets 408 and the close; one that asks \
             in time is answered";
        "request-timeout-slow-head", 6..=8, request_timeout_slow_head,
            "a head sent a byte at a time still times out; a slow download does not";
    }
}

/// Sizes around the chunk sizes a server is likely to use, and 0 and 1.
const FILE_SIZES: [usize; 8] = [0, 1, 16_384, 16_385, 65_535, 65_536, 65_537, 1_000_000];

/// `wchar` of `/proc/PID/io`: the bytes the process wrote. `sendfile` counts
/// what it moves there; `send` on a socket does not.
fn written_bytes(pid: u32) -> Result<u64, Failure> {
    let path = format!("/proc/{pid}/io");
    let text = fs::read_to_string(&path).map_err(cannot(format!("read {path}")))?;
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0))
}

fn numbered_bytes(size: usize) -> Vec<u8> {
    (0..size).map(|index| (index % 251) as u8).collect()
}

fn sendfile_sends_files(context: &Context) -> Result<(), Failure> {
    let Some(pid) = context.target.pid else {
        return Err(Failure::new("no --pid given", "the server's process id"));
    };
    fs::create_dir_all(context.fixtures.dir().join("sizes")).map_err(cannot("plant files"))?;
    for size in FILE_SIZES {
        let name = format!("sizes/{size}.bin");
        let planted = fs::write(context.fixtures.dir().join(&name), numbered_bytes(size));
        planted.map_err(cannot("plant files"))?;
        let exchange = context.get(&context.fixtures.url_of(&name))?;
        expect_status(&exchange, 200)?;
        expect_content_length(&exchange)?;
        expect_body(&exchange, &numbered_bytes(size), &format!("{size}.bin"))?;
    }
    // HEAD of a file sendfile would send: the head, and not a byte more.
    let request = context.request("HEAD", &context.fixtures.url_of("sizes/1000000.bin"));
    let mut connection = connect(context, None)?;
    connection.send(&request);
    let head = next_reply(context, &mut connection, &request, false, "HEAD", "a response head")?;
    expect_status(&head, 200)?;
    expect_closed_after(&mut connection, &head, "the head of the answer to HEAD, no body at all")?;

    let before = written_bytes(pid)?;
    let exchange = context.get(&context.fixtures.url_of("large.bin"))?;
    let written = written_bytes(pid)?.saturating_sub(before);
    expect_status(&exchange, 200)?;
    expect_body(&exchange, &context.fixtures.bytes_of("large.bin"), "large.bin")?;
    if written < (LARGE_FILE_SIZE as u64) * 9 / 10 {
        return Err(exchange.fail(
            format!(
                "while it sent the {LARGE_FILE_SIZE} bytes of large.bin, the server's wchar in \
                 /proc/{pid}/io grew by {written} bytes: it read the file into memory and sent it \
                 with send(), which wchar does not count"
            ),
            format!(
                "wchar to grow by about {LARGE_FILE_SIZE}: sendfile counts the bytes it moves \
                 there (compare `cat /proc/{pid}/io` before and after a download)"
            ),
        ));
    }
    Ok(())
}

/// The timeout the exercise starts its server with (`--request-timeout 2`),
/// and how much later than that the 408 or the close may come.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const TIMEOUT_GRACE: Duration = Duration::from_secs(3);

fn timeout_expected() -> String {
    format!(
        "408 Request Timeout about {0} s after the client connected (the exercise starts the \
         server with --request-timeout {0}), with Connection: close, then the close",
        REQUEST_TIMEOUT.as_secs()
    )
}

/// A silent client gets 408 and the close; one that asks after half the
/// timeout is answered.
fn request_timeout(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", &context.fixtures.url_of("page.html"));
    let connected = Instant::now();
    let mut silent = connect(context, None)?;
    let mut in_time = connect(context, None)?;
    thread::sleep(REQUEST_TIMEOUT / 2);
    let which = "a client that sent its request 1 s after it connected";
    let expected = "the page: the request came within the timeout";
    expect_status(&ask(context, &mut in_time, &request, which, expected)?, 200)?;
    let which = "a client that connected and sent nothing";
    let reply = unasked_reply(context, &mut silent, which, &timeout_expected())?;
    expect_timed_out(&reply, connected, which)?;
    match silent.wait_for_close(TIMEOUT_GRACE) {
        Ok(()) => Ok(()),
        Err(more) => Err(reply
            .fail("after its 408 the connection stayed open", timeout_expected())
            .received(&more)),
    }
}

fn request_timeout_slow_head(context: &Context) -> Result<(), Failure> {
    thread::scope(|scope| {
        let download = scope.spawn(|| slow_download(context));
        trickle_head(context).and(joined(download))
    })
}

/// A head sent a byte every 250 ms: each byte must not push the deadline back.
fn trickle_head(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", &context.fixtures.url_of("page.html"));
    let mut connection = connect(context, None)?;
    let connected = Instant::now();
    let pause = Duration::from_millis(250);
    let (sent, answered) =
        trickle(&mut connection, &request, pause, REQUEST_TIMEOUT + TIMEOUT_GRACE);
    let who = "a client that sent its head a byte every 250 ms";
    if !answered {
        return Err(Failure::new(
            format!(
                "{who} ({sent} bytes so far) was still being waited for {:.1} s after it connected",
                connected.elapsed().as_secs_f64()
            ),
            format!(
                "{}: the deadline is for the whole head, so each byte that arrives must not push \
                 it back",
                timeout_expected()
            ),
        )
        .sent(context.addr(), &request[..sent]));
    }
    let reply =
        next_reply(context, &mut connection, &request[..sent], true, who, &timeout_expected())?;
    expect_timed_out(&reply, connected, who)
}

/// Fails unless `exchange` is a 408 that came no earlier than about the
/// timeout and says `Connection: close`.
fn expect_timed_out(exchange: &Exchange, connected: Instant, who: &str) -> Result<(), Failure> {
    let waited = connected.elapsed();
    let problem = if exchange.reply.status != 408 {
        format!("{who} got status {}", exchange.reply.status)
    } else if waited < REQUEST_TIMEOUT * 3 / 4 {
        format!("{who} got its 408 after only {:.2} s", waited.as_secs_f64())
    } else if !exchange.reply.connection_has("close") {
        format!("the 408 to {who} does not say Connection: close")
    } else {
        return Ok(());
    };
    Err(exchange.fail(problem, timeout_expected()))
}

/// A download left unread for longer than the request timeout must then
/// arrive whole: the timeout is for the request, not for the answer.
fn slow_download(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", &context.fixtures.url_of("large.bin"));
    let mut connection = connect(context, None)?;
    connection.send(&request);
    // The server fills the socket's buffers, then waits for room past the timeout.
    thread::sleep(REQUEST_TIMEOUT + Duration::from_millis(500));
    let which = "a download left unread for longer than the request timeout";
    let expected =
        format!("all {LARGE_FILE_SIZE} bytes of large.bin: the timeout is for the request");
    let exchange = next_reply(context, &mut connection, &request, true, which, &expected)?;
    expect_body(&exchange, &context.fixtures.bytes_of("large.bin"), "large.bin")
}
