//! Edge-triggered epoll with the other mistake of first event loops: one `read`
//! per event on a connection, as if each event meant one request.
//!
//! Edge-triggered (`EPOLLET`), a socket is reported when new bytes arrive, not
//! while unread bytes wait. This program reads at most 1 KiB per event. A
//! request head that arrives in one piece but is longer than that (a browser's
//! cookies make heads of several KiB) leaves the rest in the socket, and no new
//! event comes for it, because nothing new arrives: the client waits for an
//! answer, the server waits for an event. A short head is answered, which is why
//! this bug survives a quick test with `curl`. Chapter 8 sends a 3 KiB head to it
//! and to `stage08-epoll --edge`; stage 8's connections (stage 7's) read until
//! `WouldBlock`.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use stage01_fixed_page::head::find_head_end;
use stage02_file_lookup::request::parse_request_head;
use stage02_file_lookup::response::write_response;
use stage02_file_lookup::site::{respond, response_to_bad_request};

const NAME: &str = "mistake-read-once";
const LISTENER: u64 = u64::MAX;

/// How much one read takes, at most: the classic fixed buffer.
const READ_SIZE: usize = 1024;

fn main() {
    let mut arguments = Cli::new(NAME, 7808, "edge-triggered epoll, one read per event")
        .mistake_of("stage08-epoll")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    if let Err(error) = serve(&listener, &arguments.server.root) {
        exit_with_startup_error(NAME, &error.to_string());
    }
}

fn serve(listener: &TcpListener, root: &Path) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    let edge = EpollFlags::EPOLLIN | EpollFlags::EPOLLET;
    epoll.add(listener, EpollEvent::new(edge, LISTENER))?;
    let mut clients: HashMap<u64, (TcpStream, Vec<u8>)> = HashMap::new();
    let mut next_token = 0;
    let mut events = vec![EpollEvent::empty(); 256];
    loop {
        let ready = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(ready) => ready,
            Err(nix::Error::EINTR) => continue,
            Err(error) => return Err(error.into()),
        };
        for event in &events[..ready] {
            if event.data() == LISTENER {
                // Accepting is done right: until the queue is empty.
                while let Ok((stream, _)) = listener.accept() {
                    if stream.set_nonblocking(true).is_ok()
                        && epoll
                            .add(&stream, EpollEvent::new(edge, next_token))
                            .is_ok()
                    {
                        clients.insert(next_token, (stream, Vec::new()));
                        next_token += 1;
                    }
                }
                continue;
            }
            let token = event.data();
            let Some((stream, received)) = clients.get_mut(&token) else {
                continue;
            };
            if read_once(stream, received, root) {
                clients.remove(&token); // dropping the socket closes it
            }
        }
    }
}

// ANCHOR: read_once
/// THE MISTAKE: one read per event. Whatever this read leaves in the socket is
/// never reported again, because no new bytes will arrive for it. Returns
/// whether the connection is finished.
fn read_once(stream: &mut TcpStream, received: &mut Vec<u8>, root: &Path) -> bool {
    let mut chunk = [0; READ_SIZE];
    match stream.read(&mut chunk) {
        Ok(0) => return true,
        Ok(count) => received.extend_from_slice(&chunk[..count]),
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => return false,
        Err(_) => return true,
    }
    let Some(head_end) = find_head_end(received) else {
        return false; // wait for the next event, which will not come
    };
    answer(stream, &received[..head_end], root);
    true
}
// ANCHOR_END: read_once

/// Writes the answer and closes. The socket is non-blocking, so it is made
/// blocking for the write: this program is about reading.
fn answer(stream: &mut TcpStream, head: &[u8], root: &Path) {
    let response = match parse_request_head(head) {
        Ok(request) => respond(&request, root),
        Err(error) => response_to_bad_request(&error, root),
    };
    if stream.set_nonblocking(false).is_ok() {
        let _ = write_response(stream, response, false);
    }
}
