//! A response on its way out through a non-blocking socket, a piece at a time.
//!
//! On a blocking socket, `write_all` waits until the kernel has taken every byte.
//! A non-blocking socket never waits: `write` copies what fits into the socket's
//! send buffer and says how much that was, often less than it was given (a
//! "partial write"); when the buffer is already full it takes nothing and fails
//! with `WouldBlock` (`EAGAIN` in C). Neither is an error. The bytes it did not
//! take are still ours to send, later, when the socket has room again.
//!
//! [`Outgoing`] is a response together with that promise: the head, the body
//! still in its file, and how far the sending got. Call [`Outgoing::write_to`]
//! whenever the socket may have room; it sends until the socket is full or the
//! response is done, and remembers where it stopped.
//!
//! Chapter 6 builds this for stage 6; stages 7 and 8 send their responses with it.

use std::fs::File;
use std::io::{self, Read, Take, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use stage02_file_lookup::response::{Body, Response};

// ANCHOR: outgoing
/// How much of a file body is read into memory at a time. A response in flight
/// holds at most this much (plus its head), however large the file is.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// A response that is partly sent: what is ready to go, and what is still in its file.
#[derive(Debug)]
pub struct Outgoing {
    /// Bytes ready to send: at first the head and the start of the body, later
    /// each chunk read from the file.
    ready: Vec<u8>,
    /// How many bytes at the front of `ready` the kernel has already taken.
    taken: usize,
    /// The rest of a file body, limited to the length the head announced.
    rest_of_file: Option<Take<File>>,
    /// How many body bytes the response carries (none for `HEAD`), for the log.
    body_length: u64,
    /// Every byte the kernel has taken so far, head included.
    bytes_sent: u64,
    /// Another way for the rest of the file to leave ([`SendFile`]); `None`:
    /// a chunk at a time through `ready`.
    file_sender: Option<Arc<dyn SendFile>>,
}

/// Where [`Outgoing::write_to`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Every byte of the response is now the kernel's to deliver.
    Finished,
    /// The socket's send buffer is full (the write said `WouldBlock`). Call
    /// again when the socket is writable; nothing is lost meanwhile.
    SocketFull,
}
// ANCHOR_END: outgoing

/// Another way for a file body to reach the socket, in place of reading each
/// chunk into memory and writing it: the exercise `ch06-sendfile` plugs the
/// system call `sendfile` in here. Stage 6 itself has none. It takes over once
/// the head and the first chunk, sent from memory, are gone.
pub trait SendFile: Send + Sync {
    /// Sends from `file`, at its current position, what `socket` takes now of
    /// the next `*left` bytes, and takes what went off `*left`. `Finished` once
    /// `*left` is 0, `SocketFull` when the socket has no room; an error if the
    /// connection broke or the file ended before `*left` did.
    fn send_file(
        &self,
        file: &mut File,
        socket: BorrowedFd<'_>,
        left: &mut u64,
    ) -> io::Result<WriteOutcome>;
}

impl std::fmt::Debug for dyn SendFile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SendFile")
    }
}

impl Outgoing {
    /// Prepares `response` for sending. The head says `Connection: keep-alive`
    /// or `Connection: close` as `keep_alive` asks.
    ///
    /// The first chunk of a file body is read at once and put right after the
    /// head, so that a small response leaves in a single write: one TCP segment,
    /// and nothing for Nagle's algorithm to hold back (chapter 7 measures why that
    /// matters).
    pub fn new(response: Response, keep_alive: bool) -> io::Result<Outgoing> {
        let mut outgoing = Outgoing {
            ready: response.head(keep_alive),
            taken: 0,
            rest_of_file: None,
            body_length: response.bytes_to_send(),
            bytes_sent: 0,
            file_sender: None,
        };
        if response.omit_body {
            return Ok(outgoing);
        }
        match response.body {
            Body::Bytes(bytes) => outgoing.ready.extend_from_slice(&bytes),
            Body::File { file, length } => {
                outgoing.rest_of_file = Some(file.take(length));
                outgoing.read_next_chunk()?;
            }
        }
        Ok(outgoing)
    }

    /// The same response, sending the rest of a file body with `sender`
    /// instead of a chunk at a time (`None` keeps that).
    pub fn with_file_sender(mut self, sender: Option<Arc<dyn SendFile>>) -> Outgoing {
        self.file_sender = sender;
        self
    }

    /// How many body bytes this response carries (none for `HEAD`).
    pub fn body_length(&self) -> u64 {
        self.body_length
    }

