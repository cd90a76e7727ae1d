//! Chapter 6's exercises: sending files with `sendfile`, and a deadline for
//! the request head.

use std::fs;
use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use super::borrowed::find_head_end;
use checker::checks::{Check, expect_body, expect_content_length, expect_status};
use checker::client::{Connection, Reply, is_timeout};
use checker::report::Failure;
use checker::target::{Context, Exchange, LARGE_FILE_SIZE};

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "sendfile-sends-files",
            stages: 6..=8,
            behaviour: "files of every size arrive whole, and a large one leaves through sendfile \
                        (wchar in /proc/PID/io)",
            needs_pid: true,
            run: sendfile_sends_files,
        },
        Check {
            name: "request-timeout",
            stages: 6..=8,
            behaviour: "a client silent for the request timeout (2 s) gets 408 and the close; one \
                        that asks in time is answered",
            needs_pid: false,
            run: request_timeout,
        },
        Check {
            name: "request-timeout-slow-head",
            stages: 6..=8,
            behaviour: "a head sent a byte at a time still times out; a slow download does not",
            needs_pid: false,
            run: request_timeout_slow_head,
        },
    ]
}

/// Sizes around the places where a sender changes its mind: nothing at all, one
/// byte, either side of 16 KiB and of 64 KiB (a chunk), and a megabyte.
const FILE_SIZES: [usize; 8] = [0, 1, 16_384, 16_385, 65_535, 65_536, 65_537, 1_000_000];

/// What `/proc/PID/io` counts: bytes that went through `read()` (and friends)
/// and through `write()` (and friends). `sendfile` adds what it sends to both.
/// `send()` and `recv()` on a socket add to neither, so a server that reads a
/// file and sends it moves `rchar` only.
#[derive(Debug, Clone, Copy)]
struct ProcessIo {
    rchar: u64,
    wchar: u64,
}

fn process_io(pid: u32) -> Result<ProcessIo, Failure> {
    let path = format!("/proc/{pid}/io");
    let text = fs::read_to_string(&path).map_err(|error| {
        Failure::new(
            format!("cannot read {path}: {error}"),
            "a running server with that --pid",
        )
    })?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(ProcessIo {
        rchar: field("rchar"),
        wchar: field("wchar"),
    })
}

/// Content that differs at every position, so a piece sent twice or skipped
/// shows.
fn numbered_bytes(size: usize) -> Vec<u8> {
    (0..size).map(|index| (index % 251) as u8).collect()
}

/// Files of awkward sizes must still arrive exactly, by GET, and not at all by
/// HEAD. Then the large file is downloaded while `/proc/PID/io` watches: with
/// `sendfile`, the server's `wchar` grows by the file's size.
fn sendfile_sends_files(context: &Context) -> Result<(), Failure> {
    let Some(pid) = context.target.pid else {
        return Err(Failure::new("no --pid given", "the server's process id"));
    };
    fs::create_dir_all(context.fixtures.dir().join("sizes"))
        .map_err(|error| Failure::new(format!("cannot plant files: {error}"), ""))?;
    for size in FILE_SIZES {
        let name = format!("sizes/{size}.bin");
        fs::write(context.fixtures.dir().join(&name), numbered_bytes(size))
            .map_err(|error| Failure::new(format!("cannot plant {name}: {error}"), ""))?;
        let exchange = context.get(&context.fixtures.url_of(&name))?;
        expect_status(&exchange, 200)?;
        expect_content_length(&exchange)?;
        expect_body(&exchange, &numbered_bytes(size), &format!("{size}.bin"))?;
    }
    head_sends_no_body(context, "sizes/1000000.bin")?;

    let before = process_io(pid)?;
    let exchange = context.get(&context.fixtures.url_of("large.bin"))?;
    let after = process_io(pid)?;
    expect_status(&exchange, 200)?;
    expect_body(
        &exchange,
        &context.fixtures.bytes_of("large.bin"),
        "large.bin",
    )?;
    let written = after.wchar.saturating_sub(before.wchar);
    let read = after.rchar.saturating_sub(before.rchar);
    let enough = (LARGE_FILE_SIZE as u64) * 9 / 10;
    if written < enough {
        return Err(exchange.fail(
            format!(
                "while it sent the {LARGE_FILE_SIZE} bytes of large.bin, the server's wchar \
                 in /proc/{pid}/io grew by {written} bytes (and rchar by {read}): it read the \
                 file into memory and sent it with send(), which wchar does not count"
            ),
            format!(
                "wchar to grow by about {LARGE_FILE_SIZE}: sendfile counts the bytes it moves \
                 there (compare `cat /proc/{pid}/io` before and after a download)"
            ),
        ));
    }
    Ok(())
}

