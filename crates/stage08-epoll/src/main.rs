//! `cargo run -p stage08-epoll`: stage 8's epoll loop, serving `html/`.

use stage08_epoll::admission::AdmitEveryone;
use stage08_epoll::{NAME, cli, serve};

fn main() {
    let arguments = cli(
        NAME,
        "serves thousands of connections from one thread, woken by epoll",
    )
    .parse();
    serve(NAME, arguments, AdmitEveryone);
}
