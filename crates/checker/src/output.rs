//! The report for programs: `--format json` and `--format tap`.
//!
//! Text (see [`crate::report`]) is for a person at a terminal. A teacher who
//! grades a class's servers, or a CI job, wants records: JSON for scripts and
//! `jq`, TAP for test harnesses that already read it (`prove`, many CI
//! plugins). Both carry what the text shows: the problem, the request as a
//! command to paste, the bytes that came back, and what was expected.
//!
//! The JSON is written by hand: the checker writes a few flat records and
//! never reads JSON, and a small writer keeps it free of dependencies.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::report::{CheckResult, Outcome, Report};
use crate::show::escape_bytes_unquoted;

/// How many received bytes a record shows; the record also says how many came.
pub const RECORDED_BYTES: usize = 2048;

/// The output formats `--format` names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Text,
    Json,
    Tap,
}

impl Format {
    pub fn from_name(name: &str) -> Result<Format, String> {
        match name {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "tap" => Ok(Format::Tap),
            _ => Err(format!("--format is text, json or tap, not '{name}'")),
        }
    }
}

/// What was checked, for the report's heading: `stage 2`, or a profile and the
/// stage whose checks it stands for.
#[derive(Debug, Clone)]
pub struct Checked {
    pub addr: SocketAddr,
    pub stage: u8,
    pub profile: Option<String>,
}

/// The whole report as one JSON document: what was checked, one record per
/// check, and a summary with the counts.
pub fn json_report(checked: &Checked, report: &Report) -> String {
    let mut json = String::from("{\n");
    let _ = writeln!(
        json,
        "  \"target\": {},",
        json_string(&format!("http://{}/", checked.addr))
    );
    let _ = writeln!(json, "  \"stage\": {},", checked.stage);
    let profile = checked
        .profile
        .as_deref()
        .map_or("null".into(), json_string);
    let _ = writeln!(json, "  \"profile\": {profile},");
    json.push_str("  \"checks\": [\n");
    let records: Vec<String> = report.results.iter().map(json_record).collect();
    json.push_str(&records.join(",\n"));
    json.push_str("\n  ],\n");
    let _ = writeln!(
        json,
        "  \"summary\": {{\"checks\": {}, \"passed\": {}, \"failed\": {}, \"skipped\": {}}}",
        report.results.len(),
        report.passed(),
        report.failed(),
        report.skipped()
    );
    json.push_str("}\n");
    json
}

/// One check as a JSON object on one line. Every record has every key, `null`
/// where it does not apply, so a script never has to ask whether it is there.
fn json_record(result: &CheckResult) -> String {
    let null = || "null".to_string();
    let (status, reason, problem, request, received, expected) = match &result.outcome {
        Outcome::Passed => ("pass", null(), null(), null(), null(), null()),
        Outcome::Skipped(why) => ("skip", json_string(why), null(), null(), null(), null()),
        Outcome::Failed(failure) => (
            "fail",
            null(),
            json_string(&failure.problem),
            failure.sent.as_deref().map_or_else(null, json_string),
            failure.received.as_deref().map_or_else(null, json_received),
            json_string(&failure.expected),
        ),
    };
    format!(
        "    {{\"name\": {}, \"stage\": {}, \"behaviour\": {}, \"status\": \"{status}\", \
         \"reason\": {reason}, \"problem\": {problem}, \"request\": {request}, \
         \"received\": {received}, \"expected\": {expected}}}",
        json_string(result.name),
        result.stage,
        json_string(result.behaviour),
    )
}

/// The bytes that came back: how many, and the first [`RECORDED_BYTES`] of them
/// escaped (`\r`, `\n`, `\xHH`), so binary bodies stay readable text.
fn json_received(bytes: &[u8]) -> String {
    format!(
        "{{\"length\": {}, \"shown\": {}, \"truncated\": {}}}",
        bytes.len(),
        json_string(&escape_bytes_unquoted(bytes, RECORDED_BYTES)),
        bytes.len() > RECORDED_BYTES
    )
}

/// `text` as a JSON string: quotes, backslashes and control characters escaped.
pub fn json_string(text: &str) -> String {
    let mut json = String::with_capacity(text.len() + 2);
    json.push('"');
    for character in text.chars() {
        match character {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            control if u32::from(control) < 0x20 || control == '\u{7f}' => {
                let _ = write!(json, "\\u{:04x}", u32::from(control));
            }
            other => json.push(other),
        }
    }
    json.push('"');
    json
}

/// The lines a TAP stream opens with: the version, then the plan (how many
/// tests will follow), so a harness can tell a run that stopped early.
pub fn tap_start(count: usize) -> String {
    format!("TAP version 14\n1..{count}")
}

/// One test point: `ok 3 - name: behaviour`, or `not ok` with a YAML block
/// that holds the failure, or `# SKIP` with the reason.
pub fn tap_test_point(number: usize, result: &CheckResult) -> String {
    // `#` starts a directive in TAP, so one inside a description is escaped.
    let description = format!("{}: {}", result.name, result.behaviour).replace('#', "\\#");
    match &result.outcome {
        Outcome::Passed => format!("ok {number} - {description}"),
        Outcome::Skipped(why) => {
            format!(
                "ok {number} - {description} # SKIP {}",
                why.replace('#', "\\#")
            )
        }
        Outcome::Failed(failure) => {
            // JSON strings are valid YAML scalars, so the same escaping serves.
            let mut point = format!("not ok {number} - {description}\n  ---\n");
            let _ = writeln!(point, "  stage: {}", result.stage);
            let _ = writeln!(point, "  problem: {}", json_string(&failure.problem));
            if let Some(sent) = &failure.sent {
                let _ = writeln!(point, "  request: {}", json_string(sent));
            }
            if let Some(received) = &failure.received {
                let shown = escape_bytes_unquoted(received, RECORDED_BYTES);
                let _ = writeln!(point, "  received: {}", json_string(&shown));
                let _ = writeln!(point, "  received_length: {}", received.len());
            }
            let _ = writeln!(point, "  expected: {}", json_string(&failure.expected));
            point.push_str("  ...");
            point
        }
    }
}

/// The closing comment: the same summary line as the text report.
pub fn tap_end(report: &Report) -> String {
    format!("# {}", report.summary())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_json_requires() {
        assert_eq!(
            json_string("a\"b\\c\r\n\u{1}é"),
            "\"a\\\"b\\\\c\\r\\n\\u0001é\""
        );
    }

    #[test]
    fn tap_escapes_hashes_in_descriptions() {
        let result = CheckResult {
            name: "x",
            stage: 1,
            behaviour: "uses # signs",
            outcome: Outcome::Passed,
        };
        assert_eq!(tap_test_point(1, &result), "ok 1 - x: uses \\# signs");
    }
}
