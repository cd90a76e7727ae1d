//! The view a second: what a reader runs in chapters 4 to 8.

use std::thread;
use std::time::{Duration, Instant};

use super::{Options, Server, fresh_request, is_still_open, open_idle_connections};

/// Opens the connections, then once a second counts how many the server still
/// keeps open, times a fresh request and, with `--pid`, reads the server's CPU
/// in that second and its state; a last line sums up.
pub fn watch(options: &Options) -> Result<(), String> {
    let mut server = options.pid.map(Server::start_watching).transpose()?;
    let mut held = open_idle_connections(options)?;
    let opened = held.streams.len();
    if let Some(problem) = &held.stopped_by {
        eprintln!(
            "lab hold: stopped at {opened} connections: {problem} (is `ulimit -n` high enough?)"
        );
    }
    let mut line = format!("{opened} idle connections open to {}", options.addr);
    if let Some(server) = &server {
        line += &format!("; server: {}", server.state());
    }
    println!("{line}");

    // The server's CPU is counted from here, once the connections are open.
    if let Some(pid) = options.pid {
        server = Some(Server::start_watching(pid)?);
    }
    let started = Instant::now();
    let mut answer_times = Vec::new();
    let mut second = 0;
    while started.elapsed() < Duration::from_secs_f64(options.seconds) {
        second += 1;
        let answer = fresh_request(options);
        // A request that waits for its timeout stretches this second; the next
        // one ends on the next whole second after it.
        thread::sleep(
            (started + Duration::from_secs(second)).saturating_duration_since(Instant::now()),
        );
        second = second.max(started.elapsed().as_secs());
        held.streams.retain(is_still_open);
        let mut line = format!("{second:>3} s: {:>5} open; ", held.streams.len());
        match &answer {
            Ok((status, time)) => {
                line += &format!("GET {} got {status} in {}", options.path, millis(*time));
            }
            Err(problem) => line += &format!("GET {} got {problem}", options.path),
        }
        if let Some(server) = &mut server {
            match server.cpu_since_last_look() {
                Ok(share) => {
                    line += &format!("; server: CPU {share:.0}% of a core, {}", server.state());
                }
                Err(error) => line += &format!("; server: cannot read /proc: {error}"),
            }
        }
        println!("{line}");
        answer_times.extend(answer.ok().map(|(_, time)| time));
    }

    let mut summary = format!(
        "after {} s: {} of {opened} still open; ",
        started.elapsed().as_secs(),
        held.streams.len()
    );
    answer_times.sort();
    match answer_times.get(answer_times.len() / 2) {
        Some(median) => summary += &format!("median GET {} {}", options.path, millis(*median)),
        None => summary += &format!("no GET {} was answered", options.path),
    }
    if let Some(server) = &server {
        summary += &format!("; server CPU {:.0}% of a core", server.cpu_overall());
    }
    println!("{summary}");
    Ok(())
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}
