//! Chapter 8's exercises: a limit on connections per client address, and one
//! event loop per worker thread.
//!
//! The per-client checks play several clients at once from different loopback
//! addresses (127.0.0.2, 127.0.0.3, ...), which Linux routes like 127.0.0.1, so
//! the server under test must listen on 127.0.0.1.

use std::collections::HashMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::{Duration, Instant};

use checker::checks::Check;
use checker::client::Connection;
use checker::report::Failure;
use checker::target::Context;

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "epoll-per-client-limit",
            stages: 8..=8,
            behaviour: "the 65th connection from one address gets 429; other addresses are served; \
                        a connection that ends, however it ends, frees its place",
            needs_pid: false,
            run: per_client_limit,
        },
        Check {
            name: "epoll-per-client-limit-after-idle",
            stages: 8..=8,
            behaviour: "connections closed by the idle timeout free their places too",
            needs_pid: false,
            run: per_client_limit_after_idle,
        },
        Check {
            name: "workers-share-load",
            stages: 8..=8,
            behaviour: "under load from four clients, at least two threads of the server each do \
                        a share of the work",
            needs_pid: true,
            run: workers_share_load,
        },
    ]
}

/// The limit the exercise starts its server with (`--max-per-client 64`): above
/// the 50 connections at once that the stage's own checks open from 127.0.0.1.
const MAX_PER_CLIENT: usize = 64;

/// How long a freed place may take to become free: the server must first see
/// the connection end.
const PLACE_FREED_WITHIN: Duration = Duration::from_secs(2);

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn limit_expected() -> String {
    format!(
        "{MAX_PER_CLIENT} connections open from one address at most (the exercise starts the \
         server with --max-per-client {MAX_PER_CLIENT}); one more gets 429 Too Many Requests \
         and the close"
    )
}

/// What became of one new connection that asked for a page.
enum Outcome {
    Served(Connection),
    Refused,
}

/// Opens a connection from `from` and asks for a page on it, keeping the
/// connection open. A 200 means it was let in, a 429 that it was turned away
/// (and then it must be closed); anything else is a failure.
fn try_connection(context: &Context, from: IpAddr, what: &str) -> Result<Outcome, Failure> {
    if !context.addr().ip().is_loopback() || !context.addr().is_ipv4() {
        return Err(Failure::new(
            "this check plays clients at 127.0.0.2, 127.0.0.3, ...",
            "a server listening on 127.0.0.1",
        ));
    }
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        context.fixtures.url_of("page.html"),
        context.addr()
    )
    .into_bytes();
    let failure = |problem: String| {
        Failure::new(format!("{what}, from {from}: {problem}"), limit_expected())
            .sent(context.addr(), &request)
    };
    let mut connection =
        Connection::open_from(from, context.addr()).map_err(|error| failure(error.describe()))?;
    connection.send(&request);
    let reply = connection
        .read_reply(true)
        .map_err(|error| failure(error.describe()).received(error.received()))?;
    match reply.status {
        200 => Ok(Outcome::Served(connection)),
        429 => {
            if connection.wait_for_close(Duration::from_secs(3)).is_err() {
                return Err(
                    failure("after the 429 the connection stayed open".into()).received(&reply.raw)
                );
            }
            Ok(Outcome::Refused)
        }
        status => Err(failure(format!("the status was {status}")).received(&reply.raw)),
    }
}

/// A connection from `from` that must be served, perhaps only once the server
/// has seen another connection of that client end: a 429 is tried again for a
/// while.
fn served_soon(context: &Context, from: IpAddr, what: &str) -> Result<Connection, Failure> {
    let deadline = Instant::now() + PLACE_FREED_WITHIN;
    loop {
        match try_connection(context, from, what)? {
            Outcome::Served(connection) => return Ok(connection),
            Outcome::Refused if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(50));
            }
            Outcome::Refused => {
                return Err(Failure::new(
                    format!(
                        "{what}, from {from}: still 429 after {:.0} s",
                        PLACE_FREED_WITHIN.as_secs_f64()
                    ),
                    format!(
                        "a 200: {from} has fewer than {MAX_PER_CLIENT} connections open, and one \
                         that has ended, however it ended, no longer counts (the exercise starts \
                         the server with --max-per-client {MAX_PER_CLIENT})"
                    ),
                ));
            }
        }
    }
}

/// One more connection from a client that holds its limit: it must be refused.
fn expect_refused(context: &Context, from: IpAddr, what: &str) -> Result<(), Failure> {
    match try_connection(context, from, what)? {
        Outcome::Refused => Ok(()),
        Outcome::Served(_) => Err(Failure::new(
            format!(
                "{what}, from {from}, with {MAX_PER_CLIENT} connections of that address already \
                 open, was served"
            ),
            limit_expected(),
        )),
    }
}

