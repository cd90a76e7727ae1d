//! `lab send`: a fixed number of requests, one after another, from one client.
//!
//! `scripts/bench` counts a server's system calls with `strace` attached while
//! this runs; a known number of requests, and nothing else, is what makes the
//! count a figure per request.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::wire::read_one_response;

const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// How the requests travel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connections {
    /// All on one kept-alive connection.
    KeptAlive,
    /// A new connection for each, asking the server to close it after.
    NewEach,
}

/// Sends `requests` requests for `path` and waits for each answer before the
/// next; stops at the first failure. Returns how many were answered and how
/// long they took.
pub fn send(
    addr: SocketAddr,
    path: &str,
    requests: usize,
    connections: Connections,
) -> io::Result<(usize, Duration)> {
    let started = Instant::now();
    let mut kept: Option<TcpStream> = None;
    for answered in 0..requests {
        let outcome = match connections {
            Connections::KeptAlive => {
                let stream = match kept.take() {
                    Some(stream) => stream,
                    None => connect(addr)?,
                };
                let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                exchange(stream, &head).map(|stream| kept = Some(stream))
            }
            Connections::NewEach => {
                let head =
                    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                connect(addr)
                    .and_then(|stream| exchange(stream, &head))
                    .map(drop)
            }
        };
        if let Err(error) = outcome {
            return Err(io::Error::new(
                error.kind(),
                format!("after {answered} answers: {error}"),
            ));
        }
    }
    Ok((requests, started.elapsed()))
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, STEP_TIMEOUT)?;
    stream.set_read_timeout(Some(STEP_TIMEOUT))?;
    Ok(stream)
}

/// One request and its whole answer; the stream comes back for the next.
fn exchange(mut stream: TcpStream, head: &str) -> io::Result<TcpStream> {
    stream.write_all(head.as_bytes())?;
    read_one_response(&mut stream)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn sends_every_request_on_one_kept_alive_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener.local_addr().expect("the bound address");
        std::thread::spawn(move || crate::canned::serve(listener, b"page".to_vec(), None));
        let (answered, _) =
            send(addr, "/", 50, Connections::KeptAlive).expect("every request answered");
        assert_eq!(answered, 50);
    }
}
