//! The checks of the exercises that end the chapters. Each proves one behaviour
//! an exercise asks for; `scripts/exercise check ID` runs them together with the
//! checks of the exercise's stage, so a solution may not break what worked.

use super::Check;

mod ch02;
mod ch03;
mod ch04;
mod ch05;
mod ch06;
mod ch07;
mod ch08;

pub fn checks() -> Vec<Check> {
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
