//! `idle-clients URL COUNT [--seconds N] [--pid PID]`: the experiment of
//! chapters 4, 5, 6 and 8. It opens COUNT connections that say nothing and
//! holds them; then, once a second, it counts how many the server still keeps
//! open and times a `GET /` on one more connection, and, given the server's
//! process id, reads from `/proc` the server's CPU use in that second, its
//! threads, its child processes and its resident memory. A last line sums up.
//!
//! `cargo run --release -p checker --bin idle-clients -- http://127.0.0.1:7808/ 10000 --pid PID`

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use checker::client::{self, Connection};
use checker::process::{children, cpu_seconds, resident_bytes, thread_count};
use checker::target::address_of;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

const USAGE: &str = "\
idle-clients: holds idle connections open to a server and watches what they cost it

Usage: cargo run --release -p checker --bin idle-clients -- URL COUNT [OPTIONS]
   eg: cargo run --release -p checker --bin idle-clients -- http://127.0.0.1:7808/ 1000

Opens COUNT connections that send nothing and keeps them open. Then, once a
second, prints how many the server still keeps open and how long a GET / on a
new connection took. A last line sums up: how many stayed open, the median
GET / time and, with --pid, the server's CPU over the whole run.

Options:
  --seconds N    how long to watch [default: 5]
  --pid PID      also print, from /proc, the server's CPU use (in percent of one
                 core), its threads, child processes and resident memory
  --help         print this help
";

/// Bounds, so that a typo cannot open a million sockets or run for a day.
const MOST_CONNECTIONS: usize = 15_000;
const MOST_SECONDS: u64 = 300;

struct Options {
    addr: SocketAddr,
    count: usize,
    seconds: u64,
    pid: Option<u32>,
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
    if let Some(pid) = options.pid {
        // A wrong process id is better told before opening anything.
        Server::watch(pid)?;
    }
    raise_descriptor_limit();
    let mut idle = open_idle_connections(options)?;
    let opened = idle.len();
    let mut line = format!("{opened} idle connections open to {}", options.addr);
    if let Some(pid) = options.pid {
        line += &format!("; server: {}", server_state(pid));
    }
    println!("{line}");

    // The server's CPU is counted from here, once the connections are open.
    let mut server = options.pid.map(Server::watch).transpose()?;
    let started = Instant::now();
    let mut answer_times = Vec::new();
    let mut second = 0;
    while started.elapsed() < Duration::from_secs(options.seconds) {
        second += 1;
        let answer = time_one_request(options.addr);
        // A GET that waits for its timeout stretches this second; the next
        // one ends on the next whole second after it.
        thread::sleep(
            (started + Duration::from_secs(second)).saturating_duration_since(Instant::now()),
        );
        second = second.max(started.elapsed().as_secs());
        idle.retain(still_open);
        let mut line = format!("{second:>3} s: {:>5} open; ", idle.len());
        match &answer {
            Ok((status, time)) => line += &format!("GET / got {status} in {}", millis(*time)),
            Err(problem) => line += &format!("GET / got {problem}"),
        }
        if let Some(server) = &mut server {
            line += &format!("; server: {}", server.report());
        }
        println!("{line}");
        answer_times.extend(answer.ok().map(|(_, time)| time));
    }

    let mut summary = format!(
        "after {} s: {} of {opened} still open; ",
        started.elapsed().as_secs(),
        idle.len()
    );
    answer_times.sort();
    match answer_times.get(answer_times.len() / 2) {
        Some(median) => summary += &format!("median GET / {}", millis(*median)),
        None => summary += "no GET / was answered",
    }
    if let Some(server) = &server {
        summary += &format!("; server CPU {:.0}% of a core", server.cpu_overall());
    }
    println!("{summary}");
    Ok(())
}

/// Opens up to `count` connections. If one fails (out of descriptors, a full
/// accept queue) it says so and goes on with those it has, unless it has none.
fn open_idle_connections(options: &Options) -> Result<Vec<TcpStream>, String> {
    let mut idle = Vec::with_capacity(options.count);
    while idle.len() < options.count {
        match client::connect(options.addr) {
            Ok(stream) => idle.push(stream),
            Err(error) if idle.is_empty() => {
                return Err(format!("{}: {}", options.addr, error.describe()));
            }
            Err(error) => {
                eprintln!(
                    "idle-clients: stopped at {} connections: {} (is `ulimit -n` high enough?)",
                    idle.len(),
                    error.describe()
                );
                break;
            }
        }
    }
    Ok(idle)
}

