//! Holds many idle connections open to a server, and watches what that costs it.
//!
//! ```console
//! cargo run --release -p checker --example idle-clients -- http://127.0.0.1:7805/ --count 5000 --pid PID
//! ```
//!
//! Opens `--count` connections that send nothing, then once a second for
//! `--seconds` prints how many are still open (a server with a read timeout
//! closes them), how long a fresh `GET /` took meanwhile, and, with `--pid`, the
//! server's threads, child processes and resident memory as `/proc` tells them.
//! Then it closes every connection and exits. The chapters on threads and green
//! threads run it; each process may hold at most `ulimit -n` connections.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use checker::client::exchange;
use checker::process::{children, thread_count};

/// A bound, so a typo cannot open a million sockets.
const MOST_CONNECTIONS: usize = 15_000;
const MOST_SECONDS: usize = 300;

struct Options {
    addr: SocketAddr,
    count: usize,
    seconds: u64,
    pid: Option<u32>,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("idle-clients: {message}");
            eprintln!("usage: idle-clients URL --count N [--seconds S (default 10)] [--pid PID]");
            return ExitCode::from(2);
        }
    };
    let mut idle = open_idle_connections(&options);
    println!("{} idle connections open", idle.len());
    for second in 1..=options.seconds {
        std::thread::sleep(Duration::from_secs(1));
        idle.retain(still_open);
        println!(
            "after {second:>3} s: {:>5} still open; {}; {}",
            idle.len(),
            fresh_request_time(options.addr),
            server_usage(options.pid)
        );
    }
    drop(idle);
    ExitCode::SUCCESS
}

/// Opens up to `count` connections; stops early (and says why) on the first
/// failure, such as running out of file descriptors.
fn open_idle_connections(options: &Options) -> Vec<TcpStream> {
    let started = Instant::now();
    let mut idle = Vec::with_capacity(options.count);
    while idle.len() < options.count {
        match TcpStream::connect_timeout(&options.addr, Duration::from_secs(5)) {
            Ok(stream) => idle.push(stream),
            Err(error) => {
                eprintln!("stopped opening at {} connections: {error}", idle.len());
                break;
            }
        }
    }
    println!(
        "opened {} connections in {:.2} s; {}",
        idle.len(),
        started.elapsed().as_secs_f64(),
        server_usage(options.pid)
    );
    idle
}

/// A connection is still open when a read would have to wait: no bytes and no
/// end of stream. A server that gave up on it sent a 408, or just closed.
fn still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0; 1];
    matches!((&*stream).read(&mut byte), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

fn fresh_request_time(addr: SocketAddr) -> String {
    let started = Instant::now();
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    match exchange(addr, request.as_bytes(), true) {
        Ok(reply) => format!(
            "a new GET / got {} in {:.1} ms",
            reply.status,
            started.elapsed().as_secs_f64() * 1000.0
        ),
        Err(error) => format!("a new GET / failed: {}", error.describe()),
    }
}

fn server_usage(pid: Option<u32>) -> String {
    let Some(pid) = pid else {
        return "(give --pid for the server's threads and memory)".to_string();
    };
    let resident = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .map(|value| value.trim().to_string())
        })
        .unwrap_or_else(|| "?".to_string());
    format!(
        "server: {} threads, {} child processes, {resident} resident",
        thread_count(pid).map_or("?".to_string(), |count| count.to_string()),
        children(pid).len()
    )
}

fn parse(arguments: Vec<String>) -> Result<Options, String> {
    let mut addr = None;
    let mut count = None;
    let mut seconds = 10;
    let mut pid = None;
    let mut remaining = arguments.into_iter();
    while let Some(argument) = remaining.next() {
        let mut value = |name: &str| remaining.next().ok_or(format!("{name} needs a value"));
        match argument.as_str() {
            "--count" => count = Some(number(&value("--count")?)?),
            "--seconds" => seconds = number(&value("--seconds")?)?,
            "--pid" => pid = Some(number(&value("--pid")?)?),
            url if !url.starts_with("--") => addr = Some(address_of(url)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let count: usize = count.ok_or("--count N is required")?;
    if count > MOST_CONNECTIONS || seconds > MOST_SECONDS {
        return Err(format!(
            "at most {MOST_CONNECTIONS} connections for at most {MOST_SECONDS} s"
        ));
    }
    Ok(Options {
        addr: addr.ok_or("which server? give its URL")?,
        count,
        seconds: seconds as u64,
        pid: pid.map(|pid: usize| pid as u32),
    })
}

fn number(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("'{text}' is not a number"))
}

fn address_of(url: &str) -> Result<SocketAddr, String> {
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    authority
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {authority}: {error}"))?
        .next()
        .ok_or(format!("{authority} has no address"))
}
