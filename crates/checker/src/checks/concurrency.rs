//! Stage 3 on: many clients at once. A slow client holds up nobody but itself,
//! fifty clients at once are all answered, and the server cleans up after itself:
//! no zombie children, no threads left behind.
//!
//! The checks that look inside the server's process read Linux's `/proc`, so they
//! need the server's process id (`--pid`). Every wait here is bounded: a check
//! that passes is quick, and one that fails gives up after a few seconds.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, expect_content_length, expect_status};
use crate::client::Connection;
use crate::process::{thread_count, zombie_children};
use crate::report::Failure;
use crate::target::{Context, Exchange};

/// How many clients the "at once" checks hold open together.
const CLIENTS_AT_ONCE: usize = 50;

/// How long the server has to clean up (reap children, end threads) after the
/// last client has gone.
const CLEAN_UP_TIME: Duration = Duration::from_secs(5);

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "idle-client-does-not-block",
            stages: 3..=8,
            behaviour: "while one client is connected and silent, another is answered",
            needs_pid: false,
            run: idle_client_does_not_block,
        },
        Check {
            name: "half-request-does-not-block",
            stages: 3..=8,
            behaviour: "while one client has sent half a request, another is answered",
            needs_pid: false,
            run: half_request_does_not_block,
        },
        Check {
            name: "many-clients-at-once",
            stages: 3..=8,
            behaviour: "50 clients connected at the same time are all answered",
            needs_pid: false,
            run: many_clients_at_once,
        },
        Check {
            name: "no-zombie-children",
            stages: 3..=8,
            behaviour: "after a burst of requests no child process is left a zombie",
            needs_pid: true,
            run: no_zombie_children,
        },
        Check {
            name: "threads-back-to-baseline",
            stages: 3..=8,
            behaviour: "after 50 clients have come and gone, the thread count is back where it was",
            needs_pid: true,
            run: threads_back_to_baseline,
        },
    ]
}

fn idle_client_does_not_block(context: &Context) -> Result<(), Failure> {
    answered_while_another_waits(context, b"", "connected and sent nothing")
}

fn half_request_does_not_block(context: &Context) -> Result<(), Failure> {
    let half = format!("GET / HTTP/1.1\r\nHost: {}\r\n", context.addr());
    answered_while_another_waits(context, half.as_bytes(), "sent half a request")
}

/// Opens a client that sends `first_client_sends` and then waits, and checks
/// that a second client is answered meanwhile.
fn answered_while_another_waits(
    context: &Context,
    first_client_sends: &[u8],
    first_client_did: &str,
) -> Result<(), Failure> {
    let mut waiting = Connection::open(context.addr()).map_err(|error| {
        Failure::new(error.describe(), "a connection").sent(context.addr(), first_client_sends)
    })?;
    waiting.send(first_client_sends);
    let exchange = context.get("/").map_err(|failure| Failure {
        problem: format!(
            "while another client {first_client_did} and waited: {} (a server that serves one \
             connection at a time waits for that client first)",
            failure.problem
        ),
        ..failure
    });
    // Only now may the waiting client go: it had to hold on during the exchange.
    drop(waiting);
    expect_status(&exchange?, 200)
}

fn many_clients_at_once(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", "/");
    let failure = |client: usize, problem: String| {
        Failure::new(
            format!("client {client} of {CLIENTS_AT_ONCE}: {problem}"),
            format!("all {CLIENTS_AT_ONCE} clients answered with 200"),
        )
        .sent(context.addr(), &request)
    };
    // All connect first, so the server holds every connection at the same time;
    // then all ask; then we read the answers.
    let mut clients = Vec::with_capacity(CLIENTS_AT_ONCE);
    for number in 1..=CLIENTS_AT_ONCE {
        let connection =
            Connection::open(context.addr()).map_err(|error| failure(number, error.describe()))?;
        clients.push(connection);
    }
    for client in &mut clients {
        client.send(&request);
    }
    for (index, client) in clients.iter_mut().enumerate() {
        let reply = client
            .read_reply(true)
            .map_err(|error| failure(index + 1, error.describe()).received(error.received()))?;
        let exchange = Exchange {
            addr: context.addr(),
            request: request.clone(),
            reply,
        };
        expect_status(&exchange, 200)?;
        expect_content_length(&exchange)?;
    }
    Ok(())
}

