//! The checker's own proof that the concurrency checks can fail, with small
//! servers run inside this test process. (Stage 2 failing the idle-client checks
//! is in stage 2's tests; the zombie check failing is in stage 3's, which start
//! the real forking programs: a test process never forks.)

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use checker::Target;
use common::access_log::AccessLog;
use harness::SiteCopy;
use stage02_file_lookup::blocking::serve_connection;

/// A thread per connection, like stage 4, but with room for only `slots`
/// connections at a time: one more is closed at once, unanswered. Servers with a
/// fixed table of clients (the classic `select` server has one) behave this way.
/// A slot is free again when the client has closed its connection, not when the
/// answer is sent; otherwise whether the 17th client finds room would depend on
/// how quickly this loop accepts, and the check's outcome on the machine's load.
fn start_with_slots(slots: usize, site: &SiteCopy) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = site.path.clone();
    let served_root = root.clone();
    let busy = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            if busy.load(Ordering::SeqCst) >= slots {
                continue; // dropped: closed without a word
            }
            busy.fetch_add(1, Ordering::SeqCst);
            let (root, busy) = (served_root.clone(), Arc::clone(&busy));
            thread::spawn(move || {
                if let Ok(peer) = stream.peer_addr() {
                    serve_connection(&mut stream, peer, &root, &AccessLog::new(true));
                }
                // The answer ends with our FIN, as before; the slot stays taken
                // until the client closes its side too (at most 10 s).
                let _ = stream.shutdown(Shutdown::Write);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut rest = [0; 1024];
                while matches!(stream.read(&mut rest), Ok(count) if count > 0) {}
                busy.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Target {
        addr,
        root,
        pid: None,
        idle_timeout: None,
        head_timeout: None,
    }
}

fn concurrency_failures(slots: usize) -> Vec<&'static str> {
    let site = SiteCopy::new().unwrap();
    let target = start_with_slots(slots, &site);
    let report = checker::check_stage(&target, 3).unwrap();
    println!("{slots} slots:\n{report}");
    report.failures()
}

#[test]
fn a_thread_per_connection_passes_the_stage_3_checks() {
    assert_eq!(concurrency_failures(1000), Vec::<&str>::new());
}

#[test]
fn a_server_with_room_for_16_clients_fails_many_at_once() {
    assert_eq!(concurrency_failures(16), ["many-clients-at-once"]);
}
