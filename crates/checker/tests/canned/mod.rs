//! Tiny servers that answer every request with bytes a test chose: correct
//! ones, and ones that break one rule of HTTP/1.1 on purpose. They share no
//! code with the course's servers, so what the checker says about them is
//! about the bytes alone.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, SystemTime};

use checker::Target;
use checker::http_date::format_http_date;

/// The page every canned server serves for `/`.
pub const PAGE: &str = "<!doctype html>\n<title>canned</title>\n<p>A canned page.</p>\n";

/// What a canned server was asked.
pub struct Request {
    pub method: String,
    pub path: String,
}

/// A folder for the checker to plant its files in, removed when dropped.
pub struct Root {
    pub path: PathBuf,
}

impl Root {
    pub fn new() -> Root {
        static ROOTS: AtomicUsize = AtomicUsize::new(0);
        let number = ROOTS.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("canned-root-{}-{number}", std::process::id()));
        fs::create_dir_all(&path).unwrap();
        Root {
            path: path.canonicalize().unwrap(),
        }
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Starts a server on a free port of 127.0.0.1 that reads each request head
/// and writes what `answer` returns for it, then closes the connection. It
/// runs until the test process ends.
pub fn start(root: &Root, answer: impl Fn(&Request) -> Vec<u8> + Send + Sync + 'static) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = std::sync::Arc::new(answer);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = answer.clone();
            thread::spawn(move || serve(stream, &*answer));
        }
    });
    Target {
        addr,
        root: root.path.clone(),
        pid: None,
        idle_timeout: None,
        head_timeout: None,
    }
}

fn serve(mut stream: TcpStream, answer: &dyn Fn(&Request) -> Vec<u8>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut chunk = [0; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(count) => head.extend_from_slice(&chunk[..count]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split(' ');
    let request = Request {
        method: words.next().unwrap_or_default().to_string(),
        path: words.next().unwrap_or_default().to_string(),
    };
    let _ = stream.write_all(&answer(&request));
    let _ = stream.shutdown(Shutdown::Write);
    // Let the client read to the end before the socket goes away.
    let _ = stream.read(&mut chunk);
}

/// The current time as a `Date` value.
pub fn now() -> String {
    format_http_date(SystemTime::now())
}

/// A correct response with `body`, as every stage must send it.
pub fn correct_response(content_type: &str, body: &[u8], with_body: bool) -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Date: {}\r\nConnection: close\r\n\r\n",
        body.len(),
        now()
    );
    let body = if with_body { body } else { b"" };
    [head.as_bytes(), body].concat()
}

/// The correct answer to `request`: the page for `/`, a planted file by its
/// path under `root`, or a 404.
pub fn correct_answer(root: &Path, request: &Request) -> Vec<u8> {
    let with_body = request.method != "HEAD";
    if request.path == "/" {
        return correct_response("text/html", PAGE.as_bytes(), with_body);
    }
    match fs::read(root.join(request.path.trim_start_matches('/'))) {
        Ok(bytes) => correct_response(content_type_of(&request.path), &bytes, with_body),
        Err(_) => format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\
             Date: {}\r\nConnection: close\r\n\r\nnot found\n",
            now()
        )
        .into_bytes(),
    }
}

fn content_type_of(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html",
        Some("css") => "text/css",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}
