//! Reference solution of ch02-directory-listing (chapter 2).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use stage02_file_lookup::request::Request;
use stage02_file_lookup::resolve::resolve_under_root;
use stage02_file_lookup::response::{Response, Status};
use stage02_file_lookup::site::respond;

fn main() {
    stage02_file_lookup::run(
        "ch02-directory-listing",
        "stage 2 with directory listings",
        answer,
    );
}

fn answer(request: &Request, root: &Path) -> Response {
    let is_read = matches!(request.method.as_str(), "GET" | "HEAD");
    // The same resolver as for files: a listing never shows a folder outside the root.
    if let Ok(folder) = resolve_under_root(root, request.path()) {
        if is_read && folder.is_dir() && !folder.join("index.html").exists() {
            if let Ok(page) = listing(request.path(), &folder) {
                let mut response =
                    Response::from_bytes(Status::OK, "text/html; charset=utf-8", page);
                response.omit_body = request.method == "HEAD";
                return response;
            }
        }
    }
    respond(request, root)
}

/// An HTML page with a link to every entry of `folder`, sorted by name.
fn listing(url_path: &str, folder: &Path) -> std::io::Result<String> {
    let mut names = Vec::new();
    for entry in fs::read_dir(folder)? {
        let entry = entry?;
        let slash = if entry.path().is_dir() { "/" } else { "" };
        names.push(format!("{}{slash}", entry.file_name().to_string_lossy()));
    }
    names.sort();
    // Links are absolute: relative ones would resolve against the parent folder
    // when the URL lacks its trailing slash.
    let base = format!("{}/", url_path.trim_end_matches('/'));
    let title = escape_html(&base);
    let mut page = format!(
        "<!doctype html>\n<title>Index of {title}</title>\n<h1>Index of {title}</h1>\n<ul>\n"
    );
    for name in names {
        let (link, shown) = (percent_encode(&name), escape_html(&name));
        let _ = writeln!(page, "<li><a href=\"{base}{link}\">{shown}</a></li>");
    }
    page.push_str("</ul>\n");
    Ok(page)
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Keeps letters, digits and a few safe marks; every other byte becomes %XX.
fn percent_encode(name: &str) -> String {
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            encoded.push(byte as char);
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}
