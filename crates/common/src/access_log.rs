//! One line per request on stdout, unless `--quiet` turned it off.
//!
//! The blocking stages (2 to 5) simply `println!` each line: if stdout is a pipe
//! that nobody reads, the pipe fills (64 KiB on Linux) and the thread that
//! logs waits, which stalls one client, or one worker, and no other.
//!
//! The event loops (stages 6 to 8) serve every client from one thread, so one
//! blocked `println!` would stop them all: `server | slow-consumer`, or a
//! terminal paused with Ctrl-S, is enough. They use [`AccessLog::non_blocking`]:
//! a line goes into a bounded queue in memory, and the loop calls
//! [`AccessLog::write_pending`] to hand the queue to a non-blocking stdout, as
//! much as it takes right now. What is lost when the log cannot keep up: lines
//! that find the queue full are dropped, never waited for. They are counted; a
//! line in the log says how many were dropped once it has room again, and
//! [`AccessLog::finish`] reports the total on stderr when the server stops.

use std::collections::VecDeque;
use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::fcntl::OFlag;

/// How many bytes of log lines may wait for stdout: about a thousand lines.
/// Past that, new lines are dropped rather than kept in an ever growing queue.
pub const QUEUE_LIMIT: usize = 64 * 1024;

/// Writes the access log: who asked for what, and what they got.
#[derive(Debug, Clone, Copy)]
pub struct AccessLog {
    enabled: bool,
    /// Lines go through the queue to a non-blocking stdout (the event loops).
    queued: bool,
}

/// What [`AccessLog::write_pending`] left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backlog {
    /// Every queued line is written.
    Empty,
    /// stdout takes nothing more right now; call again when it is writable.
    WaitingForStdout,
}

impl AccessLog {
    /// `quiet` is the `--quiet` option: under load, a line per request costs
    /// time. Each line is printed at once, waiting for stdout if it must.
    pub fn new(quiet: bool) -> AccessLog {
        AccessLog {
            enabled: !quiet,
            queued: false,
        }
    }

    /// The log of an event loop, which must never wait for stdout: lines are
    /// queued, and written by [`AccessLog::write_pending`].
    pub fn non_blocking(quiet: bool) -> AccessLog {
        if !quiet {
            // Opened now, once: the first line should not pay for it.
            let _ = output();
        }
        AccessLog {
            enabled: !quiet,
            queued: true,
        }
    }

    /// Logs one exchange: `127.0.0.1:40212 "GET /style.css HTTP/1.1" 200 1532`.
    /// `request_line` is `None` when the head could not be parsed; it is only
    /// formatted when the log is on.
    pub fn record(
        &self,
        peer: SocketAddr,
        request_line: Option<impl Display>,
        status_code: u16,
        body_bytes: u64,
    ) {
        if !self.enabled {
            return;
        }
        let line = match request_line {
            Some(line) => format!("{peer} \"{line}\" {status_code} {body_bytes}\n"),
            None => format!("{peer} \"-\" {status_code} {body_bytes}\n"),
        };
        if self.queued {
            queue().push(line.as_bytes());
        } else {
            print!("{line}");
        }
    }

    /// Logs an answer given before any request was read (a refusal at the door,
    /// such as a 503): `127.0.0.1:40212 "-" 503 57`.
    pub fn record_refusal(&self, peer: SocketAddr, status_code: u16, body_bytes: u64) {
        self.record(peer, None::<&str>, status_code, body_bytes);
    }

    /// Writes as much of the queue as stdout takes now, without waiting.
    pub fn write_pending(&self) -> Backlog {
        if !self.queued || !self.enabled {
            return Backlog::Empty;
        }
        queue().write_to(output())
    }

    /// The descriptor to watch for writability while lines wait, for a loop
    /// that sleeps in `epoll_wait`; `None` when there is no stdout to write to.
    pub fn stdout(&self) -> Option<BorrowedFd<'static>> {
        output().map(|file| file.as_fd())
    }

    /// At the end: one last try to write what waits, then, on stderr, how many
    /// lines were lost because stdout did not take them in time.
    pub fn finish(&self) {
        if !self.queued || !self.enabled {
            return;
        }
        let mut queue = queue();
        queue.write_to(output());
        if queue.dropped_in_all > 0 || !queue.bytes.is_empty() {
            eprintln!(
                "access log: {} lines dropped, and {} bytes not written: stdout did not \
                 take them in time",
                queue.dropped_in_all,
                queue.bytes.len()
            );
        }
    }
}

