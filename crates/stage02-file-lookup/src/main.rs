//! `cargo run -p stage02-file-lookup`: the files of `html/`, one client at a time.

use common::access_log::AccessLog;
use common::cli::{Cli, listen_or_exit};
use stage02_file_lookup::{NAME, serve_one_at_a_time};

fn main() {
    let mut arguments = Cli::new(
        NAME,
        7802,
        "serves the files of a folder, one client at a time",
    )
    .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let log = AccessLog::new(arguments.server.quiet);
    serve_one_at_a_time(&listener, &arguments.server.root, &log);
}
