//! `cargo run -p stage04-multithread`: a thread per connection, or a pool with
//! `--pool N`, serving `html/`.

use std::sync::Arc;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopSignals, stop_on_signal};
use stage04_multithread::{
    DEFAULT_READ_TIMEOUT, NAME, Site, serve_from_a_pool, serve_with_a_thread_each,
};

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7804,
        "serves each connection from a thread, or from a pool",
    )
    .option(
        "--pool",
        "N",
        "serve from a pool of N threads [default: a new thread per connection]",
    )
    .option(
        "--read-timeout",
        "SECS",
        "how long a client may stay silent (or stop reading) [default: 10]",
    )
    .parse();
    let pool_size: Option<usize> = arguments.value("--pool");
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    if pool_size == Some(0) {
        exit_with_startup_error(NAME, "--pool must be above zero");
    }
    // Hold Ctrl-C and SIGTERM back from the start: `stop_on_signal` can only take
    // them up once the listener exists, and one that came in between must wait
    // for it rather than end the process.
    let blocked = StopSignals::block_or_exit(NAME);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let stop = stop_on_signal(NAME, &blocked, &listener);
    let site = Arc::new(Site {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        client_timeout: read_timeout,
    });
    match pool_size {
        None => serve_with_a_thread_each(listener, &stop, &site, &blocked),
        Some(size) => serve_from_a_pool(listener, &stop, size, &site, &blocked),
    }
}
