//! The answer to one request, whatever the concurrency model: a file from the
//! root, or the error that explains why not.
//!
//! Every stage from 2 on calls [`respond`] once it has a parsed [`Request`], and
//! [`error_response`] when it could not get one. Nothing here touches a socket, so
//! the same code serves blocking, forked, threaded, coroutine and event-loop stages.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::request::{Request, RequestError};
use crate::resolve::{OpenedFile, ResolveError, open_file_under_root};
use crate::response::{Body, Response, Status};

/// The methods this server answers. Anything else gets `405` and this list.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// The file under the root that a `404 Not Found` shows.
pub const NOT_FOUND_PAGE: &str = "404.html";

// ANCHOR: respond
/// The response to a well-formed request.
pub fn respond(request: &Request, root: &Path) -> Response {
    let omit_body = match request.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut response = error_response(Status::METHOD_NOT_ALLOWED, "", root);
            response
                .extra_headers
                .push(("Allow", ALLOWED_METHODS.to_string()));
            return response;
        }
    };
    let mut response = match open_file_under_root(root, request.path()) {
        Ok(OpenedFile {
            file,
            length,
            relative,
        }) => Response {
            status: Status::OK,
            content_type: content_type_for(&relative),
            extra_headers: Vec::new(),
            body: Body::File { file, length },
            omit_body: false,
        },
        Err(ResolveError::BadPath(reason)) => error_response(Status::BAD_REQUEST, reason, root),
        Err(ResolveError::Forbidden) => error_response(Status::FORBIDDEN, "", root),
        Err(ResolveError::NotFound) => error_response(Status::NOT_FOUND, "", root),
        Err(ResolveError::Io(error)) => error_response(status_for_io_error(&error), "", root),
    };
    response.omit_body = omit_body;
    response
}
// ANCHOR_END: respond

/// Opens a file and learns its length, which `Content-Length` will announce.
fn open_file(path: &Path) -> io::Result<(File, u64)> {
    let file = File::open(path)?;
    let length = file.metadata()?.len();
    Ok((file, length))
}

// ANCHOR: status_for_io_error
/// Which status an OS error deserves. Running out of file descriptors is the
/// server's trouble, not a missing file: it is `503` (try again soon), never `404`.
pub fn status_for_io_error(error: &io::Error) -> Status {
    const TOO_MANY_OPEN_FILES: i32 = nix::errno::Errno::EMFILE as i32;
    const TOO_MANY_IN_SYSTEM: i32 = nix::errno::Errno::ENFILE as i32;
    match (error.kind(), error.raw_os_error()) {
        (_, Some(TOO_MANY_OPEN_FILES | TOO_MANY_IN_SYSTEM)) => Status::SERVICE_UNAVAILABLE,
        (io::ErrorKind::NotFound, _) => Status::NOT_FOUND,
        (io::ErrorKind::PermissionDenied, _) => Status::FORBIDDEN,
        _ => Status::INTERNAL_SERVER_ERROR,
    }
}
// ANCHOR_END: status_for_io_error

/// The response for a head that could not be parsed.
pub fn response_to_bad_request(error: &RequestError, root: &Path) -> Response {
    match error {
        RequestError::Malformed(reason) => error_response(Status::BAD_REQUEST, reason, root),
        RequestError::UnsupportedVersion => error_response(Status::VERSION_NOT_SUPPORTED, "", root),
    }
}

// ANCHOR: error_response
/// An error page: `404.html` from the root for a missing file, and a short page
/// naming the status (and the reason, when there is one) for everything else.
pub fn error_response(status: Status, reason: &str, root: &Path) -> Response {
    if status == Status::NOT_FOUND {
        if let Ok((file, length)) = open_file(&root.join(NOT_FOUND_PAGE)) {
            return Response {
                status,
                content_type: "text/html; charset=utf-8",
                extra_headers: Vec::new(),
                body: Body::File { file, length },
                omit_body: false,
            };
        }
    }
    let mut response = Response::from_bytes(
        status,
        "text/html; charset=utf-8",
        error_page(status, reason),
    );
    if status == Status::SERVICE_UNAVAILABLE {
        response
            .extra_headers
            .push(("Retry-After", "1".to_string()));
    }
    response
}
// ANCHOR_END: error_response

fn error_page(status: Status, reason: &str) -> String {
    let title = format!("{} {}", status.code, status.reason);
    let detail = if reason.is_empty() {
        String::new()
    } else {
        format!("<p>{}</p>\n", escape_html(reason))
    };
    format!("<!doctype html>\n<title>{title}</title>\n<h1>{title}</h1>\n{detail}")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

// ANCHOR: content_type_for
/// The `Content-Type` for a file, chosen by its extension. A browser relies on it:
/// without `text/css` it ignores a stylesheet, and an unknown type is offered as a
/// download instead of shown.
pub fn content_type_for(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}
// ANCHOR_END: content_type_for

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_request_head;
    use std::fs;
    use std::path::PathBuf;

    fn root(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("common-site-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("index.html"), "<h1>home</h1>").unwrap();
        fs::write(root.join("404.html"), "<h1>lost</h1>").unwrap();
        root.canonicalize().unwrap()
    }

    fn answer(head: &str, root: &Path) -> Response {
        respond(&parse_request_head(head.as_bytes()).unwrap(), root)
    }

    #[test]
    fn get_and_head_serve_the_file() {
        let root = root("get");
        let response = answer("GET /?lang=en HTTP/1.0\r\n\r\n", &root);
        assert_eq!(response.status, Status::OK);
        assert_eq!(response.content_length(), 13);
        assert_eq!(response.content_type, "text/html; charset=utf-8");
        let head = answer("HEAD / HTTP/1.0\r\n\r\n", &root);
        assert!(head.omit_body);
        assert_eq!(head.content_length(), 13);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn errors_get_their_statuses() {
        let root = root("errors");
        assert_eq!(
            answer("GET /nope HTTP/1.0\r\n\r\n", &root).status,
            Status::NOT_FOUND
        );
        assert_eq!(
            answer("GET /nope HTTP/1.0\r\n\r\n", &root).content_length(),
            13
        );
        assert_eq!(
            answer("GET /../x HTTP/1.0\r\n\r\n", &root).status,
            Status::BAD_REQUEST
        );
        let post = answer("POST / HTTP/1.0\r\n\r\n", &root);
        assert_eq!(post.status, Status::METHOD_NOT_ALLOWED);
        assert!(
            post.extra_headers
                .contains(&("Allow", "GET, HEAD".to_string()))
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn running_out_of_descriptors_is_503_not_404() {
        let error = io::Error::from_raw_os_error(nix::errno::Errno::EMFILE as i32);
        assert_eq!(status_for_io_error(&error), Status::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(
            content_type_for(Path::new("a/style.CSS")),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type_for(Path::new("logo.png")), "image/png");
        assert_eq!(
            content_type_for(Path::new("README")),
            "application/octet-stream"
        );
    }
}
