//! `lab canned`: the ceiling the stages are measured against.
//!
//! It is not a stage and not a web server: it never looks at what a request
//! asks for. One thread, level-triggered epoll, and every complete request head
//! (everything up to the blank line) is answered with the same page, kept in
//! memory, with the headers stage 8 sends for it. No parsing, no files, no
//! access log, no timeouts.
//!
//! What the machine does for it is what any server on it must pay at the
//! least: the system calls to wait, receive and send, and the kernel's network
//! stack on loopback. So its requests per second are as fast as a server with
//! one thread on one CPU can go here, and what a stage does above that (parsing,
//! opening, reading and closing a file) is what the stage's share of this
//! figure leaves out.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use checker::http_date::format_http_date;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::stat::Mode;

use crate::wire::find;

/// The event data of the listener; clients are numbered from 0.
const LISTENER: u64 = u64::MAX;
const EVENTS_PER_WAIT: usize = 256;
/// How much one read takes from a socket. With level-triggered epoll the rest,
/// if any, is reported again on the next wait.
const READ_CHUNK: usize = 4096;
/// A client whose head grows past this without a blank line is closed: a
/// ceiling for well-behaved load generators needs no 431.
const LONGEST_HEAD: usize = 16 * 1024;
const END_OF_HEAD: &[u8] = b"\r\n\r\n";

// ANCHOR: response
/// The one response, rebuilt when the clock moves on to the next second, so
/// that its `Date` is always right and costs nothing in between.
struct CannedResponse {
    body: Vec<u8>,
    bytes: Vec<u8>,
    /// How many of `bytes` are the head.
    head_length: usize,
    built_for_second: u64,
    /// With `--read-each-time`, the file the page is read from for every
    /// request.
    read_each_time: Option<PageFile>,
}

/// The page's file, found as cheaply as a server can find one: its folder is
/// opened once, and each request opens one name in it (stage 8 opens the
/// path beneath its root folder the same way).
struct PageFile {
    folder: OwnedFd,
    name: PathBuf,
}

impl PageFile {
    fn new(path: &Path) -> io::Result<PageFile> {
        let folder = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty());
        let folder = File::open(folder.unwrap_or(Path::new(".")))?;
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other("the page has no file name"))?;
        Ok(PageFile {
            folder: folder.into(),
            name: name.into(),
        })
    }
}

impl CannedResponse {
    fn new(body: Vec<u8>, read_each_time: Option<PageFile>) -> CannedResponse {
        let mut response = CannedResponse {
            body,
            bytes: Vec::new(),
            head_length: 0,
            built_for_second: 0,
            read_each_time,
        };
        response.rebuild(SystemTime::now());
        response
    }

    /// The response as it should be sent now.
    fn current(&mut self) -> io::Result<&[u8]> {
        let now = SystemTime::now();
        let new_second = seconds_since_epoch(now) != self.built_for_second;
        if let Some(page) = &self.read_each_time {
            // The file is read straight in behind the head; the head itself is
            // written again only when the clock or the file's length moves on.
            read_page(page, &mut self.bytes, self.head_length)?;
            let read = &self.bytes[self.head_length..];
            if new_second || read.len() != self.body.len() {
                self.body = read.to_vec();
                self.rebuild(now);
            }
            return Ok(&self.bytes);
        }
        if new_second {
            self.rebuild(now);
        }
        Ok(&self.bytes)
    }

    fn rebuild(&mut self, now: SystemTime) {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\nDate: {}\r\nConnection: keep-alive\r\n\r\n",
            self.body.len(),
            format_http_date(now)
        );
        self.bytes.clear();
        self.bytes.extend_from_slice(head.as_bytes());
        self.bytes.extend_from_slice(&self.body);
        self.head_length = head.len();
        self.built_for_second = seconds_since_epoch(now);
    }
}
// ANCHOR_END: response

// ANCHOR: read_page
/// The file work a file server without a cache does for every request, and
/// nothing more: open, learn the length, one read of that many bytes into
/// `bytes` after its first `keep`, close (when `file` is dropped). Four system
/// calls, as stage 8 makes.
fn read_page(page: &PageFile, bytes: &mut Vec<u8>, keep: usize) -> io::Result<()> {
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let mut file = File::from(openat(&page.folder, &page.name, flags, Mode::empty())?);
    let length = file.metadata()?.len() as usize;
    bytes.resize(keep + length, 0);
    file.read_exact(&mut bytes[keep..])
}
// ANCHOR_END: read_page

