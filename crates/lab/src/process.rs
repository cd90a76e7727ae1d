//! What a server process costs, read from `/proc`: memory and CPU time of the
//! process and every process it forked (stage 3 serves from children).

use std::collections::HashMap;
use std::fs;

/// Linux reports CPU times in "clock ticks" of USER_HZ, which is 100 on every
/// architecture the course runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// The process and all its live descendants.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(parent) = stat_fields(pid).and_then(|fields| fields.get(1)?.parse().ok()) {
                children.entry(parent).or_default().push(pid);
            }
        }
    }
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        if let Some(more) = children.get(&tree[index]) {
            tree.extend(more);
        }
        index += 1;
    }
    tree
}

/// The fields of `/proc/PID/stat` after the command name, which is in
/// parentheses and may itself hold spaces and parentheses. Index 0 is the state,
/// 1 the parent's pid, 11 and 12 utime and stime, 13 and 14 the reaped children's.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &text[text.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_string).collect())
}

/// Memory of the whole tree in bytes: the proportional set size (PSS), which
/// splits pages that forked processes share between them, so a fork's shared
/// code is not counted once per child. Falls back to RSS when PSS is unreadable.
pub fn tree_memory_bytes(root: u32) -> u64 {
    process_tree(root).into_iter().map(memory_of).sum()
}

fn memory_of(pid: u32) -> u64 {
    let field = |file: &str, name: &str| -> Option<u64> {
        let text = fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
        let line = text.lines().find(|line| line.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    field("smaps_rollup", "Pss:")
        .or_else(|| field("status", "VmRSS:"))
        .unwrap_or(0)
}

/// CPU seconds the tree has used so far: the server's own user and system time,
/// what its reaped children used, and what its live descendants are using.
pub fn tree_cpu_seconds(root: u32) -> f64 {
    let ticks_at = |fields: &[String], index: usize| -> f64 {
        fields
            .get(index)
            .and_then(|text| text.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let mut ticks = 0.0;
    for (position, pid) in process_tree(root).into_iter().enumerate() {
        let Some(fields) = stat_fields(pid) else {
            continue;
        };
        ticks += ticks_at(&fields, 11) + ticks_at(&fields, 12);
        if position == 0 {
            ticks += ticks_at(&fields, 13) + ticks_at(&fields, 14);
        }
    }
    ticks / TICKS_PER_SECOND
}

/// How many threads the process has.
pub fn thread_count(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|line| line.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(process_tree(me).contains(&me));
        assert!(tree_memory_bytes(me) > 0);
        assert!(thread_count(me).unwrap_or(0) >= 1);
        assert!(tree_cpu_seconds(me) >= 0.0);
    }
}
