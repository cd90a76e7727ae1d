//! The checker's proof that its keep-alive checks can fail, and can pass.
//!
//! A small keep-alive server, one thread per connection and blocking sockets,
//! built from stage 1's and stage 2's pieces, is run with one flaw at a time. Without a flaw it
//! passes every stage 7 check (so the checks ask nothing an honest server cannot
//! do, whatever its concurrency model); with a flaw, the check made for it fails.
//! The stages' own tests show the rest: stage 6 fails the keep-alive checks, the
//! edge-triggered mistake of stage 8 fails `sustained-load`.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{self, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use checker::Target;
use harness::SiteCopy;
use stage01_fixed_page::head::{HeadError, read_request_head};
use stage02_file_lookup::request::{BodyLength, parse_request_head};
use stage02_file_lookup::response::{Status, write_response};
use stage02_file_lookup::site::{error_response, respond, response_to_bad_request};

const IDLE_TIMEOUT: Duration = Duration::from_secs(2);
const HEAD_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    None,
    /// Ignores Content-Length and chunked bodies: the body is read as a request.
    BodyReadAsRequest,
    /// Answers heads that break RFC 9112's rules as if they were fine.
    NoHeaderRules,
    /// Never closes an idle connection.
    NoIdleTimeout,
    /// Keeps the connection after `Connection: close`.
    IgnoresConnectionClose,
    /// Answers pipelined requests from last to first.
    AnswersOutOfOrder,
    /// Waits for a head as long as its bytes keep coming.
    NoHeadTimeout,
}

fn start(flaw: Flaw, site: &SiteCopy) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = site.path.clone();
    let served_root = root.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = served_root.clone();
            thread::spawn(move || {
                let _ = serve(stream, &root, flaw);
            });
        }
    });
    Target {
        addr,
        root,
        pid: None,
        idle_timeout: Some(IDLE_TIMEOUT),
        head_timeout: Some(HEAD_TIMEOUT),
    }
}

fn serve(mut stream: TcpStream, root: &Path, flaw: Flaw) -> io::Result<()> {
    let mut buffer = Vec::new();
    let mut postponed = Vec::new();
    loop {
        let mut reader = HeadReader {
            stream: &stream,
            // Pipelined bytes already here are the start of the next head.
            due: (!buffer.is_empty()).then(|| Instant::now() + HEAD_TIMEOUT),
            flaw,
        };
        let head_length = match read_request_head(&mut reader, &mut buffer) {
            Ok(length) => length,
            Err(HeadError::TooLarge) => {
                let response = error_response(Status::HEADERS_TOO_LARGE, "", root);
                write_response(&mut stream, response, false)?;
                return linger_and_close(stream);
            }
            Err(_) if reader.is_late() => {
                let response = error_response(Status::REQUEST_TIMEOUT, "", root);
                write_response(&mut stream, response, false)?;
                return linger_and_close(stream);
            }
            Err(_) => return Ok(()), // closed, broken or idle too long: just close
        };
        // The body, if any, is read with the idle timeout again.
        let idle = (flaw != Flaw::NoIdleTimeout).then_some(IDLE_TIMEOUT);
        stream.set_read_timeout(idle)?;
        let head: Vec<u8> = buffer.drain(..head_length).collect();
        let (response, keep_alive) = match parse_request_head(&head) {
            Ok(request) => {
                let keep_alive = request.wants_keep_alive() || flaw == Flaw::IgnoresConnectionClose;
                match request.body_length() {
                    _ if flaw == Flaw::BodyReadAsRequest => (respond(&request, root), keep_alive),
                    Ok(BodyLength::None) => (respond(&request, root), keep_alive),
                    Ok(BodyLength::Fixed(length)) => {
                        skip_body(&mut stream, &mut buffer, length)?;
                        (respond(&request, root), keep_alive)
                    }
                    Ok(BodyLength::Chunked) => {
                        (error_response(Status::LENGTH_REQUIRED, "", root), false)
                    }
                    Err(error) => (response_to_bad_request(&error, root), false),
                }
            }
            Err(_) if flaw == Flaw::NoHeaderRules => {
                let lenient = parse_request_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                (respond(&lenient, root), true)
            }
            Err(error) => (response_to_bad_request(&error, root), false),
        };
        if flaw == Flaw::AnswersOutOfOrder && !buffer.is_empty() {
            postponed.push(response);
            continue;
        }
        write_response(&mut stream, response, keep_alive)?;
        for response in postponed.drain(..).rev() {
            write_response(&mut stream, response, keep_alive)?;
        }
        if !keep_alive {
            return linger_and_close(stream);
        }
    }
}

