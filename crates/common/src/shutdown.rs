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
use std::process;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use nix::sys::signal::{SigSet, Signal};

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
