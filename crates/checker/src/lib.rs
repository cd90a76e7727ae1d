//! Tells whether a running web server has the behaviour of a stage of the course.
//!
//! The checker talks to the server only over TCP, with exact bytes, so it can
//! judge a server written in any language: the course's own stages, a student's
//! exercise, or nginx. Each check proves one behaviour and, when it fails, shows
//! the request as a command to paste into a shell, the bytes that came back, and
//! what a correct server would have sent.
//!
//! - [`checks`]: every check and the stages it applies to;
//! - [`client`]: a raw HTTP client that keeps every byte;
//! - [`target`]: the server under test and the files planted under its root;
//! - [`report`] and [`show`]: how results are told;
//! - [`process`]: what `/proc` says about the server's process (threads, children);
//! - [`harness`]: starting a stage's binary on port 0, for the workspace's tests.
//!
//! Used from the command line: `cargo run -p checker -- http://127.0.0.1:7802/ --stage 2`.

pub mod checks;
pub mod client;
pub mod harness;
pub mod process;
pub mod report;
pub mod show;
pub mod target;

use std::io;

pub use report::{CheckResult, Failure, Outcome, Report};
pub use target::{Context, Fixtures, Target};

/// The highest stage the course has.
pub const LAST_STAGE: u8 = 8;

/// Runs every check that applies to `stage` (or only the one named `only`),
/// calling `on_result` as each finishes, and returns the whole report.
pub fn run(
    target: &Target,
    stage: u8,
    only: Option<&str>,
    mut on_result: impl FnMut(&CheckResult),
) -> io::Result<Report> {
    let fixtures = Fixtures::create(&target.root)?;
    let context = Context {
        target,
        fixtures: &fixtures,
        stage,
    };
    let mut report = Report::default();
    for check in checks::all() {
        if !check.stages.contains(&stage) || only.is_some_and(|name| name != check.name) {
            continue;
        }
        let outcome = if check.needs_pid && target.pid.is_none() {
            Outcome::Skipped("needs --pid PID (the server's process id)".to_string())
        } else {
            match (check.run)(&context) {
                Ok(()) => Outcome::Passed,
                Err(failure) => Outcome::Failed(failure),
            }
        };
        let result = CheckResult {
            name: check.name,
            stage: *check.stages.start(),
            behaviour: check.behaviour,
            outcome,
        };
        on_result(&result);
        report.results.push(result);
    }
    Ok(report)
}

/// Runs the checks of `stage` quietly and returns the report.
pub fn check_stage(target: &Target, stage: u8) -> io::Result<Report> {
    run(target, stage, None, |_| {})
}
