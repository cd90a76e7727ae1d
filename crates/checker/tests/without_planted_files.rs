//! A server whose folder the checker cannot write, or cannot see at all: the
//! checks that need planted files (or the root's own files) are skipped, with
//! the reason, and never counted as passed; the others run as usual.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

mod canned;

use std::process::Command;

use canned::{Root, correct_answer};
use serde_json::Value;

const CHECKER: &str = env!("CARGO_BIN_EXE_checker");

/// The checker's JSON report of stage 2's checks against a correct server.
fn report(root_arguments: &[&str]) -> (Option<i32>, Value) {
    let root = Root::new();
    let path = root.path.clone();
    let target = canned::start(&root, move |request| correct_answer(&path, request));
    let output = Command::new(CHECKER)
        .arg(format!("http://{}/", target.addr))
        .args(["--stage", "2", "--format", "json"])
        .args(root_arguments)
        .output()
        .unwrap();
    (
        output.status.code(),
        serde_json::from_slice(&output.stdout).unwrap(),
    )
}

fn status_of<'a>(report: &'a Value, check: &str) -> (&'a str, &'a str) {
    let record = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|record| record["name"] == check)
        .unwrap();
    (
        record["status"].as_str().unwrap(),
        record["reason"].as_str().unwrap_or(""),
    )
}

fn skips_what_needs_files_and_runs_the_rest(report: &Value, why: &str) {
    for check in ["traversal-dot-dot", "files-byte-exact", "index-at-root"] {
        let (status, reason) = status_of(report, check);
        assert_eq!(status, "skip", "{check}");
        assert!(reason.contains(why), "{check}: {reason}");
    }
    // The canned server knows stage 1's manners only, so just those are asked.
    for check in ["answers-get", "content-length", "closes-after-response"] {
        assert_eq!(status_of(report, check).0, "pass", "{check}");
    }
}

#[test]
fn with_no_root_the_checks_that_need_files_are_skipped() {
    let (code, report) = report(&["--no-root"]);
    assert!(matches!(code, Some(0 | 1)), "{report}");
    skips_what_needs_files_and_runs_the_rest(&report, "--no-root");
}

#[test]
fn with_a_root_it_cannot_write_likewise() {
    // A regular file as the root: nothing can be created beneath it, whoever
    // runs the test (root included).
    let file = std::env::temp_dir().join(format!("checker-not-a-folder-{}", std::process::id()));
    std::fs::write(&file, "not a folder").unwrap();
    let (code, report) = report(&["--root", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        code,
        Some(1),
        "index-at-root cannot read index.html: {report}"
    );
    for check in ["traversal-dot-dot", "files-byte-exact"] {
        let (status, reason) = status_of(&report, check);
        assert_eq!(status, "skip", "{check}");
        assert!(reason.contains("cannot plant"), "{check}: {reason}");
    }
    assert_eq!(status_of(&report, "answers-get").0, "pass");
}
