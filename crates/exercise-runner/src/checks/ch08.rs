//! Chapter 8's worker threads: one event loop per thread. (Its limit on
//! connections per client is in `per_client.rs`, with chapter 4's.)

use std::collections::HashMap;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use super::support::{ask, cannot, checks, connect, joined};
use checker::checks::{Check, expect_status, kept_request, server_pid};
use checker::report::Failure;
use checker::target::Context;

pub fn checks() -> Vec<Check> {
    checks! {
        pid "workers-share-load", 8..=8, workers_share_load,
            "under load from four clients, at least two threads of the server each do a share of \
             the work";
    }
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

/// The CPU time (user and system, in clock ticks) of each thread of `pid`, by
/// name and thread id.
fn thread_ticks(pid: u32) -> Result<HashMap<String, u64>, Failure> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).map_err(cannot("read /proc/PID/task"))?;
    let mut threads = HashMap::new();
    for task in tasks.flatten() {
        // A thread may end between the listing and the reading: skip it.
        let Ok(stat) = fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let name = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        // utime and stime are fields 14 and 15; the name in parentheses before
        // them may hold spaces, so count from the last ')'.
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect()
            })
            .unwrap_or_default();
        let id = format!("{} ({})", name.trim(), task.file_name().to_string_lossy());
        threads.insert(id, fields.iter().sum());
    }
    Ok(threads)
}

/// One load client: connections one after another, a few requests on each,
/// until `until`.
fn load_client(context: &Context, until: Instant) -> Result<(), Failure> {
    let request = kept_request(context, "GET", "/");
    while Instant::now() < until {
        let mut connection = connect(context, None)?;
        for _ in 0..REQUESTS_PER_CONNECTION {
            expect_status(
                &ask(context, &mut connection, &request, "under load", "status 200")?,
                200,
            )?;
        }
    }
    Ok(())
}

/// Four clients keep the server busy for two seconds, each opening connection
/// after connection. Meanwhile `/proc/PID/task` tells how much CPU time each
/// thread of the server used: with one event loop per worker thread, at least
/// two threads must each have done a real share of the work. One loop, however
/// fast, is one thread on one core.
fn workers_share_load(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    let before = thread_ticks(pid)?;
    let started = Instant::now();
    let until = started + LOAD_TIME;
    thread::scope(|scope| {
        let clients: Vec<_> =
            (0..LOAD_CLIENTS).map(|_| scope.spawn(|| load_client(context, until))).collect();
        clients.into_iter().try_for_each(joined)
    })?;
    let mut used: Vec<(String, u64)> = thread_ticks(pid)?
        .into_iter()
        .map(|(thread, ticks)| {
            let earlier = before.get(&thread).copied().unwrap_or(0);
            (thread, ticks.saturating_sub(earlier))
        })
        .collect();
    used.sort_by_key(|(_, ticks)| std::cmp::Reverse(*ticks));
    let busiest = used.first().map_or(0, |(_, ticks)| *ticks) as f64;
    let sharing = used
        .iter()
        .filter(|(_, ticks)| *ticks > 0 && *ticks as f64 >= busiest * FAIR_SHARE)
        .count();
    if sharing >= 2 {
        return Ok(());
    }
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100) as f64;
    let elapsed = started.elapsed().as_secs_f64();
    let threads: Vec<String> = used
        .iter()
        .map(|(thread, ticks)| {
            let share = *ticks as f64 / ticks_per_second / elapsed * 100.0;
            format!("{thread} {share:.0}%")
        })
        .collect();
    Err(Failure::new(
        format!(
            "under load, {sharing} thread(s) did the work; CPU per thread, as a share of one \
             core: {}",
            threads.join(", ")
        ),
        "with --workers 2, at least two threads that each use at least a tenth of what the \
         busiest one uses: one event loop per worker, all accepting from the same port",
    ))
}
