//! Stage 6 with the single-write mistake, kept here to be broken on purpose: the
//! whole answer (head and file, read whole into memory) is handed to ONE `write`,
//! and the connection is closed as if it had all gone out.
//!
//! On a blocking socket that write would wait until everything was taken. On a
//! non-blocking socket it takes what the kernel can hold at that moment (the send
//! buffer, up to `net.ipv4.tcp_wmem`'s 4 MiB, and on loopback what the reader's
//! receive buffer took meanwhile) and returns that count, which this program
//! ignores. Over loopback, one write of a 20 MB file took 5.5 to 9.7 MB for
//! `curl` and 3.9 MB for the checker's slow reader. A small page survives; a
//! large file arrives cut. Chapter 6 shows it with `curl` and `strace`, and the
//! checker's `large-file-slow-reader` check fails against it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::Duration;

use common::cli::Cli;
use stage01_fixed_page::head::{HEAD_LIMIT, find_head_end};
use stage02_file_lookup::request::parse_request_head;
use stage02_file_lookup::response::{Body, Response};
use stage02_file_lookup::site::{respond, response_to_bad_request};
use stage06_nonblocking::accept::listen_non_blocking_or_exit;

const NAME: &str = "mistake-single-write";

fn main() {
    let mut arguments = Cli::new(NAME, 7806, "stage 6 with the single-write mistake")
        .mistake_of("stage06-nonblocking")
        .parse();
    let listener = listen_non_blocking_or_exit(NAME, &mut arguments.server);
    let root = arguments.server.root;
    let mut clients: Vec<(TcpStream, Vec<u8>)> = Vec::new();
    loop {
        while let Ok((stream, _)) = listener.accept() {
            if stream.set_nonblocking(true).is_ok() {
                clients.push((stream, Vec::new()));
            }
        }
        clients.retain_mut(|(stream, received)| !answer_when_ready(stream, received, &root));
        // A rest between rounds, so this broken program at least spares the CPU.
        thread::sleep(Duration::from_millis(1));
    }
}

/// Reads what has arrived; once the head is whole, answers. `true` when done.
fn answer_when_ready(stream: &mut TcpStream, received: &mut Vec<u8>, root: &Path) -> bool {
    let mut chunk = [0; 4096];
    match stream.read(&mut chunk) {
        Ok(0) => return true,
        Ok(count) => received.extend_from_slice(&chunk[..count]),
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => return false,
        Err(_) => return true,
    }
    let Some(head_end) = find_head_end(received) else {
        return received.len() > HEAD_LIMIT;
    };
    let response = match parse_request_head(&received[..head_end]) {
        Ok(request) => respond(&request, root),
        Err(error) => response_to_bad_request(&error, root),
    };
    let Ok(whole_answer) = whole_answer(response) else {
        return true;
    };
    // ANCHOR: single_write
    // THE MISTAKE: one write, its count ignored, as if the kernel took it all.
    // On a non-blocking socket it takes only what fits in the send buffer now.
    let _ = stream.write(&whole_answer);
    // ANCHOR_END: single_write
    true // ...and the connection is dropped, with the rest of the file unsent
}

/// The head and the whole body in one buffer: the file is read whole, too.
fn whole_answer(response: Response) -> io::Result<Vec<u8>> {
    let mut bytes = response.head(false);
    if response.omit_body {
        return Ok(bytes);
    }
    match response.body {
        Body::Bytes(body) => bytes.extend_from_slice(&body),
        Body::File { mut file, .. } => {
            file.read_to_end(&mut bytes)?;
        }
    }
    Ok(bytes)
}
