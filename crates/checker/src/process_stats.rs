//! What `/proc` tells about a running server: the CPU time it has used and the
//! file descriptors it holds. Linux only, like the servers of the later stages.

use std::fs;
use std::io;

/// The CPU time a process has used so far, user and system, in seconds.
///
/// `/proc/PID/stat` counts it in clock ticks: fields 14 and 15, counted after
/// the command name in parentheses (which may itself hold spaces).
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/PID/stat");
    let (_, after_name) = text.rsplit_once(')').ok_or_else(malformed)?;
    // After the name, field 3 (the state) comes first, so utime (14) is the 12th.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> io::Result<f64> {
        fields
            .get(index)
            .and_then(|field| field.parse::<u64>().ok())
            .map(|ticks| ticks as f64)
            .ok_or_else(malformed)
    };
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100) as f64;
    Ok((ticks(11)? + ticks(12)?) / ticks_per_second)
}

/// How many file descriptors a process has open.
pub fn open_descriptors(pid: u32) -> io::Result<usize> {
    Ok(fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        // Burn a little CPU so the count is not zero on a fast machine.
        let mut sum = 0u64;
        for index in 0..2_000_000u64 {
            sum = sum.wrapping_add(index * index);
        }
        assert!(sum > 0);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(open_descriptors(pid).unwrap() >= 3);
    }
}
