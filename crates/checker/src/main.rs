//! `checker URL --stage N`: checks a running server against a stage's behaviour.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use checker::target::address_of;
use checker::{LAST_STAGE, Target};

const USAGE: &str = "\
checker: tells whether a running web server has a stage's behaviour

Usage: cargo run -p checker -- URL --stage N [OPTIONS]
   eg: cargo run -p checker -- http://127.0.0.1:7802/ --stage 2

Options:
  --stage N            the stage whose behaviour to check (1 to 8); earlier stages'
                       rules that still apply are checked too
  --root DIR           the folder the server serves [default: the workspace's html/];
                       the checker plants test files in a subfolder while it runs
  --pid PID            the server's process id, for the checks that look at the
                       process (zombies, threads, idle CPU)
  --idle-timeout SECS  the server's idle timeout, for stages 7 and 8 [default: 5]
  --head-timeout SECS  the server's deadline for a request head, for stages 7 and 8
                       [default: 10]
  --only NAME          run just the check called NAME
  --keep-files         leave the planted files in place afterwards, so the commands
                       that failures show can be replayed (remove ROOT/checker-* later)
  --list               list the checks of the stage and exit
  --help               print this help

Exit status: 0 when no check failed, 1 when one did, 2 for a usage error.
";

struct Options {
    target: Target,
    stage: u8,
    only: Option<String>,
    list: bool,
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&arguments) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("checker: {message} (try --help)");
            return ExitCode::from(2);
        }
    };
    if options.list {
        for check in checker::checks::all() {
            if check.stages.contains(&options.stage) {
                println!(
                    "{:36} stage {}  {}",
                    check.name,
                    check.stages.start(),
                    check.behaviour
                );
            }
        }
        return ExitCode::SUCCESS;
    }
    println!(
        "checking http://{}/ for stage {} (root: {})",
        options.target.addr,
        options.stage,
        options.target.root.display()
    );
    let report = checker::run(
        &options.target,
        options.stage,
        options.only.as_deref(),
        |result| {
            println!("{result}");
        },
    );
    match report {
        Ok(report) => {
            println!("{}", report.summary());
            if report.all_passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!(
                "checker: cannot plant test files under {}: {error}",
                options.target.root.display()
            );
            ExitCode::from(2)
        }
    }
}

fn parse(arguments: &[String]) -> Result<Option<Options>, String> {
    let mut url = None;
    let mut stage = None;
    let mut root = common::cli::default_root();
    let mut pid = None;
    let mut idle_timeout = Duration::from_secs(5);
    let mut head_timeout = Duration::from_secs(10);
    let mut only = None;
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
            "--stage" => stage = Some(number(value()?, "--stage")?),
            "--root" => root = PathBuf::from(value()?),
            "--pid" => pid = Some(number(value()?, "--pid")?),
            "--idle-timeout" => {
                idle_timeout = seconds(value()?, "--idle-timeout")?;
            }
            "--head-timeout" => head_timeout = seconds(value()?, "--head-timeout")?,
            "--only" => only = Some(value()?.clone()),
            "--list" => list = true,
            "--keep-files" => checker::target::keep_planted_files(),
            text if text.starts_with("--") => return Err(format!("unknown option '{text}'")),
            text => url = Some(text.to_string()),
        }
    }
    let stage: u8 = stage.ok_or("--stage N is required")?;
    if !(1..=LAST_STAGE).contains(&stage) {
        return Err(format!("--stage must be 1 to {LAST_STAGE}"));
    }
    let addr = match url {
        Some(url) => address_of(&url)?,
        None if list => SocketAddr::from(([127, 0, 0, 1], 0)),
        None => return Err("which server? give its URL, such as http://127.0.0.1:7802/".into()),
    };
    let root = root
        .canonicalize()
        .map_err(|error| format!("--root {}: {error}", root.display()))?;
    Ok(Some(Options {
        target: Target {
            addr,
            root,
            pid,
            idle_timeout: Some(idle_timeout),
            head_timeout: Some(head_timeout),
        },
        stage,
        only,
        list,
    }))
}

/// A number of seconds that a `Duration` can hold: never a panic on `-1` or `NaN`.
fn seconds(text: &str, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(number(text, flag)?)
        .map_err(|_| format!("{flag} wants a number of seconds, not '{text}'"))
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag} wants a number, not '{text}'"))
}
