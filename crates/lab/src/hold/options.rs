//! The command line of `lab hold`, read strictly: a value that is not a
//! number, a stray word, or a count past the bounds is one line naming it.

use std::net::SocketAddr;

use super::{Idle, target_of};

pub const USAGE: &str = "\
lab hold: holds idle connections open to a server and watches what they cost it

Usage: lab hold URL COUNT [--seconds N] [--pid PID] [--idle silent|keep-alive]
                          [--json [--probes N]]
   eg: cargo run --release -p lab -- hold http://127.0.0.1:7808/ 1000 --pid PID

Opens COUNT connections and leaves them idle: silent ones send nothing,
keep-alive ones get one answer to a GET of URL first. Then, once a second,
prints how many the server still keeps open and how long a GET of URL on a new
connection took. A last line sums up: how many stayed open, the median GET time
and, with --pid, the server's CPU over the whole run.

Options:
  --seconds N    how long to watch [default: 5]; with --json, how long to
                 count the server's CPU [default: 2]
  --pid PID      also print, from /proc, the server's CPU use (in percent of one
                 core, its child processes' included), its threads, child
                 processes and resident memory
  --idle KIND    silent or keep-alive [default: silent]
  --json         one measurement for a table instead, as one line of JSON: the
                 server's memory (PSS) before and after opening, its CPU over
                 --seconds while only the idle connections are there (with
                 --pid), then --probes fresh requests one after another
  --probes N     with --json: how many fresh requests to time [default: 20]
  --help         print this help
";

/// Bounds, so that a typo cannot open a million sockets or run for a day. The
/// most connections is what one process may open here (20,000 descriptors).
const MOST_CONNECTIONS: usize = 20_000;
const MOST_SECONDS: f64 = 300.0;
const MOST_PROBES: usize = 1000;

/// What `lab hold` was asked to do.
pub struct Options {
    pub addr: SocketAddr,
    /// What the fresh requests, and the one request of a kept-alive
    /// connection, ask for: the URL's path.
    pub path: String,
    pub count: usize,
    pub idle: Idle,
    pub seconds: f64,
    pub pid: Option<u32>,
    pub json: bool,
    pub probes: usize,
}

/// `Ok(None)` when help was asked for.
pub fn parse(arguments: &[String]) -> Result<Option<Options>, String> {
    let mut positional = Vec::new();
    let mut seconds = None;
    let mut pid = None;
    let mut idle = Idle::Silent;
    let mut json = false;
    let mut probes = None;
    let mut remaining = arguments.iter();
    while let Some(argument) = remaining.next() {
        let mut value = || {
            remaining
                .next()
                .ok_or_else(|| format!("{argument} needs a value"))
        };
        match argument.as_str() {
            "-h" | "--help" => return Ok(None),
            "--seconds" => seconds = Some(number::<f64>(value()?, "--seconds")?),
            "--pid" => pid = Some(number(value()?, "--pid")?),
            "--idle" => idle = idle_kind(value()?)?,
            "--json" => json = true,
            "--probes" => probes = Some(number(value()?, "--probes")?),
            text if text.starts_with("--") => return Err(format!("unknown option '{text}'")),
            text => positional.push(text),
        }
    }
    let [url, count] = positional.as_slice() else {
        // Name what is extra: with `--pid $(pgrep stage08)` and two servers
        // running, pgrep prints two ids and the second one lands here.
        if let [_, _, extra, ..] = positional.as_slice() {
            return Err(format!(
                "unexpected argument '{extra}': give the server's URL, how many \
                 connections to open, and options (did --pid get two process ids?)"
            ));
        }
        return Err("give the server's URL and how many connections to open".into());
    };
    if probes.is_some() && !json {
        return Err(
            "--probes goes with --json (the view a second times one request each second)".into(),
        );
    }
    let count = number(count, "COUNT")?;
    // The watch looks for 5 seconds; a measurement counts CPU for 2.
    let seconds = seconds.unwrap_or(if json { 2.0 } else { 5.0 });
    let probes = probes.unwrap_or(20);
    if count > MOST_CONNECTIONS {
        return Err(format!(
            "at most {MOST_CONNECTIONS} connections, not {count}"
        ));
    }
    if !(0.0..=MOST_SECONDS).contains(&seconds) {
        return Err(format!(
            "--seconds wants 0 to {MOST_SECONDS}, not {seconds}"
        ));
    }
    if probes > MOST_PROBES {
        return Err(format!("at most {MOST_PROBES} probes, not {probes}"));
    }
    let (addr, path) = target_of(url)?;
    Ok(Some(Options {
        addr,
        path,
        count,
        idle,
        seconds,
        pid,
        json,
        probes,
    }))
}

fn idle_kind(text: &str) -> Result<Idle, String> {
    match text {
        "silent" => Ok(Idle::Silent),
        "keep-alive" => Ok(Idle::KeepAlive),
        other => Err(format!("--idle is silent or keep-alive, not '{other}'")),
    }
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{what} wants a number, not '{text}'"))
}