/// Reads a head from a blocking socket within the idle timeout per read and,
/// once the head's first byte is here, by the head's deadline.
struct HeadReader<'a> {
    stream: &'a TcpStream,
    due: Option<Instant>,
    flaw: Flaw,
}

impl HeadReader<'_> {
    fn is_late(&self) -> bool {
        self.due.is_some_and(|due| Instant::now() >= due)
    }
}

impl Read for HeadReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let idle = (self.flaw != Flaw::NoIdleTimeout).then_some(IDLE_TIMEOUT);
        let wait = match self.due {
            Some(due) => {
                let left = due.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Some(idle.map_or(left, |idle| idle.min(left)))
            }
            None => idle,
        };
        self.stream.set_read_timeout(wait)?;
        let count = self.stream.read(buffer)?;
        if count > 0 && self.due.is_none() && self.flaw != Flaw::NoHeadTimeout {
            self.due = Some(Instant::now() + HEAD_TIMEOUT);
        }
        Ok(count)
    }
}

/// Closes without turning unread input into a reset that could destroy the answer.
fn linger_and_close(mut stream: TcpStream) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    let _ = stream.read_to_end(&mut Vec::new());
    Ok(())
}

fn skip_body(stream: &mut TcpStream, buffer: &mut Vec<u8>, length: u64) -> io::Result<()> {
    let from_buffer = buffer.len().min(length as usize);
    buffer.drain(..from_buffer);
    let rest = length - from_buffer as u64;
    io::copy(&mut stream.take(rest), &mut io::sink())?;
    Ok(())
}

fn failures_with(flaw: Flaw, only: Option<&str>) -> Vec<&'static str> {
    let site = SiteCopy::new().unwrap();
    let target = start(flaw, &site);
    let report = checker::run(&target, 7, only, |_| {}).unwrap();
    println!("{flaw:?}:\n{report}");
    report.failures()
}

fn assert_fails(flaw: Flaw, check: &str) {
    assert_eq!(failures_with(flaw, Some(check)), [check], "{flaw:?}");
}

#[test]
fn an_honest_keep_alive_server_passes_every_stage_7_check() {
    assert_eq!(failures_with(Flaw::None, None), Vec::<&str>::new());
}

#[test]
fn a_body_read_as_a_request_is_caught() {
    assert_fails(Flaw::BodyReadAsRequest, "body-not-read-as-request");
}

#[test]
fn ignoring_header_rules_is_caught() {
    assert_fails(Flaw::NoHeaderRules, "host-and-header-rules");
}

#[test]
fn a_missing_idle_timeout_is_caught() {
    assert_fails(Flaw::NoIdleTimeout, "idle-timeout");
}

#[test]
fn ignoring_connection_close_is_caught() {
    assert_fails(Flaw::IgnoresConnectionClose, "connection-close-honoured");
    assert_fails(
        Flaw::IgnoresConnectionClose,
        "http10-keep-alive-only-when-asked",
    );
}

#[test]
fn a_missing_head_timeout_is_caught() {
    assert_fails(Flaw::NoHeadTimeout, "head-timeout");
}

#[test]
fn answers_out_of_order_are_caught() {
    assert_fails(Flaw::AnswersOutOfOrder, "pipelining");
}

#[test]
fn a_server_that_writes_nothing_back_is_caught_by_the_load() {
    // Sanity: the load check fails when answers never come.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // accepted, never read, never answered
        }
    });
    let site = SiteCopy::new().unwrap();
    let target = Target {
        addr,
        root: site.path.clone(),
        pid: None,
        idle_timeout: None,
        head_timeout: None,
    };
    let report = checker::run(&target, 8, Some("sustained-load"), |_| {}).unwrap();
    assert_eq!(report.failures(), ["sustained-load"], "{report}");
}
