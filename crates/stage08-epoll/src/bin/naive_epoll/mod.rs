//! The bare epoll loop that chapter 8's broken variants share: stage 7's
//! connections in a `HashMap`, no idle timeout, no signals. Each variant brings
//! its own way of accepting, which is where its mistake is.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Instant;

use common::access_log::AccessLog;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use stage07_keep_alive::connection::{Connection, Waiting};

/// The event data of the listener; connections count up from 0.
const LISTENER: u64 = u64::MAX;

pub struct NaiveLoop {
    epoll: Epoll,
    pub listener: TcpListener,
    /// `EPOLLET` or nothing, added to every registration.
    trigger: EpollFlags,
    connections: HashMap<u64, Connection>,
    next_token: u64,
}

impl NaiveLoop {
    pub fn new(listener: TcpListener, trigger: EpollFlags) -> io::Result<NaiveLoop> {
        listener.set_nonblocking(true)?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(
            &listener,
            EpollEvent::new(EpollFlags::EPOLLIN | trigger, LISTENER),
        )?;
        Ok(NaiveLoop {
            epoll,
            listener,
            trigger,
            connections: HashMap::new(),
            next_token: 0,
        })
    }

    /// Waits for events forever; `accept` is called when the listener is ready.
    pub fn run(
        &mut self,
        root: &Path,
        log: &AccessLog,
        accept: impl Fn(&mut NaiveLoop, Instant),
    ) -> io::Result<()> {
        let mut events = vec![EpollEvent::empty(); 256];
        loop {
            let ready = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(ready) => ready,
                Err(nix::Error::EINTR) => continue,
                Err(error) => return Err(error.into()),
            };
            let now = Instant::now();
            for event in &events[..ready] {
                match event.data() {
                    LISTENER => accept(self, now),
                    token => self.advance(token, root, log, now),
                }
            }
        }
    }

    /// Registers a new connection for input.
    pub fn add(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        let Ok(connection) = Connection::new(stream, peer, now) else {
            return;
        };
        let token = self.next_token;
        self.next_token += 1;
        let interest = EpollEvent::new(EpollFlags::EPOLLIN | self.trigger, token);
        if self.epoll.add(&connection, interest).is_ok() {
            self.connections.insert(token, connection);
        }
    }

    fn advance(&mut self, token: u64, root: &Path, log: &AccessLog, now: Instant) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        let mut waiting = connection.advance(root, log, now);
        while waiting == Waiting::ForNextTurn {
            waiting = connection.advance(root, log, now);
        }
        let interest = match waiting {
            Waiting::ForOutput => EpollFlags::EPOLLOUT,
            Waiting::ForInput | Waiting::ForNextTurn => EpollFlags::EPOLLIN,
            Waiting::Closed => {
                self.connections.remove(&token);
                return;
            }
        };
        let mut event = EpollEvent::new(interest | self.trigger, token);
        if self.epoll.modify(&*connection, &mut event).is_err() {
            self.connections.remove(&token);
        }
    }
}