fn no_zombie_children(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    for round in 1..=20 {
        let exchange = context.get("/").map_err(|failure| Failure {
            problem: format!("request {round} of 20: {}", failure.problem),
            ..failure
        })?;
        expect_status(&exchange, 200)?;
    }
    let mut zombies = zombie_children(pid);
    let deadline = Instant::now() + CLEAN_UP_TIME;
    while !zombies.is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        zombies = zombie_children(pid);
    }
    if zombies.is_empty() {
        return Ok(());
    }
    let mut failure = Failure::new(
        format!(
            "{} children of process {pid} are zombies (state Z) {} s after 20 requests: they \
             exited, and the server never collected them with wait/waitpid",
            zombies.len(),
            CLEAN_UP_TIME.as_secs()
        ),
        "no zombie children: the server reaps every child that exits",
    );
    failure.sent = Some(format!("ps -o pid,stat,cmd --ppid {pid}"));
    Err(failure)
}

fn threads_back_to_baseline(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    // One request first, so threads started only once (a runtime's workers) exist
    // before the count is taken.
    expect_status(&context.get("/")?, 200)?;
    let baseline = settled_thread_count(pid).map_err(|error| no_such_process(pid, &error))?;
    let mut peak = baseline;
    {
        // 40 clients that ask and 10 that connect and leave without a word, all
        // connected at the same time.
        let request = context.request("GET", "/");
        let mut asking = Vec::new();
        let mut silent = Vec::new();
        for number in 0..CLIENTS_AT_ONCE {
            let connection = Connection::open(context.addr()).map_err(|error| {
                Failure::new(error.describe(), "a connection").sent(context.addr(), &request)
            })?;
            if number % 5 == 4 {
                silent.push(connection);
            } else {
                asking.push(connection);
            }
        }
        for client in &mut asking {
            client.send(&request);
        }
        peak = peak.max(thread_count(pid).unwrap_or(0));
        // The answers are not what this check is about; after the first one that
        // does not come, stop waiting (a one-at-a-time server is stuck on a silent
        // client and would keep each of the others waiting for a whole timeout).
        for client in &mut asking {
            if client.read_reply(true).is_err() {
                break;
            }
        }
        // Leaving this block closes all 50 connections.
        drop(silent);
    }
    let deadline = Instant::now() + CLEAN_UP_TIME;
    loop {
        let now = thread_count(pid).map_err(|error| no_such_process(pid, &error))?;
        if now <= baseline {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut failure = Failure::new(
                format!(
                    "process {pid} had {baseline} threads before 50 clients came, {peak} while \
                     they were there, and still {now} threads {} s after they all left",
                    CLEAN_UP_TIME.as_secs()
                ),
                format!("{baseline} threads or fewer once the clients are gone"),
            );
            failure.sent = Some(format!("grep Threads /proc/{pid}/status"));
            return Err(failure);
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The `--pid` given, once it is known to name a running process.
pub fn server_pid(context: &Context) -> Result<u32, Failure> {
    let pid = context
        .target
        .pid
        .ok_or_else(|| Failure::new("no --pid given", "the server's process id"))?;
    thread_count(pid).map_err(|error| no_such_process(pid, &error))?;
    Ok(pid)
}

fn no_such_process(pid: u32, error: &io::Error) -> Failure {
    Failure::new(
        format!("cannot read /proc/{pid}/status ({error}): is {pid} the server's process id?"),
        "the process id of the running server (--pid)",
    )
}

/// The thread count once it has stopped changing for half a second (threads of
/// earlier clients may still be ending), or after three seconds at most.
fn settled_thread_count(pid: u32) -> io::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = thread_count(pid)?;
    let mut steady_since = Instant::now();
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        let now = thread_count(pid)?;
        if now != last {
            last = now;
            steady_since = Instant::now();
        } else if steady_since.elapsed() >= Duration::from_millis(500) {
            break;
        }
    }
    Ok(last)
}
