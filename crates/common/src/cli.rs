//! The command line every stage shares, and how a stage starts listening.
//!
//! Every stage takes the same options (`--addr`, `--root`, `--quiet`, `--help`) and
//! may add knobs of its own (`--pool N`, `--edge`, ...). Every stage prints the same
//! first line, `listening on http://HOST:PORT/ (root: PATH)`, so a person, a test or
//! a benchmark script can find the real port when `--addr` asked for port 0.
//!
//! A start-up problem (a bad option, a port already taken, a root that does not
//! exist) ends the program with one clear line on stderr and a non-zero exit code,
//! never a panic and its backtrace.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process;
use std::str::FromStr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// How many connections the kernel may queue for us before we call `accept`.
/// The kernel caps it at `net.core.somaxconn` (4096 on recent kernels).
const LISTEN_BACKLOG: i32 = 4096;

/// The options every stage understands.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where to listen. Port 0 asks the kernel for any free port.
    pub addr: SocketAddr,
    /// The folder whose files are served, already made absolute.
    pub root: PathBuf,
    /// No access log: one line per request costs time under load.
    pub quiet: bool,
}

/// One stage-specific option, such as `--pool N` or `--edge`.
struct Knob {
    flag: &'static str,
    /// The placeholder for the option's value in `--help` (`N`, `SECS`), or `None`
    /// for a switch that takes no value.
    value_name: Option<&'static str>,
    help: &'static str,
}

/// Describes a stage's command line: its name, default port and extra knobs.
pub struct Cli {
    name: &'static str,
    about: &'static str,
    default_port: u16,
    knobs: Vec<Knob>,
    /// For a deliberately broken variant: the stage whose package it lives in.
    mistake_of: Option<&'static str>,
}

/// What [`Cli::parse`] found: the shared options, plus the stage's own knobs,
/// read with [`Arguments::value`] and [`Arguments::switch`].
#[derive(Debug)]
pub struct Arguments {
    pub server: ServerOptions,
    name: &'static str,
    knob_values: HashMap<&'static str, Option<String>>,
}

impl Cli {
    /// `name` is the crate name (`stage04-multithread`), `about` one line for
    /// `--help`, `default_port` the stage's own port (78NN for stage NN).
    pub fn new(name: &'static str, default_port: u16, about: &'static str) -> Cli {
        Cli {
            name,
            about,
            default_port,
            knobs: Vec::new(),
            mistake_of: None,
        }
    }

    /// Marks a chapter's deliberately broken variant (`src/bin/mistake-*.rs`) of
    /// the stage `package`. Its help then says how to run it, and it refuses any
    /// address but loopback: a server with a known hole must not be reachable
    /// from other machines.
    pub fn mistake_of(mut self, package: &'static str) -> Cli {
        self.mistake_of = Some(package);
        self
    }

    /// Adds an option that takes a value, such as `--pool N`.
    pub fn option(
        mut self,
        flag: &'static str,
        value_name: &'static str,
        help: &'static str,
    ) -> Cli {
        self.knobs.push(Knob {
            flag,
            value_name: Some(value_name),
            help,
        });
        self
    }

    /// Adds an option that takes no value, such as `--edge`.
    pub fn switch(mut self, flag: &'static str, help: &'static str) -> Cli {
        self.knobs.push(Knob {
            flag,
            value_name: None,
            help,
        });
        self
    }

    /// Reads the process's arguments. Prints the help and exits for `--help`;
    /// prints one line and exits with status 2 for anything it does not understand.
    pub fn parse(self) -> Arguments {
        let arguments: Vec<String> = std::env::args().skip(1).collect();
        match self.parse_from(&arguments) {
            Ok(Some(parsed))
                if self.mistake_of.is_some() && !parsed.server.addr.ip().is_loopback() =>
            {
                let message =
                    "this deliberately broken server only listens on loopback (127.0.0.1 or [::1])";
                exit_with_startup_error(self.name, message)
            }
            Ok(Some(parsed)) => parsed,
            Ok(None) => {
                print!("{}", self.help());
                process::exit(0);
            }
            Err(message) => exit_with_usage_error(self.name, &message),
        }
    }

