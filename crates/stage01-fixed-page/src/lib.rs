//! Stage 1: the smallest honest web server.
//!
//! It listens on a TCP port, accepts one connection at a time, reads the request
//! head up to the blank line that ends it, and answers every request with the same
//! page. Small as it is, the answer is a correct HTTP response: a status line,
//! `Content-Type`, `Content-Length`, `Connection: close`, a blank line, the body.
//!
//! What it deliberately does not do yet: look at what was asked for (every path
//! gets the same page), or serve a second client while the first is still
//! connected. Chapter 1 of the book walks through this crate; chapter 2 starts
//! serving real files.
//!
//! What later stages take from here: [`head`], reading a whole request head from
//! a stream that may deliver it in pieces; [`date`], the `Date` header; and
//! [`accept`], what an accept loop does when `accept` fails.

pub mod accept;
pub mod date;
pub mod head;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::SystemTime;

use accept::after_accept_error;
use date::http_date;
use head::read_request_head;

/// The crate's name, which its messages start with.
pub const NAME: &str = "stage01-fixed-page";

// ANCHOR: page
/// The one page this server knows.
const PAGE: &str = "<!doctype html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Stage 1</title></head>
<body>
  <h1>Hello from stage 1</h1>
  <p>Every request gets this same page, whatever it asked for.</p>
</body>
</html>
";
// ANCHOR_END: page

// ANCHOR: accept_loop
/// Accepts connections one after another, and serves each before the next.
pub fn serve_forever(listener: &TcpListener, log: bool) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => answer(stream, peer, log),
            // A failed accept is about one connection, or a passing shortage
            // (out of file descriptors), not a reason to stop serving.
            Err(error) => after_accept_error(NAME, &error),
        }
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: answer
/// Reads the request head, then writes the page. Dropping `stream` at the end of
/// the function closes the connection, which is how an HTTP/1.0-style server says
/// "that was the whole response".
fn answer(mut stream: TcpStream, peer: SocketAddr, log: bool) {
    let mut buffer = Vec::new();
    let Ok(head_length) = read_request_head(&mut stream, &mut buffer) else {
        // The client left, broke the connection, or sent a head past the limit:
        // there is no request to answer.
        return;
    };
    if log {
        println!("{peer} {:?}", first_line(&buffer[..head_length]));
    }
    // One write for the whole response; if the client has gone, there is no one
    // to tell, so the error is ignored.
    let _ = stream.write_all(&fixed_response());
}
// ANCHOR_END: answer

// ANCHOR: fixed_response
/// The status line, the headers, a blank line, then the body. Every line of the
/// head ends in CRLF. `Content-Length` counts bytes, not characters. `Date` is
/// required of every server that has a clock (RFC 9110, section 6.6.1); caches
/// use it to tell how old a response is.
pub fn fixed_response() -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 200 OK\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Date: {}\r\n\
         Connection: close\r\n\
         \r\n",
        PAGE.len(),
        http_date(SystemTime::now())
    );
    [head.as_bytes(), PAGE.as_bytes()].concat()
}
// ANCHOR_END: fixed_response

/// The request line, for the log: `GET / HTTP/1.1`.
fn first_line(head: &[u8]) -> String {
    let line = head.split(|&byte| byte == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).trim_end().to_string()
}
