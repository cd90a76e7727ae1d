//! Looking at a server's process from outside, through Linux's `/proc`: its
//! threads, its children and their states, the CPU time it has used, its memory
//! and its open descriptors.
//!
//! Three files answer everything here. `/proc/PID/stat` is one line of numbers
//! (state, parent, CPU ticks), read by `Stat::read` and nowhere else;
//! `/proc/PID/status` is `Name: value` lines meant for people (threads, resident
//! memory); `/proc/PID/fd` holds one entry per open descriptor.
//!
//! A process can end between two reads, so a scan of all processes skips the
//! ones that vanish, while a question about one named process fails with the
//! `io::Error` of the read (usually "No such file or directory": wrong pid).

use std::collections::HashMap;
use std::fs;
use std::io;

/// The fields of `/proc/PID/stat` the course needs.
struct Stat {
    /// `R` running, `S` sleeping, `Z` zombie (exited, not yet reaped), ...
    state: char,
    parent: u32,
    /// CPU time in clock ticks, user plus system, of the process itself.
    own_ticks: u64,
    /// CPU time of the children it has reaped with `wait`, and of theirs.
    reaped_children_ticks: u64,
}

impl Stat {
    /// Parses `/proc/PID/stat`. Its second field is the command name in
    /// parentheses, and a program may name itself `a) b (c`, so the fields are
    /// counted from the *last* `)`. After it come field 3 (the state) and on.
    fn read(pid: u32) -> io::Result<Stat> {
        let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let malformed = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected /proc/{pid}/stat"),
            )
        };
        let (_, after_name) = text.rsplit_once(')').ok_or_else(malformed)?;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // `proc(5)` numbers the fields from 1, the name being 2: field N is at
        // index N - 3 here.
        let number = |field: usize| -> io::Result<u64> {
            fields
                .get(field - 3)
                .and_then(|text| text.parse().ok())
                .ok_or_else(malformed)
        };
        let state = fields
            .first()
            .and_then(|text| text.chars().next())
            .ok_or_else(malformed)?;
        Ok(Stat {
            state,
            parent: u32::try_from(number(4)?).map_err(|_| malformed())?,
            own_ticks: number(14)? + number(15)?,
            reaped_children_ticks: number(16)? + number(17)?,
        })
    }
}

/// How many clock ticks make a second. Usually 100, but the C library knows.
fn ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100) as f64
}

/// The value of one `Name:` line of `/proc/PID/status`, first word only
/// (`VmRSS:    6804 kB` gives 6804).
fn status_number(pid: u32, name: &str) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no {name} line in /proc/{pid}/status"),
            )
        })
}

/// How many threads the process runs (the `Threads:` line of its status).
pub fn thread_count(pid: u32) -> io::Result<usize> {
    Ok(status_number(pid, "Threads")? as usize)
}

/// The process's resident memory in bytes (`VmRSS`): its pages that are in RAM
/// now, counting in full the ones it shares with other processes.
pub fn resident_bytes(pid: u32) -> io::Result<u64> {
    Ok(status_number(pid, "VmRSS")? * 1024)
}

/// How many file descriptors the process has open.
pub fn open_descriptors(pid: u32) -> io::Result<usize> {
    Ok(fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// The CPU time the process has used so far, user and system, in seconds.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    Ok(Stat::read(pid)?.own_ticks as f64 / ticks_per_second())
}

/// A child process and its state letter (`S` sleeping, `R` running, `Z` zombie:
/// exited but not yet reaped by its parent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Child {
    pub pid: u32,
    pub state: char,
}

/// Every process now running (or a zombie), with what its `stat` says.
fn all_processes() -> Vec<(u32, Stat)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, Stat::read(pid).ok()?)))
        .collect()
}

/// The children of `pid`, each with its state.
pub fn children(pid: u32) -> Vec<Child> {
    all_processes()
        .into_iter()
        .filter(|(_, stat)| stat.parent == pid)
        .map(|(child, stat)| Child {
            pid: child,
            state: stat.state,
        })
        .collect()
}

/// The process ids of `pid`'s children that are zombies.
pub fn zombie_children(pid: u32) -> Vec<u32> {
    children(pid)
        .into_iter()
        .filter(|child| child.state == 'Z')
        .map(|child| child.pid)
        .collect()
}

