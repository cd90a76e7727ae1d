//! `--json`: one measurement for the tables `scripts/bench` writes.

use std::thread;
use std::time::Duration;

use checker::process::{thread_count, tree_memory_bytes};

use super::{Options, Server, fresh_request, is_still_open, open_idle_connections};

/// How long the server is left, once the connections are open, to finish what
/// they set off (threads started, buffers allocated) before it is measured.
const SETTLE: Duration = Duration::from_millis(500);

/// Everything one measurement found, printed as one JSON object.
pub struct Measured {
    requested: usize,
    opened: usize,
    stopped_by: Option<String>,
    still_open: usize,
    memory_before: Option<u64>,
    memory_after: Option<u64>,
    cpu_percent: Option<f64>,
    threads: Option<usize>,
    probe_millis: Vec<f64>,
    probe_failures: usize,
}

/// In this order, so that no step disturbs the one it measures: one request,
/// so that the memory before counts what serving touches once (its first pages
/// of program text, the buffers it makes once) and the difference after is
/// what the connections cost; the server's memory; the connections opened; a pause to settle; its memory and threads
/// again; its CPU over `--seconds` with only the idle connections there; then
/// `--probes` fresh requests one after another; and how many connections the
/// server still keeps. Memory is the process tree's proportional share (PSS),
/// so that stage 3's forked children do not count their shared pages twice.
pub fn measure(options: &Options) -> Result<Measured, String> {
    let mut server = options.pid.map(Server::start_watching).transpose()?;
    let memory = || options.pid.and_then(|pid| tree_memory_bytes(pid).ok());
    let _ = fresh_request(options);
    let memory_before = memory();
    let held = open_idle_connections(options)?;
    thread::sleep(SETTLE);
    let memory_after = memory();
    let threads = options.pid.and_then(|pid| thread_count(pid).ok());
    let cpu_percent = match &mut server {
        Some(server) => idle_cpu(server, Duration::from_secs_f64(options.seconds)),
        None => None,
    };
    let mut probe_millis = Vec::new();
    let mut probe_failures = 0;
    for _ in 0..options.probes {
        match fresh_request(options) {
            Ok((_, took)) => probe_millis.push(took.as_secs_f64() * 1000.0),
            Err(_) => probe_failures += 1,
        }
    }
    Ok(Measured {
        requested: options.count,
        opened: held.streams.len(),
        still_open: held.streams.iter().filter(|s| is_still_open(s)).count(),
        stopped_by: held.stopped_by,
        memory_before,
        memory_after,
        cpu_percent,
        threads,
        probe_millis,
        probe_failures,
    })
}

/// The server's CPU over `window`, from now, in percent of one core; `None`
/// for a window of 0 s, which measures nothing, or when the server's process
/// can no longer be read.
fn idle_cpu(server: &mut Server, window: Duration) -> Option<f64> {
    if window.is_zero() {
        return None;
    }
    server.cpu_since_last_look().ok()?;
    thread::sleep(window);
    server.cpu_since_last_look().ok()
}

impl Measured {
    /// One line of JSON. The names are the ones `scripts/bench` and
    /// `scripts/bench-report` read.
    pub fn to_json(&self) -> String {
        let optional = |value: Option<String>| value.unwrap_or_else(|| "null".to_string());
        let mut sorted = self.probe_millis.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted
            .get(sorted.len() / 2)
            .map(|value| format!("{value:.3}"));
        let max = sorted.last().map(|value| format!("{value:.3}"));
        let per_connection = match (self.memory_before, self.memory_after) {
            (Some(before), Some(after)) if self.opened > 0 => Some(format!(
                "{:.0}",
                (after as f64 - before as f64) / self.opened as f64
            )),
            _ => None,
        };
        format!(
            concat!(
                "{{\"requested\":{},\"opened\":{},\"open_failure\":{},\"still_open\":{},",
                "\"memory_before\":{},\"memory_after\":{},\"bytes_per_connection\":{},",
                "\"cpu_percent\":{},\"threads\":{},\"probe_median_ms\":{},\"probe_max_ms\":{},",
                "\"probe_failures\":{}}}"
            ),
            self.requested,
            self.opened,
            optional(self.stopped_by.as_ref().map(|text| format!("{text:?}"))),
            self.still_open,
            optional(self.memory_before.map(|value| value.to_string())),
            optional(self.memory_after.map(|value| value.to_string())),
            optional(per_connection),
            optional(self.cpu_percent.map(|value| format!("{value:.2}"))),
            optional(self.threads.map(|value| value.to_string())),
            optional(median),
            optional(max),
            self.probe_failures,
        )
    }
}