/// A connection is still open while a read would have to wait: no bytes and no
/// end of stream. A server that gave up on it has sent a 408, or just closed.
fn still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0; 1];
    matches!((&*stream).read(&mut byte), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

/// Opens a connection, asks for `/`, and reads the whole answer: its status and
/// how long it all took. A server that stays silent for 5 s gives an error that
/// says so.
fn time_one_request(addr: SocketAddr) -> Result<(u16, Duration), String> {
    let started = Instant::now();
    let mut connection = Connection::open(addr).map_err(|error| error.describe())?;
    connection
        .send(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    let reply = connection
        .read_reply(true)
        .map_err(|error| error.describe())?;
    Ok((reply.status, started.elapsed()))
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// The server's process, watched through `/proc`: when it was first and last
/// looked at, and the CPU seconds it had used by then.
struct Server {
    pid: u32,
    first: (Instant, f64),
    last: (Instant, f64),
}

impl Server {
    fn watch(pid: u32) -> Result<Server, String> {
        let cpu = cpu_seconds(pid).map_err(|error| format!("--pid {pid}: {error}"))?;
        let now = (Instant::now(), cpu);
        Ok(Server {
            pid,
            first: now,
            last: now,
        })
    }

    /// Its CPU use since the last report, in percent of one core, and its
    /// threads, child processes and resident memory now.
    fn report(&mut self) -> String {
        match cpu_seconds(self.pid) {
            Ok(cpu) => {
                let now = (Instant::now(), cpu);
                let share = cpu_share(self.last, now);
                self.last = now;
                format!("CPU {share:.0}% of a core, {}", server_state(self.pid))
            }
            Err(error) => format!("cannot read /proc/{}: {error}", self.pid),
        }
    }

    /// Its CPU use from the first look to the last, in percent of one core.
    fn cpu_overall(&self) -> f64 {
        cpu_share(self.first, self.last)
    }
}

/// The server's threads, child processes and resident memory now.
fn server_state(pid: u32) -> String {
    let state = || -> io::Result<String> {
        Ok(format!(
            "{}, {}, {} kB resident",
            counted(thread_count(pid)?, "thread"),
            counted(children(pid).len(), "child process"),
            resident_bytes(pid)? / 1024
        ))
    };
    state().unwrap_or_else(|error| format!("cannot read /proc/{pid}: {error}"))
}

/// `1 thread`, `2 threads`; `1 child process`, `0 child processes`.
fn counted(count: usize, thing: &str) -> String {
    match (count, thing.ends_with('s')) {
        (1, _) => format!("1 {thing}"),
        (_, true) => format!("{count} {thing}es"),
        (_, false) => format!("{count} {thing}s"),
    }
}

/// The CPU used between two looks, in percent of one core.
fn cpu_share((then, cpu_then): (Instant, f64), (now, cpu_now): (Instant, f64)) -> f64 {
    let seconds = now.duration_since(then).as_secs_f64();
    if seconds > 0.0 {
        100.0 * (cpu_now - cpu_then) / seconds
    } else {
        0.0
    }
}

/// Many systems start programs with a soft limit of 1024 open files and a much
/// higher hard limit; a program may raise its own soft limit up to the hard
/// one, and 10,000 connections need it.
fn raise_descriptor_limit() {
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn parse(arguments: &[String]) -> Result<Option<Options>, String> {
    let mut positional = Vec::new();
    let mut seconds = 5;
    let mut pid = None;
    let mut remaining = arguments.iter();
    while let Some(argument) = remaining.next() {
        let mut value = || {
            remaining
                .next()
                .ok_or_else(|| format!("{argument} needs a value"))
        };
        match argument.as_str() {
            "-h" | "--help" => return Ok(None),
            "--seconds" => seconds = number(value()?, "--seconds")?,
            "--pid" => pid = Some(number(value()?, "--pid")?),
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
    let count = number(count, "COUNT")?;
    if count > MOST_CONNECTIONS || seconds > MOST_SECONDS {
        return Err(format!(
            "at most {MOST_CONNECTIONS} connections for at most {MOST_SECONDS} seconds"
        ));
    }
    Ok(Some(Options {
        addr: address_of(url)?,
        count,
        seconds,
        pid,
    }))
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{what} wants a number, not '{text}'"))
}
