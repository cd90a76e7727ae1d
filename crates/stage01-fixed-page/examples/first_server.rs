//! Chapter 1's first server, written with `std` alone. Run it with
//! `cargo run -p stage01-fixed-page --example first_server`, then open
//! <http://127.0.0.1:7801/>. Ctrl-C stops it.

use std::io::{Read, Write};
use std::net::TcpListener;

const PAGE: &str =
    "<!doctype html>\n<title>First server</title>\n<h1>Hello from my first server</h1>\n";

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:7801")?;
    println!("listening on http://127.0.0.1:7801/");
    loop {
        let (mut stream, peer) = listener.accept()?;

        // Read until the blank line that ends the request head, however many
        // reads that takes: TCP delivers bytes, not whole messages.
        let mut request = Vec::new();
        let mut chunk = [0; 1024];
        while !request.windows(4).any(|four| four == b"\r\n\r\n") {
            let count = stream.read(&mut chunk)?;
            if count == 0 {
                break; // the client closed its side before the blank line
            }
            request.extend_from_slice(&chunk[..count]);
        }
        println!("{peer} sent {} bytes", request.len());

        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
            PAGE.len()
        );
        stream.write_all(response.as_bytes())?;
        // `stream` is dropped here, at the end of the turn: that closes the connection.
    }
}
