//! Exercise ch08-open-file-cache (chapter 8): keep hot files open.
//!
//! Goal: a file served once stays open, so the next request for the same path
//! is answered without finding and opening it again (nginx's
//! `open_file_cache`). A cached file is believed for at most a second; after
//! that, before it is used again, it is compared with the file now at its path:
//! a file changed or replaced is opened anew (its new length in
//! `Content-Length`), and a file removed gets `404`. Everything else (errors,
//! other methods, large files) is answered as before.
//!
//! Stage 8 makes six system calls for a kept-alive `GET /` (`strace -c`): the
//! receive and the send, and four for the file: `openat2`, `statx`, `read`,
//! `close`. With the file kept open, one `pread` is left of those four.
//!
//! Stage 8's loop asks a `Respond` for every response
//! (`stage07_keep_alive::connection::Respond`); its own, `OpenEachTime`,
//! calls stage 2's `respond`, as the one below does. Start there.
//!
//! Check your work:  scripts/exercise check ch08-open-file-cache
//! Stuck?            scripts/exercise hint ch08-open-file-cache

use std::path::Path;

use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::Response;
use stage02_file_lookup::site::respond;
use stage07_keep_alive::connection::Respond;
use stage08_epoll::admission::AdmitEveryone;

const NAME: &str = "ch08-open-file-cache";

fn main() {
    let arguments = stage08_epoll::cli(NAME, "stage 8 keeping its hot files open").parse();
    stage08_epoll::serve_answering(NAME, arguments, AdmitEveryone, OpenFileCache::default());
}

/// The files kept open, and what is known of each. For now: nothing.
#[derive(Default)]
struct OpenFileCache {}

impl Respond for OpenFileCache {
    fn respond(&mut self, request: &Request, root: &Path) -> Response {
        respond(request, root)
    }
}
