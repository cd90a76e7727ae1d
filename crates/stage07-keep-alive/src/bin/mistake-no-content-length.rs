//! A kept-alive server that leaves out `Content-Length`, kept here to be broken
//! on purpose.
//!
//! On a connection that closes after each answer, a missing `Content-Length` does
//! little harm: the body ends where the connection ends. On a kept-alive
//! connection nothing ends: the server sends the body and waits for the next
//! request, and the client, which cannot know that the body is over, waits for
//! more of it. Both wait until a timeout closes the connection (5 s here), and
//! only then does the client take what it got as the whole answer. Two URLs in
//! one `curl` command take five seconds each; pipelined requests come back as
//! one run of bytes that the client cannot split.
//!
//! This is a small blocking server that serves one connection at a time, and it
//! writes each answer in one go, so nothing but the missing header is wrong.
//! Chapter 7 runs it next to stage 7; the checker's `keep-alive` check fails
//! against it.

use std::io::{BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::cli::{Cli, listen_or_exit};
use stage01_fixed_page::head::read_request_head;
use stage02_file_lookup::request::parse_request_head;
use stage02_file_lookup::response::{Body, Response};
use stage02_file_lookup::site::respond;

const NAME: &str = "mistake-no-content-length";

/// How long a kept connection may stay quiet: stage 7's default.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() {
    let mut arguments = Cli::new(NAME, 7807, "a keep-alive server without Content-Length")
        .mistake_of("stage07-keep-alive")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    for stream in listener.incoming().flatten() {
        serve_kept_alive(stream, &arguments.server.root);
    }
}

fn serve_kept_alive(mut stream: TcpStream, root: &Path) {
    if stream.set_read_timeout(Some(IDLE_TIMEOUT)).is_err() {
        return;
    }
    let mut buffer = Vec::new();
    loop {
        let Ok(head_length) = read_request_head(&mut stream, &mut buffer) else {
            return; // the client left, or stayed quiet past the timeout
        };
        let head: Vec<u8> = buffer.drain(..head_length).collect();
        let Ok(request) = parse_request_head(&head) else {
            return;
        };
        let keep_alive = request.wants_keep_alive();
        if write_without_length(&mut stream, respond(&request, root), keep_alive).is_err() {
            return;
        }
        if !keep_alive {
            return;
        }
    }
}

// ANCHOR: no_content_length
/// The answer with every header but one. THE MISTAKE: without `Content-Length`
/// (and without chunked encoding), only the end of the connection can tell the
/// client where this body ends, and a kept-alive connection does not end.
fn write_without_length(
    stream: &mut TcpStream,
    response: Response,
    keep_alive: bool,
) -> std::io::Result<()> {
    let head = String::from_utf8_lossy(&response.head(keep_alive)).into_owned();
    let head: String = head
        .split_inclusive("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("content-length:"))
        .collect();
    // Buffered, so the head and a small body leave in one write.
    let mut out = BufWriter::with_capacity(64 * 1024, stream);
    out.write_all(head.as_bytes())?;
    if !response.omit_body {
        match response.body {
            Body::Bytes(bytes) => out.write_all(&bytes)?,
            Body::File { file, length } => {
                std::io::copy(&mut file.take(length), &mut out)?;
            }
        }
    }
    out.flush()
}
// ANCHOR_END: no_content_length