    /// How many bytes, head included, the kernel has taken so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    // ANCHOR: write_to
    /// Sends as much as the socket takes now. Returns when everything is sent or
    /// the socket is full; an `Err` means the connection is broken (the client
    /// went away) and the rest can never be sent.
    pub fn write_to(&mut self, stream: &mut (impl Write + AsFd)) -> io::Result<WriteOutcome> {
        loop {
            if self.taken == self.ready.len() {
                // All that was ready is gone: fetch the next chunk of the file.
                self.ready.clear();
                self.taken = 0;
                if self.file_sender.is_some() {
                    return self.send_rest_of_file(stream.as_fd());
                }
                if !self.read_next_chunk()? {
                    return Ok(WriteOutcome::Finished);
                }
            }
            match stream.write(&self.ready[self.taken..]) {
                // A partial write is normal: remember how far we got and go on.
                Ok(count) if count > 0 => {
                    self.taken += count;
                    self.bytes_sent += count as u64;
                }
                Ok(_) => return Err(io::ErrorKind::WriteZero.into()),
                // The send buffer is full. The kernel empties it as the client
                // acknowledges what it received; then the socket is writable again.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(WriteOutcome::SocketFull);
                }
                // A signal arrived during the call: nothing happened, try again.
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
    }
    // ANCHOR_END: write_to

    /// The rest of the file body, through the [`SendFile`] we were given.
    fn send_rest_of_file(&mut self, socket: BorrowedFd<'_>) -> io::Result<WriteOutcome> {
        let (Some(sender), Some(file)) = (&self.file_sender, &mut self.rest_of_file) else {
            return Ok(WriteOutcome::Finished);
        };
        let mut left = file.limit();
        let outcome = sender.send_file(file.get_mut(), socket, &mut left);
        self.bytes_sent += file.limit().saturating_sub(left);
        file.set_limit(left);
        if left == 0 {
            self.rest_of_file = None; // the file closes now, not with the connection
        }
        outcome
    }

    // ANCHOR: read_next_chunk
    /// Appends the next chunk of the file to `ready`. `false` when the body is done.
    ///
    /// A regular file ignores `O_NONBLOCK`: this read always waits for the disk.
    /// When the file is in the page cache (a small site soon is) that is a copy
    /// from memory; when it is not, the whole event loop waits for the disk, which
    /// is why large servers read files on helper threads or let the kernel send
    /// them (`sendfile`).
    fn read_next_chunk(&mut self) -> io::Result<bool> {
        let Some(file) = self.rest_of_file.as_mut() else {
            return Ok(false);
        };
        let wanted = CHUNK_SIZE.min(usize::try_from(file.limit()).unwrap_or(CHUNK_SIZE));
        if wanted == 0 {
            self.rest_of_file = None;
            return Ok(false);
        }
        let start = self.ready.len();
        self.ready.resize(start + wanted, 0);
        let read = loop {
            match file.read(&mut self.ready[start..]) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(count) if count > 0 => {
                self.ready.truncate(start + count);
                Ok(true)
            }
            // We announced a length and the file ended before it: an error makes
            // the caller close, so the client sees a cut, never a hang.
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was sent",
            )),
            Err(error) => Err(error),
        }
    }
    // ANCHOR_END: read_next_chunk
}

#[cfg(test)]
mod tests {
    use super::*;
    use stage02_file_lookup::response::Status;
    use std::fs;

    /// A socket stand-in that takes at most `room` bytes, then says `WouldBlock`
    /// until `room` is raised again, as a full send buffer does.
    struct SmallSocket {
        received: Vec<u8>,
        room: usize,
    }

    /// `write_to` asks for a descriptor, for a `SendFile`; these tests have
    /// none, so any open one stands in.
    impl AsFd for SmallSocket {
        fn as_fd(&self) -> BorrowedFd<'_> {
            static STAND_IN: std::sync::LazyLock<io::Stderr> = std::sync::LazyLock::new(io::stderr);
            STAND_IN.as_fd()
        }
    }

    impl Write for SmallSocket {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let count = bytes.len().min(self.room).min(1000);
            self.room -= count;
            self.received.extend_from_slice(&bytes[..count]);
            Ok(count)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn file_with(name: &str, bytes: &[u8]) -> (File, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("outgoing-{name}-{}", std::process::id()));
        fs::write(&path, bytes).unwrap();
        (File::open(&path).unwrap(), path)
    }

    fn file_response(file: File, length: u64) -> Response {
        Response {
            status: Status::OK,
            content_type: "application/octet-stream",
            extra_headers: Vec::new(),
            body: Body::File { file, length },
            omit_body: false,
        }
    }

    #[test]
    fn a_large_body_survives_a_full_socket() {
        let body: Vec<u8> = (0..300_000u32).map(|index| (index % 251) as u8).collect();
        let (file, path) = file_with("large", &body);
        let mut outgoing = Outgoing::new(file_response(file, body.len() as u64), false).unwrap();
        let mut socket = SmallSocket {
            received: Vec::new(),
            room: 0,
        };
        let mut rounds = 0;
        while outgoing.write_to(&mut socket).unwrap() == WriteOutcome::SocketFull {
            socket.room = 7_777; // the client read a little: some room again
            rounds += 1;
            assert!(rounds < 1000);
        }
        let head_end = stage01_fixed_page::head::find_head_end(&socket.received).unwrap();
        assert_eq!(&socket.received[head_end..], body.as_slice());
        assert_eq!(outgoing.bytes_sent(), socket.received.len() as u64);
        fs::remove_file(path).unwrap();
    }

    #[test]
    fn head_and_small_body_are_ready_together() {
        let (file, path) = file_with("small", b"hello");
        let outgoing = Outgoing::new(file_response(file, 5), true).unwrap();
        assert!(outgoing.ready.ends_with(b"\r\n\r\nhello"));
        assert!(outgoing.rest_of_file.is_some());
        fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_file_that_shrank_is_an_error_not_a_hang() {
        let (file, path) = file_with("shrunk", b"short");
        let mut outgoing = Outgoing::new(file_response(file, 100_000), false).unwrap();
        let mut socket = SmallSocket {
            received: Vec::new(),
            room: usize::MAX,
        };
        assert!(outgoing.write_to(&mut socket).is_err());
        fs::remove_file(path).unwrap();
    }

    #[test]
    fn head_requests_send_no_body() {
        let mut response = Response::from_bytes(Status::OK, "text/plain", "hello");
        response.omit_body = true;
        let mut outgoing = Outgoing::new(response, false).unwrap();
        let mut socket = SmallSocket {
            received: Vec::new(),
            room: usize::MAX,
        };
        assert_eq!(
            outgoing.write_to(&mut socket).unwrap(),
            WriteOutcome::Finished
        );
        assert!(socket.received.ends_with(b"\r\n\r\n"));
        assert_eq!(outgoing.body_length(), 0);
    }
}
