//! Reference solution of ch02-range-requests (chapter 2).

use std::io::{Seek, SeekFrom};
use std::path::Path;

use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::{Body, Response, Status};
use stage02_file_lookup::site::respond;

const PARTIAL_CONTENT: Status = Status::new(206, "Partial Content");
const RANGE_NOT_SATISFIABLE: Status = Status::new(416, "Range Not Satisfiable");

fn main() {
    stage02_file_lookup::run("ch02-range-requests", "stage 2 with range requests", answer);
}

fn answer(request: &Request, root: &Path) -> Response {
    let response = respond(request, root);
    let Some(range) = request.header("range") else {
        return response;
    };
    if response.status != Status::OK {
        return response;
    }
    // Keep the status and headers aside, and take the file out of the response.
    let shell = response_shell(&response);
    let (mut file, length) = match response.body {
        Body::File { file, length } => (file, length),
        body => return Response { body, ..shell },
    };
    let whole = |file| Response {
        body: Body::File { file, length },
        ..response_shell(&shell)
    };
    match byte_range(range, length) {
        // A range we do not understand (or several) is ignored: the whole file.
        Range::Unreadable => whole(file),
        Range::PastTheEnd => {
            let mut refused =
                Response::from_bytes(RANGE_NOT_SATISFIABLE, "text/plain; charset=utf-8", "");
            refused
                .extra_headers
                .push(("Content-Range", format!("bytes */{length}")));
            refused
        }
        Range::Bytes(first, last) => {
            if file.seek(SeekFrom::Start(first)).is_err() {
                return whole(file);
            }
            let mut partial = Response {
                status: PARTIAL_CONTENT,
                body: Body::File {
                    file,
                    length: last - first + 1,
                },
                ..response_shell(&shell)
            };
            partial
                .extra_headers
                .push(("Content-Range", format!("bytes {first}-{last}/{length}")));
            partial
        }
    }
}

/// A copy of a response's status and headers, with an empty body to replace.
fn response_shell(response: &Response) -> Response {
    Response {
        status: response.status,
        content_type: response.content_type,
        extra_headers: response.extra_headers.clone(),
        body: Body::Bytes(Vec::new()),
        omit_body: response.omit_body,
    }
}

enum Range {
    Bytes(u64, u64),
    PastTheEnd,
    Unreadable,
}

/// Reads `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-COUNT` for a file of `length`.
fn byte_range(header: &str, length: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Unreadable;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Range::Unreadable;
    };
    let number = |text: &str| text.trim().parse::<u64>().ok();
    match (number(first), number(last)) {
        (Some(first), _) if first >= length => Range::PastTheEnd,
        (Some(first), Some(last)) if first <= last => Range::Bytes(first, last.min(length - 1)),
        (Some(first), None) if last.trim().is_empty() => Range::Bytes(first, length - 1),
        (None, Some(count)) if first.trim().is_empty() && count > 0 => {
            Range::Bytes(length.saturating_sub(count), length - 1)
        }
        _ => Range::Unreadable,
    }
}
