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
//! - [`response_reader`]: the checker's own strict reading of a response head,
//!   written from the RFCs and sharing no code with the servers it judges;
//! - [`http_date`]: writing and reading the IMF-fixdate of `Date` headers;
//! - [`target`]: the server under test and the files planted under its root;
//! - [`report`] and [`show`]: how results are told to a person, [`output`]: as
//!   JSON or TAP, for programs;
//! - [`profiles`]: the stages' check sets named by behaviour (`keep-alive`);
//! - [`process`]: what `/proc` says about the server's process (threads, children,
//!   zombies, CPU time, memory, open descriptors), also for the `lab` crate;
//!
//! Used from the command line: `cargo run -p checker -- http://127.0.0.1:7802/ --stage 2`.

pub mod checks;
pub mod client;
pub mod http_date;
pub mod output;
pub mod process;
pub mod profiles;
pub mod report;
pub mod response_reader;
pub mod show;
pub mod target;

use std::io;

pub use report::{CheckResult, Failure, Outcome, Report};
pub use target::{Context, Fixtures, Target};

/// The highest stage the course has.
pub const LAST_STAGE: u8 = 8;

/// Every check whose stages include `stage`, in order.
pub fn checks_for_stage(stage: u8) -> Vec<checks::Check> {
    checks::all()
        .into_iter()
        .filter(|check| check.stages.contains(&stage))
        .collect()
}

/// The checks of `stage`, or only the one named `only` (none when no check has
/// that name).
pub fn select(stage: u8, only: Option<&str>) -> Vec<checks::Check> {
    match only {
        Some(name) => checks::find(name).into_iter().collect(),
        None => checks_for_stage(stage),
    }
}

/// Runs every check that applies to `stage` (or only the one named `only`),
/// calling `on_result` as each finishes.
pub fn run(
    target: &Target,
    stage: u8,
    only: Option<&str>,
    on_result: impl FnMut(&CheckResult),
) -> io::Result<Report> {
    run_checks(target, stage, &select(stage, only), on_result)
}

/// Runs the given checks against `target`, with the checker's files planted
/// under its root for the length of the run. When they cannot be planted (or
/// `target.root` is empty: no root at all), the checks that need them are
/// skipped, with the reason, and the others run as usual.
pub fn run_checks(
    target: &Target,
    stage: u8,
    selected: &[checks::Check],
    mut on_result: impl FnMut(&CheckResult),
) -> io::Result<Report> {
    let root = (!target.root.as_os_str().is_empty()).then_some(target.root.as_path());
    let fixtures = Fixtures::create_or_absent(root);
    let context = Context {
        target,
        fixtures: &fixtures,
        stage,
    };
    let mut report = Report::default();
    for check in selected {
        fixtures.start_check();
        let outcome = if check.needs_pid && target.pid.is_none() {
            Outcome::Skipped("needs --pid PID (the server's process id)".to_string())
        } else {
            let verdict = (check.run)(&context);
            match (fixtures.missing(), fixtures.were_used()) {
                // Whatever it saw, a check that asked for files that are not
                // there proves nothing: skipped, never passed.
                (Some(why), true) => {
                    Outcome::Skipped(format!("needs the checker's files under the root; {why}"))
                }
                _ => match verdict {
                    Ok(()) => Outcome::Passed,
                    Err(failure) => Outcome::Failed(failure),
                },
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
