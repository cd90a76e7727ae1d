//! `idle-clients URL COUNT [--pid PID] [--seconds N]`: the experiment of
//! chapters 6 to 8. Opens COUNT connections that say nothing, holds them, and
//! once a second times a `GET /` on a new connection; with `--pid`, also
//! reports how much CPU the server used in that second.
//!
//! `cargo run --release -p checker --bin idle-clients -- http://127.0.0.1:7808/ 10000 --pid PID`

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use checker::client::{self, Connection};
use checker::process::cpu_seconds;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

const USAGE: &str = "\
idle-clients: holds idle connections open while timing new requests

Usage: cargo run --release -p checker --bin idle-clients -- URL COUNT [OPTIONS]
   eg: cargo run --release -p checker --bin idle-clients -- http://127.0.0.1:7808/ 1000

Opens COUNT connections to the server that send nothing, and keeps them open.
Then, once a second, times a GET / on one more connection.

Options:
  --pid PID      also report the server's CPU use each second (from /proc/PID/stat)
  --seconds N    how many seconds to measure [default: 5]
  --help         print this help
";

struct Options {
    addr: SocketAddr,
    count: usize,
    pid: Option<u32>,
    seconds: u32,
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&arguments) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("idle-clients: {message} (try --help)");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("idle-clients: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    raise_descriptor_limit();
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = Vec::with_capacity(options.count);
    for number in 0..options.count {
        let stream = client::connect(options.addr).map_err(|error| {
            format!(
                "connection {} of {}: {} (is `ulimit -n` high enough?)",
                number + 1,
                options.count,
                error.describe()
            )
        })?;
        idle.push(stream);
    }
    println!(
        "{} idle connections open to {} (opened in {:.2} s)",
        idle.len(),
        options.addr,
        started.elapsed().as_secs_f64()
    );
    let mut latencies = Vec::new();
    let mut cpu_shares = Vec::new();
    for second in 1..=options.seconds {
        let cpu_before = options.pid.map(cpu_seconds).transpose();
        let cpu_before =
            cpu_before.map_err(|error| format!("reading the server's CPU: {error}"))?;
        let second_started = Instant::now();
        let latency = time_one_request(options.addr);
        thread::sleep(Duration::from_secs(1).saturating_sub(second_started.elapsed()));
        let mut line = match &latency {
            Ok(latency) => format!(
                "second {second}: GET / answered in {:.2} ms",
                millis(*latency)
            ),
            Err(problem) => format!("second {second}: GET / got {problem}"),
        };
        if let (Some(pid), Some(before)) = (options.pid, cpu_before) {
            let used = cpu_seconds(pid).map_err(|error| error.to_string())? - before;
            let share = used / second_started.elapsed().as_secs_f64();
            line.push_str(&format!("; server CPU {:.0}% of a core", share * 100.0));
            cpu_shares.push(share);
        }
        println!("{line}");
        latencies.extend(latency);
    }
    latencies.sort();
    if let Some(median) = latencies.get(latencies.len() / 2) {
        let mut summary = format!(
            "with {} idle connections: median GET / {:.2} ms",
            idle.len(),
            millis(*median)
        );
        if !cpu_shares.is_empty() {
            let mean = cpu_shares.iter().sum::<f64>() / cpu_shares.len() as f64;
            summary.push_str(&format!(", server CPU {:.0}% of a core", mean * 100.0));
        }
        println!("{summary}");
    }
    Ok(())
}

/// Opens a connection, asks for `/`, and reads the whole answer. A server that
/// stays silent for 5 s gives an error that says so.
fn time_one_request(addr: SocketAddr) -> Result<Duration, String> {
    let started = Instant::now();
    let mut connection = Connection::open(addr).map_err(|error| error.describe())?;
    connection
        .send(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    connection
        .read_reply(true)
        .map_err(|error| error.describe())?;
    Ok(started.elapsed())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Many systems start programs with a soft limit of 1024 open files, and a
/// much higher hard limit; a program may raise its own soft limit up to the
/// hard one, and 10,000 connections need it.
fn raise_descriptor_limit() {
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn parse(arguments: &[String]) -> Result<Option<Options>, String> {
    let mut positional = Vec::new();
    let mut pid = None;
    let mut seconds = 5;
    let mut remaining = arguments.iter();
    while let Some(argument) = remaining.next() {
        let mut value = || {
            remaining
                .next()
                .ok_or_else(|| format!("{argument} needs a value"))
        };
        match argument.as_str() {
            "-h" | "--help" => return Ok(None),
            "--pid" => pid = Some(number(value()?, "--pid")?),
            "--seconds" => seconds = number(value()?, "--seconds")?,
            text if text.starts_with("--") => return Err(format!("unknown option '{text}'")),
            text => positional.push(text.to_string()),
        }
    }
    let [url, count] = positional.as_slice() else {
        return Err("give the server's URL and how many connections to open".into());
    };
    let authority = url.strip_prefix("http://").unwrap_or(url);
    let authority = authority.split('/').next().unwrap_or_default();
    let addr = authority
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {authority}: {error}"))?
        .next()
        .ok_or_else(|| format!("{authority} has no address"))?;
    Ok(Some(Options {
        addr,
        count: number(count, "COUNT")?,
        pid,
        seconds,
    }))
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{what} wants a number, not '{text}'"))
}
