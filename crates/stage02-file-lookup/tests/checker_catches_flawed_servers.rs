//! The checker's own proof that its stage 1 and 2 checks can fail.
//!
//! A small server, built from stage 2's pieces, is run with one flaw at a time.
//! Without a flaw it passes every stage 1 and 2 check; with a flaw, the check made
//! for that flaw must fail. A check that passed against every flawed server would
//! be a check that cannot fail.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;

use checker::Target;
use harness::SiteCopy;
use stage01_fixed_page::head::read_request_head;
use stage02_file_lookup::request::parse_request_head;
use stage02_file_lookup::response::{Body, Response, Status, write_response};
use stage02_file_lookup::site::{
    content_type_for, error_response, respond, response_to_bad_request,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    None,
    NoContentLength,
    WrongContentLength,
    NoContentType,
    KeepsConnectionOpen,
    AnswersAfterOneRead,
    StringPath,
    DiesOnBadInput,
    HeadSendsBody,
    EveryMethodAllowed,
    SingleNonBlockingWrite,
    RefusesLargeHeadsSilently,
}

/// Starts the flawed server on a free port; it runs until the test process ends.
fn start(flaw: Flaw, site: &SiteCopy) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = site.path.clone();
    let served_root = root.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if flaw == Flaw::DiesOnBadInput {
                // Its panic ends this thread, and with it the whole server.
                serve(stream, &served_root, flaw);
            } else {
                // A thread each, so a flaw that holds a connection holds only that one.
                let root = served_root.clone();
                thread::spawn(move || serve(stream, &root, flaw));
            }
        }
    });
    Target {
        addr,
        root,
        pid: None,
        idle_timeout: None,
        head_timeout: None,
    }
}

fn serve(mut stream: TcpStream, root: &Path, flaw: Flaw) {
    let mut buffer = Vec::new();
    let head_length = if flaw == Flaw::AnswersAfterOneRead {
        buffer.resize(1024, 0);
        let Ok(count) = stream.read(&mut buffer) else {
            return;
        };
        buffer.truncate(count);
        stage01_fixed_page::head::find_head_end(&buffer).unwrap_or(count)
    } else {
        match read_request_head(&mut stream, &mut buffer) {
            Ok(length) => length,
            Err(stage01_fixed_page::head::HeadError::TooLarge)
                if flaw != Flaw::RefusesLargeHeadsSilently =>
            {
                let response = error_response(Status::HEADERS_TOO_LARGE, "", root);
                let _ = write_response(&mut stream, response, false);
                let _ = stream.shutdown(std::net::Shutdown::Write);
                let _ = stream.read_to_end(&mut Vec::new());
                return;
            }
            Err(_) => return,
        }
    };
    let mut response = match parse_request_head(&buffer[..head_length]) {
        Ok(request) if flaw == Flaw::StringPath => string_path_response(request.path(), root),
        Ok(mut request) => {
            if flaw == Flaw::EveryMethodAllowed {
                request.method = "GET".into();
            }
            respond(&request, root)
        }
        Err(_) if flaw == Flaw::DiesOnBadInput => panic!("bad input"),
        Err(error) => response_to_bad_request(&error, root),
    };
    if flaw == Flaw::HeadSendsBody {
        response.omit_body = false;
    }
    let head = String::from_utf8(response.head(false)).unwrap();
    let head = flawed_head(head, flaw);
    let body = body_bytes(response);
    if flaw == Flaw::SingleNonBlockingWrite {
        stream.set_nonblocking(true).unwrap();
        let _ = stream.write(&[head.as_bytes(), &body].concat());
        return;
    }
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    if flaw == Flaw::KeepsConnectionOpen {
        thread::sleep(std::time::Duration::from_secs(5));
    }
}

