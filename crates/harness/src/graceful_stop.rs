//! Whether a server stops cleanly on a signal: it refuses new clients, finishes
//! the answers already on their way, and exits with status 0.
//!
//! This is not a check in `checker::checks`: it sends the server a signal, which a
//! checker pointed at someone else's server must not do. The stages' tests call
//! it on a server they started themselves.

use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::ServerProcess;
use checker::client::{self, Connection, is_timeout};
use checker::target::{Fixtures, LARGE_FILE_SIZE};

/// How much of the large file is read before the signal is sent.
const READ_BEFORE_SIGNAL: usize = 1024 * 1024;

/// Starts a download of the checker's 24 MiB file, reads the first MiB, then
/// sends `signal` (`"TERM"`, `"INT"`) while the rest is still on its way. The
/// server must then refuse new connections, deliver every remaining byte, and
/// exit with status 0. Returns what went wrong, if anything.
pub fn in_flight_answer_survives(server: &mut ServerProcess, signal: &str) -> Result<(), String> {
    let fixtures = Fixtures::create(&server.root).map_err(|error| error.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        fixtures.url_of("large.bin"),
        server.addr
    );
    let mut connection = Connection::open(server.addr).map_err(|error| error.describe())?;
    connection.send(request.as_bytes());
    let mut received = Vec::with_capacity(LARGE_FILE_SIZE + 1024);
    read_at_least(&mut connection.stream, &mut received, READ_BEFORE_SIGNAL)?;

    server.signal(signal).map_err(|error| error.to_string())?;
    wait_until_refused(server)?;
    if !server.is_running() {
        return Err(format!(
            "after SIG{signal}, the server exited before its answer was sent"
        ));
    }

    read_at_least(&mut connection.stream, &mut received, usize::MAX)?;
    let head_end = checker::response_reader::find_head_end(&received).ok_or("no response head")?;
    if received[head_end..] != fixtures.bytes_of("large.bin")[..] {
        return Err(format!(
            "after SIG{signal}, the download ended with {} of {LARGE_FILE_SIZE} body bytes",
            received.len() - head_end
        ));
    }
    match server.wait_for_exit(Duration::from_secs(10)) {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!(
            "after SIG{signal}, the server exited with {status}"
        )),
        None => Err(format!(
            "the server was still running 10 s after its last answer was sent (SIG{signal})"
        )),
    }
}

/// Reads until `received` holds `wanted` bytes or the server closes.
fn read_at_least(
    stream: &mut TcpStream,
    received: &mut Vec<u8>,
    wanted: usize,
) -> Result<(), String> {
    let mut chunk = vec![0; 64 * 1024];
    while received.len() < wanted {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(count) => received.extend_from_slice(&chunk[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) if is_timeout(&error) => {
                return Err(format!(
                    "the download stalled after {} bytes",
                    received.len()
                ));
            }
            Err(error) => return Err(format!("after {} bytes: {error}", received.len())),
        }
    }
    Ok(())
}

/// Waits (up to 5 s) until a new connection is refused: the server has closed
/// its listening socket.
fn wait_until_refused(server: &ServerProcess) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if client::connect(server.addr).is_err() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err("5 s after the signal, the server still accepted new connections".into())
}
