//! Turning the path of a URL into a file under the root, and never outside it.
//!
//! The tempting version is `format!("{root}{path}")`. Then `GET /../../etc/passwd`
//! walks out of the root, and so do its disguises: `%2e%2e` is `..` once decoded,
//! `%2f` is a slash, a symlink inside the root may point anywhere. So the path is
//! decoded first, split into segments, checked segment by segment, and the file the
//! kernel finally names (after following every symlink) must still lie under the
//! root. Nothing is opened before all of that holds.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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
/// The file or folder that `url_path` (still percent-encoded, without its query
/// string) names under `root`. `root` must be canonical (absolute, no symlinks),
/// as [`crate::cli::listen_or_exit`] makes it.
pub fn resolve_under_root(root: &Path, url_path: &str) -> Result<PathBuf, ResolveError> {
    if !url_path.starts_with('/') {
        return Err(ResolveError::BadPath("the path does not start with /"));
    }
    let decoded = percent_decode(url_path)?;
    let relative = relative_path(&decoded)?;
    confirm_under_root(root, &root.join(relative))
}

/// Like [`resolve_under_root`], but a folder means the `index.html` inside it,
/// which must itself stay under the root (it could be a symlink that points out).
pub fn resolve_file_under_root(root: &Path, url_path: &str) -> Result<PathBuf, ResolveError> {
    let found = resolve_under_root(root, url_path)?;
    if found.is_dir() {
        return confirm_under_root(root, &found.join("index.html"));
    }
    Ok(found)
}

/// Checks each segment of a decoded path and joins the good ones. Empty segments
/// (`//`) and `.` are skipped; anything that could climb or confuse is refused.
fn relative_path(decoded: &[u8]) -> Result<PathBuf, ResolveError> {
    if decoded.contains(&0) {
        // The C library would end the path at the NUL: `a.html%00.png` is `a.html`.
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
// ANCHOR_END: resolve_under_root

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

    #[test]
    fn serves_files_folders_and_inner_symlinks() {
        let (root, base) = fixture("good");
        let file = |path| resolve_file_under_root(&root, path).unwrap();
        assert_eq!(resolve_under_root(&root, "/").unwrap(), root);
        assert_eq!(
            resolve_under_root(&root, "/docs/").unwrap(),
            root.join("docs")
        );
        assert_eq!(file("/"), root.join("index.html"));
        assert_eq!(file("/docs/"), root.join("docs/index.html"));
        assert_eq!(file("//docs"), root.join("docs/index.html"));
        assert_eq!(file("/a%20b.html"), root.join("a b.html"));
        assert_eq!(file("/home.html"), root.join("index.html"));
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
            let result = resolve_under_root(&root, path);
            assert!(
                matches!(result, Err(ResolveError::BadPath(_))),
                "{path}: {result:?}"
            );
        }
        let through_symlink = resolve_under_root(&root, "/escape.txt");
        assert!(matches!(through_symlink, Err(ResolveError::Forbidden)));
        fs::create_dir_all(root.join("outdex")).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("outdex/index.html"))
            .unwrap();
        let index_out = resolve_file_under_root(&root, "/outdex/");
        assert!(
            matches!(index_out, Err(ResolveError::Forbidden)),
            "{index_out:?}"
        );
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn missing_files_are_not_found() {
        let (root, base) = fixture("missing");
        assert!(matches!(
            resolve_under_root(&root, "/nope.html"),
            Err(ResolveError::NotFound)
        ));
        assert!(matches!(
            resolve_under_root(&root, "/index.html/x"),
            Err(ResolveError::NotFound)
        ));
        // An absolute path after the first slash stays under the root.
        assert!(matches!(
            resolve_under_root(&root, "//etc/passwd"),
            Err(ResolveError::NotFound)
        ));
        fs::remove_dir_all(base).unwrap();
    }
}
