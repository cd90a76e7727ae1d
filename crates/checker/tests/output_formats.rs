//! `--format json` and `--format tap`, and the exit status, from the real
//! checker binary run against canned servers: one correct, one without `Date`.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

mod canned;

use std::process::{Command, Output};

use canned::{Root, correct_answer};
use checker::Target;
use serde_json::Value;

const CHECKER: &str = env!("CARGO_BIN_EXE_checker");

fn correct_server(root: &Root) -> Target {
    let path = root.path.clone();
    canned::start(root, move |request| correct_answer(&path, request))
}

/// Correct in every way but one: no `Date` header.
fn server_without_date(root: &Root) -> Target {
    let path = root.path.clone();
    canned::start(root, move |request| {
        let answer = String::from_utf8(correct_answer(&path, request)).unwrap();
        let without: Vec<&str> = answer
            .split("\r\n")
            .filter(|line| !line.starts_with("Date: "))
            .collect();
        without.join("\r\n").into_bytes()
    })
}

fn run_checker(target: &Target, extra: &[&str]) -> Output {
    Command::new(CHECKER)
        .arg(format!("http://{}/", target.addr))
        .args(["--stage", "1", "--root"])
        .arg(&target.root)
        .args(extra)
        .output()
        .unwrap()
}

fn stage_1_check_count() -> usize {
    checker::checks_for_stage(1).len()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn json_has_a_record_per_check_and_a_summary() {
    let root = Root::new();
    let target = server_without_date(&root);
    let output = run_checker(&target, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "one check failed");
    let json = json_of(&output);
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks.len(), stage_1_check_count());
    assert_eq!(json["stage"], 1);
    assert_eq!(json["target"], format!("http://{}/", target.addr));

    let failed: Vec<&Value> = checks
        .iter()
        .filter(|check| check["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{json:#}");
    let date = failed[0];
    assert_eq!(date["name"], "date-header");
    assert_eq!(date["stage"], 1);
    assert_eq!(date["problem"], "there is no Date header");
    let request = date["request"].as_str().unwrap();
    assert!(request.starts_with("curl -v"), "{request}");
    assert!(request.contains(&target.addr.to_string()), "{request}");
    let shown = date["received"]["shown"].as_str().unwrap();
    assert!(shown.starts_with("HTTP/1.1 200 OK\\r\\n"), "{shown}");
    assert!(date["received"]["length"].as_u64().unwrap() > 0);
    assert_eq!(date["received"]["truncated"], false);
    assert!(date["expected"].as_str().unwrap().contains("Date: "));

    let passed = checks.iter().filter(|check| check["status"] == "pass");
    for check in passed {
        assert!(check["problem"].is_null(), "{check}");
    }
    let summary = &json["summary"];
    assert_eq!(summary["checks"], stage_1_check_count());
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["passed"], stage_1_check_count() - 1);
    assert_eq!(summary["skipped"], 0);
}

#[test]
fn json_of_a_correct_server_passes_and_exits_0() {
    let root = Root::new();
    let target = correct_server(&root);
    let output = run_checker(&target, &["--format", "json"]);
    let json = json_of(&output);
    assert_eq!(output.status.code(), Some(0), "{json:#}");
    assert_eq!(json["summary"]["failed"], 0);
    assert_eq!(json["summary"]["passed"], stage_1_check_count());
}

#[test]
fn tap_has_a_plan_a_point_per_check_and_a_yaml_block_for_failures() {
    let root = Root::new();
    let target = server_without_date(&root);
    let output = run_checker(&target, &["--format", "tap"]);
    assert_eq!(output.status.code(), Some(1));
    let tap = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = tap.lines().collect();
    assert_eq!(lines[0], "TAP version 14");
    assert_eq!(lines[1], format!("1..{}", stage_1_check_count()));
    let points: Vec<&&str> = lines
        .iter()
        .filter(|line| line.starts_with("ok ") || line.starts_with("not ok "))
        .collect();
    assert_eq!(points.len(), stage_1_check_count(), "{tap}");
    for (index, point) in points.iter().enumerate() {
        let number = format!(" {} - ", index + 1);
        assert!(point.contains(&number), "{point} is not test {}", index + 1);
    }
    let failing = lines
        .iter()
        .position(|line| line.starts_with("not ok "))
        .unwrap();
    assert!(lines[failing].contains("- date-header: "), "{tap}");
    assert_eq!(lines[failing + 1], "  ---");
    assert!(
        lines[failing + 2..].contains(&"  problem: \"there is no Date header\""),
        "{tap}"
    );
    assert!(lines.contains(&"  ..."), "{tap}");
    assert!(lines.last().unwrap().starts_with("# "), "{tap}");
}

#[test]
fn text_stays_the_default() {
    let root = Root::new();
    let target = server_without_date(&root);
    let output = run_checker(&target, &["--only", "date-header"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("checking http://"), "{text}");
    assert!(text.contains("FAIL  date-header (stage 1)"), "{text}");
    assert!(text.contains("problem:  there is no Date header"), "{text}");
}

#[test]
fn a_server_that_is_not_there_exits_2_with_one_line() {
    let root = Root::new();
    // A port that was free a moment ago, with nothing listening on it now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let target = Target {
        addr,
        root: root.path.clone(),
        pid: None,
        idle_timeout: None,
        head_timeout: None,
    };
    for format in ["text", "json", "tap"] {
        let output = run_checker(&target, &["--format", format]);
        assert_eq!(output.status.code(), Some(2), "{format}");
        assert!(output.stdout.is_empty(), "{format}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("cannot connect"), "{stderr}");
    }
}
