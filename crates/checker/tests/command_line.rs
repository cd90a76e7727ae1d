//! No value on the command line makes the checker panic: each bad one gets one
//! line on stderr and exit status 2, before anything is checked.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const CHECKER: &str = env!("CARGO_BIN_EXE_checker");

/// Runs the checker with `arguments` and asserts one line on stderr that
/// contains `says`, nothing on stdout, and exit status 2.
fn assert_refused(arguments: &[&str], says: &str) {
    let output = Command::new(CHECKER).args(arguments).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{arguments:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{arguments:?}: {stderr}");
    assert!(
        stderr.contains(says),
        "{arguments:?}: {stderr:?} should say {says:?}"
    );
    assert!(output.stdout.is_empty(), "{arguments:?}");
}

/// The arguments of a run that would work, with `extra` after them. Nothing
/// needs to listen on port 9: every case here fails before connecting.
fn with(extra: &[&'static str]) -> Vec<&'static str> {
    [&["http://127.0.0.1:9/", "--stage", "2"], extra].concat()
}

#[test]
fn a_bad_idle_timeout_is_one_line() {
    for value in [
        "-1", "NaN", "nan", "inf", "-inf", "1e300", "0", "-0", "five", "",
    ] {
        assert_refused(
            &with(&["--idle-timeout", value]),
            "--idle-timeout wants a number",
        );
    }
}

#[test]
fn a_bad_stage_is_one_line() {
    for value in ["0", "9", "-1", "256", "two", ""] {
        assert_refused(
            &["http://127.0.0.1:9/", "--stage", value],
            "--stage is a stage",
        );
    }
}

#[test]
fn a_bad_pid_is_one_line() {
    for value in ["0", "-1", "abc", "99999999999"] {
        assert_refused(&with(&["--pid", value]), "--pid wants a process id");
    }
    // A number that no process has.
    assert_refused(&with(&["--pid", "4294967295"]), "no such process");
}

#[test]
fn a_bad_format_is_one_line() {
    assert_refused(&with(&["--format", "xml"]), "--format is text, json or tap");
}

#[test]
fn a_missing_value_is_one_line() {
    for option in ["--idle-timeout", "--pid", "--format", "--root", "--only"] {
        assert_refused(&with(&[option]), "needs a value");
    }
}

#[test]
fn other_mistakes_are_one_line() {
    assert_refused(&with(&["--color"]), "unknown option");
    assert_refused(&with(&["--only", "no-such-check"]), "no check is called");
    assert_refused(&with(&["--root", "/no/such/folder"]), "--root");
    assert_refused(
        &["http://127.0.0.1:99999/", "--stage", "2"],
        "cannot resolve",
    );
    assert_refused(&["https://127.0.0.1/", "--stage", "2"], "plain http://");
    assert_refused(
        &["http://127.0.0.1:9/"],
        "--stage N (or --profile NAME) is required",
    );
}
