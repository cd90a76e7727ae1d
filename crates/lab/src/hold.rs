//! `lab hold`: the idle-connection experiment of chapters 4, 5, 6 and 8, and of
//! `scripts/bench`. It opens many connections, leaves them idle, and looks at
//! what they cost the server (CPU, threads, memory, read from `/proc`) and
//! whether a new client is still answered quickly meanwhile.
//!
//! One experiment, told two ways, from the same pieces in this file:
//!
//! - [`watch`], the default: a line a second, for a person watching a
//!   server change as it happens (threads ending at a read timeout, a loop
//!   that spins);
//! - [`measure`], with `--json`: one measurement for a table, as one line of
//!   JSON. It lets the server settle, counts its CPU while nothing but the idle
//!   connections is there, and only then times a burst of fresh requests, so
//!   that their work is not counted as the server's idle CPU.
//!
//! [`options`] reads the command line.

mod measure;
mod options;
mod watch;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use checker::client::{self, Connection};
use checker::process::{children, resident_bytes, thread_count, tree_cpu_seconds};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use options::{Options, USAGE, parse};

/// What an idle connection has done before it falls silent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Idle {
    /// Connected, and nothing sent: the server waits for a request head.
    Silent,
    /// One request answered on a kept-alive connection, then nothing: the
    /// server waits for a next request that does not come.
    KeepAlive,
}

/// `lab hold ARGUMENTS`: a mistake in the arguments exits with 2, a run that
/// cannot start (nothing to connect to, a wrong process id) with 1, each with
/// one line on stderr.
pub fn run(arguments: &[String]) -> ExitCode {
    let options = match parse(arguments) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("lab hold: {message} (try --help)");
            return ExitCode::from(2);
        }
    };
    let result = if options.json {
        measure::measure(&options).map(|measured| println!("{}", measured.to_json()))
    } else {
        watch::watch(&options)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lab hold: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The connections held, and why opening more stopped, if it stopped early.
struct Held {
    streams: Vec<TcpStream>,
    stopped_by: Option<String>,
}

/// Opens up to `options.count` connections. If one fails (out of descriptors,
/// a full accept queue) it stops there and goes on with those it has; with
/// none at all there is nothing to measure, and that is an error.
fn open_idle_connections(options: &Options) -> Result<Held, String> {
    raise_descriptor_limit();
    let mut streams = Vec::with_capacity(options.count);
    while streams.len() < options.count {
        match open_one(options) {
            Ok(stream) => streams.push(stream),
            Err(error) if streams.is_empty() => {
                return Err(format!("{}: {}", options.addr, error.describe()));
            }
            Err(error) => {
                return Ok(Held {
                    streams,
                    stopped_by: Some(error.describe()),
                });
            }
        }
    }
    Ok(Held {
        streams,
        stopped_by: None,
    })
}

/// One idle connection: silent, or kept alive after one whole answer.
fn open_one(options: &Options) -> Result<TcpStream, client::ClientError> {
    if options.idle == Idle::Silent {
        return client::connect(options.addr);
    }
    let mut connection = Connection::open(options.addr)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        options.path, options.addr
    );
    connection.send(request.as_bytes());
    connection.read_reply(true)?;
    Ok(connection.stream)
}

/// Many systems start programs with a soft limit of 1024 open files and a much
/// higher hard limit; a program may raise its own soft limit up to the hard
/// one, and 10,000 connections need it.
fn raise_descriptor_limit() {
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Whether the server still keeps this connection waiting: a read would have to
/// wait, with no bytes and no end of stream. A server that gave up on it has
/// sent something (a 408) or closed it. (`peek` leaves any bytes where they are.)
fn is_still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0; 1];
    matches!(stream.peek(&mut byte), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

/// Opens a new connection, asks for the path with `Connection: close`, and
/// reads the whole answer: its status and how long it all took. A server that
/// stays silent for 5 s gives an error that says so.
fn fresh_request(options: &Options) -> Result<(u16, Duration), String> {
    let started = Instant::now();
    let mut connection = Connection::open(options.addr).map_err(|error| error.describe())?;
    connection.send(
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            options.path, options.addr
        )
        .as_bytes(),
    );
    let reply = connection
        .read_reply(true)
        .map_err(|error| error.describe())?;
    Ok((reply.status, started.elapsed()))
}

/// The server's process, watched through `/proc`: when it was first and last
/// looked at, and the CPU seconds its process tree had used by then (stage 3's
/// children included).
struct Server {
    pid: u32,
    first: (Instant, f64),
    last: (Instant, f64),
}

impl Server {
    /// Starts watching; a wrong process id is told here, before anything opens.
    fn start_watching(pid: u32) -> Result<Server, String> {
        let cpu = tree_cpu_seconds(pid).map_err(|error| format!("--pid {pid}: {error}"))?;
        let now = (Instant::now(), cpu);
        Ok(Server {
            pid,
            first: now,
            last: now,
        })
    }

    /// Its CPU use since the last look, in percent of one core.
    fn cpu_since_last_look(&mut self) -> io::Result<f64> {
        let now = (Instant::now(), tree_cpu_seconds(self.pid)?);
        let share = cpu_share(self.last, now);
        self.last = now;
        Ok(share)
    }

    /// Its CPU use from the first look to the last, in percent of one core.
    fn cpu_overall(&self) -> f64 {
        cpu_share(self.first, self.last)
    }

    /// Its threads, child processes and resident memory now.
    fn state(&self) -> String {
        let pid = self.pid;
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

/// `1 thread`, `2 threads`; `1 child process`, `0 child processes`.
fn counted(count: usize, thing: &str) -> String {
    match (count, thing.ends_with('s')) {
        (1, _) => format!("1 {thing}"),
        (_, true) => format!("{count} {thing}es"),
        (_, false) => format!("{count} {thing}s"),
    }
}

/// The address of a server and the path to ask it for.
fn target_of(url: &str) -> Result<(SocketAddr, String), String> {
    let addr = checker::target::address_of(url)?;
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let path = rest.find('/').map_or("/", |at| &rest[at..]);
    Ok((addr, path.to_string()))
}
