//! Starting a stage's real binary for a test: on port 0, serving a private copy
//! of the site, with its first line read to learn the port the kernel chose.
//!
//! Tests never fork or serve inside the test process: they run the same program a
//! student runs, and talk to it over TCP, as a browser would.
//!
//! This is the workspace's test harness, kept apart from the checker: the
//! checker is the conformance tool that judges any server; this crate starts
//! the course's own servers for their tests and hands the checker a target.
//! [`graceful_stop`] checks that a started server stops cleanly on a signal.

pub mod graceful_stop;

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use checker::Target;

/// How long a server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A private copy of the workspace's `html/` folder, removed when dropped, so a
/// test may add files (a large one, a symlink) without touching the real site.
pub struct SiteCopy {
    pub path: PathBuf,
}

impl SiteCopy {
    pub fn new() -> io::Result<SiteCopy> {
        static COPIES: AtomicUsize = AtomicUsize::new(0);
        let number = COPIES.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("course-site-{}-{number}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        copy_folder(&checker::target::default_root(), &path)?;
        Ok(SiteCopy {
            path: path.canonicalize()?,
        })
    }
}

impl Drop for SiteCopy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Copies the folder `from`, with everything in it, to `to`.
pub fn copy_folder(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let destination = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_folder(&entry.path(), &destination)?;
        } else {
            fs::copy(entry.path(), destination)?;
        }
    }
    Ok(())
}

/// A server process started for a test; killed and reaped when dropped, with
/// any children it has.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    pub root: PathBuf,
    /// Lines the server printed after its first one (the access log, if not quiet).
    pub output: mpsc::Receiver<String>,
    site: Option<SiteCopy>,
}

impl ServerProcess {
    /// Starts `program` on 127.0.0.1, port 0, serving a fresh copy of the site,
    /// with `--quiet` and then `arguments`.
    pub fn start(program: &str, arguments: &[&str]) -> io::Result<ServerProcess> {
        ServerProcess::start_with_stderr(program, arguments, Stdio::inherit())
    }

    /// As [`ServerProcess::start`], with the server's stderr sent to `stderr`
    /// (`Stdio::null()` keeps what it says there out of the caller's output).
    pub fn start_with_stderr(
        program: &str,
        arguments: &[&str],
        stderr: Stdio,
    ) -> io::Result<ServerProcess> {
        let site = SiteCopy::new()?;
        let root = site.path.to_string_lossy().into_owned();
        let mut all = vec!["--addr", "127.0.0.1:0", "--root", &root, "--quiet"];
        all.extend_from_slice(arguments);
        let mut command = Command::new(program);
        command.args(&all).stderr(stderr);
        let mut server = ServerProcess::spawn(&mut command, true)?;
        server.site = Some(site);
        Ok(server)
    }

    /// Starts `program` as [`ServerProcess::start`] does, but with its access
    /// log on and its stdout a pipe that nobody reads after the first line: the
    /// pipe fills after 64 KiB, and from then on a write to it would block.
    pub fn start_with_unread_stdout(
        program: &str,
        arguments: &[&str],
    ) -> io::Result<ServerProcess> {
        let site = SiteCopy::new()?;
        let root = site.path.to_string_lossy().into_owned();
        let mut all = vec!["--addr", "127.0.0.1:0", "--root", &root];
        all.extend_from_slice(arguments);
        let mut server = ServerProcess::spawn(
            Command::new(program).args(&all).stderr(Stdio::inherit()),
            false,
        )?;
        server.site = Some(site);
        Ok(server)
    }

    /// Starts a prepared command that prints the `listening on` line first.
    pub fn start_raw(command: &mut Command) -> io::Result<ServerProcess> {
        ServerProcess::spawn(command.stderr(Stdio::inherit()), true)
    }

    /// Starts `command`, reads its first line and, if `keep_reading`, the rest.
    /// The caller chooses where its stderr goes.
    fn spawn(command: &mut Command, keep_reading: bool) -> io::Result<ServerProcess> {
        let mut child = command.stdout(Stdio::piped()).spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let (lines_sender, lines) = mpsc::channel();
        // Keep reading the server's stdout for as long as it runs: a pipe nobody
        // reads fills up, and then the server blocks in the middle of a log line.
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if lines_sender.send(line).is_err() || !keep_reading {
                    break;
                }
            }
            if !keep_reading {
                // Holds the pipe open, unread, for as long as the test runs.
                loop {
                    thread::park();
                }
            }
        });
        let first = match lines.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait()?;
                return Err(io::Error::other(format!(
                    "the server printed no `listening on` line (it exited with {status})"
                )));
            }
        };
        let (addr, root) = parse_listening_line(&first)
            .ok_or_else(|| io::Error::other(format!("unexpected first line: {first:?}")))?;
        Ok(ServerProcess {
            child,
            addr,
            root,
            output: lines,
            site: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A checker target for this server, with its pid.
    pub fn target(&self) -> Target {
        Target {
            addr: self.addr,
            root: self.root.clone(),
            pid: Some(self.pid()),
            idle_timeout: None,
            head_timeout: None,
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal (`"INT"`, `"TERM"`) with the `kill` command.
    pub fn signal(&self, name: &str) -> io::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other("kill failed"))
        }
    }

    /// Waits up to `timeout` for the process to exit; its exit code if it did.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A server that forks may leave children behind it. Stage 3's end once
        // their client has gone, but a pre-forked child would wait for clients
        // forever. So freeze the server first (it can then neither fork a
        // replacement nor reap, so its children's pids stay theirs), end its
        // children, then end it.
        let server = nix::unistd::Pid::from_raw(self.pid() as i32);
        let _ = nix::sys::signal::kill(server, nix::sys::signal::Signal::SIGSTOP);
        for child in checker::process::children(self.pid()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.site.take());
    }
}

