//! What chapter 3 fixes, seen by the checker: stage 2 against the checks of
//! stage 3. It serves one connection at a time, so a client that sends nothing,
//! or half a request, holds up everyone else; those two checks must fail here.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use harness::ServerProcess;

const SERVER: &str = env!("CARGO_BIN_EXE_stage02-file-lookup");

#[test]
fn stage_2_fails_the_stage_3_checks_for_slow_clients() {
    let server = ServerProcess::start(SERVER, &[]).unwrap();
    let report = checker::check_stage(&server.target(), 3).unwrap();
    assert_eq!(
        report.failures(),
        ["idle-client-does-not-block", "half-request-does-not-block"],
        "{report}"
    );
}
