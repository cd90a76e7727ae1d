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
    let mut response = respond(request, root);
    // Only a whole file found (a 200) can become a part of it.
    let Some(range) = request
        .header("range")
        .filter(|_| response.status == Status::OK)
    else {
        return response;
    };
    let Body::File { file, length } = &mut response.body else {
        return response;
    };
    let size = *length;
    match byte_range(range, size) {
        // A range we do not understand (or several) is ignored: the whole file.
        Range::Unreadable => {}
        Range::PastTheEnd => {
            let mut refused =
                Response::from_bytes(RANGE_NOT_SATISFIABLE, "text/plain; charset=utf-8", "");
            refused
                .extra_headers
                .push(("Content-Range", format!("bytes */{size}")));
            return refused;
        }
        // The body still streams from the file: from `first`, for that many bytes.
        Range::Bytes(first, last) if file.seek(SeekFrom::Start(first)).is_ok() => {
            *length = last - first + 1;
            response.status = PARTIAL_CONTENT;
            response
                .extra_headers
                .push(("Content-Range", format!("bytes {first}-{last}/{size}")));
        }
        Range::Bytes(..) => {}
    }
    response
}

enum Range {
    Bytes(u64, u64),
    PastTheEnd,
    Unreadable,
}

/// Reads `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-COUNT` for a file of `size`.
fn byte_range(header: &str, size: u64) -> Range {
    let Some((first, last)) = header
        .trim()
        .strip_prefix("bytes=")
        .and_then(|spec| spec.split_once('-'))
    else {
        return Range::Unreadable;
    };
    let number = |text: &str| text.trim().parse::<u64>().ok();
    match (number(first), number(last)) {
        (Some(first), _) if first >= size => Range::PastTheEnd,
        (Some(first), Some(last)) if first <= last => Range::Bytes(first, last.min(size - 1)),
        (Some(first), None) if last.trim().is_empty() => Range::Bytes(first, size - 1),
        (None, Some(count)) if first.trim().is_empty() && count > 0 => {
            Range::Bytes(size.saturating_sub(count), size - 1)
        }
        _ => Range::Unreadable,
    }
}