fn seconds_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// One client: what it sent that does not yet end a head, and what we owe it.
struct Client {
    stream: TcpStream,
    received: Vec<u8>,
    unsent: Vec<u8>,
    /// Whether epoll is watching it for room to write, as well as for input.
    watching_writable: bool,
}

/// What became of a client after it was served.
enum Outcome {
    KeepOpen,
    Close,
}

/// Serves `page` to every request head that arrives on `listener`, until the
/// process is stopped (the default action of SIGINT and SIGTERM); with
/// `read_each_time`, the page as read from that file for each request.
pub fn serve(
    listener: TcpListener,
    page: Vec<u8>,
    read_each_time: Option<&Path>,
) -> io::Result<()> {
    let read_each_time = read_each_time.map(PageFile::new).transpose()?;
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))?;
    let mut response = CannedResponse::new(page, read_each_time);
    let mut clients = Clients::default();
    let mut events = vec![EpollEvent::empty(); EVENTS_PER_WAIT];
    loop {
        let ready = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(count) => count,
            Err(Errno::EINTR) => 0,
            Err(error) => return Err(error.into()),
        };
        for event in &events[..ready] {
            if event.data() == LISTENER {
                accept_waiting(&listener, &epoll, &mut clients)?;
                continue;
            }
            let number = event.data() as usize;
            let Some(client) = clients.get_mut(number) else {
                continue; // closed earlier in this round
            };
            let outcome = if event.events().contains(EpollFlags::EPOLLIN) {
                receive_and_answer(client, &mut response)
            } else {
                send_unsent(client)
            };
            match outcome.and_then(|outcome| watch(&epoll, client, number).map(|()| outcome)) {
                Ok(Outcome::KeepOpen) => {}
                Ok(Outcome::Close) | Err(_) => clients.close(number, &epoll),
            }
        }
    }
}

/// Accepts every connection waiting in the listener's queue.
fn accept_waiting(listener: &TcpListener, epoll: &Epoll, clients: &mut Clients) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(true)?;
                let number = clients.insert(Client {
                    stream,
                    received: Vec::new(),
                    unsent: Vec::new(),
                    watching_writable: false,
                });
                if let Some(client) = clients.get_mut(number) {
                    let event = EpollEvent::new(EpollFlags::EPOLLIN, number as u64);
                    if epoll.add(&client.stream, event).is_err() {
                        clients.close(number, epoll);
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            // Out of descriptors, or a client that gave up while queued: the
            // ceiling has no remedy to teach, so it waits for the next event.
            Err(_) => return Ok(()),
        }
    }
}

// ANCHOR: answer
/// Reads what is there (once: level-triggered epoll reports the rest), and
/// answers every complete head in it with the canned response.
fn receive_and_answer(client: &mut Client, response: &mut CannedResponse) -> io::Result<Outcome> {
    let mut chunk = [0; READ_CHUNK];
    let count = match (&client.stream).read(&mut chunk) {
        Ok(0) => return Ok(Outcome::Close),
        Ok(count) => count,
        Err(error) if would_block(&error) => return Ok(Outcome::KeepOpen),
        Err(error) => return Err(error),
    };
    client.received.extend_from_slice(&chunk[..count]);
    let mut answered_up_to = 0;
    while let Some(at) = find(&client.received[answered_up_to..], END_OF_HEAD) {
        answered_up_to += at + END_OF_HEAD.len();
        client.unsent.extend_from_slice(response.current()?);
    }
    client.received.drain(..answered_up_to);
    if client.received.len() > LONGEST_HEAD {
        return Ok(Outcome::Close);
    }
    send_unsent(client)
}
// ANCHOR_END: answer

/// Sends as much of what we owe as the socket takes now; the rest waits for
/// epoll to say there is room.
fn send_unsent(client: &mut Client) -> io::Result<Outcome> {
    while !client.unsent.is_empty() {
        match (&client.stream).write(&client.unsent) {
            Ok(0) => return Ok(Outcome::Close),
            Ok(count) => {
                client.unsent.drain(..count);
            }
            Err(error) if would_block(&error) => break,
            Err(error) => return Err(error),
        }
    }
    Ok(Outcome::KeepOpen)
}

/// Asks epoll for room to write only while output waits: a socket with room is
/// writable nearly always, and watching for that would wake us for nothing.
fn watch(epoll: &Epoll, client: &mut Client, number: usize) -> io::Result<()> {
    let wants_writable = !client.unsent.is_empty();
    if wants_writable != client.watching_writable {
        let flags = if wants_writable {
            EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
        } else {
            EpollFlags::EPOLLIN
        };
        let mut event = EpollEvent::new(flags, number as u64);
        epoll.modify(&client.stream, &mut event)?;
        client.watching_writable = wants_writable;
    }
    Ok(())
}

