//! `checker URL --stage N`: checks a running server against a stage's behaviour.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use checker::output::{self, Checked, Format};
use checker::target::address_of;
use checker::{LAST_STAGE, Target};

const USAGE: &str = "\
checker: tells whether a running web server has a stage's behaviour

Usage: cargo run -p checker -- URL --stage N [OPTIONS]
       cargo run -p checker -- URL --profile NAME [OPTIONS]
   eg: cargo run -p checker -- http://127.0.0.1:7802/ --stage 2

Options:
  --stage N            the stage whose behaviour to check (1 to 8); earlier stages'
                       rules that still apply are checked too
  --root DIR           the folder the server serves [default: the workspace's html/];
                       the checker plants test files in a subfolder while it runs;
                       where it cannot, the checks that need them are skipped
  --no-root            the server's folder is not here (another machine, not yours
                       to write): run only the checks that need no planted file
  --pid PID            the server's process id, for the checks that look at the
                       process (zombies, threads, idle CPU)
  --profile NAME       instead of --stage, the behaviour to check, for a server that
                       is no stage of the course: one-at-a-time (stage 2's checks),
                       concurrent (stage 3's), keep-alive (7's), event-loop (8's)
  --idle-timeout SECS  the server's idle timeout, for stages 7 and 8 [default: 5]
  --head-timeout SECS  the server's deadline for a request head, for stages 7 and 8
                       [default: 10]
  --only NAME          run just the check called NAME
  --format FORMAT      text (for a person, the default), json or tap (for programs)
  --keep-files         leave the planted files in place afterwards, so the commands
                       that failures show can be replayed (remove ROOT/checker-* later)
  --list               list the checks of the stage and exit
  --help               print this help

Exit status: 0 when every check passed (or was skipped), 1 when one failed,
2 when the server could not be checked (a bad option, or nothing listening).
";

/// The longest idle timeout `--idle-timeout` accepts: the idle-timeout check
/// waits that long, and an hour is already more than anyone will sit through.
const LONGEST_IDLE_TIMEOUT: f64 = 3600.0;

/// Exit status 2: the target could not be checked at all.
const CANNOT_CHECK: u8 = 2;

struct Options {
    target: Target,
    stage: u8,
    /// The profile named instead of a stage, if one was.
    profile: Option<&'static str>,
    only: Option<String>,
    format: Format,
    list: bool,
}

/// `println!` that never panics: when stdout is closed early (`checker | head`),
/// the rest of the output goes nowhere, and the run still ends normally, so the
/// files the checker planted under the root are removed.
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($argument)*);
    }};
}

/// `print!` that never panics, like [`say!`].
macro_rules! say_raw {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($argument)*);
    }};
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&arguments) {
        Ok(Some(options)) => options,
        Ok(None) => {
            say_raw!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("checker: {message} (try --help)");
            return ExitCode::from(CANNOT_CHECK);
        }
    };
    if options.list {
        list(options.stage);
        return ExitCode::SUCCESS;
    }
    match check(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("checker: {message}");
            ExitCode::from(CANNOT_CHECK)
        }
    }
}

fn list(stage: u8) {
    for check in checker::checks_for_stage(stage) {
        say!(
            "{:36} stage {}  {}",
            check.name,
            check.stages.start(),
            check.behaviour
        );
    }
}

/// Runs the checks and writes the report in the chosen format. `Ok(true)` when
/// none failed; `Err` when the server could not be checked at all.
fn check(options: &Options) -> Result<bool, String> {
    let target = &options.target;
    let selected = checker::select(options.stage, options.only.as_deref());
    if selected.is_empty() {
        let name = options.only.as_deref().unwrap_or_default();
        return Err(format!("no check is called '{name}' (see --list)"));
    }
    // Nothing listening is not a failed check but a server that is not there:
    // say so once, rather than failing every check with the same message.
    TcpStream::connect_timeout(&target.addr, checker::client::STEP_TIMEOUT).map_err(|error| {
        format!(
            "cannot connect to {}: {error} (is the server running?)",
            target.addr
        )
    })?;
    match options.format {
        Format::Text => say!(
            "checking http://{}/ for {} (root: {})",
            target.addr,
            what_is_checked(options),
            target.root.display()
        ),
        Format::Tap => say!("{}", output::tap_start(selected.len())),
        Format::Json => {}
    }
    let mut number = 0;
    let report = checker::run_checks(target, options.stage, &selected, |result| {
        number += 1;
        match options.format {
            Format::Text => say!("{result}"),
            Format::Tap => say!("{}", output::tap_test_point(number, result)),
            Format::Json => {}
        }
    })
    .map_err(|error| {
        format!(
            "cannot plant test files under {}: {error}",
            target.root.display()
        )
    })?;
    match options.format {
        Format::Text => say!("{}", report.summary()),
        Format::Tap => say!("{}", output::tap_end(&report)),
        Format::Json => {
            let checked = Checked {
                addr: target.addr,
                stage: options.stage,
                profile: options.profile.map(str::to_string),
            };
            say_raw!("{}", output::json_report(&checked, &report));
        }
    }
    Ok(report.all_passed())
}

