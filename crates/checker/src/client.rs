//! A deliberately raw HTTP client: it sends exactly the bytes a check chooses
//! (malformed ones included) and keeps every byte it receives, so a failed check
//! can show the server's answer as it was, not as a library tidied it up.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::response_reader::{BodyFraming, ResponseHead, body_framing, find_head_end, parse_head};

/// How long any single step (connect, a read) may take before the check fails.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`exchange`] waits, after a response that has no body, for the
/// close the server promised, to see that no body comes first.
const BODILESS_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The longest response head the client will buffer.
const HEAD_LIMIT: usize = 64 * 1024;

/// One response, as read from the wire.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Every byte received for this response, head and body.
    pub raw: Vec<u8>,
    /// `HTTP/1.1`, as the status line says.
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// True when the body had no `Content-Length` and ran until the server closed.
    pub body_ended_by_close: bool,
}

impl Reply {
    /// The first header with this name, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// `Content-Length` as a number, if present and well-formed.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }

    /// Whether the `Connection` header lists `token` (`close`, `keep-alive`).
    pub fn connection_has(&self, token: &str) -> bool {
        self.header("connection").is_some_and(|value| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(token))
        })
    }
}

/// Why no response could be read.
#[derive(Debug)]
pub enum ClientError {
    /// The connection could not be opened.
    Connect(io::Error),
    /// The server sent nothing more for [`STEP_TIMEOUT`] (or the timeout given).
    Timeout { received: Vec<u8> },
    /// The server closed (or reset) the connection before a whole response arrived.
    Closed { received: Vec<u8> },
    /// What arrived is not an HTTP response.
    Garbled { received: Vec<u8>, why: String },
}

impl ClientError {
    /// The bytes that did arrive before things went wrong.
    pub fn received(&self) -> &[u8] {
        match self {
            ClientError::Connect(_) => &[],
            ClientError::Timeout { received }
            | ClientError::Closed { received }
            | ClientError::Garbled { received, .. } => received,
        }
    }

    /// One line that says what went wrong.
    pub fn describe(&self) -> String {
        match self {
            ClientError::Connect(error) => format!("could not connect: {error}"),
            ClientError::Timeout { received } if received.is_empty() => {
                "no answer at all: the server kept the connection open and silent".into()
            }
            ClientError::Timeout { .. } => {
                "the answer stopped part way and then nothing came".into()
            }
            ClientError::Closed { received } if received.is_empty() => {
                "the server closed the connection without answering".into()
            }
            ClientError::Closed { .. } => {
                "the server closed the connection part way through the answer".into()
            }
            ClientError::Garbled { why, .. } => format!("not a valid HTTP/1.1 response: {why}"),
        }
    }
}

/// Opens a connection with the client's timeouts set.
pub fn connect(addr: SocketAddr) -> Result<TcpStream, ClientError> {
    let stream = TcpStream::connect_timeout(&addr, STEP_TIMEOUT).map_err(ClientError::Connect)?;
    stream
        .set_read_timeout(Some(STEP_TIMEOUT))
        .map_err(ClientError::Connect)?;
    stream
        .set_write_timeout(Some(STEP_TIMEOUT))
        .map_err(ClientError::Connect)?;
    // Our requests are small and we want each to leave at once.
    stream.set_nodelay(true).map_err(ClientError::Connect)?;
    Ok(stream)
}

/// Like [`connect`], from the local address `from`. Linux routes all of
/// 127.0.0.0/8 to the loopback interface, so a check can play clients at
/// 127.0.0.2, 127.0.0.3, ... that a server tells apart by address.
pub fn connect_from(from: IpAddr, addr: SocketAddr) -> Result<TcpStream, ClientError> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(ClientError::Connect)?;
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .map_err(ClientError::Connect)?;
    socket
        .connect_timeout(&addr.into(), STEP_TIMEOUT)
        .map_err(ClientError::Connect)?;
    let stream = TcpStream::from(socket);
    stream
        .set_read_timeout(Some(STEP_TIMEOUT))
        .map_err(ClientError::Connect)?;
    stream
        .set_write_timeout(Some(STEP_TIMEOUT))
        .map_err(ClientError::Connect)?;
    stream.set_nodelay(true).map_err(ClientError::Connect)?;
    Ok(stream)
}

/// Sends `request` on a new connection and reads one response. `expect_body` is
/// false for `HEAD`, whose response announces a length but carries no body.
pub fn exchange(addr: SocketAddr, request: &[u8], expect_body: bool) -> Result<Reply, ClientError> {
    let mut connection = Connection::open(addr)?;
    connection.send(request);
    let reply = connection.read_reply(expect_body)?;
    let bodiless = !expect_body || matches!(reply.status, 100..=199 | 204 | 304);
    if bodiless && reply.connection_has("close") {
        // The server said it will close: whatever comes before the close is a
        // body this response must not have, even if it came in a later packet.
        let _ = connection.wait_for_close(BODILESS_CLOSE_WAIT);
        if !connection.leftover().is_empty() {
            let why = body_of_bodiless(reply.status, !expect_body, connection.leftover().len());
            return Err(ClientError::Garbled {
                received: [reply.raw.as_slice(), connection.leftover()].concat(),
                why,
            });
        }
    }
    Ok(reply)
}

/// A connection with the bytes that arrived but belong to the next response.
pub struct Connection {
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub fn open(addr: SocketAddr) -> Result<Connection, ClientError> {
        Ok(Connection {
            stream: connect(addr)?,
            buffer: Vec::new(),
        })
    }

