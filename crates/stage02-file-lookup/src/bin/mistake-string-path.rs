//! Stage 2 with the path mistake, kept here to be broken on purpose: the file's
//! path is built by gluing the URL's path onto the root, `format!("{root}{path}")`.
//! Then `GET /../../etc/passwd` names a file outside the root, and the server
//! sends it.
//!
//! Chapter 2's experiment points `curl --path-as-is` at it, and the checker's
//! traversal checks fail against it. Never run it on an address others can reach.

use std::fs::File;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;

use common::cli::{Cli, listen_or_exit};
use stage01_fixed_page::head::read_request_head;
use stage02_file_lookup::request::parse_request_head;
use stage02_file_lookup::response::{Body, Response, Status, write_response};
use stage02_file_lookup::site::{content_type_for, error_response};

const NAME: &str = "mistake-string-path";

fn main() {
    // Loopback only (mistake_of sees to it): this program hands out any file it can read.
    let mut arguments = Cli::new(NAME, 7802, "stage 2 with the string-path mistake")
        .mistake_of("stage02-file-lookup")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    for connection in listener.incoming().flatten() {
        answer(connection, &arguments.server.root);
    }
}

fn answer(mut stream: TcpStream, root: &Path) {
    let mut buffer = Vec::new();
    let Ok(head_length) = read_request_head(&mut stream, &mut buffer) else {
        return;
    };
    let Ok(request) = parse_request_head(&buffer[..head_length]) else {
        return;
    };
    // ANCHOR: string_path
    // THE MISTAKE: the URL's path glued onto the root. `..` climbs right out.
    let path = format!("{}{}", root.display(), request.path());
    let path = if path.ends_with('/') {
        path + "index.html"
    } else {
        path
    };
    // ANCHOR_END: string_path
    let response = match File::open(&path).and_then(|file| Ok((file.metadata()?.len(), file))) {
        Ok((length, file)) if !Path::new(&path).is_dir() => Response {
            status: Status::OK,
            content_type: content_type_for(Path::new(&path)),
            extra_headers: Vec::new(),
            body: Body::File { file, length },
            omit_body: false,
        },
        _ => error_response(Status::NOT_FOUND, "", root),
    };
    let _ = write_response(&mut stream, response, false);
    let _ = stream.flush();
}
