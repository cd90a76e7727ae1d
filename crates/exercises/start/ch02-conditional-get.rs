//! Exercise ch02-conditional-get (chapter 2): Last-Modified and 304 Not Modified.
//!
//! Goal: every file comes with a `Last-Modified` header, the file's modification
//! time as an HTTP date. A request whose `If-Modified-Since` is not older than that
//! time gets `304 Not Modified` and no body: the browser's cached copy is still
//! good. An older or unreadable date gets the whole file, as before.
//!
//! Check your work:  scripts/exercise check ch02-conditional-get
//! Stuck?            scripts/exercise hint ch02-conditional-get

use std::path::Path;

use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;
use stage02_file_lookup::site::respond;

fn main() {
    stage02_file_lookup::run(
        "ch02-conditional-get",
        "stage 2 with conditional requests",
        answer,
    );
}

/// Answers one well-formed request. Start here.
fn answer(request: &Request, root: &Path) -> Response {
    respond(request, root)
}
