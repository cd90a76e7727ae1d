//! Exercise ch08-per-client-limit (chapter 8): a limit on connections per client.
//!
//! Goal: one client address may hold at most `--max-per-client` connections
//! open at once. A connection beyond that gets `429 Too Many Requests` at once
//! and is closed, while clients from other addresses are served as usual. When
//! one of its connections ends (the client closes it, resets it, asks for
//! `Connection: close`, or leaves it idle until the timeout), the client may
//! open another.
//!
//! Stage 8 holds ten thousand connections easily, and that is the danger:
//! every one is a file descriptor, and one careless or hostile client can open
//! them all, until `accept` fails with EMFILE for everybody else. nginx's
//! `limit_conn` is there for this.
//!
//! Stage 8's server asks an `Admission` at every accept and tells it at every
//! close (`stage08_epoll::admission`); its own admits everyone. Yours is below.
//!
//! Check your work:  scripts/exercise check ch08-per-client-limit
//! Stuck?            scripts/exercise hint ch08-per-client-limit

use std::net::SocketAddr;

use stage08_epoll::admission::{Admission, Refusal};

const NAME: &str = "ch08-per-client-limit";

/// How many connections one client address may hold, unless `--max-per-client`
/// says otherwise. Many browsers open six per site; a hundred leaves room for
/// many people behind one address (an office, a mobile carrier's gateway).
const DEFAULT_MAX_PER_CLIENT: usize = 100;

fn main() {
    let arguments = stage08_epoll::cli(NAME, "stage 8 with a limit on connections per client")
        .option(
            "--max-per-client",
            "N",
            "the most connections one client address may have open at once [default: 100]",
        )
        .parse();
    let max_per_client = arguments.count("--max-per-client", DEFAULT_MAX_PER_CLIENT);
    stage08_epoll::serve(NAME, arguments, PerClientLimit { max_per_client });
}

/// Who may open a connection. Start here: for now, everyone may.
struct PerClientLimit {
    max_per_client: usize,
}

impl Admission for PerClientLimit {
    fn admit(&mut self, peer: SocketAddr) -> Result<(), Refusal> {
        let _ = (peer, self.max_per_client);
        Ok(())
    }

    fn left(&mut self, peer: SocketAddr) {
        let _ = peer;
    }
}
