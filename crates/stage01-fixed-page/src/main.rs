//! `cargo run -p stage01-fixed-page`: the fixed page on port 7801.

use common::cli::{Cli, listen_or_exit};
use stage01_fixed_page::{NAME, serve_forever};

// ANCHOR: main
fn main() {
    let mut arguments = Cli::new(NAME, 7801, "answers every request with one fixed page").parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    serve_forever(&listener, !arguments.server.quiet);
}
// ANCHOR_END: main
