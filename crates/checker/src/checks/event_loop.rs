//! Stages 6 to 8: one thread serves everyone, so it must never get stuck on one
//! client, and (stage 8) it must not burn the CPU while nothing happens.

use std::thread;
use std::time::{Duration, Instant};

use super::Check;
use crate::client::Connection;
use crate::process::cpu_seconds;
use crate::report::Failure;
use crate::target::Context;

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "sustained-load",
            stages: 6..=8,
            behaviour: "two threads keep 50 connections busy for 3 s; every one keeps being answered",
            needs_pid: false,
            run: sustained_load,
        },
        Check {
            name: "idle-cpu",
            stages: 8..=8,
            behaviour: "with 50 idle connections open, the server uses almost no CPU",
            needs_pid: true,
            run: idle_cpu,
        },
    ]
}

/// How long the load runs.
const LOAD_TIME: Duration = Duration::from_secs(3);
/// Load threads, and connections per thread: `wrk -t2 -c50`.
const LOAD_THREADS: usize = 2;
const CONNECTIONS_PER_THREAD: usize = 25;

// ANCHOR: sustained_load
/// Two threads, 25 connections each. In every round a thread opens whatever
/// connections it lacks (all at once, the way a load tool starts), sends one
/// request on each, then reads every answer. A connection that gets no answer
/// for 5 s means the server has forgotten it: with edge-triggered epoll, that is
/// what accepting or reading only once per event does.
fn sustained_load(context: &Context) -> Result<(), Failure> {
    let until = Instant::now() + LOAD_TIME;
    let results: Vec<Result<usize, Failure>> = thread::scope(|scope| {
        let threads: Vec<_> = (0..LOAD_THREADS)
            .map(|number| scope.spawn(move || load_thread(context, number, until)))
            .collect();
        threads
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(Failure::new("a load thread panicked", "no panic")))
            })
            .collect()
    });
    let mut answered = 0;
    for result in results {
        answered += result?;
    }
    if answered < LOAD_THREADS * CONNECTIONS_PER_THREAD {
        return Err(Failure::new(
            format!("only {answered} answers in {} s", LOAD_TIME.as_secs()),
            "at least one answer on each of the 50 connections",
        ));
    }
    Ok(())
}
// ANCHOR_END: sustained_load

/// One load thread; returns how many answers it got.
fn load_thread(context: &Context, number: usize, until: Instant) -> Result<usize, Failure> {
    let request = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", context.addr()).into_bytes();
    let mut connections: Vec<Option<Connection>> =
        (0..CONNECTIONS_PER_THREAD).map(|_| None).collect();
    let mut answered = 0;
    while Instant::now() < until {
        for slot in connections.iter_mut().filter(|slot| slot.is_none()) {
            let connection = Connection::open(context.addr()).map_err(|error| {
                Failure::new(
                    format!("thread {number}: {}", error.describe()),
                    "every connection accepted",
                )
            })?;
            *slot = Some(connection);
        }
        for connection in connections.iter_mut().flatten() {
            connection.send(&request);
        }
        for (index, slot) in connections.iter_mut().enumerate() {
            let Some(connection) = slot else { continue };
            let reply = connection.read_reply(true).map_err(|error| {
                Failure::new(
                    format!(
                        "after {answered} answers, connection {index} of thread {number}: {} \
                         (its request was sent; the server never came back to it)",
                        error.describe()
                    ),
                    "an answer on every connection, round after round",
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
            answered += 1;
            // A server that closes after each answer gets a new connection next round.
            if reply.connection_has("close") {
                *slot = None;
            }
        }
    }
    Ok(answered)
}

/// Idle connections kept open while the server's CPU time is measured.
const IDLE_CONNECTIONS: usize = 50;
/// How long the CPU time is measured.
const IDLE_MEASURE_TIME: Duration = Duration::from_millis(1500);
/// More than this share of one core while idle means the server is polling.
const IDLE_CPU_LIMIT: f64 = 0.20;

// ANCHOR: idle_cpu
/// Opens 50 connections, asks one question on each (a kept-alive connection
/// stays open afterwards), then measures how much CPU time the server uses while
/// they all sit idle. A loop that asks every socket "anything for me?" uses a
/// whole core; one that lets the kernel wake it when something happens uses
/// next to nothing.
fn idle_cpu(context: &Context) -> Result<(), Failure> {
    let Some(pid) = context.target.pid else {
        return Err(Failure::new("no --pid given", "the server's process id"));
    };
    let request = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", context.addr()).into_bytes();
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for _ in 0..IDLE_CONNECTIONS {
        let mut connection = Connection::open(context.addr())
            .map_err(|error| Failure::new(error.describe(), "a connection"))?;
        connection.send(&request);
        let _ = connection.read_reply(true);
        idle.push(connection);
    }
    // Let the server settle after the burst.
    thread::sleep(Duration::from_millis(300));
    let cpu = || {
        cpu_seconds(pid).map_err(|error| {
            Failure::new(
                format!("cannot read /proc/{pid}/stat: {error}"),
                "a running server with that --pid",
            )
        })
    };
    let before = cpu()?;
    let started = Instant::now();
    thread::sleep(IDLE_MEASURE_TIME);
    let used = cpu()? - before;
    let share = used / started.elapsed().as_secs_f64();
    drop(idle);
    if share > IDLE_CPU_LIMIT {
        return Err(Failure::new(
            format!(
                "the server used {:.0}% of a core while {IDLE_CONNECTIONS} connections sat idle \
                 (a loop that polls every socket instead of waiting for the kernel)",
                share * 100.0
            ),
            format!(
                "under {:.0}% of a core: the server sleeps until something happens",
                IDLE_CPU_LIMIT * 100.0
            ),
        ));
    }
    Ok(())
}
// ANCHOR_END: idle_cpu
