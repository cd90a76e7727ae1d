//! The exercises at the ends of the chapters: what each asks for, its hints, and
//! the checks that tell when it is done. The list is data, in
//! `crates/exercises/info.toml`, built into the runner.

use std::sync::OnceLock;

use serde::Deserialize;

/// One exercise, as `info.toml` describes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// `ch02-directory-listing`: the chapter, then what it is about. The
    /// starting point is `crates/exercises/start/NAME.rs`.
    pub name: String,
    /// Read from the name.
    #[serde(skip)]
    pub chapter: u8,
    pub title: String,
    /// What the finished exercise does, in a sentence or two.
    pub goal: String,
    /// Shown one at a time by `scripts/exercise hint NAME`, gentlest first.
    pub hints: Vec<String>,
    /// The checks that prove the exercise done. The checks of the chapter's stage
    /// run too: a solution may not break what already worked.
    pub checks: Vec<String>,
    /// Extra options the exercise's server is started with.
    #[serde(default)]
    pub arguments: Vec<String>,
    /// About how long it takes a student who has read the chapter.
    pub minutes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Info {
    exercises: Vec<Exercise>,
}

/// The text of `info.toml`, compiled in, so the runner cannot lose it.
const INFO: &str = include_str!("../../exercises/info.toml");

/// Every exercise, in the order of the book; an error says what is wrong with
/// `info.toml`.
pub fn all() -> Result<&'static [Exercise], String> {
    static PARSED: OnceLock<Result<Vec<Exercise>, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| parse(INFO).map_err(|error| format!("crates/exercises/info.toml: {error}")))
        .as_deref()
        .map_err(Clone::clone)
}

fn parse(text: &str) -> Result<Vec<Exercise>, String> {
    let mut exercises = toml::from_str::<Info>(text).map_err(|error| error.to_string())?.exercises;
    for exercise in &mut exercises {
        exercise.chapter = chapter_of(&exercise.name)
            .ok_or_else(|| format!("{:?} does not start with chNN-", exercise.name))?;
    }
    Ok(exercises)
}

/// 2 for `ch02-directory-listing`.
fn chapter_of(name: &str) -> Option<u8> {
    name.strip_prefix("ch")?.get(..2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    // A panic in a test is a failed test, which is what an unwrap here should mean.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::collections::HashSet;

    #[test]
    fn info_toml_parses_and_names_each_exercise_once() {
        let exercises = all().unwrap();
        assert_eq!(exercises.len(), 16);
        let mut seen = HashSet::new();
        for exercise in exercises {
            assert!(seen.insert(&exercise.name), "{} twice", exercise.name);
            let prefix = format!("ch{:02}-", exercise.chapter);
            assert!(exercise.name.starts_with(&prefix), "{}", exercise.name);
            assert!(!exercise.hints.is_empty(), "{} has no hints", exercise.name);
        }
    }

    #[test]
    fn every_exercise_names_checks_that_exist() {
        for exercise in all().unwrap() {
            assert!(!exercise.checks.is_empty(), "{} has no checks", exercise.name);
            for name in &exercise.checks {
                assert!(
                    crate::checks::find(name).is_some(),
                    "{} names a check {name:?} that does not exist",
                    exercise.name
                );
            }
        }
    }

    #[test]
    fn exercise_checks_have_names_of_their_own() {
        let mut seen: HashSet<&str> = checker::checks::all().iter().map(|c| c.name).collect();
        for check in crate::checks::all() {
            assert!(seen.insert(check.name), "two checks are called {}", check.name);
        }
    }
}
