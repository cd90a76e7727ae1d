//! The server under test, the files the checker plants under its root, and the
//! helpers every check uses to talk to it.

use std::fs;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::client::{self, Reply};
use crate::report::Failure;

/// The size of the large file every stage must deliver whole to a slow reader.
pub const LARGE_FILE_SIZE: usize = 24 * 1024 * 1024;

/// A running server the checker talks to.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The folder the server serves. The checker reads the expected bytes from it,
    /// and plants its own test files in a subfolder for the length of the run.
    /// Empty for no root at all (`--no-root`): only the checks that need no
    /// planted file run.
    pub root: PathBuf,
    /// The server's process id, for the checks that look at the process itself
    /// (zombie children, threads, CPU while idle). Those are skipped without it.
    pub pid: Option<u32>,
    /// How long the server keeps an idle connection open (stages 7 and 8).
    pub idle_timeout: Option<Duration>,
    /// How long the server gives a request head to arrive whole (stages 7 and 8).
    pub head_timeout: Option<Duration>,
}

/// The workspace's `html/` folder, the site every stage serves by default.
///
/// Cargo tells the compiler where this crate's manifest lives, so the path is
/// fixed when the checker is built and holds from any working directory.
pub fn default_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../html");
    root.canonicalize().unwrap_or(root)
}

/// `http://127.0.0.1:7802/` (or `localhost:7802`) as a socket address.
pub fn address_of(url: &str) -> Result<SocketAddr, String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if url.starts_with("https://") {
        return Err("the course's servers speak plain http://".into());
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    authority
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {authority}: {error}"))?
        .next()
        .ok_or_else(|| format!("{authority} has no address"))
}

/// Files the checker plants under the root (removed again when dropped), and a
/// secret file outside the root that no request may ever reach.
///
/// When they cannot be planted (a root the checker may not write, or a server on
/// another machine), a run goes on without them: every use of a planted file is
/// noted, and a check that used one is reported as skipped, never as passed or
/// failed, since what it saw proves nothing.
pub struct Fixtures {
    /// The planted folder on disk, under the root.
    dir: PathBuf,
    /// The same folder as a URL path, such as `/checker-4242`.
    url: String,
    /// The absolute path of the secret file outside the root.
    secret_path: PathBuf,
    /// A text that only the secret file contains.
    secret_marker: String,
    secret_dir: PathBuf,
    /// Why nothing could be planted, if so.
    missing: Option<String>,
    /// Whether a check has used a planted file since [`Fixtures::start_check`].
    used: AtomicBool,
}

