//! What the exercises share, so that each exercise file holds only what the
//! student changes.
//!
//! The chapter 2 exercises grow stage 2 by changing how one request is answered;
//! [`serve_one_at_a_time`] is stage 2's accept loop with that answer plugged in.
//!
//! The exercises of chapters 6 to 8 grow the event-driven stages:
//! - [`polling`]: stage 6's loop, driving the exercise's own connection type;
//! - [`kept_alive`]: stage 7's loop, idle timeout included, likewise;
//! - [`table`]: stage 8's connection table (`stage08_epoll::table`), for the
//!   exercises that grow stage 8's event loop.
//!
//! The exercises of chapters 3 to 5 change their stage's accept loop itself, so
//! each starts from a trimmed copy of the stage's `main.rs`; the modules below
//! hold the parts of the stage that they use unchanged.

use std::path::Path;

use common::access_log::AccessLog;
use common::cli::{Cli, listen_or_exit};
use stage01_fixed_page::accept::after_accept_error;
use stage02_file_lookup::blocking::serve_connection_with;
use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;

pub mod kept_alive;
pub mod polling;
/// Stage 8's connection table, from stage 8's library.
pub use stage08_epoll::table;

/// Stage 2's server, answering each well-formed request with `answer`.
pub fn serve_one_at_a_time(
    name: &'static str,
    about: &'static str,
    answer: fn(&Request, &Path) -> Response,
) {
    let mut arguments = Cli::new(name, 7802, about).parse();
    let listener = listen_or_exit(name, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    let root = arguments.server.root;
    loop {
        match listener.accept() {
            Ok((mut stream, peer)) => serve_connection_with(&mut stream, peer, &root, &log, answer),
            Err(error) => after_accept_error(name, &error),
        }
    }
}

/// Stage 3's signal handling, the very file chapter 3 explains.
#[path = "../../stage03-multiprocess/src/signals.rs"]
pub mod stage03_signals;

/// Stage 5's wrapper that lets `serve_connection` use `may`'s sockets.
#[path = "../../stage05-green-threads/src/coroutine_stream.rs"]
pub mod coroutine_stream;

pub mod green_threads;
pub mod stopping;
