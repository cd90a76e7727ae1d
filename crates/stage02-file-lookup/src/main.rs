//! `cargo run -p stage02-file-lookup`: the files of `html/`, one client at a time.

use stage02_file_lookup::site::respond;
use stage02_file_lookup::{NAME, run};

fn main() {
    run(
        NAME,
        "serves the files of a folder, one client at a time",
        respond,
    );
}
