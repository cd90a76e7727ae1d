//! Stage 7's polling loop, with kept-alive connections of an exercise's own.
//!
//! The chapter 7 exercises change the kept-alive connection (what its answers
//! say, when it closes), never the loop around it. So the loop lives here, as
//! `crates/stage07-keep-alive/src/main.rs` has it, idle timeout included, and
//! each exercise file holds a copy of `common::connection` to grow.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::access_log::AccessLog;
use common::cli::{Arguments, Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals, stop_flag_on_signal};
use stage01_fixed_page::accept::is_exhaustion;
use stage07_keep_alive::connection::Waiting;

/// How long a connection may stay quiet, unless `--idle-timeout` says otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the loop asks of a connection; `stage07_keep_alive::connection::Connection` has
/// exactly these.
pub trait KeptConnection {
    /// Does everything that can be done now, and says what it waits for next.
    fn advance(&mut self, root: &Path, log: &AccessLog, now: Instant) -> Waiting;
    /// When bytes last moved, either way: the idle timeout counts from here.
    fn last_activity(&self) -> Instant;
    /// Finish the answer in flight, then close.
    fn stop_after_current_response(&mut self);
}

impl KeptConnection for stage07_keep_alive::connection::Connection {
    fn advance(&mut self, root: &Path, log: &AccessLog, now: Instant) -> Waiting {
        stage07_keep_alive::connection::Connection::advance(self, root, log, now)
    }

    fn last_activity(&self) -> Instant {
        stage07_keep_alive::connection::Connection::last_activity(self)
    }

    fn stop_after_current_response(&mut self) {
        stage07_keep_alive::connection::Connection::stop_after_current_response(self);
    }
}

/// Stage 7's command line: port 7807, `--idle-timeout` and `--poll-sleep-ms`.
/// An exercise adds its own options before it calls `parse`.
pub fn cli(name: &'static str, about: &'static str) -> Cli {
    Cli::new(name, 7807, about)
        .option(
            "--idle-timeout",
            "SECS",
            "close a connection that stays quiet this long [default: 5]",
        )
        .option(
            "--poll-sleep-ms",
            "N",
            "rest N ms after a round that found nothing to do [default: 0, never rest]",
        )
}

/// The idle timeout the command line asked for; a start-up error if it is 0.
pub fn idle_timeout(name: &str, arguments: &Arguments) -> Duration {
    let seconds: u64 = arguments
        .value("--idle-timeout")
        .unwrap_or(DEFAULT_IDLE_TIMEOUT.as_secs());
    if seconds == 0 {
        exit_with_startup_error(name, "--idle-timeout must be at least 1 second");
    }
    Duration::from_secs(seconds)
}

/// Stage 7's server: stop signals first, then the listener, then the loop.
/// `open` turns each accepted socket into a connection.
pub fn serve<C: KeptConnection>(
    name: &'static str,
    mut arguments: Arguments,
    open: impl FnMut(TcpStream, SocketAddr, Instant) -> io::Result<C>,
) {
    let idle_timeout = idle_timeout(name, &arguments);
    let poll_sleep = Duration::from_millis(arguments.value("--poll-sleep-ms").unwrap_or(0));
    let blocked = StopSignals::block_or_exit(name);
    let stop = stop_flag_on_signal(name, &blocked);
    let listener = listen_or_exit(name, &mut arguments.server);
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            name,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    let mut polling = Polling {
        name,
        listener: Some(listener),
        connections: Vec::new(),
        open,
        idle_timeout,
        poll_sleep,
    };
    let log = AccessLog::new(arguments.server.quiet);
    polling.run(&arguments.server.root, &log, &stop);
}

struct Polling<C, Open> {
    name: &'static str,
    listener: Option<TcpListener>,
    connections: Vec<C>,
    open: Open,
    idle_timeout: Duration,
    poll_sleep: Duration,
}

impl<C, Open> Polling<C, Open>
where
    C: KeptConnection,
    Open: FnMut(TcpStream, SocketAddr, Instant) -> io::Result<C>,
{
    /// Stage 6's loop, with kept-alive connections and an idle timeout.
    fn run(&mut self, root: &Path, log: &AccessLog, stop: &StopFlag) {
        loop {
            let now = Instant::now();
            if stop.is_raised() && self.listener.is_some() {
                self.listener = None;
                for connection in &mut self.connections {
                    connection.stop_after_current_response();
                }
            }
            let mut progressed = self.accept_waiting(now);
            let idle_timeout = self.idle_timeout;
            self.connections.retain_mut(|connection| {
                let active_before = connection.last_activity();
                let waiting = connection.advance(root, log, now);
                progressed |=
                    connection.last_activity() != active_before || waiting == Waiting::ForNextTurn;
                let idle_too_long =
                    now.saturating_duration_since(connection.last_activity()) >= idle_timeout;
                waiting != Waiting::Closed && !idle_too_long
            });
            if self.listener.is_none() && self.connections.is_empty() {
                return;
            }
            if !progressed && !self.poll_sleep.is_zero() {
                thread::sleep(self.poll_sleep);
            }
        }
    }

    /// Accepts every client waiting in the kernel's queue; whether there was any.
    fn accept_waiting(&mut self, now: Instant) -> bool {
        let Some(listener) = &self.listener else {
            return false;
        };
        let mut accepted = false;
        loop {
            match listener.accept() {
                Ok((stream, peer)) => match (self.open)(stream, peer, now) {
                    Ok(connection) => {
                        self.connections.push(connection);
                        accepted = true;
                    }
                    Err(error) => eprintln!("{}: cannot use a new connection: {error}", self.name),
                },
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return accepted,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(error) if is_exhaustion(&error) => return accepted,
                Err(error) => {
                    eprintln!("{}: accept failed: {error}", self.name);
                    return accepted;
                }
            }
        }
    }
}
