//! The checker's strict response reader, and its Date check, each shown failing
//! against a tiny server that breaks exactly one rule, and passing against the
//! same server without the flaw (so that a test here can fail at all).

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

mod canned;

use canned::{PAGE, Request, Root, correct_answer, correct_response, now};
use checker::{Outcome, Target};

/// Runs the one check called `name` as stage `stage` and returns its outcome.
fn outcome_of(target: &Target, stage: u8, name: &str) -> Outcome {
    let report = checker::run(target, stage, Some(name), |_| {}).unwrap();
    report.outcome_of(name).cloned().unwrap()
}

/// Asserts the check failed, with a problem that names `rule`.
fn assert_fails_naming(target: &Target, stage: u8, check: &str, rule: &str) {
    match outcome_of(target, stage, check) {
        Outcome::Failed(failure) => assert!(
            failure.problem.contains(rule),
            "{check} failed, but its problem does not say {rule:?}: {}",
            failure.problem
        ),
        other => panic!("{check} should fail for {rule:?}, but: {other:?}"),
    }
}

fn assert_passes(target: &Target, stage: u8, check: &str) {
    let outcome = outcome_of(target, stage, check);
    assert!(matches!(outcome, Outcome::Passed), "{check}: {outcome:?}");
}

/// A 200 for `/` whose head is `head_lines` (each without its line end) joined
/// by `line_end`, then the page.
fn page_with_head(head_lines: &[String], line_end: &str) -> Vec<u8> {
    let mut head = head_lines.join(line_end);
    head.push_str(line_end);
    head.push_str(line_end);
    [head.as_bytes(), PAGE.as_bytes()].concat()
}

/// The lines of a correct head for the page, to break one at a time.
fn correct_head_lines() -> Vec<String> {
    vec![
        "HTTP/1.1 200 OK".into(),
        "Content-Type: text/html".into(),
        format!("Content-Length: {}", PAGE.len()),
        format!("Date: {}", now()),
        "Connection: close".into(),
    ]
}

/// A server that answers `/` with a correct head changed by `change`.
fn page_server(root: &Root, change: fn(&mut Vec<String>)) -> Target {
    canned::start(root, move |_: &Request| {
        let mut lines = correct_head_lines();
        change(&mut lines);
        page_with_head(&lines, "\r\n")
    })
}

#[test]
fn a_correct_server_passes_the_checks_the_broken_ones_fail() {
    let root = Root::new();
    let path = root.path.clone();
    let target = canned::start(&root, move |request| correct_answer(&path, request));
    for check in [
        "answers-get",
        "content-length",
        "date-header",
        "closes-after-response",
    ] {
        assert_passes(&target, 1, check);
    }
    for check in ["head-method", "date-header"] {
        assert_passes(&target, 2, check);
    }
}

#[test]
fn bare_lf_line_endings_fail() {
    let root = Root::new();
    let target = canned::start(&root, |_| page_with_head(&correct_head_lines(), "\n"));
    assert_fails_naming(&target, 1, "answers-get", "line 1 ends in a bare LF");
}

#[test]
fn one_bare_lf_among_crlfs_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| lines[2].push('\n'));
    assert_fails_naming(&target, 1, "answers-get", "bare LF");
}

#[test]
fn a_folded_header_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| {
        lines.insert(1, "X-Note: first part".into());
        lines.insert(2, "  folded onto it".into());
    });
    assert_fails_naming(&target, 1, "answers-get", "obs-fold");
}

#[test]
fn two_different_content_lengths_fail() {
    let root = Root::new();
    let target = page_server(&root, |lines| lines.insert(3, "Content-Length: 7".into()));
    assert_fails_naming(&target, 1, "answers-get", "two different Content-Length");
}

#[test]
fn a_content_length_that_is_not_a_number_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| lines[2].push_str(" bytes"));
    assert_fails_naming(&target, 1, "content-length", "not a decimal number");
}

#[test]
fn whitespace_before_a_colon_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| lines[1] = "Content-Type : text/html".into());
    assert_fails_naming(&target, 1, "answers-get", "whitespace before its colon");
}

#[test]
fn a_bad_status_line_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| lines[0] = "HTTP/1.1 200".into());
    assert_fails_naming(&target, 1, "answers-get", "the status line");
    let target = page_server(&root, |lines| lines[0] = "HTTP/1.1 2OO OK".into());
    assert_fails_naming(&target, 1, "answers-get", "three-digit status code");
    let target = page_server(&root, |lines| lines[0] = "HTTP 200 OK".into());
    assert_fails_naming(&target, 1, "answers-get", "HTTP/1.x");
}

#[test]
fn a_body_after_a_head_response_fails() {
    let root = Root::new();
    let path = root.path.clone();
    let target = canned::start(&root, move |request| {
        let get = Request {
            method: "GET".into(),
            path: request.path.clone(),
        };
        // The flaw: HEAD gets the same bytes as GET, body and all.
        correct_answer(&path, &get)
    });
    assert_fails_naming(&target, 2, "head-method", "response to HEAD");
}

#[test]
fn no_length_and_no_close_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| lines.retain(|line| !line.starts_with("Con")));
    assert_fails_naming(
        &target,
        1,
        "answers-get",
        "neither Content-Length nor Connection: close",
    );
}

#[test]
fn a_response_without_date_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| {
        lines.retain(|line| !line.starts_with("Date"))
    });
    assert_fails_naming(&target, 1, "date-header", "no Date header");
}

#[test]
fn a_date_that_is_not_an_imf_fixdate_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| {
        lines[3] = "Date: Sunday, 06-Nov-94 08:49:37 GMT".into();
    });
    assert_fails_naming(&target, 1, "date-header", "not an IMF-fixdate");
}

#[test]
fn a_date_far_from_now_fails() {
    let root = Root::new();
    let target = page_server(&root, |lines| {
        lines[3] = "Date: Sun, 06 Nov 1994 08:49:37 GMT".into();
    });
    assert_fails_naming(&target, 1, "date-header", "away from the checker's clock");
}

#[test]
fn two_dates_fail() {
    let root = Root::new();
    let target = page_server(&root, |lines| {
        let date = lines[3].clone();
        lines.push(date);
    });
    assert_fails_naming(&target, 1, "date-header", "2 Date headers");
}

#[test]
fn an_error_page_without_date_fails_from_stage_2() {
    let root = Root::new();
    let target = canned::start(&root, |request| {
        if request.path == "/" {
            correct_response("text/html", PAGE.as_bytes(), true)
        } else {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    });
    assert_passes(&target, 1, "date-header");
    assert_fails_naming(&target, 2, "date-header", "no Date header");
}
