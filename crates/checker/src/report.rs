//! What a check found, and how the whole run is printed.

use std::fmt;
use std::net::SocketAddr;

use crate::show::{command_for, describe_received};

/// Why a check failed, told so that a student can reproduce it and see the fix.
#[derive(Debug, Clone)]
pub struct Failure {
    /// One line: what went wrong.
    pub problem: String,
    /// The command that sends the same request, if one request tells the story.
    pub sent: Option<String>,
    /// The bytes that came back, if any.
    pub received: Option<Vec<u8>>,
    /// What a correct server would have answered.
    pub expected: String,
}

impl Failure {
    /// A failure with just a problem and an expectation.
    pub fn new(problem: impl Into<String>, expected: impl Into<String>) -> Failure {
        Failure {
            problem: problem.into(),
            sent: None,
            received: None,
            expected: expected.into(),
        }
    }

    /// Adds the request that was sent, shown as a command for `addr`.
    pub fn sent(mut self, addr: SocketAddr, request: &[u8]) -> Failure {
        self.sent = Some(command_for(addr, request));
        self
    }

    /// Adds the bytes that came back.
    pub fn received(mut self, bytes: &[u8]) -> Failure {
        self.received = Some(bytes.to_vec());
        self
    }
}

/// The result of one check.
#[derive(Debug, Clone)]
pub enum Outcome {
    Passed,
    Failed(Failure),
    /// The check could not run here; the text says what it needs (`--pid`).
    Skipped(String),
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: &'static str,
    pub stage: u8,
    pub behaviour: &'static str,
    pub outcome: Outcome,
}

/// Every check's result, in the order they ran.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub results: Vec<CheckResult>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Passed))
    }

    pub fn failed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Failed(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Skipped(_)))
    }

    /// True when no check failed.
    pub fn all_passed(&self) -> bool {
        self.failed() == 0
    }

    /// The names of the checks that failed.
    pub fn failures(&self) -> Vec<&'static str> {
        self.results
            .iter()
            .filter(|result| matches!(result.outcome, Outcome::Failed(_)))
            .map(|result| result.name)
            .collect()
    }

    /// The outcome of the check called `name`, if it ran.
    pub fn outcome_of(&self, name: &str) -> Option<&Outcome> {
        self.results
            .iter()
            .find(|result| result.name == name)
            .map(|result| &result.outcome)
    }

    fn count(&self, wanted: impl Fn(&Outcome) -> bool) -> usize {
        self.results
            .iter()
            .filter(|result| wanted(&result.outcome))
            .count()
    }

    /// The summary line: `31 checks: 30 passed, 1 failed`.
    pub fn summary(&self) -> String {
        let noun = if self.results.len() == 1 {
            "check"
        } else {
            "checks"
        };
        let mut summary = format!(
            "{} {noun}: {} passed, {} failed",
            self.results.len(),
            self.passed(),
            self.failed()
        );
        if self.skipped() > 0 {
            summary.push_str(&format!(", {} skipped", self.skipped()));
        }
        summary
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = format!("{} (stage {})", self.name, self.stage);
        match &self.outcome {
            Outcome::Passed => write!(out, "PASS  {label:44} {}", self.behaviour),
            Outcome::Skipped(why) => write!(out, "SKIP  {label:44} {why}"),
            Outcome::Failed(failure) => {
                writeln!(out, "FAIL  {label:44} {}", self.behaviour)?;
                writeln!(out, "      problem:  {}", failure.problem)?;
                if let Some(sent) = &failure.sent {
                    writeln!(out, "      sent:     {sent}")?;
                }
                if let Some(received) = &failure.received {
                    writeln!(out, "      got:      {}", describe_received(received))?;
                }
                write!(out, "      expected: {}", failure.expected)
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.results {
            writeln!(out, "{result}")?;
        }
        write!(out, "{}", self.summary())
    }
}