    /// The testable heart of [`Cli::parse`]: `Ok(None)` means `--help` was asked for.
    fn parse_from(&self, arguments: &[String]) -> Result<Option<Arguments>, String> {
        let mut addr = SocketAddr::from(([127, 0, 0, 1], self.default_port));
        let mut root = default_root();
        let mut quiet = false;
        let mut knob_values = HashMap::new();

        let mut remaining = arguments.iter();
        while let Some(argument) = remaining.next() {
            // Accept both `--addr X` and `--addr=X`.
            let (flag, inline_value) = match argument.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
                _ => (argument.as_str(), None),
            };
            let mut value_of = |flag: &str| {
                inline_value
                    .clone()
                    .or_else(|| remaining.next().cloned())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag {
                "-h" | "--help" => return Ok(None),
                "--quiet" | "-q" => quiet = true,
                "--addr" => {
                    let text = value_of(flag)?;
                    addr = text.parse().map_err(|_| {
                        format!("--addr wants HOST:PORT such as 127.0.0.1:8080, not '{text}'")
                    })?;
                }
                "--root" => root = PathBuf::from(value_of(flag)?),
                _ => {
                    let knob = self
                        .knobs
                        .iter()
                        .find(|knob| knob.flag == flag)
                        .ok_or_else(|| format!("unknown option '{argument}'"))?;
                    let value = match knob.value_name {
                        Some(_) => Some(value_of(flag)?),
                        None => None,
                    };
                    knob_values.insert(knob.flag, value);
                }
            }
        }

        Ok(Some(Arguments {
            server: ServerOptions { addr, root, quiet },
            name: self.name,
            knob_values,
        }))
    }

    fn help(&self) -> String {
        let run = match self.mistake_of {
            Some(package) => format!("cargo run -p {package} --bin {}", self.name),
            None => format!("cargo run -p {}", self.name),
        };
        let mut text = format!(
            "{name}: {about}\n\nUsage: {run} -- [OPTIONS]\n\nOptions:\n",
            name = self.name,
            about = self.about
        );
        let mut lines: Vec<(String, String)> = vec![
            (
                "--addr HOST:PORT".into(),
                format!(
                    "where to listen; port 0 picks a free one [default: 127.0.0.1:{}]",
                    self.default_port
                ),
            ),
            (
                "--root DIR".into(),
                format!(
                    "the folder to serve [default: {}]",
                    default_root().display()
                ),
            ),
            ("--quiet".into(), "no access log".into()),
            ("--help".into(), "print this help".into()),
        ];
        for knob in &self.knobs {
            let left = match knob.value_name {
                Some(value_name) => format!("{} {value_name}", knob.flag),
                None => knob.flag.to_string(),
            };
            lines.push((left, knob.help.to_string()));
        }
        let width = lines.iter().map(|(left, _)| left.len()).max().unwrap_or(0);
        for (left, right) in lines {
            text.push_str(&format!("  {left:width$}  {right}\n"));
        }
        text
    }
}

impl Arguments {
    /// The value of a stage option declared with [`Cli::option`], parsed as `T`;
    /// `None` when the option was not given. A value that does not parse ends the
    /// program with one line, as any other usage error does.
    pub fn value<T>(&self, flag: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text = self.knob_values.get(flag)?.as_deref()?;
        match text.parse() {
            Ok(value) => Some(value),
            Err(error) => exit_with_usage_error(self.name, &format!("{flag} '{text}': {error}")),
        }
    }

    /// The value of an option that counts seconds (`--read-timeout 2.5`), or
    /// `default` when it was not given. Anything but a positive number of seconds
    /// that a `Duration` can hold ends the program with one line: `0`, `-1`,
    /// `NaN` and `1e20` are all usage errors, never a panic.
    pub fn seconds(&self, flag: &str, default: Duration) -> Duration {
        let Some(seconds) = self.value::<f64>(flag) else {
            return default;
        };
        let text = self
            .knob_values
            .get(flag)
            .cloned()
            .flatten()
            .unwrap_or_default();
        let problem = match Duration::try_from_secs_f64(seconds) {
            Ok(duration) if !duration.is_zero() => return duration,
            // NaN, negative, zero, or so small it rounds to no time at all.
            Ok(_) => "wants a number of seconds above zero, such as 2.5",
            Err(_) if seconds.is_nan() || seconds <= 0.0 => {
                "wants a number of seconds above zero, such as 2.5"
            }
            Err(_) => "more seconds than a timer can hold",
        };
        exit_with_usage_error(self.name, &format!("{flag} '{text}': {problem}"))
    }

    /// The value of an option that counts something (`--workers 4`), or
    /// `default` when it was not given; zero ends the program with one line,
    /// as a value that does not parse does.
    pub fn count<T>(&self, flag: &str, default: T) -> T
    where
        T: FromStr + From<u8> + PartialEq,
        T::Err: Display,
    {
        let count = self.value(flag).unwrap_or(default);
        if count == T::from(0) {
            exit_with_usage_error(self.name, &format!("{flag} must be at least 1"));
        }
        count
    }

    /// Whether a switch declared with [`Cli::switch`] was given.
    pub fn switch(&self, flag: &str) -> bool {
        self.knob_values.contains_key(flag)
    }
}