    /// A connection from the local address `from` (see [`connect_from`]).
    pub fn open_from(from: IpAddr, addr: SocketAddr) -> Result<Connection, ClientError> {
        Ok(Connection {
            stream: connect_from(from, addr)?,
            buffer: Vec::new(),
        })
    }

    /// Sends bytes. A failure is not reported here: a server may answer and close
    /// before it has read everything (a `431`, say), and what it answered is what
    /// the check wants to see, so the next read tells the story.
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Sends bytes in `pieces` parts, pausing `pause` between them, as a slow
    /// client or a congested network would deliver them.
    pub fn send_in_pieces(&mut self, bytes: &[u8], pieces: usize, pause: Duration) {
        let size = bytes.len().div_ceil(pieces.max(1)).max(1);
        for (index, piece) in bytes.chunks(size).enumerate() {
            if index > 0 {
                std::thread::sleep(pause);
            }
            if self.stream.write_all(piece).is_err() {
                return;
            }
        }
    }

    /// Says "I will send nothing more" while still reading.
    pub fn finish_sending(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads one response, leaving any bytes after it for the next call.
    /// `expect_body` is false when the request was `HEAD`.
    pub fn read_reply(&mut self, expect_body: bool) -> Result<Reply, ClientError> {
        let head_end = self.fill_until(find_head_end, HEAD_LIMIT)?;
        let head = parse_head(&self.buffer[..head_end]).map_err(|why| self.garbled(why))?;
        let framing = body_framing(&head, !expect_body).map_err(|why| self.garbled(why))?;
        let body_end = match framing {
            BodyFraming::None => {
                self.refuse_body_of_bodiless(&head, head_end, expect_body)?;
                head_end
            }
            BodyFraming::Length(length) => {
                let wanted = head_end.saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
                self.fill_until(
                    |buffer| (buffer.len() >= wanted).then_some(wanted),
                    usize::MAX,
                )?
            }
            BodyFraming::UntilClose => {
                self.read_until_close()?;
                self.buffer.len()
            }
        };
        let body = self.buffer[head_end..body_end].to_vec();
        Ok(Reply {
            raw: self.buffer.drain(..body_end).collect(),
            version: head.version,
            status: head.status,
            headers: head.headers,
            body,
            body_ended_by_close: framing == BodyFraming::UntilClose,
        })
    }

    /// A response to HEAD, a 1xx, a 204 or a 304 ends with its head. Bytes that
    /// follow it and are not the start of the next response are a body it must
    /// not have. (Bytes that arrive later are caught by [`exchange`], or by the
    /// next read on a kept-alive connection, which finds no status line.)
    fn refuse_body_of_bodiless(
        &self,
        head: &ResponseHead,
        head_end: usize,
        expect_body: bool,
    ) -> Result<(), ClientError> {
        let after = &self.buffer[head_end..];
        let next_response_starts = after.iter().zip(b"HTTP/").all(|(got, want)| got == want);
        if after.is_empty() || next_response_starts {
            return Ok(());
        }
        Err(self.garbled(body_of_bodiless(head.status, !expect_body, after.len())))
    }

    fn garbled(&self, why: String) -> ClientError {
        ClientError::Garbled {
            received: self.buffer.clone(),
            why,
        }
    }

    /// Waits up to `timeout` for the server to close the connection. `Ok` when it
    /// did (a FIN or a reset); `Err` with whatever arrived instead.
    pub fn wait_for_close(&mut self, timeout: Duration) -> Result<(), Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut chunk = [0; 16 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                return Err(self.buffer.clone());
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(count) => self.buffer.extend_from_slice(&chunk[..count]),
                Err(error) if is_timeout(&error) => return Err(self.buffer.clone()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Ok(()),
            }
        }
    }

    /// Bytes received that no response has claimed yet.
    pub fn leftover(&self) -> &[u8] {
        &self.buffer
    }

    /// Reads until `done` finds what it wants in the buffer, or fails.
    fn fill_until(
        &mut self,
        done: impl Fn(&[u8]) -> Option<usize>,
        limit: usize,
    ) -> Result<usize, ClientError> {
        let mut chunk = vec![0; 64 * 1024];
        let _ = self.stream.set_read_timeout(Some(STEP_TIMEOUT));
        loop {
            if let Some(found) = done(&self.buffer) {
                return Ok(found);
            }
            if self.buffer.len() > limit {
                return Err(ClientError::Garbled {
                    received: self.buffer.clone(),
                    why: format!("the head is longer than {limit} bytes"),
                });
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(ClientError::Closed {
                        received: self.buffer.clone(),
                    });
                }
                Ok(count) => self.buffer.extend_from_slice(&chunk[..count]),
                Err(error) if is_timeout(&error) => {
                    return Err(ClientError::Timeout {
                        received: self.buffer.clone(),
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    return Err(ClientError::Closed {
                        received: self.buffer.clone(),
                    });
                }
            }
        }
    }

    fn read_until_close(&mut self) -> Result<(), ClientError> {
        let mut chunk = vec![0; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(count) => self.buffer.extend_from_slice(&chunk[..count]),
                Err(error) if is_timeout(&error) => {
                    return Err(ClientError::Timeout {
                        received: self.buffer.clone(),
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Ok(()),
            }
        }
    }
}

pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The problem with a body after a response that has none.
fn body_of_bodiless(status: u16, request_was_head: bool, bytes: usize) -> String {
    if request_was_head {
        format!(
            "{bytes} bytes of body came after the head of a response to HEAD, which never \
             has a body (RFC 9110 §9.3.2)"
        )
    } else {
        format!("{bytes} bytes of body came after the head of a {status}, which never has a body")
    }
}
