//! Stage 2: a real static site, served one client at a time.
//!
//! It reads the request line with a regular expression, finds the file it names
//! under the root folder without ever leaving it, and streams the file back with
//! the right `Content-Type` and `Content-Length`. Bad requests get the HTTP error
//! that explains them (400, 404, 405, 431), and the server goes on serving.
//!
//! The pieces that do this live in the `common` crate, because every later stage
//! serves files the same way: `common::request` (the parser), `common::resolve`
//! (the path), `common::site` (the answer), `common::response` (the writing), and
//! `common::blocking` (one connection, start to end). This file holds what is
//! particular to stage 2: the loop that serves connections one after another.
//!
//! What it deliberately does not do yet: serve two clients at once. A client that
//! connects and sends nothing holds the loop, and everyone else waits. Chapter 2
//! of the book explains this stage and ends with that experiment; chapter 3 fixes
//! it with one process per connection.

use std::net::TcpListener;
use std::path::Path;

use common::accept::after_accept_error;
use common::access_log::AccessLog;
use common::blocking::serve_connection;
use common::cli::{Cli, listen_or_exit};

const NAME: &str = "stage02-file-lookup";

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7802,
        "serves the files of a folder, one client at a time",
    )
    .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    serve_one_at_a_time(&listener, &arguments.server.root, &log);
}

// ANCHOR: accept_loop
/// Serves each connection to the end before accepting the next. While one client
/// is being served, others wait in the kernel's queue: that is this stage's limit.
fn serve_one_at_a_time(listener: &TcpListener, root: &Path, log: &AccessLog) {
    loop {
        match listener.accept() {
            Ok((mut stream, peer)) => serve_connection(&mut stream, peer, root, log),
            Err(error) => after_accept_error(NAME, &error),
        }
    }
}
// ANCHOR_END: accept_loop
