//! Turning Ctrl-C (SIGINT) and `kill` (SIGTERM) into an orderly stop.
//!
//! A signal interrupts whatever the process is doing, and a signal handler may do
//! almost nothing safely: no locks, no allocation, no printing. So we do not handle
//! these signals at all. We block them, and one thread waits for them with
//! `sigwait`, as ordinary code that may do anything. The stage decides what
//! "stop" means: close the listener, wake the accept loop, finish what is in flight.
//!
//! The mask of blocked signals is inherited by every thread started afterwards, so
//! the signals must be blocked before the stage starts any other thread; otherwise
//! the kernel could deliver the signal to a thread that does not block it, and the
//! process would die mid-response. The type system keeps that order for us: only
//! [`StopSignals::block`] makes a [`StopSignals`], and what starts threads (the
//! signal-waiting thread here, the stages' pools and workers) asks for one.

use std::io;
use std::marker::PhantomData;
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

// ANCHOR: stop_signals
/// Proof that SIGINT (Ctrl-C) and SIGTERM (`kill PID`, what service managers
/// send) are blocked in this thread, and so in every thread it starts from now
/// on. Only [`StopSignals::block`] makes one. It is not `Send`: a signal mask
/// belongs to one thread, so the proof must not travel to another.
#[derive(Debug)]
pub struct StopSignals {
    signals: SigSet,
    _this_thread_only: PhantomData<*const ()>,
}

impl StopSignals {
    /// Blocks SIGINT and SIGTERM in the calling thread. Call it first in `main`,
    /// before anything starts a thread.
    pub fn block() -> io::Result<StopSignals> {
        let mut signals = SigSet::empty();
        signals.add(Signal::SIGINT);
        signals.add(Signal::SIGTERM);
        signals.thread_block().map_err(io::Error::from)?;
        Ok(StopSignals {
            signals,
            _this_thread_only: PhantomData,
        })
    }

    /// [`StopSignals::block`], or one line on stderr and exit code 1.
    pub fn block_or_exit(name: &str) -> StopSignals {
        StopSignals::block().unwrap_or_else(|error| {
            exit_with_startup_error(name, &format!("cannot block Ctrl-C and SIGTERM: {error}"))
        })
    }

    /// The blocked signals, for a `signalfd` that reads them (stage 8).
    pub fn set(&self) -> &SigSet {
        &self.signals
    }
}
// ANCHOR_END: stop_signals

// ANCHOR: on_stop_signal
/// Starts a thread that waits for a stop signal and calls `on_stop`. A second
/// signal while the server is finishing ends the process at once. The thread
/// inherits the blocked mask, so `sigwait` is the only way the signals arrive.
pub fn on_stop_signal(
    blocked: &StopSignals,
    on_stop: impl FnOnce() + Send + 'static,
) -> io::Result<()> {
    let signals = blocked.signals;
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

/// A [`StopFlag`] that the first stop signal raises (stages 6 and 7, whose loops
/// look at the flag on every round), or one line on stderr and exit code 1.
pub fn stop_flag_on_signal(name: &str, blocked: &StopSignals) -> StopFlag {
    let stop = StopFlag::new();
    let raised = stop.clone();
    if let Err(error) = on_stop_signal(blocked, move || raised.raise()) {
        exit_with_startup_error(name, &format!("cannot watch for stop signals: {error}"));
    }
    stop
}
// ANCHOR_END: on_stop_signal

// ANCHOR: stop
/// Arranges for Ctrl-C and SIGTERM to stop a blocking accept loop (stages 4 and
/// 5): the flag is raised, and the loop, asleep in `accept`, is woken.
pub fn stop_on_signal(name: &str, blocked: &StopSignals, listener: &TcpListener) -> StopFlag {
    let stop = StopFlag::new();
    let raised = stop.clone();
    let wake_up_address = listener.local_addr().map(reachable);
    let installed = on_stop_signal(blocked, move || {
        raised.raise();
        // The main thread sleeps in `accept`. Closing the listener from another
        // thread does not wake it on Linux, and `shutdown` on a listening socket
        // does there but not portably. What wakes it everywhere is what it
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
