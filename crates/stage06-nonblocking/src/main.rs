//! `cargo run -p stage06-nonblocking`: stage 6's polling loop, serving `html/`.

use stage06_nonblocking::connection::Extensions;
use stage06_nonblocking::{NAME, cli, serve};

// ANCHOR: main
fn main() {
    let arguments = cli(
        NAME,
        "serves many clients from one thread by polling non-blocking sockets",
    )
    .parse();
    // Stage 6 itself: connections as this chapter builds them, unchanged.
    serve(NAME, arguments, Extensions::default());
}
// ANCHOR_END: main
