//! Reference solution of ch08-open-file-cache (chapter 8).
//!
//! A file served once stays open, with what `fstat` said of it, under the path
//! it was asked for. The next request for that path is answered with one
//! `pread` of the open file: no path walked, no `openat2`, no `statx`, no
//! `close`. An entry is trusted for `VALID_FOR`; after that, the next request
//! for it first compares the file at that path with the open one (one `statx`):
//! a file changed or replaced is opened anew, a file removed gets its `404`.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stage02_file_lookup::request::Request;
use stage02_file_lookup::resolve::open_file_under_root;
use stage02_file_lookup::response::{Response, Status};
use stage02_file_lookup::site::{content_type_for, respond};
use stage07_keep_alive::connection::Respond;
use stage08_epoll::admission::AdmitEveryone;

const NAME: &str = "ch08-open-file-cache";

/// How long an entry is believed without asking the file system again.
const VALID_FOR: Duration = Duration::from_secs(1);

/// Larger files are left to stage 2, sent from their file a chunk at a time.
const LARGEST_CACHED: u64 = 64 * 1024;

/// Each entry holds a descriptor: a bound keeps them well under the limit.
const MOST_ENTRIES: usize = 512;

fn main() {
    let arguments = stage08_epoll::cli(NAME, "stage 8 keeping its hot files open").parse();
    stage08_epoll::serve_answering(NAME, arguments, AdmitEveryone, OpenFileCache::default());
}

/// The open files, by the path as the request gave it.
#[derive(Default)]
struct OpenFileCache {
    entries: HashMap<String, Entry>,
}

struct Entry {
    file: File,
    /// What `fstat` said of the open file when it was opened.
    metadata: Metadata,
    /// Where it is under the root, to look at it again.
    path: PathBuf,
    content_type: &'static str,
    checked_at: Instant,
}

impl Respond for OpenFileCache {
    fn respond(&mut self, request: &Request, root: &Path) -> Response {
        let omit_body = match request.method.as_str() {
            "GET" => false,
            "HEAD" => true,
            _ => return respond(request, root),
        };
        let now = Instant::now();
        let path = request.path();
        if let Some(entry) = self.entries.get_mut(path) {
            if !still_valid(entry, root, now) {
                self.entries.remove(path);
            }
        }
        if !self.entries.contains_key(path) {
            // The errors (400, 403, 404 and the rest) and the large files are
            // stage 2's to answer.
            let Ok(opened) = open_file_under_root(root, path) else {
                return respond(request, root);
            };
            let Ok(metadata) = opened.file.metadata() else {
                return respond(request, root);
            };
            if metadata.len() > LARGEST_CACHED {
                return respond(request, root);
            }
            if self.entries.len() >= MOST_ENTRIES {
                // Crude, but bounded: the hot files come back at once.
                self.entries.clear();
            }
            let entry = Entry {
                file: opened.file,
                metadata,
                content_type: content_type_for(&opened.relative),
                path: opened.relative,
                checked_at: now,
            };
            self.entries.insert(path.to_string(), entry);
        }
        match self
            .entries
            .get(path)
            .map(|entry| read_whole(entry, omit_body))
        {
            Some(Ok(response)) => response,
            _ => {
                self.entries.remove(path);
                respond(request, root)
            }
        }
    }
}

/// Whether an entry may still be used: within `VALID_FOR` of its last check,
/// or the file at its path is still the one it holds open (then it is
/// believed for another `VALID_FOR`).
fn still_valid(entry: &mut Entry, root: &Path, now: Instant) -> bool {
    if now.duration_since(entry.checked_at) < VALID_FOR {
        return true;
    }
    // `metadata` follows symbolic links, as opening did; a path that now leads
    // anywhere else (another file, a link out of the root, nothing) differs,
    // and the entry goes: the next opening is stage 2's, beneath the root.
    let unchanged = fs::metadata(root.join(&entry.path))
        .is_ok_and(|metadata| same_version(&metadata, &entry.metadata));
    entry.checked_at = now;
    unchanged
}

/// The same device and inode is the same file; the same size and modification
/// time, the same contents.
fn same_version(a: &Metadata, b: &Metadata) -> bool {
    let version = |m: &Metadata| (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec());
    version(a) == version(b)
}

/// The whole file in one `pread` (at offset 0: the descriptor's own position
/// is never used, so no response disturbs another).
fn read_whole(entry: &Entry, omit_body: bool) -> std::io::Result<Response> {
    let mut bytes = vec![0; entry.metadata.len() as usize];
    if !omit_body {
        entry.file.read_exact_at(&mut bytes, 0)?;
    }
    let mut response = Response::from_bytes(Status::OK, entry.content_type, bytes);
    response.omit_body = omit_body;
    Ok(response)
}