impl Fixtures {
    /// Plants the test files under `root`.
    pub fn create(root: &Path) -> io::Result<Fixtures> {
        // Unique per run, even when several runs share one process (as tests do).
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );
        let name = format!("checker-{id}");
        let dir = root.join(&name);
        let secret_dir = std::env::temp_dir().join(format!("checker-secret-{id}"));
        let secret_marker = format!("CHECKER-SECRET-{id}-never-to-be-served");
        let fixtures = Fixtures {
            url: format!("/{name}"),
            secret_path: secret_dir.join("secret.txt"),
            secret_marker,
            secret_dir,
            dir,
            missing: None,
            used: AtomicBool::new(false),
        };
        fixtures.write_files()?;
        Ok(fixtures)
    }

    /// Plants the test files under `root`, or, when that fails, records why and
    /// plants nothing: the checks that need the files will be skipped.
    pub fn create_or_absent(root: Option<&Path>) -> Fixtures {
        let Some(root) = root else {
            return Fixtures::absent(root_for_nothing(), "no root was given (--no-root)".into());
        };
        match Fixtures::create(root) {
            Ok(fixtures) => fixtures,
            Err(error) => Fixtures::absent(
                root.to_path_buf(),
                format!(
                    "the checker cannot plant its files under {}: {error}",
                    root.display()
                ),
            ),
        }
    }

    fn absent(root: PathBuf, why: String) -> Fixtures {
        Fixtures {
            url: "/checker-absent".into(),
            dir: root.join("checker-absent"),
            secret_path: PathBuf::from("/nonexistent/checker-secret.txt"),
            secret_marker: "CHECKER-SECRET-ABSENT".into(),
            secret_dir: PathBuf::new(),
            missing: Some(why),
            used: AtomicBool::new(false),
        }
    }

    /// Why nothing is planted, when nothing is.
    pub fn missing(&self) -> Option<&str> {
        self.missing.as_deref()
    }

    /// Starts watching for a check's use of planted files.
    pub fn start_check(&self) {
        self.used.store(false, Ordering::Relaxed);
    }

    /// Whether the check since [`Fixtures::start_check`] used a planted file.
    pub fn were_used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }

    /// The planted folder on disk, under the root.
    pub fn dir(&self) -> &Path {
        self.used.store(true, Ordering::Relaxed);
        &self.dir
    }

    /// The planted folder as a URL path, such as `/checker-4242`.
    pub fn url(&self) -> &str {
        self.used.store(true, Ordering::Relaxed);
        &self.url
    }

    /// The absolute path of the secret file outside the root.
    pub fn secret_path(&self) -> &Path {
        self.used.store(true, Ordering::Relaxed);
        &self.secret_path
    }

    /// A text that only the secret file contains.
    pub fn secret_marker(&self) -> &str {
        self.used.store(true, Ordering::Relaxed);
        &self.secret_marker
    }

    fn write_files(&self) -> io::Result<()> {
        let _ = fs::remove_dir_all(&self.dir);
        fs::create_dir_all(self.dir.join("sub"))?;
        fs::create_dir_all(&self.secret_dir)?;
        fs::write(&self.secret_path, &self.secret_marker)?;
        fs::write(
            self.dir.join("page.html"),
            "<!doctype html>\n<title>checker</title>\n<p>A page.</p>\n",
        )?;
        fs::write(self.dir.join("style.css"), "body { color: #222; }\n")?;
        fs::write(self.dir.join("script.js"), "console.log('checker');\n")?;
        fs::write(self.dir.join("notes.txt"), "plain text\n")?;
        fs::write(self.dir.join("hello world.txt"), "a name with a space\n")?;
        fs::write(self.dir.join("sub/index.html"), "<p>sub folder</p>\n")?;
        // A folder without an index, whose names need escaping in HTML and in URLs.
        fs::create_dir_all(self.dir.join("listing"))?;
        fs::write(self.dir.join("listing/alpha.txt"), "alpha\n")?;
        fs::write(self.dir.join("listing/beta gamma.txt"), "beta gamma\n")?;
        fs::write(self.dir.join("listing/<b>.txt"), "bold?\n")?;
        // Every byte value, so a server that mangles binary data is caught.
        let image: Vec<u8> = b"\x89PNG\r\n\x1a\n"
            .iter()
            .copied()
            .chain((0..=255).cycle().take(4000))
            .collect();
        fs::write(self.dir.join("image.png"), image)?;
        fs::write(self.dir.join("large.bin"), large_file_bytes())?;
        symlink(&self.secret_path, self.dir.join("escape.txt"))?;
        Ok(())
    }

    /// The URL path of a planted file: `page.html` gives `/checker-4242/page.html`.
    pub fn url_of(&self, name: &str) -> String {
        self.used.store(true, Ordering::Relaxed);
        format!("{}/{name}", self.url)
    }

    /// The bytes of a planted file, as the server should send them.
    pub fn bytes_of(&self, name: &str) -> Vec<u8> {
        self.used.store(true, Ordering::Relaxed);
        fs::read(self.dir.join(name)).unwrap_or_default()
    }
}

/// Set by `--keep-files`: leave the planted files after the run, so the commands
/// a failure shows can be pasted and replayed.
static KEEP_PLANTED_FILES: AtomicBool = AtomicBool::new(false);

/// Keep the planted files (and the secret) after every later run in this process.
pub fn keep_planted_files() {
    KEEP_PLANTED_FILES.store(true, Ordering::Relaxed);
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        if KEEP_PLANTED_FILES.load(Ordering::Relaxed) || self.missing.is_some() {
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_dir_all(&self.secret_dir);
    }
}

/// 24 MiB of bytes that are cheap to make and never repeat in a way that would
/// hide a chunk sent twice or skipped: a simple xorshift sequence.
pub fn large_file_bytes() -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut bytes = Vec::with_capacity(LARGE_FILE_SIZE);
    while bytes.len() < LARGE_FILE_SIZE {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes
}

/// Stages 1 to 6 close the connection after each response, so there a body may
/// run until the close; stages 7 and 8 keep connections open and must always say
/// where a body ends.
pub fn closes_after_each_response(stage: u8) -> bool {
    stage <= 6
}