fn would_block(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The open clients, numbered by their place in a vector; a closed client's
/// place is given to the next one.
#[derive(Default)]
struct Clients {
    places: Vec<Option<Client>>,
    free: Vec<usize>,
}

impl Clients {
    fn insert(&mut self, client: Client) -> usize {
        match self.free.pop() {
            Some(number) => {
                self.places[number] = Some(client);
                number
            }
            None => {
                self.places.push(Some(client));
                self.places.len() - 1
            }
        }
    }

    fn get_mut(&mut self, number: usize) -> Option<&mut Client> {
        self.places.get_mut(number)?.as_mut()
    }

    /// Forgets the client; dropping its stream closes the socket, which also
    /// takes it out of the epoll set.
    fn close(&mut self, number: usize, epoll: &Epoll) {
        if let Some(client) = self.places.get_mut(number).and_then(Option::take) {
            let _ = epoll.delete(&client.stream);
            self.free.push(number);
        }
    }
}

/// Binds `addr` and prints the line the stages print, so the lab starts this
/// as it starts them.
pub fn bind_and_announce(
    addr: SocketAddr,
    page_path: &str,
    read_each_time: bool,
) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let from = if read_each_time {
        "read from its file"
    } else {
        "from memory"
    };
    println!("listening on http://{bound}/ (ceiling: {page_path} {from}, for every request)");
    io::stdout().flush()?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn start_ceiling() -> SocketAddr {
        start_serving(b"<p>hello</p>", None)
    }

    /// A ceiling on a free port, serving `page` (or, with `read_each_time`,
    /// that file as it is at each request).
    fn start_serving(page: &[u8], read_each_time: Option<PathBuf>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener.local_addr().expect("the bound address");
        let page = page.to_vec();
        std::thread::spawn(move || serve(listener, page, read_each_time.as_deref()));
        addr
    }

    /// A client of `addr` that gives up on a read after `timeout`.
    fn connect(addr: SocketAddr, timeout: Duration) -> TcpStream {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(timeout))
            .expect("a read timeout");
        stream
    }

    fn read_exactly(stream: &mut TcpStream, length: usize) -> Vec<u8> {
        let mut received = vec![0; length];
        stream.read_exact(&mut received).expect("the whole answer");
        received
    }

    #[test]
    fn answers_every_head_with_the_page_and_its_length() {
        let mut stream = connect(start_ceiling(), Duration::from_secs(5));
        let one = CannedResponse::new(b"<p>hello</p>".to_vec(), None)
            .bytes
            .len();
        // Two pipelined heads, the second split across writes.
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /other HTTP/1.1\r\n")
            .expect("send");
        stream.write_all(b"Host: x\r\n\r\n").expect("send");
        let text = String::from_utf8(read_exactly(&mut stream, 2 * one)).expect("text");
        assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 2);
        assert_eq!(text.matches("Content-Length: 12\r\n").count(), 2);
        assert!(text.contains("Date: ") && text.ends_with("<p>hello</p>"));
    }

    #[test]
    fn read_each_time_sends_the_file_as_it_is_now() {
        let folder = std::env::temp_dir().join(format!("canned-{}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("a scratch folder");
        let page = folder.join("page.html");
        std::fs::write(&page, "<p>old</p>").expect("write the page");
        let addr = start_serving(b"<p>old</p>", Some(page.clone()));
        let mut stream = connect(addr, Duration::from_secs(5));
        let one = CannedResponse::new(b"<p>old</p>".to_vec(), None)
            .bytes
            .len();
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("send");
        let first = String::from_utf8(read_exactly(&mut stream, one)).expect("text");
        std::fs::write(&page, "<p>newer</p>").expect("rewrite the page");
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("send");
        let second = String::from_utf8(read_exactly(&mut stream, one + 2)).expect("text");
        let _ = std::fs::remove_dir_all(&folder);
        assert!(first.ends_with("<p>old</p>"), "{first}");
        assert!(
            second.contains("Content-Length: 12\r\n") && second.ends_with("<p>newer</p>"),
            "{second}"
        );
    }

    #[test]
    fn a_head_without_its_blank_line_gets_no_answer_yet() {
        let mut stream = connect(start_ceiling(), Duration::from_millis(200));
        stream.write_all(b"GET / HTTP/1.1\r\n").expect("send");
        let mut byte = [0; 1];
        let error = stream
            .read(&mut byte)
            .expect_err("no answer to half a head");
        assert!(would_block(&error) || error.kind() == io::ErrorKind::TimedOut);
    }
}
