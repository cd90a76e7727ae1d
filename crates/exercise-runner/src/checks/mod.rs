//! The checks of the exercises that end the chapters. Each proves one behaviour
//! an exercise asks for; `scripts/exercise check ID` runs them together with the
//! checks of the exercise's stage, so a solution may not break what worked.
//! They are built on the checker's client and helpers, which share nothing
//! with the servers.

use checker::checks::Check;

mod ch02;
mod ch03;
mod ch04;
mod ch05;
mod ch06;
mod ch07;
mod ch08;
mod open_files;
mod per_client;
mod support;

/// Every exercise's checks.
pub fn all() -> Vec<Check> {
    [
        ch02::checks(),
        ch03::checks(),
        ch04::checks(),
        per_client::checks(),
        ch05::checks(),
        ch06::checks(),
        ch07::checks(),
        ch08::checks(),
        open_files::checks(),
    ]
    .concat()
}

/// The exercise check called `name`.
pub fn find(name: &str) -> Option<Check> {
    all().into_iter().find(|check| check.name == name)
}
