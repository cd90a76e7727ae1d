//! Turning the path of a URL into a file under the root, and never outside it.
//!
//! The tempting version is `format!("{root}{path}")`. Then `GET /../../etc/passwd`
//! walks out of the root, and so do its disguises: `%2e%2e` is `..` once decoded,
//! `%2f` is a slash, a symlink inside the root may point anywhere. So the path is
//! decoded first, split into segments, and checked segment by segment; then the
//! file is opened by the kernel *beneath* the root, with `openat2` and
//! `RESOLVE_BENEATH`, which refuses, in the same system call that opens the file,
//! any path that would step outside the root, symlinks included.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2};
use nix::sys::stat::Mode;

/// Why a URL path does not name a file we may serve.
#[derive(Debug)]
pub enum ResolveError {
    /// `400 Bad Request`: the path is not one we accept (the text says why).
    BadPath(&'static str),
    /// `403 Forbidden`: the path leads outside the root through a symlink, or the
    /// file may not be read.
    Forbidden,
    /// `404 Not Found`.
    NotFound,
    /// Anything else the OS reported, such as running out of file descriptors.
    Io(io::Error),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::BadPath(reason) => write!(formatter, "bad path: {reason}"),
            ResolveError::Forbidden => formatter.write_str("outside the root, or not readable"),
            ResolveError::NotFound => formatter.write_str("no such file"),
            ResolveError::Io(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResolveError::Io(error) => Some(error),
            _ => None,
        }
    }
}

// ANCHOR: percent_decode
/// Decodes `%XX` escapes into the bytes they stand for. A `%` not followed by two
/// hex digits is an error rather than a literal `%`: guessing would let two
/// programs read the same path differently.
pub fn percent_decode(text: &str) -> Result<Vec<u8>, ResolveError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let digits = bytes.get(index + 1..index + 3);
            let value = digits
                .and_then(|digits| std::str::from_utf8(digits).ok())
                .and_then(|digits| u8::from_str_radix(digits, 16).ok())
                .ok_or(ResolveError::BadPath(
                    "a % is not followed by two hex digits",
                ))?;
            decoded.push(value);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    Ok(decoded)
}
// ANCHOR_END: percent_decode

// ANCHOR: resolve_under_root
/// The path of the file or folder that `url_path` (still percent-encoded,
/// without its query string) names under `root`, for code that needs a path
/// rather than an open file (a folder to list, say). `root` must be canonical
/// (absolute, no symlinks), as [`common::cli::listen_or_exit`] makes it.
///
/// This checks, then the caller uses: between the two, someone who can write
/// under the root could swap in a symlink. To serve a file, use
/// [`open_file_under_root`], where the kernel checks as it opens.
pub fn resolve_under_root(root: &Path, url_path: &str) -> Result<PathBuf, ResolveError> {
    if !url_path.starts_with('/') {
        return Err(ResolveError::BadPath("the path does not start with /"));
    }
    let decoded = percent_decode(url_path)?;
    let relative = relative_path(&decoded)?;
    confirm_under_root(root, &root.join(relative))
}

// ANCHOR_END: resolve_under_root

// ANCHOR: open_file_under_root
/// A file opened to be served.
#[derive(Debug)]
pub struct OpenedFile {
    pub file: File,
    /// Its length when it was opened: the `Content-Length` to announce.
    pub length: u64,
    /// Its path under the root, whose extension tells the `Content-Type`.
    pub relative: PathBuf,
}

/// Opens the file that `url_path` (still percent-encoded, without its query
/// string) names under `root`; a folder means the `index.html` inside it.
///
/// The segments are checked first, so a climbing path gets a clear `400`. Then
/// the kernel itself keeps us under the root: `openat2` with `RESOLVE_BENEATH`
/// opens the path relative to the root folder and fails with `EXDEV` if any
/// step of resolving it, a symlink included, would leave that folder. The check
/// and the open are one system call, so nothing can swap a symlink in between.
pub fn open_file_under_root(root: &Path, url_path: &str) -> Result<OpenedFile, ResolveError> {
    if !url_path.starts_with('/') {
        return Err(ResolveError::BadPath("the path does not start with /"));
    }
    let relative = relative_path(&percent_decode(url_path)?)?;
    // A path that ends in `/` (`/` itself above all) names a folder: open its
    // index.html at once, rather than open the folder only to learn that it is
    // one, which costs every `GET /` two system calls and a descriptor.
    if url_path.ends_with('/') {
        match open_regular_file(root, relative.join("index.html")) {
            Err(ResolveError::NotFound) => {} // a file after all, or no index: see below
            found => return found,
        }
    }
    let file = open_beneath(root, &relative)?;
    let metadata = file.metadata().map_err(ResolveError::Io)?;
    if metadata.is_dir() {
        drop(file);
        return open_regular_file(root, relative.join("index.html"));
    }
    if !metadata.is_file() {
        return Err(ResolveError::NotFound); // a socket, a device: not something we serve
    }
    Ok(OpenedFile {
        file,
        length: metadata.len(),
        relative,
    })
}

