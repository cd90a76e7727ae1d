//! Stage 6's polling loop, driving a connection type that an exercise brings.
//!
//! The chapter 6 exercises change what one connection does (how it sends a
//! file, when it gives up on a slow client), never the loop around it. So the
//! loop lives here, as `crates/stage06-nonblocking/src/main.rs` has it, and each
//! exercise file holds its own connection: a copy of stage 6's, to grow.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Arguments, Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopFlag, StopSignals, stop_flag_on_signal};
use stage01_fixed_page::accept::is_exhaustion;

/// What the loop asks of a connection; stage 6's `Connection` has exactly these.
pub trait PolledConnection {
    /// Does what can be done right now without waiting. Returns whether anything
    /// happened, so the loop can tell an idle round from a busy one.
    fn make_progress(&mut self, root: &Path, log: &AccessLog) -> bool;
    /// Finished: the loop drops it, which closes the socket.
    fn is_closed(&self) -> bool;
    /// Whether an answer is on its way: what a stopping server still finishes.
    fn is_sending(&self) -> bool;
}

/// Stage 6's command line, port 7806 and `--poll-sleep-ms`. An exercise adds
/// its own options before it calls `parse`.
pub fn cli(name: &'static str, about: &'static str) -> Cli {
    Cli::new(name, 7806, about).option(
        "--poll-sleep-ms",
        "N",
        "rest N ms after a round that found nothing to do [default: 0, never rest]",
    )
}

/// Stage 6's server: stop signals first, then the listener, then the loop.
/// `open` turns each accepted socket into a connection.
pub fn serve<C: PolledConnection>(
    name: &'static str,
    mut arguments: Arguments,
    open: impl FnMut(TcpStream, SocketAddr) -> io::Result<C>,
) {
    let poll_sleep = Duration::from_millis(arguments.value("--poll-sleep-ms").unwrap_or(0));
    // First, before any other thread exists: Ctrl-C and SIGTERM raise `stop`.
    let blocked = StopSignals::block_or_exit(name);
    let stop = stop_flag_on_signal(name, &blocked);
    let listener = listen_or_exit(name, &mut arguments.server);
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            name,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    let log = AccessLog::new(arguments.server.quiet);
    let mut polling = Polling {
        name,
        listener: Some(listener),
        connections: Vec::new(),
        open,
    };
    polling.run(&arguments.server.root, &log, poll_sleep, &stop);
}

struct Polling<C, Open> {
    name: &'static str,
    listener: Option<TcpListener>,
    connections: Vec<C>,
    open: Open,
}

impl<C, Open> Polling<C, Open>
where
    C: PolledConnection,
    Open: FnMut(TcpStream, SocketAddr) -> io::Result<C>,
{
    /// Goes round the listener and every connection until a stop signal came
    /// and every answer in flight is sent.
    fn run(&mut self, root: &Path, log: &AccessLog, poll_sleep: Duration, stop: &StopFlag) {
        loop {
            if stop.is_raised() && self.listener.is_some() {
                self.listener = None;
                self.connections.retain(C::is_sending);
            }
            let mut progressed = self.accept_waiting();
            for connection in &mut self.connections {
                progressed |= connection.make_progress(root, log);
            }
            self.connections
                .retain(|connection| !connection.is_closed());
            if self.listener.is_none() && self.connections.is_empty() {
                return;
            }
            if !progressed && !poll_sleep.is_zero() {
                thread::sleep(poll_sleep);
            }
        }
    }

    /// Accepts every client waiting in the kernel's queue; whether there was any.
    fn accept_waiting(&mut self) -> bool {
        let Some(listener) = &self.listener else {
            return false;
        };
        let mut accepted = false;
        loop {
            match listener.accept() {
                Ok((stream, peer)) => match (self.open)(stream, peer) {
                    Ok(connection) => {
                        self.connections.push(connection);
                        accepted = true;
                    }
                    Err(error) => eprintln!("{}: cannot use a new connection: {error}", self.name),
                },
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return accepted,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => continue,
                // Out of descriptors: the client stays queued for a later round.
                Err(error) if is_exhaustion(&error) => return accepted,
                Err(error) => {
                    eprintln!("{}: accept failed: {error}", self.name);
                    return accepted;
                }
            }
        }
    }
}
