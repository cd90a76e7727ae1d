//! Turning Ctrl-C (SIGINT) and `kill` (SIGTERM) into an orderly stop.
//!
//! A signal interrupts whatever the process is doing, and a signal handler may do
//! almost nothing safely: no locks, no allocation, no printing. So we do not handle
//! these signals at all. We block them, and one thread waits for them with
//! `sigwait`, as ordinary code that may do anything. The stage decides what
//! "stop" means: close the listener, wake the accept loop, finish what is in flight.
//!
//! The mask of blocked signals is inherited by every thread started afterwards, so
//! [`on_stop_signal`] must run before the stage starts any other thread; otherwise
//! the kernel could deliver the signal to a thread that does not block it, and the
//! process would die mid-response.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

use crate::cli::exit_with_startup_error;

/// A flag that one thread raises and others check: "stop accepting".
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> StopFlag {
        StopFlag::default()
    }

    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// SIGINT (Ctrl-C) and SIGTERM (`kill PID`, what service managers send).
pub fn stop_signals() -> SigSet {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
}

// ANCHOR: on_stop_signal
/// Blocks SIGINT and SIGTERM in this thread and in every thread it starts later,
/// then starts a thread that waits for one of them and calls `on_stop`. A second
/// signal while the server is finishing ends the process at once.
pub fn on_stop_signal(on_stop: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let signals = stop_signals();
    signals.thread_block().map_err(io::Error::from)?;
    thread::Builder::new()
        .name("stop-signal".into())
        .spawn(move || {
            if signals.wait().is_err() {
                return;
            }
            eprintln!(
                "stopping: no new connections, finishing the ones in progress (again to quit now)"
            );
            on_stop();
            if signals.wait().is_ok() {
                eprintln!("stopped at once");
                process::exit(130);
            }
        })?;
    Ok(())
}
// ANCHOR_END: on_stop_signal

// ANCHOR: stop
/// Arranges for Ctrl-C and SIGTERM to stop a blocking accept loop (stages 4 and
/// 5). This must run before any other thread starts: `on_stop_signal` blocks the
/// signals in this thread, and only threads started afterwards inherit that.
pub fn stop_on_signal(name: &str, listener: &TcpListener) -> StopFlag {
    let stop = StopFlag::new();
    let raised = stop.clone();
    let wake_up_address = listener.local_addr().map(reachable);
    let installed = on_stop_signal(move || {
        raised.raise();
        // The main thread sleeps in `accept`, and nothing another thread does to
        // the listener reliably wakes it: on Linux, closing a socket does not
        // interrupt an `accept` already waiting on it. What does wake it is what it
        // waits for, a connection. So we connect to ourselves; the accept loop
        // then sees the raised flag and stops.
        if let Ok(address) = wake_up_address {
            let _ = TcpStream::connect_timeout(&address, Duration::from_secs(1));
        }
    });
    if let Err(error) = installed {
        exit_with_startup_error(name, &format!("cannot watch for stop signals: {error}"));
    }
    stop
}
// ANCHOR_END: stop

/// An address we can connect to: a server listening on every address
/// (`0.0.0.0`) is reached through the loopback address.
fn reachable(mut address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    address
}