/// Opens `MAX_PER_CLIENT` connections from `from`, each served once.
fn fill_up(context: &Context, from: IpAddr) -> Result<Vec<Connection>, Failure> {
    (1..=MAX_PER_CLIENT)
        .map(|number| {
            served_soon(
                context,
                from,
                &format!("connection {number} of {MAX_PER_CLIENT}"),
            )
        })
        .collect()
}

/// The three ways a client's connection can end that the check can cause at once.
#[derive(Clone, Copy)]
enum Ending {
    ClientCloses,
    AsksToClose,
    ClientResets,
}

impl Ending {
    fn describe(self) -> &'static str {
        match self {
            Ending::ClientCloses => "the client closed them",
            Ending::AsksToClose => "the client asked for Connection: close",
            Ending::ClientResets => "the client reset them",
        }
    }

    fn end(self, context: &Context, mut connection: Connection) {
        match self {
            Ending::ClientCloses => {}
            Ending::AsksToClose => {
                connection.send(&context.request("GET", &context.fixtures.url_of("notes.txt")));
                let _ = connection.read_reply(true);
                let _ = connection.wait_for_close(Duration::from_secs(3));
            }
            Ending::ClientResets => {
                // A linger time of zero makes close() send a reset, not a FIN.
                let _ = socket2::SockRef::from(&connection.stream).set_linger(Some(Duration::ZERO));
            }
        }
        drop(connection);
    }
}

/// 127.0.0.2 opens its 64 connections; the 65th is refused, while 127.0.0.3 is
/// served. Then 127.0.0.2 ends four of its connections each way a client can
/// (close, `Connection: close`, reset): four new ones must be let in, and the
/// one after them refused again, so the count is exact on every path.
fn per_client_limit(context: &Context) -> Result<(), Failure> {
    let (busy, other) = (loopback(2), loopback(3));
    let mut held = fill_up(context, busy)?;
    expect_refused(context, busy, &format!("connection {}", MAX_PER_CLIENT + 1))?;
    let _other =
        served_soon(context, other, "a connection from another address").map_err(|failure| {
            Failure {
                problem: format!(
                    "{} (while {busy} held {MAX_PER_CLIENT}: the limit is per address, not for \
                 the whole server)",
                    failure.problem
                ),
                ..failure
            }
        })?;
    for ending in [
        Ending::ClientCloses,
        Ending::AsksToClose,
        Ending::ClientResets,
    ] {
        for connection in held.drain(..4) {
            ending.end(context, connection);
        }
        for number in 1..=4 {
            let what = format!(
                "new connection {number} of 4, after 4 ended because {}",
                ending.describe()
            );
            held.push(served_soon(context, busy, &what)?);
        }
        expect_refused(
            context,
            busy,
            &format!(
                "a 5th new connection, after 4 ended because {}",
                ending.describe()
            ),
        )?;
    }
    Ok(())
}

/// 127.0.0.4 opens its 64 connections and leaves them idle until the server
/// closes them; then all 64 places must be free again.
fn per_client_limit_after_idle(context: &Context) -> Result<(), Failure> {
    let client = loopback(4);
    let mut held = fill_up(context, client)?;
    expect_refused(
        context,
        client,
        &format!("connection {}", MAX_PER_CLIENT + 1),
    )?;
    let timeout = context
        .target
        .idle_timeout
        .unwrap_or(Duration::from_secs(5));
    let give_up = Instant::now() + timeout + Duration::from_secs(3);
    for connection in &mut held {
        let left = give_up.saturating_duration_since(Instant::now());
        if connection.wait_for_close(left).is_err() {
            return Err(Failure::new(
                format!(
                    "a connection from {client} left idle was still open {} s later",
                    (timeout + Duration::from_secs(3)).as_secs()
                ),
                format!(
                    "the close after the idle timeout (the checker assumes {} s)",
                    timeout.as_secs()
                ),
            ));
        }
    }
    drop(held);
    for number in 1..=MAX_PER_CLIENT {
        let what = format!(
            "new connection {number} of {MAX_PER_CLIENT}, after the idle timeout closed the \
             {MAX_PER_CLIENT} before"
        );
        served_soon(context, client, &what)?;
    }
    Ok(())
}

