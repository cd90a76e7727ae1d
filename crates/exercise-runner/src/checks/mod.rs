//! The checks of the exercises that end the chapters. Each proves one behaviour
//! an exercise asks for; `scripts/exercise check ID` runs them together with the
//! checks of the exercise's stage, so a solution may not break what worked.

use checker::checks::Check;

mod ch02;
mod ch03;
mod ch04;
mod ch05;
mod ch06;
mod ch07;
mod ch08;

/// Two helpers the checks borrow from stage 1 until the checker offers its own:
/// this is the one place to point elsewhere (and then `stage01-fixed-page` leaves
/// this crate's dependencies).
mod borrowed {
    pub use stage01_fixed_page::date::http_date;
    pub use stage01_fixed_page::head::find_head_end;
}

/// Every exercise's checks.
pub fn all() -> Vec<Check> {
    [
        ch02::checks(),
        ch03::checks(),
        ch04::checks(),
        ch05::checks(),
        ch06::checks(),
        ch07::checks(),
        ch08::checks(),
    ]
    .concat()
}

/// The exercise check called `name`.
pub fn find(name: &str) -> Option<Check> {
    all().into_iter().find(|check| check.name == name)
}
