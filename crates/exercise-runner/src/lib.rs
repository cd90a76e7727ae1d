//! The runner behind `scripts/exercise`: the exercises at the ends of the
//! chapters, their checks, and the tools a teacher needs to trust them.
//!
//! - [`exercises`]: the list, read from `crates/exercises/info.toml`;
//! - [`checks`]: the exercises' own checks, built on the checker's client.
//!
//! It talks to the exercises' servers only over TCP, like the checker.

pub mod checks;
pub mod exercises;
