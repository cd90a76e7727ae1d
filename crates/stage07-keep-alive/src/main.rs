//! `cargo run -p stage07-keep-alive`: stage 7's polling loop with kept-alive
//! connections, serving `html/`.

use std::sync::Arc;

use stage07_keep_alive::policy::KeepWhatIsAsked;
use stage07_keep_alive::{NAME, cli, serve};

fn main() {
    let arguments = cli(
        NAME,
        "keeps HTTP/1.1 connections alive, serving them all from one polling thread",
    )
    .parse();
    serve(NAME, arguments, Arc::new(KeepWhatIsAsked));
}
