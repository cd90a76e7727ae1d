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

/// Two helpers the checks take from the checker's own HTTP code, which shares
/// nothing with the servers.
mod borrowed {
    pub use checker::http_date::format_http_date as http_date;
    pub use checker::response_reader::find_head_end;
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
