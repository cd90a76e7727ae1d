//! Exercise ch02-directory-listing (chapter 2): list the files of a folder.
//!
//! Goal: a request for a folder that has no `index.html` gets `200 OK` and an
//! HTML page listing the folder's files, each name a link that leads to the file.
//! Names must be escaped in the HTML (`<b>.txt` shows as `&lt;b&gt;.txt`) and
//! percent-encoded in the links (a space is `%20`). A folder that has an
//! `index.html` still serves it.
//!
//! Check your work:  scripts/exercise check ch02-directory-listing
//! Stuck?            scripts/exercise hint ch02-directory-listing

use std::path::Path;

use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;
use stage02_file_lookup::site::respond;

fn main() {
    stage02_file_lookup::run(
        "ch02-directory-listing",
        "stage 2 with directory listings",
        answer,
    );
}

/// Answers one well-formed request. Start here.
fn answer(request: &Request, root: &Path) -> Response {
    respond(request, root)
}