/// The workspace's `html/` folder, wherever the program is started from.
///
/// Cargo tells the compiler where this crate's manifest lives, so the path is
/// fixed when the stage is built; `cargo run` then works from any directory.
pub fn default_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../html");
    root.canonicalize().unwrap_or(root)
}

// ANCHOR: listen
/// Opens the listening socket, or ends the program with one clear line.
///
/// Then prints `listening on http://HOST:PORT/ (root: PATH)`: the first line on
/// stdout, flushed at once, with the real port even when port 0 was asked for.
pub fn listen_or_exit(name: &str, options: &mut ServerOptions) -> TcpListener {
    options.root = match checked_root(&options.root) {
        Ok(root) => root,
        Err(message) => exit_with_startup_error(name, &message),
    };
    let listener = match listen(options.addr) {
        Ok(listener) => listener,
        Err(error) => {
            let message = format!("cannot listen on {}: {}", options.addr, describe(&error));
            exit_with_startup_error(name, &message)
        }
    };
    if let Ok(real_addr) = listener.local_addr() {
        options.addr = real_addr;
    }
    println!(
        "listening on http://{}/ (root: {})",
        options.addr,
        options.root.display()
    );
    // stdout is block-buffered when it is a pipe (as in tests): flush, so whoever
    // waits for this line sees it now rather than when a buffer fills.
    let _ = io::stdout().flush();
    listener
}

/// A listening TCP socket, built with `socket2` so that both of its settings are
/// written down here: `SO_REUSEADDR`, so a restarted server can take its port back
/// at once even while old connections linger in `TIME_WAIT` (std sets it too, on
/// Unix, without saying so), and a long backlog, which std fixes at 128, so a
/// burst of thousands of connections waits in the kernel's queue.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}
// ANCHOR_END: listen

/// The root made absolute and free of symlinks, so "is this file under the root?"
/// can later be answered by comparing path prefixes.
fn checked_root(root: &Path) -> Result<PathBuf, String> {
    let absolute = root
        .canonicalize()
        .map_err(|error| format!("root folder {}: {}", root.display(), describe(&error)))?;
    if !absolute.is_dir() {
        return Err(format!("root {} is not a folder", root.display()));
    }
    Ok(absolute)
}

/// A short, human description of an OS error, without Rust's `(os error 98)` noise.
fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => {
            "the address is already in use (is another server running?)".into()
        }
        io::ErrorKind::AddrNotAvailable => "that address is not one of this machine's".into(),
        io::ErrorKind::PermissionDenied => "permission denied (ports below 1024 need root)".into(),
        io::ErrorKind::NotFound => "no such file or folder".into(),
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(end) => text[..end].to_lowercase(),
                None => text,
            }
        }
    }
}

/// Ends the program after a start-up failure: one line on stderr, exit status 1.
pub fn exit_with_startup_error(name: &str, message: &str) -> ! {
    eprintln!("{name}: {message}");
    process::exit(1)
}

fn exit_with_usage_error(name: &str, message: &str) -> ! {
    eprintln!("{name}: {message} (try --help)");
    process::exit(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> Cli {
        Cli::new("stage99-test", 7899, "a test")
            .option("--pool", "N", "pool size")
            .switch("--edge", "edge triggered")
    }

    fn parse(arguments: &[&str]) -> Result<Option<Arguments>, String> {
        let owned: Vec<String> = arguments
            .iter()
            .map(|argument| argument.to_string())
            .collect();
        cli().parse_from(&owned)
    }

    #[test]
    fn defaults_to_the_stage_port_on_loopback() {
        let parsed = parse(&[]).unwrap().unwrap();
        assert_eq!(parsed.server.addr, "127.0.0.1:7899".parse().unwrap());
        assert!(!parsed.server.quiet);
        assert!(parsed.server.root.ends_with("html"));
    }

    #[test]
    fn reads_shared_options_and_knobs_in_both_spellings() {
        let parsed = parse(&[
            "--addr=127.0.0.1:0",
            "--root",
            "/tmp",
            "--quiet",
            "--pool",
            "8",
            "--edge",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(parsed.server.addr.port(), 0);
        assert_eq!(parsed.server.root, PathBuf::from("/tmp"));
        assert!(parsed.server.quiet);
        assert_eq!(parsed.value::<usize>("--pool"), Some(8));
        assert!(parsed.switch("--edge"));
    }

    #[test]
    fn help_is_not_an_error() {
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(cli().help().contains("--pool N"));
    }

    #[test]
    fn unknown_options_and_missing_values_are_errors() {
        assert!(parse(&["--bogus"]).unwrap_err().contains("unknown option"));
        assert!(parse(&["--pool"]).unwrap_err().contains("needs a value"));
        assert!(
            parse(&["--addr", "localhost"])
                .unwrap_err()
                .contains("HOST:PORT")
        );
    }
}
