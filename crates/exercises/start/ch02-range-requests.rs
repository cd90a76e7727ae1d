//! Exercise ch02-range-requests (chapter 2): send part of a file.
//!
//! Goal: a request with `Range: bytes=FIRST-LAST` gets `206 Partial Content`, a
//! `Content-Range: bytes FIRST-LAST/SIZE` header, and exactly those bytes of the
//! file. `bytes=FIRST-` runs to the end; `bytes=-N` is the last N bytes. A range
//! that starts past the end gets `416 Range Not Satisfiable` with
//! `Content-Range: bytes */SIZE`. This is how a video player seeks and how a
//! download resumes.
//!
//! Check your work:  scripts/exercise check ch02-range-requests
//! Stuck?            scripts/exercise hint ch02-range-requests

use std::path::Path;

use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;
use stage02_file_lookup::site::respond;

fn main() {
    stage02_file_lookup::run("ch02-range-requests", "stage 2 with range requests", answer);
}

/// Answers one well-formed request. Start here.
fn answer(request: &Request, root: &Path) -> Response {
    respond(request, root)
}
