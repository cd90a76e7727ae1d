//! Stage 2: a real static site, served one client at a time.
//!
//! It reads the request line with a regular expression, finds the file it names
//! under the root folder without ever leaving it, and streams the file back with
//! the right `Content-Type` and `Content-Length`. Bad requests get the HTTP error
//! that explains them (400, 404, 405, 431), and the server goes on serving.
//!
//! Every later stage serves files the same way, so they take these pieces from
//! here:
//!
//! | module       | what it holds                                               |
//! |--------------|-------------------------------------------------------------|
//! | [`request`]  | parsing the request line (with `regex`) and the headers     |
//! | [`resolve`]  | turning a URL path into a file that stays under the root    |
//! | [`response`] | status, headers, and a body streamed from its file          |
//! | [`site`]     | the answer to one request: the file, 404, 405, ...          |
//! | [`blocking`] | one connection on a blocking socket: read, answer, close    |
//!
//! It reads request heads with stage 1's `head` module (`stage01-fixed-page`).
//! This file holds the loop that serves connections one after another.
//!
//! What it deliberately does not do yet: serve two clients at once. A client that
//! connects and sends nothing holds the loop, and everyone else waits. Chapter 2
//! of the book explains this stage and ends with that experiment; chapter 3 fixes
//! it with one process per connection.

use std::net::TcpListener;
use std::path::Path;

use common::access_log::AccessLog;
use common::cli::{Cli, listen_or_exit};
use stage01_fixed_page::accept::after_accept_error;

use blocking::serve_connection_with;
use request::Request;
use response::Response;

pub mod blocking;
pub mod request;
pub mod resolve;
pub mod response;
pub mod site;

/// The crate's name, which its messages start with.
pub const NAME: &str = "stage02-file-lookup";

/// Stage 2's server, from the command line to the accept loop, answering each
/// well-formed request with `answer`: [`site::respond`] for stage 2 itself, and
/// the chapter's exercises bring their own (a folder listing, a range, ...).
pub fn run(name: &'static str, about: &'static str, answer: impl Fn(&Request, &Path) -> Response) {
    let mut arguments = Cli::new(name, 7802, about).parse();
    let listener = listen_or_exit(name, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    serve_one_at_a_time(&listener, &arguments.server.root, &log, answer);
}

// ANCHOR: accept_loop
/// Serves each connection to the end before accepting the next. While one client
/// is being served, others wait in the kernel's queue: that is this stage's limit.
pub fn serve_one_at_a_time(
    listener: &TcpListener,
    root: &Path,
    log: &AccessLog,
    answer: impl Fn(&Request, &Path) -> Response,
) {
    loop {
        match listener.accept() {
            Ok((mut stream, peer)) => serve_connection_with(&mut stream, peer, root, log, &answer),
            Err(error) => after_accept_error(NAME, &error),
        }
    }
}
// ANCHOR_END: accept_loop
