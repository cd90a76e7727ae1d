//! Looking at a server's process from outside, through Linux's `/proc`: how
//! many threads it runs, and which children it has and in what state.

use std::fs;

/// The `Threads:` line of `/proc/PID/status`.
pub fn thread_count(pid: u32) -> Option<usize> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
}

/// The process ids of `pid`'s children, with the state letter of each (`S`
/// sleeping, `R` running, `Z` zombie: exited but not yet reaped by its parent).
pub fn children(pid: u32) -> Vec<(u32, char)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|process| match parent_and_state(process) {
            Some((parent, state)) if parent == pid => Some((process, state)),
            _ => None,
        })
        .collect()
}

/// The process ids of `pid`'s children that are zombies.
pub fn zombie_children(pid: u32) -> Vec<u32> {
    children(pid)
        .into_iter()
        .filter(|&(_, state)| state == 'Z')
        .map(|(child, _)| child)
        .collect()
}

/// The parent's pid and the state letter from `/proc/PID/stat`, whose second
/// field (the command name, in parentheses) may itself hold spaces and `)`.
fn parent_and_state(pid: u32) -> Option<(u32, char)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((parent, state))
}
