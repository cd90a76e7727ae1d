//! Stopping on Ctrl-C or SIGTERM the way stages 4 and 5 do (chapter 4 explains
//! it): a thread waits for the signal, raises a flag, and wakes the accept loop
//! by connecting to the server; the loop sees the flag and stops accepting.

use std::net::{SocketAddr, TcpListener, TcpStream};

use common::shutdown::StopFlag;
use stage01_fixed_page::accept::after_accept_error;

/// Arranges for Ctrl-C and SIGTERM to raise the flag returned and to wake an
/// `accept` waiting on `listener`. Call it before starting any other thread, and
/// block the signals (`common::shutdown::StopSignals::block`) before
/// the listener opens, as stage 4's `main` does.
pub use common::shutdown::stop_on_signal;

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
