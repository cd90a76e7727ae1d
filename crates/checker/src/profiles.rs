//! Profiles: the stages' check sets named by behaviour, for a server that is
//! no stage of the course.
//!
//! A student's own server, or nginx, was not built chapter by chapter; its
//! author knows how it behaves ("one client at a time", "keeps connections
//! open") rather than which stage it matches. Each profile is the check set of
//! the stage that introduces that behaviour.

/// A behaviour, and the stage whose checks prove it.
pub struct Profile {
    pub name: &'static str,
    pub stage: u8,
    pub description: &'static str,
}

/// Every profile, from the simplest server to the most demanding.
pub const PROFILES: [Profile; 4] = [
    Profile {
        name: "one-at-a-time",
        stage: 2,
        description: "serves files to one client at a time, closing after each response",
    },
    Profile {
        name: "concurrent",
        stage: 3,
        description: "serves many clients at once (processes, threads or tasks), \
                      closing after each response",
    },
    Profile {
        name: "keep-alive",
        stage: 7,
        description: "keeps HTTP/1.1 connections open, answers pipelined requests, \
                      closes idle ones",
    },
    Profile {
        name: "event-loop",
        stage: 8,
        description: "keep-alive from one readiness loop: thousands of connections, \
                      no CPU while idle",
    },
];

/// The profile called `name`, or a sentence that lists the ones there are.
pub fn find(name: &str) -> Result<&'static Profile, String> {
    PROFILES
        .iter()
        .find(|profile| profile.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = PROFILES.iter().map(|profile| profile.name).collect();
            format!("--profile is one of {}, not '{name}'", names.join(", "))
        })
}
