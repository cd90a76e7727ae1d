//! `cargo run -p stage08-epoll`: stage 8's epoll loop, serving `html/`.

use std::process;
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, exit_with_startup_error, listen_or_exit};
use common::shutdown::StopSignals;
use stage07_keep_alive::connection::DEFAULT_HEAD_TIMEOUT;
use stage08_epoll::{DEFAULT_IDLE_TIMEOUT_SECS, NAME, Server, raise_descriptor_limit};

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7808,
        "serves thousands of connections from one thread, woken by epoll",
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
    .switch(
        "--edge",
        "edge-triggered epoll (EPOLLET) instead of level-triggered",
    )
    .parse();
    let idle_timeout = arguments
        .value("--idle-timeout")
        .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
    if idle_timeout == 0 {
        exit_with_startup_error(NAME, "--idle-timeout must be at least 1 second");
    }
    let head_timeout = arguments.seconds("--head-timeout", DEFAULT_HEAD_TIMEOUT);
    // First, before any other thread exists: the stop signals wait to be read.
    let blocked = StopSignals::block_or_exit(NAME);
    raise_descriptor_limit();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let server = Server::new(
        listener,
        &blocked,
        arguments.switch("--edge"),
        Duration::from_secs(idle_timeout),
        arguments.server.root.clone(),
        // Queued and written without waiting: a stdout nobody reads must not stop the loop.
        AccessLog::non_blocking(arguments.server.quiet),
    );
    let mut server = match server {
        Ok(server) => server.with_head_timeout(head_timeout),
        Err(error) => exit_with_startup_error(NAME, &format!("cannot set up epoll: {error}")),
    };
    if let Err(error) = server.run() {
        eprintln!("{NAME}: {error}");
        process::exit(1);
    }
}
