//! The checker's own proof that `threads-back-to-baseline` can fail: a server
//! whose connection threads never end, run inside this test process and checked
//! with this process's own id.
//!
//! This file holds a single test on purpose. The check counts the threads of the
//! whole process, and tests in one file run side by side, each on a thread.

// A panic in a test is a failed test, which is what an unwrap here should mean.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::thread;

use checker::Target;
use common::access_log::AccessLog;
use harness::SiteCopy;
use stage02_file_lookup::blocking::serve_connection;

#[test]
fn threads_that_never_end_are_caught() {
    let site = SiteCopy::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = site.path.clone();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let root = root.clone();
            thread::spawn(move || {
                if let Ok(peer) = stream.peer_addr() {
                    serve_connection(&mut stream, peer, &root, &AccessLog::new(true));
                }
                // THE FLAW: the thread never ends, as if it waited for a message
                // that nobody will ever send.
                loop {
                    thread::park();
                }
            });
        }
    });
    let target = Target {
        addr,
        root: site.path.clone(),
        pid: Some(std::process::id()),
        idle_timeout: None,
        head_timeout: None,
    };
    let report = checker::run(&target, 4, Some("threads-back-to-baseline"), |_| {}).unwrap();
    println!("{report}");
    assert_eq!(report.failures(), ["threads-back-to-baseline"]);
}
