//! The idle-connection experiment: open many connections, leave them idle, and
//! see what they cost the server (memory, CPU) and whether a new client is still
//! answered quickly meanwhile.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use checker::process::{thread_count, tree_cpu_seconds, tree_memory_bytes};

/// What an idle connection has done before it falls silent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Idle {
    /// Connected, and nothing sent: the server waits for a request head.
    Silent,
    /// One request answered on a kept-alive connection, then nothing: the
    /// server waits for a next request that does not come.
    KeepAlive,
}

pub struct HoldOptions {
    pub addr: SocketAddr,
    pub connections: usize,
    pub idle: Idle,
    pub pid: Option<u32>,
    pub path: String,
    /// Fresh requests sent while the connections are held.
    pub probes: usize,
    /// How long to watch the server's CPU while the connections are idle.
    pub cpu_window: Duration,
}

/// Everything one run measured, printed as one JSON object.
pub struct HoldResult {
    pub requested: usize,
    pub opened: usize,
    pub open_failure: Option<String>,
    pub still_open: usize,
    pub memory_before: Option<u64>,
    pub memory_after: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub threads_after: Option<usize>,
    pub probe_millis: Vec<f64>,
    pub probe_failures: usize,
}

const STEP_TIMEOUT: Duration = Duration::from_secs(5);

pub fn hold(options: &HoldOptions) -> HoldResult {
    let memory_before = options.pid.and_then(|pid| tree_memory_bytes(pid).ok());
    let (held, open_failure) = open_idle_connections(options);
    // Let the server finish whatever the connections set off (threads started,
    // buffers allocated) before measuring it.
    std::thread::sleep(Duration::from_millis(500));
    let memory_after = options.pid.and_then(|pid| tree_memory_bytes(pid).ok());
    let threads_after = options.pid.and_then(|pid| thread_count(pid).ok());
    let cpu_percent = options
        .pid
        .and_then(|pid| cpu_percent_over(pid, options.cpu_window));
    let mut probe_millis = Vec::new();
    let mut probe_failures = 0;
    for _ in 0..options.probes {
        match timed_request(options.addr, &options.path) {
            Ok(elapsed) => probe_millis.push(elapsed.as_secs_f64() * 1000.0),
            Err(_) => probe_failures += 1,
        }
    }
    let still_open = held.iter().filter(|stream| is_still_open(stream)).count();
    HoldResult {
        requested: options.connections,
        opened: held.len(),
        open_failure,
        still_open,
        memory_before,
        memory_after,
        cpu_percent,
        threads_after,
        probe_millis,
        probe_failures,
    }
}

/// Opens the connections one by one; stops at the first that fails and says why.
fn open_idle_connections(options: &HoldOptions) -> (Vec<TcpStream>, Option<String>) {
    let mut held = Vec::with_capacity(options.connections);
    let request = keep_alive_request(options.addr, &options.path);
    for _ in 0..options.connections {
        let opened =
            TcpStream::connect_timeout(&options.addr, STEP_TIMEOUT).and_then(|mut stream| {
                if options.idle == Idle::KeepAlive {
                    stream.set_read_timeout(Some(STEP_TIMEOUT))?;
                    stream.write_all(request.as_bytes())?;
                    read_one_response(&mut stream)?;
                }
                Ok(stream)
            });
        match opened {
            Ok(stream) => held.push(stream),
            Err(error) => return (held, Some(error.to_string())),
        }
    }
    (held, None)
}

fn keep_alive_request(addr: SocketAddr, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

/// Reads one response whose length `Content-Length` gives.
pub fn read_one_response(stream: &mut TcpStream) -> io::Result<()> {
    let mut received = Vec::new();
    let mut chunk = [0; 16 * 1024];
    loop {
        let count = stream.read(&mut chunk)?;
        if count == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the response ended",
            ));
        }
        received.extend_from_slice(&chunk[..count]);
        let Some(head_end) = find(&received, b"\r\n\r\n").map(|at| at + 4) else {
            continue;
        };
        let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| io::Error::other("no Content-Length"))?;
        if received.len() >= head_end + length {
            return Ok(());
        }
    }
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A fresh connection, one request with `Connection: close`, the whole answer.
fn timed_request(addr: SocketAddr, path: &str) -> io::Result<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, STEP_TIMEOUT)?;
    stream.set_read_timeout(Some(STEP_TIMEOUT))?;
    stream.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    read_one_response(&mut stream)?;
    Ok(started.elapsed())
}

/// The server's CPU use over `window`, in percent of one core; `None` when
/// its process cannot be read.
fn cpu_percent_over(pid: u32, window: Duration) -> Option<f64> {
    let before = tree_cpu_seconds(pid).ok()?;
    let started = Instant::now();
    std::thread::sleep(window);
    let used = tree_cpu_seconds(pid).ok()? - before;
    Some(100.0 * used / started.elapsed().as_secs_f64())
}

/// Whether the server still holds this connection open: a read that would block
/// means open; a read of zero bytes (or a reset) means the server closed it.
fn is_still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0; 1];
    match stream.peek(&mut byte) {
        Err(error) => error.kind() == io::ErrorKind::WouldBlock,
        Ok(count) => count > 0,
    }
}

impl HoldResult {
    /// The result as one line of JSON, for scripts/bench.
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
                "\"cpu_percent\":{},\"threads\":{},\"probe_median_ms\":{},\"probe_max_ms\":{},\"probe_failures\":{}}}"
            ),
            self.requested,
            self.opened,
            optional(self.open_failure.as_ref().map(|text| format!("{text:?}"))),
            self.still_open,
            optional(self.memory_before.map(|value| value.to_string())),
            optional(self.memory_after.map(|value| value.to_string())),
            optional(per_connection),
            optional(self.cpu_percent.map(|value| format!("{value:.2}"))),
            optional(self.threads_after.map(|value| value.to_string())),
            optional(median),
            optional(max),
            self.probe_failures,
        )
    }
}