/// How long the load runs, and from how many client threads.
const LOAD_TIME: Duration = Duration::from_secs(2);
const LOAD_CLIENTS: usize = 4;
/// Requests per connection: enough to be kept-alive traffic, few enough that
/// new connections keep arriving, to be spread over the workers.
const REQUESTS_PER_CONNECTION: usize = 5;
/// A thread "did a share" when it used at least this part of the CPU time of
/// the busiest thread. Loose on purpose: the kernel need not split evenly.
const FAIR_SHARE: f64 = 0.1;

/// The CPU time (user and system, in seconds) of each thread of `pid`, by
/// thread id, with the thread's name.
fn thread_cpu(pid: u32) -> Result<HashMap<u32, (String, f64)>, Failure> {
    let failure = |error: String| {
        Failure::new(
            format!("cannot read /proc/{pid}/task: {error}"),
            "a running server with that --pid",
        )
    };
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100) as f64;
    let mut threads = HashMap::new();
    let tasks =
        fs::read_dir(format!("/proc/{pid}/task")).map_err(|error| failure(error.to_string()))?;
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|name| name.parse().ok()) else {
            continue;
        };
        // A thread may end between the listing and the reading: skip it.
        let Ok(stat) = fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let name = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        // utime and stime are fields 14 and 15; the name in parentheses before
        // them may hold spaces, so count from the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |index: usize| {
            fields
                .get(index)
                .and_then(|field| field.parse::<u64>().ok())
        };
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            let seconds = (user + system) as f64 / ticks_per_second;
            threads.insert(tid, (name.trim().to_string(), seconds));
        }
    }
    Ok(threads)
}

/// One load client: connections one after another, a few requests on each,
/// until `until`. Returns how many answers it got.
fn load_client(context: &Context, until: Instant) -> Result<usize, Failure> {
    let request = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", context.addr()).into_bytes();
    let mut answers = 0;
    while Instant::now() < until {
        let mut connection = Connection::open(context.addr())
            .map_err(|error| Failure::new(error.describe(), "every connection accepted"))?;
        for _ in 0..REQUESTS_PER_CONNECTION {
            connection.send(&request);
            let reply = connection.read_reply(true).map_err(|error| {
                Failure::new(
                    format!("under load, after {answers} answers: {}", error.describe()),
                    "an answer to every request",
                )
                .sent(context.addr(), &request)
                .received(error.received())
            })?;
            if reply.status != 200 {
                return Err(Failure::new(
                    format!("under load, the status was {}", reply.status),
                    "status 200",
                )
                .sent(context.addr(), &request)
                .received(&reply.raw));
            }
            answers += 1;
        }
    }
    Ok(answers)
}

/// Four clients keep the server busy for two seconds, each opening connection
/// after connection. Meanwhile `/proc/PID/task` tells how much CPU time each
/// thread of the server used: with one event loop per worker thread, at least
/// two threads must each have done a real share of the work. One loop, however
/// fast, is one thread on one core.
fn workers_share_load(context: &Context) -> Result<(), Failure> {
    let Some(pid) = context.target.pid else {
        return Err(Failure::new("no --pid given", "the server's process id"));
    };
    let before = thread_cpu(pid)?;
    let started = Instant::now();
    let until = started + LOAD_TIME;
    let results: Vec<Result<usize, Failure>> = thread::scope(|scope| {
        let clients: Vec<_> = (0..LOAD_CLIENTS)
            .map(|_| scope.spawn(|| load_client(context, until)))
            .collect();
        clients
            .into_iter()
            .map(|client| {
                client
                    .join()
                    .unwrap_or_else(|_| Err(Failure::new("a load thread panicked", "no panic")))
            })
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let after = thread_cpu(pid)?;
    for result in results {
        result?;
    }
    let mut used: Vec<(String, f64)> = after
        .into_iter()
        .map(|(tid, (name, seconds))| {
            let earlier = before.get(&tid).map_or(0.0, |(_, seconds)| *seconds);
            (format!("{name} ({tid})"), seconds - earlier)
        })
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let busiest = used.first().map_or(0.0, |(_, seconds)| *seconds);
    let sharing = used
        .iter()
        .filter(|(_, seconds)| *seconds > 0.0 && *seconds >= busiest * FAIR_SHARE)
        .count();
    if sharing >= 2 {
        return Ok(());
    }
    let threads: Vec<String> = used
        .iter()
        .map(|(thread, seconds)| format!("{thread} {:.0}%", seconds / elapsed * 100.0))
        .collect();
    Err(Failure::new(
        format!(
            "under load, {sharing} thread(s) did the work; CPU per thread, as a share of one core: \
             {}",
            threads.join(", ")
        ),
        "with --workers 2, at least two threads that each use at least a tenth of what the \
         busiest one uses: one event loop per worker, all accepting from the same port",
    ))
}
