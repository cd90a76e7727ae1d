//! `cargo run -p stage05-green-threads`: a coroutine per connection, serving `html/`.

use std::sync::Arc;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopSignals, stop_on_signal};
use stage05_green_threads::{
    DEFAULT_READ_TIMEOUT, DEFAULT_STACK_WORDS, MAX_STACK_WORDS, MIN_STACK_WORDS, NAME, Site,
    compile_the_request_parser, configure_scheduler, coroutine_listener,
    serve_with_a_coroutine_each,
};

fn main() {
    let mut arguments = Cli::new(NAME, 7805, "serves each connection from a coroutine")
        .option(
            "--workers",
            "N",
            "threads that run the coroutines [default: one per CPU core]",
        )
        .option(
            "--stack-words",
            "N",
            "each coroutine's stack, in machine WORDS, not bytes; an odd number makes may \
             print each coroutine's stack use [default: 4096, 32 KiB]",
        )
        .option(
            "--read-timeout",
            "SECS",
            "how long a client may stay silent (or stop reading) [default: 10]",
        )
        .parse();
    let workers: Option<usize> = arguments.value("--workers");
    let stack_words = arguments
        .value("--stack-words")
        .unwrap_or(DEFAULT_STACK_WORDS);
    let read_timeout = arguments.seconds("--read-timeout", DEFAULT_READ_TIMEOUT);
    if workers == Some(0) {
        exit_with_startup_error(NAME, "--workers must be above zero");
    }
    if !(MIN_STACK_WORDS..=MAX_STACK_WORDS).contains(&stack_words) {
        let message = format!("--stack-words must be from {MIN_STACK_WORDS} to {MAX_STACK_WORDS}");
        exit_with_startup_error(NAME, &message);
    }
    // Hold Ctrl-C and SIGTERM back from the start: `stop_on_signal` can only take
    // them up once the listener exists, and one that came in between must wait
    // for it rather than end the process.
    let blocked = StopSignals::block_or_exit(NAME);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    compile_the_request_parser();
    // Before `may` starts its threads: they must inherit the blocked signals.
    let stop = stop_on_signal(NAME, &blocked, &listener);
    configure_scheduler(workers, stack_words, &blocked);
    let listener = coroutine_listener(listener);
    let site = Arc::new(Site {
        root: arguments.server.root.clone(),
        log: AccessLog::new(arguments.server.quiet),
        client_timeout: read_timeout,
    });
    serve_with_a_coroutine_each(listener, &stop, &site);
}