/// Sends half a request head to `addr` and then nothing, and returns what the
/// server answered (read until it closed, for at most 10 s) and how long after
/// the half head that took. Stages 7 and 8 must answer 408 at the head's
/// deadline, though no further byte ever arrives to wake them.
pub fn answer_to_a_half_head(addr: SocketAddr) -> io::Result<(String, Duration)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")?;
    let sent = std::time::Instant::now();
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    Ok((
        String::from_utf8_lossy(&answer).into_owned(),
        sent.elapsed(),
    ))
}

/// Sends `count` requests for `/`, `per_connection` on each connection (1: a
/// new connection for each, with `Connection: close`), one after another, and
/// says how long they took. Fails if one goes unanswered, or if the whole takes
/// longer than `limit`.
pub fn answers_requests_within(
    addr: SocketAddr,
    count: usize,
    per_connection: usize,
    limit: Duration,
) -> Result<Duration, String> {
    let started = std::time::Instant::now();
    let request = match per_connection {
        1 => "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        _ => "GET / HTTP/1.1\r\nHost: test\r\n\r\n",
    };
    let mut answered = 0;
    while answered < count {
        let mut connection = checker::client::Connection::open(addr)
            .map_err(|error| format!("after {answered} answers: {}", error.describe()))?;
        for _ in 0..per_connection.min(count - answered) {
            if started.elapsed() > limit {
                return Err(format!("only {answered} of {count} answered in {limit:?}"));
            }
            connection.send(request.as_bytes());
            match connection.read_reply(true) {
                Ok(reply) if reply.status == 200 => answered += 1,
                Ok(reply) => return Err(format!("request {answered}: status {}", reply.status)),
                Err(error) => return Err(format!("request {answered}: {}", error.describe())),
            }
        }
    }
    Ok(started.elapsed())
}

/// Runs a server that is expected to fail at start-up, and returns its exit code
/// and what it wrote on stderr. Gives up (and kills it) after ten seconds.
pub fn run_expecting_startup_error(
    program: &str,
    arguments: &[&str],
) -> io::Result<(Option<i32>, String)> {
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output()?;
    Ok((
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// Checks the start-up errors every stage must handle: a port already taken and
/// a root that does not exist each give one line on stderr and exit status 1.
/// Returns a description of what was wrong, if anything.
pub fn startup_errors_are_one_line(program: &str) -> Result<(), String> {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string())?;
    let taken_addr = taken
        .local_addr()
        .map_err(|error| error.to_string())?
        .to_string();
    let cases = [
        ("a port already in use", vec!["--addr", taken_addr.as_str()]),
        (
            "a missing root",
            vec!["--addr", "127.0.0.1:0", "--root", "/no/such/folder"],
        ),
    ];
    for (case, arguments) in cases {
        let (code, stderr) =
            run_expecting_startup_error(program, &arguments).map_err(|error| error.to_string())?;
        let lines: Vec<&str> = stderr.lines().collect();
        if code != Some(1) || lines.len() != 1 || stderr.contains("panicked") {
            return Err(format!(
                "with {case}: exit code {code:?} and stderr {stderr:?}"
            ));
        }
    }
    Ok(())
}

/// Reads `listening on http://127.0.0.1:43219/ (root: /some/path)`.
pub fn parse_listening_line(line: &str) -> Option<(SocketAddr, PathBuf)> {
    let rest = line.strip_prefix("listening on http://")?;
    let (addr, rest) = rest.split_once("/ (root: ")?;
    let root = rest.strip_suffix(')')?;
    Some((addr.parse().ok()?, PathBuf::from(root)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_listening_line() {
        let (addr, root) =
            parse_listening_line("listening on http://127.0.0.1:4321/ (root: /srv/a b)").unwrap();
        assert_eq!(addr.port(), 4321);
        assert_eq!(root, PathBuf::from("/srv/a b"));
        let (addr, _) = parse_listening_line("listening on http://[::1]:80/ (root: /x)").unwrap();
        assert!(addr.is_ipv6());
        assert!(parse_listening_line("hello").is_none());
    }
}
