//! `cargo run -p stage04-multithread`: a thread per connection, or a pool with
//! `--pool N`, serving `html/`.

use stage04_multithread::{NAME, cli, serve};

fn main() {
    let arguments = cli(NAME, "serves each connection from a thread, or from a pool").parse();
    // Stage 4 itself: each connection handed to a thread as it is.
    serve(NAME, arguments, |site, _pool| site);
}
