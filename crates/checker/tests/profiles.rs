//! `--profile NAME`: the stages' check sets named by behaviour.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

mod canned;

use std::process::{Command, Output};

use canned::{Root, correct_answer};
use checker::profiles::PROFILES;

const CHECKER: &str = env!("CARGO_BIN_EXE_checker");

fn checker(arguments: &[&str]) -> Output {
    Command::new(CHECKER).args(arguments).output().unwrap()
}

#[test]
fn each_profile_runs_the_checks_of_its_stage() {
    for profile in &PROFILES {
        let by_profile = checker(&["--profile", profile.name, "--list"]);
        let stage = profile.stage.to_string();
        let by_stage = checker(&["--stage", &stage, "--list"]);
        assert_eq!(by_profile.status.code(), Some(0), "{}", profile.name);
        assert!(!by_profile.stdout.is_empty(), "{}", profile.name);
        assert_eq!(by_profile.stdout, by_stage.stdout, "{}", profile.name);
    }
}

#[test]
fn the_profiles_are_the_behaviours_the_course_names() {
    let names: Vec<&str> = PROFILES.iter().map(|profile| profile.name).collect();
    assert_eq!(
        names,
        ["one-at-a-time", "concurrent", "keep-alive", "event-loop"]
    );
}

#[test]
fn json_names_the_profile_and_its_stage() {
    let root = Root::new();
    let path = root.path.clone();
    let target = canned::start(&root, move |request| correct_answer(&path, request));
    let output = Command::new(CHECKER)
        .arg(format!("http://{}/", target.addr))
        .args(["--profile", "one-at-a-time", "--only", "date-header"])
        .args(["--format", "json", "--root"])
        .arg(&root.path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["profile"], "one-at-a-time");
    assert_eq!(json["stage"], 2);
    assert_eq!(json["checks"][0]["status"], "pass");
}

#[test]
fn an_unknown_profile_or_both_stage_and_profile_exit_2() {
    for arguments in [
        &["http://127.0.0.1:9/", "--profile", "fast"][..],
        &[
            "http://127.0.0.1:9/",
            "--profile",
            "keep-alive",
            "--stage",
            "7",
        ][..],
        &["http://127.0.0.1:9/", "--profile"][..],
    ] {
        let output = checker(arguments);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{arguments:?}: {stderr}");
    }
    let stderr = String::from_utf8(checker(&["x", "--profile", "fast"]).stderr).unwrap();
    assert!(
        stderr.contains("one-at-a-time, concurrent, keep-alive, event-loop"),
        "{stderr}"
    );
}
