//! Reference solution of ch08-per-client-limit (chapter 8).
//!
//! The admission counts the open connections of each client address. A client
//! at its limit has its new connection refused with a 429; stage 8 answers it
//! and closes it at once, and it never becomes a connection. Stage 8 tells
//! `left` about every end, so no way out forgets to count it out.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use stage02_file_lookup::response::Status;
use stage08_epoll::admission::{Admission, Refusal};

const NAME: &str = "ch08-per-client-limit";

/// How many connections one client address may hold, unless `--max-per-client`
/// says otherwise.
const DEFAULT_MAX_PER_CLIENT: usize = 100;

/// The client's doing, not the server's trouble: 429 rather than 503.
const TOO_MANY_CONNECTIONS: Refusal = Refusal {
    status: Status::new(429, "Too Many Requests"),
    reason: "too many connections from your address",
};

fn main() {
    let arguments = stage08_epoll::cli(NAME, "stage 8 with a limit on connections per client")
        .option(
            "--max-per-client",
            "N",
            "the most connections one client address may have open at once [default: 100]",
        )
        .parse();
    let max_per_client = arguments.count("--max-per-client", DEFAULT_MAX_PER_CLIENT);
    let limit = PerClientLimit {
        max_per_client,
        open_per_client: HashMap::new(),
    };
    stage08_epoll::serve(NAME, arguments, limit);
}

/// At most `max_per_client` connections open from one address.
struct PerClientLimit {
    max_per_client: usize,
    /// Open connections by client address; an address with none has no entry,
    /// or the map would grow by one for every address that ever connected.
    open_per_client: HashMap<IpAddr, usize>,
}

impl Admission for PerClientLimit {
    fn admit(&mut self, peer: SocketAddr) -> Result<(), Refusal> {
        let open = self.open_per_client.entry(peer.ip()).or_insert(0);
        if *open >= self.max_per_client {
            return Err(TOO_MANY_CONNECTIONS);
        }
        *open += 1;
        Ok(())
    }

    fn left(&mut self, peer: SocketAddr) {
        let client = peer.ip();
        if let Some(open) = self.open_per_client.get_mut(&client) {
            *open -= 1;
            if *open == 0 {
                self.open_per_client.remove(&client);
            }
        }
    }
}
