//! `cargo run -p stage06-nonblocking`: stage 6's polling loop, serving `html/`.

use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopSignals, stop_flag_on_signal};
use stage06_nonblocking::{NAME, serve_by_polling};

// ANCHOR: main
fn main() {
    let mut arguments = Cli::new(
        NAME,
        7806,
        "serves many clients from one thread by polling non-blocking sockets",
    )
    .option(
        "--poll-sleep-ms",
        "N",
        "rest N ms after a round that found nothing to do [default: 0, never rest]",
    )
    .parse();
    let poll_sleep = Duration::from_millis(arguments.value("--poll-sleep-ms").unwrap_or(0));
    // First, before any other thread exists: Ctrl-C and SIGTERM raise `stop`.
    let blocked = StopSignals::block_or_exit(NAME);
    let stop = stop_flag_on_signal(NAME, &blocked);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    // `accept` on a non-blocking listener returns `WouldBlock` when nobody waits.
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            NAME,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    // Queued and written without waiting: a stdout nobody reads must not stop the loop.
    let log = AccessLog::non_blocking(arguments.server.quiet);
    serve_by_polling(listener, &arguments.server.root, &log, poll_sleep, &stop);
}
// ANCHOR_END: main