/// The process `root` followed by all its live descendants: children,
/// grandchildren, and so on (stage 3 serves from forked children).
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut children_of: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, stat) in all_processes() {
        children_of.entry(stat.parent).or_default().push(pid);
    }
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        if let Some(children) = children_of.get(&tree[next]) {
            tree.extend(children);
        }
        next += 1;
    }
    tree
}

/// CPU seconds a process tree has used so far: the root's own time, what the
/// children it has reaped used, and what its live descendants are using.
pub fn tree_cpu_seconds(root: u32) -> io::Result<f64> {
    let root_stat = Stat::read(root)?;
    let mut ticks = root_stat.own_ticks + root_stat.reaped_children_ticks;
    for pid in process_tree(root).into_iter().skip(1) {
        // A descendant that has just ended counts in its parent's reaped time
        // once it is reaped; in between, its time is briefly missing.
        if let Ok(stat) = Stat::read(pid) {
            ticks += stat.own_ticks;
        }
    }
    Ok(ticks as f64 / ticks_per_second())
}

/// Memory of a whole process tree in bytes: the proportional set size (PSS),
/// which divides each page shared by several processes among them, so a forked
/// child's shared code is not counted once per child as resident memory would
/// be. Falls back to resident memory where PSS cannot be read.
pub fn tree_memory_bytes(root: u32) -> io::Result<u64> {
    let memory = |pid| proportional_bytes(pid).or_else(|_| resident_bytes(pid));
    let descendants: u64 = process_tree(root)
        .into_iter()
        .skip(1)
        .filter_map(|pid| memory(pid).ok())
        .sum();
    Ok(memory(root)? + descendants)
}

/// The `Pss:` line of `/proc/PID/smaps_rollup`, in bytes.
fn proportional_bytes(pid: u32) -> io::Result<u64> {
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Pss: line"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        // Burn a little CPU so the count is not zero on a fast machine.
        let mut sum = 0u64;
        for index in 0..2_000_000u64 {
            sum = sum.wrapping_add(index * index);
        }
        assert!(sum > 0);
        assert!(thread_count(me).unwrap() >= 1);
        assert!(resident_bytes(me).unwrap() > 0);
        assert!(open_descriptors(me).unwrap() >= 3);
        // Own time first: read the other way round, the clock may tick between
        // the two reads and make the tree look smaller than the process.
        let own = cpu_seconds(me).unwrap();
        assert!(own >= 0.0);
        assert!(tree_cpu_seconds(me).unwrap() >= own);
        assert!(tree_memory_bytes(me).unwrap() > 0);
        assert_eq!(process_tree(me).first(), Some(&me));
    }

    #[test]
    fn a_name_with_spaces_and_parentheses_is_skipped_whole() {
        // A process is named after the file it was started from: link `sleep` to
        // a name that looks like the fields that follow it ("R" running, parent
        // 1). A link, not a copy: a copy's write descriptor, inherited by a
        // process another test forks at that moment, makes exec fail with
        // "Text file busy".
        let directory = std::env::temp_dir().join(format!("proc-name-{}", std::process::id()));
        fs::create_dir_all(&directory).unwrap();
        let odd = directory.join("a) R 1 (b");
        std::os::unix::fs::symlink("/bin/sleep", &odd).unwrap();
        let mut child = std::process::Command::new(&odd).arg("5").spawn().unwrap();
        // The kernel renames the child during `exec`, a moment after `spawn`
        // may already have returned.
        let comm = format!("/proc/{}/comm", child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut name = fs::read_to_string(&comm).unwrap_or_default();
        while name.trim_end() != "a) R 1 (b" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            name = fs::read_to_string(&comm).unwrap_or_default();
        }
        let stat = Stat::read(child.id());
        let found = children(std::process::id());
        child.kill().unwrap();
        child.wait().unwrap();
        fs::remove_dir_all(&directory).unwrap();
        assert_eq!(name.trim_end(), "a) R 1 (b");
        assert_eq!(stat.unwrap().parent, std::process::id());
        assert!(found.iter().any(|other| other.pid == child.id()));
    }

    #[test]
    fn a_zombie_is_seen_until_reaped() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !zombie_children(std::process::id()).contains(&child.id())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(zombie_children(std::process::id()).contains(&child.id()));
        child.wait().unwrap();
        assert!(!zombie_children(std::process::id()).contains(&child.id()));
    }
}