/// Opens `relative` beneath the root if it is a regular file.
fn open_regular_file(root: &Path, relative: PathBuf) -> Result<OpenedFile, ResolveError> {
    let file = open_beneath(root, &relative)?;
    let metadata = file.metadata().map_err(ResolveError::Io)?;
    if !metadata.is_file() {
        return Err(ResolveError::NotFound);
    }
    Ok(OpenedFile {
        file,
        length: metadata.len(),
        relative,
    })
}

/// Opens `relative` for reading, beneath the root folder.
fn open_beneath(root: &Path, relative: &Path) -> Result<File, ResolveError> {
    // The root itself is "." beneath itself.
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let opened = with_root_folder(root, |folder| openat2(folder, relative, how))
        .map_err(ResolveError::Io)?;
    match opened {
        Ok(descriptor) => Ok(File::from(descriptor)),
        // A kernel older than 5.6 has no openat2: check with realpath, then open.
        Err(Errno::ENOSYS) => {
            let path = confirm_under_root(root, &root.join(relative))?;
            File::open(path).map_err(ResolveError::Io)
        }
        Err(Errno::ENOENT | Errno::ENOTDIR) => Err(ResolveError::NotFound),
        // EXDEV: the path would leave the root. ELOOP: a symlink loop, or a magic
        // link such as /proc/self/root.
        Err(Errno::EXDEV | Errno::ELOOP | Errno::EACCES | Errno::EPERM) => {
            Err(ResolveError::Forbidden)
        }
        Err(errno) => Err(ResolveError::Io(errno.into())),
    }
}

/// Runs `open` with the root folder opened as a descriptor. A server has one
/// root, so the first one opened is kept for the life of the process (an
/// `O_PATH` descriptor: it names the folder, it cannot read it); any other root
/// is opened for the call and closed after it.
fn with_root_folder<T>(root: &Path, open_in: impl FnOnce(BorrowedFd) -> T) -> io::Result<T> {
    static FIRST_ROOT: OnceLock<(PathBuf, OwnedFd)> = OnceLock::new();
    if let Some((path, folder)) = FIRST_ROOT.get() {
        if path == root {
            return Ok(open_in(folder.as_fd()));
        }
    }
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let folder = open(root, flags, Mode::empty())?;
    let result = open_in(folder.as_fd());
    let _ = FIRST_ROOT.set((root.to_path_buf(), folder));
    Ok(result)
}
// ANCHOR_END: open_file_under_root

