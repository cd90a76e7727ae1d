//! `cargo run -p stage07-keep-alive`: stage 7's polling loop with kept-alive
//! connections, serving `html/`.

use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::{StopSignals, stop_flag_on_signal};
use stage07_keep_alive::connection::DEFAULT_HEAD_TIMEOUT;
use stage07_keep_alive::{DEFAULT_IDLE_TIMEOUT_SECS, NAME, Settings, serve_by_polling};

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7807,
        "keeps HTTP/1.1 connections alive, serving them all from one polling thread",
    )
    .option(
        "--idle-timeout",
        "SECS",
        "close a connection that stays quiet this long [default: 5]",
    )
    .option(
        "--head-timeout",
        "SECS",
        "answer 408 to a request head not whole this long after its first byte [default: 10]",
    )
    .option(
        "--poll-sleep-ms",
        "N",
        "rest N ms after a round that found nothing to do [default: 0, never rest]",
    )
    .parse();
    let idle_timeout = arguments
        .value("--idle-timeout")
        .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
    if idle_timeout == 0 {
        exit_with_startup_error(NAME, "--idle-timeout must be at least 1 second");
    }
    let head_timeout = arguments.seconds("--head-timeout", DEFAULT_HEAD_TIMEOUT);
    // First, before any other thread exists: Ctrl-C and SIGTERM raise `stop`.
    let blocked = StopSignals::block_or_exit(NAME);
    let stop = stop_flag_on_signal(NAME, &blocked);
    let listener = listen_or_exit(NAME, &mut arguments.server);
    if let Err(error) = listener.set_nonblocking(true) {
        exit_with_startup_error(
            NAME,
            &format!("cannot make the listener non-blocking: {error}"),
        );
    }
    let settings = Settings {
        root: arguments.server.root.clone(),
        // Queued and written without waiting: a stdout nobody reads must not stop the loop.
        log: AccessLog::non_blocking(arguments.server.quiet),
        idle_timeout: Duration::from_secs(idle_timeout),
        head_timeout,
        poll_sleep: Duration::from_millis(arguments.value("--poll-sleep-ms").unwrap_or(0)),
    };
    serve_by_polling(listener, &settings, &stop);
}
