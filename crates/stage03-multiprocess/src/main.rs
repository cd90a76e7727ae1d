//! `cargo run -p stage03-multiprocess`: a process per connection, serving `html/`.

use common::access_log::AccessLog;
use common::cli::Cli;
use stage03_multiprocess::{NAME, serve_with_a_process_each, start_listening, wait_for_children};

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7803,
        "serves each connection from a process of its own",
    )
    .parse();
    let listener = start_listening(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    // Every client gets a child of its own: stage 3 turns nobody away.
    let fork_for_everyone = |_: &mut _, _, _| true;
    let children =
        serve_with_a_process_each(listener, &arguments.server.root, &log, fork_for_everyone);
    wait_for_children(children);
}
