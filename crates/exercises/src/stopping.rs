//! Stopping on Ctrl-C or SIGTERM the way stages 4 and 5 do (chapter 4 explains
//! it): a thread waits for the signal, raises a flag, and wakes the accept loop
//! by connecting to the server; the loop sees the flag and stops accepting.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::accept::after_accept_error;
use common::cli::exit_with_startup_error;
use common::shutdown::{StopFlag, on_stop_signal};

/// Arranges for Ctrl-C and SIGTERM to raise the flag returned and to wake an
/// `accept` waiting on `listener`. Call it before starting any other thread, and
/// block the signals (`common::shutdown::stop_signals().thread_block()`) before
/// the listener opens, as stage 4's `main` does.
pub fn stop_on_signal(name: &str, listener: &TcpListener) -> StopFlag {
    let stop = StopFlag::new();
    let raised = stop.clone();
    let wake_up_address = listener.local_addr().map(reachable);
    let installed = on_stop_signal(move || {
        raised.raise();
        // The accept loop sleeps in `accept`; a connection is what wakes it.
        if let Ok(address) = wake_up_address {
            let _ = TcpStream::connect_timeout(&address, Duration::from_secs(1));
        }
    });
    if let Err(error) = installed {
        exit_with_startup_error(name, &format!("cannot watch for stop signals: {error}"));
    }
    stop
}

/// The next connection on a `std` listener, or `None` once the flag is raised.
pub fn next_connection(
    name: &str,
    listener: &TcpListener,
    stop: &StopFlag,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = listener.accept();
        if stop.is_raised() {
            // Whatever woke us (our own wake-up connection, or a client that came
            // too late) is dropped, which closes it.
            return None;
        }
        match accepted {
            Ok(connection) => return Some(connection),
            Err(error) => after_accept_error(name, &error),
        }
    }
}

/// An address we can connect to: `0.0.0.0` is reached through loopback.
fn reachable(mut address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    address
}
