//! Reference solution of ch02-conditional-get (chapter 2).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use stage01_fixed_page::date::{http_date, parse_http_date};
use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::{Body, Response, Status};
use stage02_file_lookup::site::respond;

const NOT_MODIFIED: Status = Status::new(304, "Not Modified");

fn main() {
    stage02_file_lookup::run(
        "ch02-conditional-get",
        "stage 2 with conditional requests",
        answer,
    );
}

fn answer(request: &Request, root: &Path) -> Response {
    let mut response = respond(request, root);
    let Body::File { file, .. } = &response.body else {
        return response;
    };
    if response.status != Status::OK {
        return response;
    }
    let Ok(modified) = file.metadata().and_then(|metadata| metadata.modified()) else {
        return response;
    };
    response
        .extra_headers
        .push(("Last-Modified", http_date(modified)));
    let since = request
        .header("if-modified-since")
        .and_then(parse_http_date);
    // HTTP dates have whole seconds: compare at that precision.
    if since.is_some_and(|since| whole_seconds(modified) <= whole_seconds(since)) {
        response.status = NOT_MODIFIED;
        // No body; Content-Length may stay, as it is what a 200 would have sent.
        response.omit_body = true;
    }
    response
}

fn whole_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
