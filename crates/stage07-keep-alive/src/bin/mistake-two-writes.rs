//! A kept-alive answer written the way many first servers write it: the head in
//! one `write`, the body in a second. Every byte arrives and every answer is
//! right; only the clock is wrong.
//!
//! The head leaves at once as a small TCP segment. The body is small too, and
//! Nagle's algorithm holds a small segment back while an earlier one is still
//! unacknowledged, hoping to send one larger segment instead. But the client
//! acknowledges late on purpose ("delayed ACK"): on Linux it waits 40 ms to
//! 200 ms (the kernel's shortest and longest delayed-ACK timers) for data of its
//! own to carry the ACK, and it has none, because it is waiting for the body.
//! Each side waits for the other until the client's timer fires: about 40 ms,
//! the shortest, on every answer of a kept-alive connection.
//!
//! To keep anything else out of the picture, this is a small blocking server that
//! serves one connection at a time. `--nodelay` sets `TCP_NODELAY`, which turns
//! Nagle's algorithm off, and the delay goes away. Chapter 7 measures both
//! against stage 7, which writes each answer in one go.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::cli::{Cli, listen_or_exit};
use stage01_fixed_page::head::read_request_head;
use stage02_file_lookup::request::parse_request_head;
use stage02_file_lookup::response::{Body, Response};
use stage02_file_lookup::site::respond;

const NAME: &str = "mistake-two-writes";

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7807,
        "a keep-alive server that writes head and body apart",
    )
    .switch(
        "--nodelay",
        "set TCP_NODELAY on every connection (Nagle off)",
    )
    .mistake_of("stage07-keep-alive")
    .parse();
    let nodelay = arguments.switch("--nodelay");
    let listener = listen_or_exit(NAME, &mut arguments.server);
    for stream in listener.incoming().flatten() {
        if nodelay && stream.set_nodelay(true).is_err() {
            continue;
        }
        serve_kept_alive(stream, &arguments.server.root);
    }
}

fn serve_kept_alive(mut stream: TcpStream, root: &Path) {
    if stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .is_err()
    {
        return;
    }
    let mut buffer = Vec::new();
    loop {
        let Ok(head_length) = read_request_head(&mut stream, &mut buffer) else {
            return;
        };
        let head: Vec<u8> = buffer.drain(..head_length).collect();
        let Ok(request) = parse_request_head(&head) else {
            return;
        };
        let keep_alive = request.wants_keep_alive();
        let response = respond(&request, root);
        // ANCHOR: two_writes
        // THE MISTAKE: the head in one write, the body in another. Nagle's
        // algorithm holds the body until the client acknowledges the head.
        if stream.write_all(&response.head(keep_alive)).is_err() {
            return;
        }
        if write_body(&mut stream, response).is_err() {
            return;
        }
        // ANCHOR_END: two_writes
        if !keep_alive {
            return;
        }
    }
}

fn write_body(stream: &mut TcpStream, response: Response) -> io::Result<()> {
    if response.omit_body {
        return Ok(());
    }
    match response.body {
        Body::Bytes(bytes) => stream.write_all(&bytes),
        Body::File { file, length } => io::copy(&mut file.take(length), stream).map(drop),
    }
}
