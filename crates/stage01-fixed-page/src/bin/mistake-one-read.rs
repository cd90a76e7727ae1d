//! The version of stage 1 that many tutorials write, kept here to be broken on
//! purpose: it makes ONE `read` of at most 1024 bytes and takes that as the whole
//! request. TCP promises a stream of bytes, not messages, so that read may hold
//! half a request line, or a head that goes on past 1024 bytes.
//!
//! Chapter 1's experiment runs it next to the real stage 1: type a request into
//! `nc` line by line and this one answers before you have finished asking. The
//! checker's `waits-for-whole-head` check fails against it.

use std::io::{Read, Write};
use std::net::TcpStream;

use common::cli::{Cli, listen_or_exit};

const NAME: &str = "mistake-one-read";

const PAGE: &str = "<!doctype html>\n<title>One read</title>\n<h1>Answered after one read</h1>\n";

fn main() {
    let mut arguments = Cli::new(NAME, 7801, "stage 1 with the one-read mistake")
        .mistake_of("stage01-fixed-page")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    for stream in listener.incoming().flatten() {
        answer(stream);
    }
}

// ANCHOR: one_read
fn answer(mut stream: TcpStream) {
    let mut buffer = [0; 1024];
    // THE MISTAKE: whatever this one read returns is taken as the whole request.
    if stream.read(&mut buffer).is_err() {
        return;
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
        PAGE.len()
    );
    let _ = stream.write_all(response.as_bytes());
}
// ANCHOR_END: one_read
