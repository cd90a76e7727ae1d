//! `lab cpu-time` reading this test process.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::process::Command;

/// `lab cpu-time` reports the CPU time a process has used, which only grows.
#[test]
fn cpu_time_reports_seconds_used_so_far() {
    let seconds_used = || {
        let output = Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(["cpu-time", "--pid", &std::process::id().to_string()])
            .output()
            .unwrap();
        let json = String::from_utf8(output.stdout).unwrap();
        assert!(output.status.success(), "{json}");
        let number = json
            .trim()
            .strip_prefix("{\"cpu_seconds\":")
            .and_then(|rest| rest.strip_suffix('}'))
            .unwrap_or_else(|| panic!("unexpected output: {json}"));
        number.parse::<f64>().unwrap()
    };
    let me = std::process::id();
    let before = seconds_used();
    // Burn CPU until the kernel has counted a few clock ticks more (a busy
    // machine may take longer to give them; the deadline only stops a hang).
    let counted = checker::process::cpu_seconds(me).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut sum = 0u64;
    while checker::process::cpu_seconds(me).unwrap() < counted + 0.03
        && std::time::Instant::now() < deadline
    {
        for _ in 0..100_000 {
            sum = sum.wrapping_add(std::hint::black_box(sum) | 1);
        }
    }
    assert!(sum > 0);
    assert!(seconds_used() > before);
}