/// `stage 7`, or `the keep-alive profile (stage 7's checks)`.
fn what_is_checked(options: &Options) -> String {
    match options.profile {
        Some(profile) => format!("the {profile} profile (stage {}'s checks)", options.stage),
        None => format!("stage {}", options.stage),
    }
}

fn parse(arguments: &[String]) -> Result<Option<Options>, String> {
    let mut url = None;
    let mut stage = None;
    let mut profile = None;
    let mut root = checker::target::default_root();
    let mut pid = None;
    let mut idle_timeout = Duration::from_secs(5);
    let mut head_timeout = Duration::from_secs(10);
    let mut only = None;
    let mut format = Format::Text;
    let mut list = false;
    let mut remaining = arguments.iter();
    while let Some(argument) = remaining.next() {
        let mut value = || {
            remaining
                .next()
                .ok_or_else(|| format!("{argument} needs a value"))
        };
        match argument.as_str() {
            "-h" | "--help" => return Ok(None),
            "--stage" => stage = Some(stage_number(value()?)?),
            "--profile" => profile = Some(checker::profiles::find(value()?)?),
            "--root" => root = PathBuf::from(value()?),
            "--no-root" => root = PathBuf::new(),
            "--pid" => pid = Some(process_id(value()?)?),
            "--idle-timeout" => idle_timeout = seconds(value()?, "--idle-timeout")?,
            "--head-timeout" => head_timeout = seconds(value()?, "--head-timeout")?,
            "--only" => only = Some(value()?.clone()),
            "--format" => format = Format::from_name(value()?)?,
            "--list" => list = true,
            "--keep-files" => checker::target::keep_planted_files(),
            text if text.starts_with("--") => return Err(format!("unknown option '{text}'")),
            text => url = Some(text.to_string()),
        }
    }
    let stage = match (stage, profile) {
        (Some(stage), None) => stage,
        (None, Some(profile)) => profile.stage,
        (None, None) => return Err("--stage N (or --profile NAME) is required".into()),
        (Some(_), Some(_)) => return Err("give --stage or --profile, not both".into()),
    };
    let addr = match url {
        Some(url) => address_of(&url)?,
        None if list => SocketAddr::from(([127, 0, 0, 1], 0)),
        None => return Err("which server? give its URL, such as http://127.0.0.1:7802/".into()),
    };
    // An empty root is `--no-root`: nothing to plant in, nothing to read.
    let root = if root.as_os_str().is_empty() {
        root
    } else {
        root.canonicalize()
            .map_err(|error| format!("--root {}: {error}", root.display()))?
    };
    Ok(Some(Options {
        target: Target {
            addr,
            root,
            pid,
            idle_timeout: Some(idle_timeout),
            head_timeout: Some(head_timeout),
        },
        stage,
        profile: profile.map(|profile| profile.name),
        only,
        format,
        list,
    }))
}

fn stage_number(text: &str) -> Result<u8, String> {
    match text.parse() {
        Ok(stage) if (1..=LAST_STAGE).contains(&stage) => Ok(stage),
        _ => Err(format!(
            "--stage is a stage from 1 to {LAST_STAGE}, not '{text}'"
        )),
    }
}

/// A process id that names a process this machine has now.
fn process_id(text: &str) -> Result<u32, String> {
    let pid: u32 = match text.parse() {
        Ok(pid) if pid > 0 => pid,
        _ => return Err(format!("--pid wants a process id, not '{text}'")),
    };
    if !Path::new("/proc").join(pid.to_string()).exists() {
        return Err(format!("--pid {pid}: no such process"));
    }
    Ok(pid)
}

/// A number of seconds, such as `5` or `0.5`. `Duration::from_secs_f64` would
/// panic on a negative, NaN, infinite or huge value, so each is refused here
/// with a line that says what is wanted.
fn seconds(text: &str, flag: &str) -> Result<Duration, String> {
    let wanted = || {
        format!(
            "{flag} wants a number of seconds above 0 and at most {LONGEST_IDLE_TIMEOUT}, not '{text}'"
        )
    };
    let value: f64 = text.parse().map_err(|_| wanted())?;
    if !(value > 0.0 && value <= LONGEST_IDLE_TIMEOUT) {
        return Err(wanted());
    }
    Duration::try_from_secs_f64(value).map_err(|_| wanted())
}
