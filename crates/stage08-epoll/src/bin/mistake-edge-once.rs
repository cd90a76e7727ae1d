//! Edge-triggered epoll with the mistake many first event loops make: one
//! `accept` per event on the listener, as if each event meant one client.
//!
//! Edge-triggered (`EPOLLET`), Linux reports the listener when a new client
//! arrives, but the clients that arrive between two `epoll_wait` calls merge
//! into one event: fifty clients that connect at once may be one event. This
//! program accepts one of them; the others stay in the queue, and nothing
//! reports them again until yet another client arrives. They have connected (the kernel finished their
//! handshakes), they have sent their requests, and they wait forever. A load
//! tool that opens its connections at once wedges it on the first second. The
//! same happens to bytes when a loop reads only once per event: what it left in
//! the socket is never reported again. (This program reads correctly: the
//! connections are stage 7's, which read until `WouldBlock`.)
//!
//! Chapter 8 shows the stall with the checker's load and with `wrk`, then the
//! fix, which stage 8 takes from stage 6's `accept_waiting`: accept until
//! `WouldBlock`.

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::path::Path;
use std::time::Instant;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use stage07_keep_alive::connection::{Connection, Waiting};

const NAME: &str = "mistake-edge-once";
const LISTENER: u64 = u64::MAX;

fn main() {
    let mut arguments = Cli::new(NAME, 7808, "edge-triggered epoll, one accept per event")
        .mistake_of("stage08-epoll")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    if let Err(error) = serve(&listener, &arguments.server.root, &log) {
        exit_with_startup_error(NAME, &error.to_string());
    }
}

fn serve(listener: &TcpListener, root: &Path, log: &AccessLog) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    let edge = EpollFlags::EPOLLET;
    epoll.add(
        listener,
        EpollEvent::new(EpollFlags::EPOLLIN | edge, LISTENER),
    )?;
    let mut connections: HashMap<u64, Connection> = HashMap::new();
    let mut next_token = 0;
    let mut events = vec![EpollEvent::empty(); 256];
    loop {
        let ready = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(ready) => ready,
            Err(nix::Error::EINTR) => continue,
            Err(error) => return Err(error.into()),
        };
        let now = Instant::now();
        for event in &events[..ready] {
            if event.data() == LISTENER {
                // ANCHOR: accept_once
                // THE MISTAKE: one accept per event. Edge-triggered, one event
                // may stand for many queued clients; the rest are never reported.
                if let Ok((stream, peer)) = listener.accept() {
                    if let Ok(connection) = Connection::new(stream, peer, now) {
                        let token = next_token;
                        next_token += 1;
                        let interest = EpollEvent::new(EpollFlags::EPOLLIN | edge, token);
                        if epoll.add(&connection, interest).is_ok() {
                            connections.insert(token, connection);
                        }
                    }
                }
                // ANCHOR_END: accept_once
                continue;
            }
            let token = event.data();
            let Some(connection) = connections.get_mut(&token) else {
                continue;
            };
            let mut waiting = connection.advance(root, log, now);
            while waiting == Waiting::ForNextTurn {
                waiting = connection.advance(root, log, now);
            }
            let interest = match waiting {
                Waiting::ForOutput => EpollFlags::EPOLLOUT,
                Waiting::ForInput | Waiting::ForNextTurn => EpollFlags::EPOLLIN,
                Waiting::Closed => {
                    connections.remove(&token);
                    continue;
                }
            };
            let mut event = EpollEvent::new(interest | edge, token);
            if epoll.modify(&*connection, &mut event).is_err() {
                connections.remove(&token);
            }
        }
    }
}
