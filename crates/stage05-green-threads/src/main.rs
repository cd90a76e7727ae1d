//! `cargo run -p stage05-green-threads`: a coroutine per connection, serving `html/`.

use stage05_green_threads::{NAME, cli, serve};

fn main() {
    let arguments = cli(NAME, "serves each connection from a coroutine").parse();
    // Stage 5 itself: each connection served by the site as it is.
    serve(NAME, arguments, |site| site);
}
