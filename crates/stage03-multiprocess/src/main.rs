//! `cargo run -p stage03-multiprocess`: a process per connection, serving `html/`.

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use stage03_multiprocess::{NAME, serve_with_a_process_each, signals, wait_for_children};

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7803,
        "serves each connection from a process of its own",
    )
    .parse();
    // Signals first: from the moment the `listening on` line is out, a Ctrl-C
    // must mean an orderly stop.
    if let Err(error) = signals::install() {
        exit_with_startup_error(NAME, &format!("cannot set up signal handling: {error}"));
    }
    let listener = listen_or_exit(NAME, &mut arguments.server);
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            NAME,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    let log = AccessLog::new(arguments.server.quiet);
    let children = serve_with_a_process_each(listener, &arguments.server.root, &log);
    wait_for_children(children);
}
