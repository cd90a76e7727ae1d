//! Stage 4 with a hand-written thread pool, in the design of the Rust Book's
//! final project and of the `threadpool` crate: every worker takes its next job
//! from one channel, whose receiving end they share behind a `Mutex`.
//!
//! Kept here to be broken on purpose. Its workers take their jobs with
//! `while let Ok(job) = receiver.lock()...recv()`, and the lock's guard, a
//! temporary of the `while let` condition, lives until the end of the loop's
//! body: the worker holds the lock while it runs the job. The other workers wait
//! for the lock instead of for jobs, so the pool serves one connection at a time,
//! and one silent client holds up everyone, as in stage 2.
//!
//! `--fixed` runs the workers with the lock released before the job starts.
//! Chapter 4's experiment runs both; the checker's `idle-client-does-not-block`
//! fails against the broken one.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::access_log::AccessLog;
use common::cli::{Cli, listen_or_exit};
use stage02_file_lookup::blocking::serve_connection;

const NAME: &str = "mistake-held-lock-pool";

/// Work for a pool thread: serve one connection.
type Job = Box<dyn FnOnce() + Send + 'static>;

fn main() {
    let mut arguments = Cli::new(NAME, 7804, "stage 4 with a pool that holds its lock")
        .switch("--fixed", "release the lock before running a job")
        .mistake_of("stage04-multithread")
        .parse();
    let listener = listen_or_exit(NAME, &mut arguments.server);
    let worker = if arguments.switch("--fixed") {
        work_with_lock_released
    } else {
        work_with_lock_held
    };
    let pool = Pool::new(4, worker);
    let root = Arc::new(arguments.server.root.clone());
    let log = AccessLog::new(arguments.server.quiet);
    for (stream, peer) in listener.incoming().flatten().filter_map(with_peer) {
        let root = Arc::clone(&root);
        pool.execute(Box::new(move || serve(stream, peer, &root, &log)));
    }
}

fn with_peer(stream: TcpStream) -> Option<(TcpStream, SocketAddr)> {
    let peer = stream.peer_addr().ok()?;
    Some((stream, peer))
}

fn serve(mut stream: TcpStream, peer: SocketAddr, root: &Path, log: &AccessLog) {
    if stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .is_ok()
    {
        serve_connection(&mut stream, peer, root, log);
    }
}

// ANCHOR: pool
/// A fixed number of threads that run the jobs sent down one channel.
struct Pool {
    jobs: Sender<Job>,
    _workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(size: usize, work: fn(&Mutex<Receiver<Job>>)) -> Pool {
        let (jobs, receiver) = mpsc::channel::<Job>();
        // One receiver for all the workers: a channel has only one receiving end,
        // so they share it, and the Mutex lets one worker at a time take a job.
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = (0..size)
            .map(|_| {
                let receiver = Arc::clone(&receiver);
                thread::spawn(move || work(&receiver))
            })
            .collect();
        Pool {
            jobs,
            _workers: workers,
        }
    }

    fn execute(&self, job: Job) {
        // Fails only when every worker has gone, and then nobody could serve.
        let _ = self.jobs.send(job);
    }
}
// ANCHOR_END: pool

// ANCHOR: held_lock
/// THE MISTAKE. The guard returned by `lock()` is a temporary of the `while let`
/// condition, and such a temporary lives until the end of the loop's body: this
/// worker keeps the lock while `job()` runs, and no other worker can take a job.
fn work_with_lock_held(receiver: &Mutex<Receiver<Job>>) {
    while let Ok(job) = receiver
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .recv()
    {
        job();
    }
}
// ANCHOR_END: held_lock

// ANCHOR: lock_released
/// The fix: take the job in a `let` statement of its own. The guard is dropped at
/// the end of that statement, so the lock is free again before the job runs.
fn work_with_lock_released(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match next {
            Ok(job) => job(),
            Err(_) => return, // the pool is gone: no job will ever come
        }
    }
}
// ANCHOR_END: lock_released