fn flawed_head(head: String, flaw: Flaw) -> String {
    let lines = head.split("\r\n").filter(|line| match flaw {
        Flaw::NoContentLength => !line.starts_with("Content-Length"),
        Flaw::NoContentType => !line.starts_with("Content-Type"),
        _ => true,
    });
    let head = lines.collect::<Vec<_>>().join("\r\n");
    match flaw {
        Flaw::WrongContentLength => head.replace("Content-Length: ", "Content-Length: 1"),
        _ => head,
    }
}

fn body_bytes(response: Response) -> Vec<u8> {
    if response.omit_body {
        return Vec::new();
    }
    match response.body {
        Body::Bytes(bytes) => bytes,
        Body::File { mut file, .. } => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            bytes
        }
    }
}

fn string_path_response(path: &str, root: &Path) -> Response {
    let file = PathBuf::from(format!("{}{}", root.display(), path));
    match std::fs::File::open(&file) {
        Ok(opened) if file.is_file() => Response {
            status: Status::OK,
            content_type: content_type_for(&file),
            extra_headers: Vec::new(),
            body: Body::File {
                length: opened.metadata().unwrap().len(),
                file: opened,
            },
            omit_body: false,
        },
        _ => error_response(Status::NOT_FOUND, "", root),
    }
}

/// Runs the stage 2 checks (which include stage 1's) against a flawed server.
fn failures_with(flaw: Flaw) -> Vec<&'static str> {
    let site = SiteCopy::new().unwrap();
    let target = start(flaw, &site);
    let report = checker::check_stage(&target, 2).unwrap();
    println!("{flaw:?}:\n{report}");
    report.failures()
}

fn assert_fails(flaw: Flaw, check: &str) {
    let failures = failures_with(flaw);
    assert!(
        failures.contains(&check),
        "{flaw:?} should fail {check}, failed only {failures:?}"
    );
}

#[test]
fn the_unflawed_server_passes_everything() {
    assert_eq!(failures_with(Flaw::None), Vec::<&str>::new());
}

#[test]
fn missing_content_length_is_caught() {
    assert_fails(Flaw::NoContentLength, "content-length");
}

#[test]
fn wrong_content_length_is_caught() {
    assert_fails(Flaw::WrongContentLength, "content-length");
}

#[test]
fn missing_content_type_is_caught() {
    assert_fails(Flaw::NoContentType, "content-type");
}

#[test]
fn a_connection_left_open_is_caught() {
    assert_fails(Flaw::KeepsConnectionOpen, "closes-after-response");
}

#[test]
fn answering_after_one_read_is_caught() {
    let failures = failures_with(Flaw::AnswersAfterOneRead);
    assert!(failures.contains(&"waits-for-whole-head"), "{failures:?}");
    assert!(failures.contains(&"head-in-pieces"), "{failures:?}");
}

#[test]
fn a_path_that_escapes_the_root_is_caught() {
    let failures = failures_with(Flaw::StringPath);
    assert!(failures.contains(&"traversal-dot-dot"), "{failures:?}");
    assert!(failures.contains(&"traversal-symlink-out"), "{failures:?}");
}

#[test]
fn a_server_that_dies_on_bad_input_is_caught() {
    let failures = failures_with(Flaw::DiesOnBadInput);
    assert!(failures.contains(&"malformed-request"), "{failures:?}");
    assert!(
        failures.contains(&"keeps-serving-after-bad-input"),
        "{failures:?}"
    );
}

#[test]
fn a_body_after_head_is_caught() {
    assert_fails(Flaw::HeadSendsBody, "head-method");
}

#[test]
fn allowing_every_method_is_caught() {
    assert_fails(Flaw::EveryMethodAllowed, "method-not-allowed");
}

#[test]
fn a_large_body_cut_by_one_write_is_caught() {
    assert_fails(Flaw::SingleNonBlockingWrite, "large-file-slow-reader");
}

#[test]
fn a_silent_close_on_a_large_head_is_caught() {
    assert_fails(Flaw::RefusesLargeHeadsSilently, "head-too-large");
}