// ANCHOR: relative_path
/// Checks each segment of a decoded path and joins the good ones. Empty segments
/// (`//`) and `.` are skipped; anything that could climb or confuse is refused.
fn relative_path(decoded: &[u8]) -> Result<PathBuf, ResolveError> {
    if decoded.contains(&0) {
        // C would end the path at the NUL (`a.html%00.png` is `a.html` there). Rust
        // cannot pass it on at all: `CString` and nix refuse it with EINVAL, which
        // would become a 500. The client sent a bad path: say so, with a 400.
        return Err(ResolveError::BadPath("the path holds a NUL byte"));
    }
    if decoded.contains(&b'\\') {
        return Err(ResolveError::BadPath("the path holds a backslash"));
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split(|&byte| byte == b'/') {
        match segment {
            b"" | b"." => continue,
            b".." => return Err(ResolveError::BadPath("the path climbs with ..")),
            name => relative.push(OsStr::from_bytes(name)),
        }
    }
    Ok(relative)
}
// ANCHOR_END: relative_path

// ANCHOR: confirm_under_root
/// Follows every symlink in `candidate` and checks that the real file is still
/// under `root`. This is what stops a symlink inside the root that points out.
pub fn confirm_under_root(root: &Path, candidate: &Path) -> Result<PathBuf, ResolveError> {
    let real = candidate
        .canonicalize()
        .map_err(|error| match error.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => ResolveError::NotFound,
            io::ErrorKind::PermissionDenied => ResolveError::Forbidden,
            _ => ResolveError::Io(error),
        })?;
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(ResolveError::Forbidden)
    }
}
// ANCHOR_END: confirm_under_root

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A root folder with a page, a subfolder with an index, a secret next to the
    /// root, and a symlink inside the root that points at the secret.
    fn fixture(name: &str) -> (PathBuf, PathBuf) {
        let base =
            std::env::temp_dir().join(format!("common-resolve-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("root");
        fs::create_dir_all(root.join("docs")).unwrap();
        fs::write(root.join("index.html"), "home").unwrap();
        fs::write(root.join("a b.html"), "space").unwrap();
        fs::write(root.join("docs/index.html"), "docs").unwrap();
        fs::write(base.join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("escape.txt")).unwrap();
        std::os::unix::fs::symlink("index.html", root.join("home.html")).unwrap();
        (root.canonicalize().unwrap(), base)
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("/a%20b%2F%2e").unwrap(), b"/a b/.");
        assert!(percent_decode("/a%2").is_err());
        assert!(percent_decode("/a%zz").is_err());
    }

    /// What `open_file_under_root` opened: its path under the root and its bytes.
    fn opened(root: &Path, url_path: &str) -> Result<(PathBuf, String), ResolveError> {
        let mut opened = open_file_under_root(root, url_path)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut opened.file, &mut text).unwrap();
        assert_eq!(opened.length, text.len() as u64);
        Ok((opened.relative, text))
    }

    #[test]
    fn serves_files_folders_and_inner_symlinks() {
        let (root, base) = fixture("good");
        let file = |path| opened(&root, path).unwrap();
        assert_eq!(resolve_under_root(&root, "/").unwrap(), root);
        assert_eq!(
            resolve_under_root(&root, "/docs/").unwrap(),
            root.join("docs")
        );
        assert_eq!(file("/"), (PathBuf::from("index.html"), "home".into()));
        assert_eq!(
            file("/docs/"),
            (PathBuf::from("docs/index.html"), "docs".into())
        );
        assert_eq!(file("//docs").1, "docs");
        assert_eq!(file("/a%20b.html").1, "space");
        assert_eq!(file("/home.html").1, "home");
        // A trailing slash after a file's name, or a folder named without one,
        // find what they found before the shortcut for paths ending in `/`.
        assert_eq!(file("/home.html/").1, "home");
        assert_eq!(file("/docs").1, "docs");
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn traversal_in_every_disguise_is_refused() {
        let (root, base) = fixture("bad");
        for path in [
            "/../secret.txt",
            "/docs/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2Fsecret.txt",
            "/..%2fsecret.txt",
            "/..\\secret.txt",
            "/%5c..%5csecret.txt",
            "/index.html%00.png",
            "index.html",
        ] {
            let result = opened(&root, path);
            assert!(
                matches!(result, Err(ResolveError::BadPath(_))),
                "{path}: {result:?}"
            );
            let result = resolve_under_root(&root, path);
            assert!(
                matches!(result, Err(ResolveError::BadPath(_))),
                "{path}: {result:?}"
            );
        }
        // The kernel refuses the symlinks that point out (openat2 says EXDEV).
        assert!(matches!(
            opened(&root, "/escape.txt"),
            Err(ResolveError::Forbidden)
        ));
        assert!(matches!(
            resolve_under_root(&root, "/escape.txt"),
            Err(ResolveError::Forbidden)
        ));
        fs::create_dir_all(root.join("outdex")).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("outdex/index.html"))
            .unwrap();
        let index_out = opened(&root, "/outdex/");
        assert!(
            matches!(index_out, Err(ResolveError::Forbidden)),
            "{index_out:?}"
        );
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn missing_files_are_not_found() {
        let (root, base) = fixture("missing");
        for path in ["/nope.html", "/index.html/x", "/docs/nope/"] {
            assert!(
                matches!(opened(&root, path), Err(ResolveError::NotFound)),
                "{path}"
            );
        }
        // An absolute path after the first slash stays under the root.
        assert!(matches!(
            opened(&root, "//etc/passwd"),
            Err(ResolveError::NotFound)
        ));
        assert!(matches!(
            resolve_under_root(&root, "//etc/passwd"),
            Err(ResolveError::NotFound)
        ));
        fs::remove_dir_all(base).unwrap();
    }
}