/// What a check works with: the target, the planted files, and request helpers.
pub struct Context<'a> {
    pub target: &'a Target,
    pub fixtures: &'a Fixtures,
    /// The stage being checked (a check may apply to several).
    pub stage: u8,
}

/// One request and the reply it got, kept together so a failure can show both.
pub struct Exchange {
    pub addr: SocketAddr,
    pub request: Vec<u8>,
    pub reply: Reply,
}

impl Exchange {
    /// A failure that shows this exchange's request and reply.
    pub fn fail(&self, problem: impl Into<String>, expected: impl Into<String>) -> Failure {
        Failure::new(problem, expected)
            .sent(self.addr, &self.request)
            .received(&self.reply.raw)
    }
}

impl Context<'_> {
    /// A file of the server's root, to compare an answer with. With no root
    /// (`--no-root`) the check cannot compare, and is skipped like one that
    /// needs planted files.
    pub fn root_file(&self, name: &str) -> PathBuf {
        if self.target.root.as_os_str().is_empty() {
            self.fixtures.used.store(true, Ordering::Relaxed);
        }
        self.target.root.join(name)
    }

    pub fn addr(&self) -> SocketAddr {
        self.target.addr
    }

    /// A request with a `Host` header and `Connection: close`, which every stage,
    /// keep-alive or not, answers and then closes.
    pub fn request(&self, method: &str, path: &str) -> Vec<u8> {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr()
        )
        .into_bytes()
    }

    /// Like [`Context::request`], with more headers.
    pub fn request_with(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr());
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("Connection: close\r\n\r\n");
        request.into_bytes()
    }

    /// Sends `request` on a new connection and reads the reply.
    pub fn send(&self, request: &[u8]) -> Result<Exchange, Failure> {
        self.send_expecting_body(request, true)
    }

    /// Like [`Context::send`], for a `HEAD` request whose reply has no body.
    pub fn send_head(&self, request: &[u8]) -> Result<Exchange, Failure> {
        self.send_expecting_body(request, false)
    }

    fn send_expecting_body(&self, request: &[u8], expect_body: bool) -> Result<Exchange, Failure> {
        match client::exchange(self.addr(), request, expect_body) {
            Ok(reply) if reply.body_ended_by_close && !closes_after_each_response(self.stage) => {
                Err(Failure::new(
                    "the response has no Content-Length: its body ran until the server closed",
                    "Content-Length on every response: a keep-alive stage's clients find the \
                     end of a body by its length, not by a close",
                )
                .sent(self.addr(), request)
                .received(&reply.raw))
            }
            Ok(reply) => Ok(Exchange {
                addr: self.addr(),
                request: request.to_vec(),
                reply,
            }),
            Err(error) => Err(Failure::new(
                error.describe(),
                "a complete, well-formed HTTP/1.1 response",
            )
            .sent(self.addr(), request)
            .received(error.received())),
        }
    }

    /// `GET path` and the reply.
    pub fn get(&self, path: &str) -> Result<Exchange, Failure> {
        self.send(&self.request("GET", path))
    }

    /// How many `/..` climb from the root to `/` and a little more: `/..` at the top
    /// of the file system stays at `/`, so extra ones cost nothing.
    pub fn climb_depth(&self) -> usize {
        self.target.root.components().count() + 2
    }

    /// The secret file's path without its leading slash.
    pub fn secret_relative_to_slash(&self) -> String {
        self.fixtures
            .secret_path()
            .to_string_lossy()
            .trim_start_matches('/')
            .to_string()
    }

    /// Fails when a reply holds the secret that lives outside the root.
    pub fn expect_no_secret(&self, exchange: &Exchange) -> Result<(), Failure> {
        let marker = self.fixtures.secret_marker().as_bytes();
        if exchange
            .reply
            .raw
            .windows(marker.len())
            .any(|window| window == marker)
        {
            return Err(exchange.fail(
                format!(
                    "the server sent {}, a file OUTSIDE its root",
                    self.fixtures.secret_path().display()
                ),
                "a 4xx error; nothing outside the root is ever read or sent",
            ));
        }
        Ok(())
    }
}

/// A path that names no folder, for a run with no root at all.
fn root_for_nothing() -> PathBuf {
    PathBuf::from("/nonexistent")
}