/// A `HEAD` for a file gets its head, and not a byte after it.
fn head_sends_no_body(context: &Context, name: &str) -> Result<(), Failure> {
    let request = context.request("HEAD", &context.fixtures.url_of(name));
    let mut connection = Connection::open(context.addr())
        .map_err(|error| Failure::new(error.describe(), "a connection"))?;
    connection.send(&request);
    let reply = connection.read_reply(false).map_err(|error| {
        Failure::new(error.describe(), "a response head")
            .sent(context.addr(), &request)
            .received(error.received())
    })?;
    let _ = connection.wait_for_close(Duration::from_secs(3));
    if reply.status != 200 || !connection.leftover().is_empty() {
        return Err(Failure::new(
            format!(
                "HEAD {name} got status {} and {} bytes after the head",
                reply.status,
                connection.leftover().len()
            ),
            "status 200 and no body at all",
        )
        .sent(context.addr(), &request)
        .received(&[reply.raw.as_slice(), connection.leftover()].concat()));
    }
    Ok(())
}

/// The request timeout the exercise starts its server with (`--request-timeout 2`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How much later than the timeout the 408 may come on a busy machine.
const TIMEOUT_GRACE: Duration = Duration::from_secs(3);

fn timeout_expected() -> String {
    format!(
        "408 Request Timeout about {} s after the client connected (the exercise starts the \
         server with --request-timeout {}), then the close",
        REQUEST_TIMEOUT.as_secs(),
        REQUEST_TIMEOUT.as_secs()
    )
}

/// Two clients connect at once. One says nothing; the other sends its request
/// after half the timeout and must get its page. The silent one must get a 408,
/// not much sooner and not much later than the timeout.
fn request_timeout(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", &context.fixtures.url_of("page.html"));
    let open =
        || Connection::open(context.addr()).map_err(|error| Failure::new(error.describe(), ""));
    let connected = Instant::now();
    let mut silent = open()?;
    let mut in_time = open()?;
    thread::sleep(REQUEST_TIMEOUT / 2);
    in_time.send(&request);
    let reply = in_time.read_reply(true).map_err(|error| {
        Failure::new(
            format!(
                "a client that sent its request {:.1} s after it connected: {}",
                (REQUEST_TIMEOUT / 2).as_secs_f64(),
                error.describe()
            ),
            "the page: the request came within the timeout",
        )
        .sent(context.addr(), &request)
        .received(error.received())
    })?;
    let exchange = Exchange {
        addr: context.addr(),
        request: request.clone(),
        reply,
    };
    expect_status(&exchange, 200)?;

    let reply = silent.read_reply(true).map_err(|error| {
        Failure::new(
            format!(
                "a client that connected and sent nothing, {:.1} s later: {} (try it: \
                 nc {} and type nothing)",
                connected.elapsed().as_secs_f64(),
                error.describe(),
                context.addr().to_string().replace(':', " ")
            ),
            timeout_expected(),
        )
        .received(error.received())
    })?;
    expect_timed_out(context, reply, connected, "a client that sent nothing")?;
    expect_closed(&mut silent)
}

/// A slowloris client sends its head a byte every quarter second, so the head
/// would take half a minute; the deadline counts from the connection, not from
/// the last byte, so it must still get its 408 on time. Meanwhile a download
/// of the large file, read slowly for longer than the timeout, must arrive
/// whole: the deadline is for the request, not for the answer.
fn request_timeout_slow_head(context: &Context) -> Result<(), Failure> {
    thread::scope(|scope| {
        let download = scope.spawn(|| slow_download(context));
        let trickle = trickle_head(context);
        let download = download
            .join()
            .unwrap_or_else(|_| Err(Failure::new("the downloading thread panicked", "no panic")));
        trickle.and(download)
    })
}