/// The lines that wait for stdout. One per process, as stdout is.
struct Queue {
    bytes: VecDeque<u8>,
    /// Lines dropped since the last note about it went into the queue.
    dropped_unnoted: u64,
    dropped_in_all: u64,
}

fn queue() -> MutexGuard<'static, Queue> {
    static QUEUE: Mutex<Queue> = Mutex::new(Queue {
        bytes: VecDeque::new(),
        dropped_unnoted: 0,
        dropped_in_all: 0,
    });
    // A panic while the lock was held leaves a queue that is still usable.
    QUEUE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Queue {
    fn push(&mut self, line: &[u8]) {
        let note = match self.dropped_unnoted {
            0 => String::new(),
            count => format!("- {count} access log lines dropped here: stdout was too slow\n"),
        };
        if self.bytes.len() + note.len() + line.len() > QUEUE_LIMIT {
            self.dropped_unnoted += 1;
            self.dropped_in_all += 1;
            return;
        }
        self.bytes.extend(note.as_bytes());
        self.bytes.extend(line);
        self.dropped_unnoted = 0;
    }

    fn write_to(&mut self, out: Option<&File>) -> Backlog {
        let Some(mut out) = out else {
            self.drop_everything();
            return Backlog::Empty;
        };
        while !self.bytes.is_empty() {
            let (first, _) = self.bytes.as_slices();
            match out.write(first) {
                Ok(0) => break,
                Ok(count) => drop(self.bytes.drain(..count)),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Backlog::WaitingForStdout;
                }
                // stdout is gone (its reader closed the pipe: EPIPE): what
                // waits can never be written.
                Err(_) => self.drop_everything(),
            }
        }
        Backlog::Empty
    }

    fn drop_everything(&mut self) {
        let lines = self.bytes.iter().filter(|&&byte| byte == b'\n').count();
        self.dropped_in_all += lines as u64;
        self.bytes.clear();
    }
}

// ANCHOR: non_blocking_stdout
/// stdout, opened again as a file of our own, non-blocking where it can block.
///
/// `O_NONBLOCK` belongs to an open file description, which a pipe or a terminal
/// shares with every process that inherited it: set on our descriptor 1, it
/// would make the shell's next `read` from the terminal fail. Opening
/// `/proc/self/fd/1` gives a new description of the same pipe or terminal,
/// whose flags are ours alone. A regular file never keeps a writer waiting, and
/// anything else (a socket) is written as it is. `None`: stdout is closed.
fn output() -> Option<&'static File> {
    static OUTPUT: OnceLock<Option<File>> = OnceLock::new();
    let output = OUTPUT.get_or_init(|| {
        let stdout = "/proc/self/fd/1";
        let can_block = std::fs::metadata(stdout)
            .is_ok_and(|found| found.file_type().is_fifo() || found.file_type().is_char_device());
        let reopened = OpenOptions::new()
            .write(true)
            .custom_flags(OFlag::O_NONBLOCK.bits())
            .open(stdout);
        match reopened {
            Ok(file) if can_block => Some(file),
            // The same description as stdout, with its flags as they are.
            _ => io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(File::from),
        }
    });
    output.as_ref()
}
// ANCHOR_END: non_blocking_stdout

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_lines_counts_them_and_says_so_when_it_has_room() {
        let mut queue = Queue {
            bytes: VecDeque::new(),
            dropped_unnoted: 0,
            dropped_in_all: 0,
        };
        let line = [b'x'; 99].iter().chain(b"\n").copied().collect::<Vec<u8>>();
        for _ in 0..QUEUE_LIMIT / line.len() + 5 {
            queue.push(&line);
        }
        assert!(queue.bytes.len() <= QUEUE_LIMIT);
        assert_eq!(queue.dropped_in_all, 5);
        queue.bytes.clear(); // as if stdout took it all
        queue.push(b"next\n");
        let text: Vec<u8> = queue.bytes.iter().copied().collect();
        assert_eq!(
            String::from_utf8_lossy(&text),
            "- 5 access log lines dropped here: stdout was too slow\nnext\n"
        );
        assert_eq!(queue.dropped_unnoted, 0);
    }
}
