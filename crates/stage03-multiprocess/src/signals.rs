//! The signals stage 3 handles, and waiting for "a connection or a signal".
//!
//! Three signals matter. SIGCHLD says that at least one child has exited and can
//! be reaped (signals do not queue: children that end together may send one).
//! SIGINT (Ctrl-C) and SIGTERM (`kill PID`) ask the server to stop. Stage 4 and
//! later wait for signals in a thread of their own (`common::shutdown`), but a
//! process that forks must stay single-threaded, so here they get handlers.
//!
//! A handler interrupts the process wherever it is, even inside `malloc` holding
//! its lock, so it may do almost nothing: ours only count the signal in an atomic
//! variable. The accept loop looks at that count between connections.
//!
//! There is a trap in "look, then wait". If a signal arrived after the loop looked
//! at the flag but before it went to sleep in `accept`, the loop would sleep until
//! the next client came, however long that is. So the three signals stay blocked
//! (held back by the kernel) while the loop works, and `ppoll` unblocks them only
//! for as long as it waits: in one system call, with no moment in between.

use std::net::TcpListener;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// How many times SIGINT or SIGTERM has arrived.
static STOP_REQUESTS: AtomicUsize = AtomicUsize::new(0);

// ANCHOR: handlers
/// The handler for SIGINT and SIGTERM: count, and nothing else. An atomic
/// increment is one of the few things a signal handler may safely do.
extern "C" fn count_stop_request(_signal: libc::c_int) {
    STOP_REQUESTS.fetch_add(1, Ordering::SeqCst);
}

/// The handler for SIGCHLD. It does nothing: its only purpose is to exist, so the
/// signal interrupts `ppoll` and the loop reaps at once. (With no handler, SIGCHLD
/// is ignored and would wake nobody.)
extern "C" fn note_child_exit(_signal: libc::c_int) {}

/// The signals the accept loop watches.
fn watched_signals() -> SigSet {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGCHLD);
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
}

/// Installs the handlers and blocks the watched signals outside `ppoll`.
pub fn install() -> nix::Result<()> {
    watched_signals().thread_block()?;
    // No SA_RESTART: a system call interrupted by one of these signals fails with
    // EINTR instead of quietly starting again, so whoever waited gets to look.
    let stop = SigAction::new(
        SigHandler::Handler(count_stop_request),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SA_NOCLDSTOP: tell us when a child exits, not when it is merely paused.
    let child = SigAction::new(
        SigHandler::Handler(note_child_exit),
        SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: both handlers only touch an atomic variable, which is safe in a
    // signal handler, and we do not use the handlers that were there before.
    unsafe {
        sigaction(Signal::SIGINT, &stop)?;
        sigaction(Signal::SIGTERM, &stop)?;
        sigaction(Signal::SIGCHLD, &child)?;
    }
    Ok(())
}
// ANCHOR_END: handlers

/// True once SIGINT or SIGTERM has arrived.
pub fn stop_requested() -> bool {
    stop_requests() > 0
}

/// How many stop signals have arrived: a second one means "quit now".
pub fn stop_requests() -> usize {
    STOP_REQUESTS.load(Ordering::SeqCst)
}

// ANCHOR: wait_for_connection
/// Sleeps until a connection is waiting to be accepted (`true`) or a watched
/// signal has arrived (`false`). The signals are unblocked only inside `ppoll`,
/// so one that came while we were busy is delivered the moment we start waiting.
pub fn wait_for_connection(listener: &TcpListener) -> bool {
    let mut waiting_for = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    match ppoll(&mut waiting_for, None, Some(SigSet::empty())) {
        Ok(_) => true,
        Err(Errno::EINTR) => false,
        Err(error) => {
            eprintln!("waiting for connections failed: {error}");
            false
        }
    }
}
// ANCHOR_END: wait_for_connection

// ANCHOR: become_child
/// Sets up a new child's signals. The child inherits its parent's handlers and
/// blocked signals, which are the parent's business, not the child's.
///
/// Ctrl-C in a terminal sends SIGINT to every process of the foreground group:
/// the parent and all its children. A child that died of it would cut its
/// client's response in half, so children ignore SIGINT and SIGTERM; the parent
/// decides when to stop, and waits for them. Each child ends on its own when its
/// response is sent or its client times out (and `kill -KILL` still works).
pub fn become_child() {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: ignoring a signal, or restoring its default action, installs no
    // code that could run at an awkward moment.
    let installed = unsafe {
        sigaction(Signal::SIGINT, &ignore)
            .and_then(|_| sigaction(Signal::SIGTERM, &ignore))
            .and_then(|_| sigaction(Signal::SIGCHLD, &default))
    };
    if installed.is_ok() {
        let _ = watched_signals().thread_unblock();
    }
}
// ANCHOR_END: become_child

/// Unblocks the watched signals, so that they interrupt a blocking `waitpid`.
pub fn allow_interruptions() {
    let _ = watched_signals().thread_unblock();
}