fn trickle_head(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", &context.fixtures.url_of("page.html"));
    let mut connection =
        Connection::open(context.addr()).map_err(|error| Failure::new(error.describe(), ""))?;
    let connected = Instant::now();
    let give_up = connected + REQUEST_TIMEOUT + TIMEOUT_GRACE;
    let _ = connection
        .stream
        .set_read_timeout(Some(Duration::from_millis(250)));
    let mut sent = 0;
    loop {
        if Instant::now() > give_up {
            return Err(Failure::new(
                format!(
                    "a client that sent its head a byte every 250 ms ({sent} bytes so far) was \
                     still being waited for {:.1} s after it connected",
                    connected.elapsed().as_secs_f64()
                ),
                format!(
                    "{}: the deadline is for the whole head, so each byte that arrives must not \
                     push it back",
                    timeout_expected()
                ),
            )
            .sent(context.addr(), &request[..sent]));
        }
        if let Some(byte) = request.get(sent) {
            connection.send(&[*byte]);
            sent += 1;
        }
        // Has an answer (or the close) begun to arrive?
        match connection.stream.peek(&mut [0; 1]) {
            Ok(_) => break,
            Err(error) if is_timeout(&error) => continue,
            Err(_) => break,
        }
    }
    let reply = connection.read_reply(true).map_err(|error| {
        Failure::new(
            format!(
                "a client that sent its head a byte every 250 ms: {}",
                error.describe()
            ),
            timeout_expected(),
        )
        .sent(context.addr(), &request[..sent])
        .received(error.received())
    })?;
    expect_timed_out(
        context,
        reply,
        connected,
        "a client that sent a byte every 250 ms",
    )
}

/// Downloads the large file, reading it in small gulps with pauses, so that it
/// takes longer than the request timeout.
fn slow_download(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", &context.fixtures.url_of("large.bin"));
    let failure = |problem: String| {
        Failure::new(
            format!("a download read slowly, for longer than the request timeout: {problem}"),
            format!(
                "all {LARGE_FILE_SIZE} bytes of large.bin: the timeout is for the request, not \
                 for the answer"
            ),
        )
        .sent(context.addr(), &request)
    };
    let mut connection =
        Connection::open(context.addr()).map_err(|error| failure(error.describe()))?;
    connection.send(&request);
    let started = Instant::now();
    let slow_for = REQUEST_TIMEOUT + Duration::from_millis(500);
    let mut received = Vec::with_capacity(LARGE_FILE_SIZE + 1024);
    let mut chunk = vec![0; 64 * 1024];
    loop {
        // Half the file in the first stretch, slowly; then the rest at full speed.
        if started.elapsed() < slow_for {
            thread::sleep(Duration::from_millis(10));
        }
        match connection.stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(count) => received.extend_from_slice(&chunk[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(failure(format!("after {} bytes: {error}", received.len())));
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(failure("30 s passed before the transfer ended".into()));
        }
    }
    let body = find_head_end(&received).map(|end| &received[end..]);
    if body != Some(&context.fixtures.bytes_of("large.bin")[..]) {
        return Err(failure(format!(
            "the connection closed after {} bytes, {:.1} s into the download",
            received.len(),
            started.elapsed().as_secs_f64()
        )));
    }
    Ok(())
}

/// The reply must be a 408 that says `Connection: close`, and it must not have
/// come long before the timeout.
fn expect_timed_out(
    context: &Context,
    reply: Reply,
    connected: Instant,
    who: &str,
) -> Result<(), Failure> {
    let waited = connected.elapsed();
    let exchange = Exchange {
        addr: context.addr(),
        request: Vec::new(),
        reply,
    };
    if exchange.reply.status != 408 {
        return Err(Failure::new(
            format!("{who} got status {}", exchange.reply.status),
            timeout_expected(),
        )
        .received(&exchange.reply.raw));
    }
    if waited < REQUEST_TIMEOUT * 3 / 4 {
        return Err(Failure::new(
            format!("{who} got its 408 after only {:.2} s", waited.as_secs_f64()),
            timeout_expected(),
        )
        .received(&exchange.reply.raw));
    }
    if !exchange.reply.connection_has("close") {
        return Err(Failure::new(
            format!("the 408 to {who} does not say Connection: close"),
            timeout_expected(),
        )
        .received(&exchange.reply.raw));
    }
    Ok(())
}

fn expect_closed(connection: &mut Connection) -> Result<(), Failure> {
    match connection.wait_for_close(TIMEOUT_GRACE) {
        Ok(()) => Ok(()),
        Err(more) => Err(Failure::new(
            "after its 408 the connection stayed open",
            timeout_expected(),
        )
        .received(&more)),
    }
}
