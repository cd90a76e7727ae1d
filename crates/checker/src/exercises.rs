//! The exercises at the ends of the chapters: what each asks for, its hints, and
//! the checks that tell when it is done. `scripts/exercise` reads this list.

/// One exercise.
pub struct Exercise {
    /// `ch02-directory-listing`: the chapter, then what it is about. The file to
    /// edit is `crates/exercises/src/bin/ID.rs`.
    pub id: &'static str,
    pub chapter: u8,
    pub title: &'static str,
    /// What the finished exercise does, in a sentence or two.
    pub goal: &'static str,
    /// Shown one at a time by `scripts/exercise hint ID`, gentlest first.
    pub hints: &'static [&'static str],
    /// The checks that prove the exercise done. The checks of the chapter's stage
    /// run too: a solution may not break what already worked.
    pub checks: &'static [&'static str],
    /// Extra options the exercise's server is started with.
    pub arguments: &'static [&'static str],
    /// About how long it takes a student who has read the chapter.
    pub minutes: u32,
}

/// Every exercise, in the order of the book.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "ch02-directory-listing",
        chapter: 2,
        title: "List the files of a folder",
        goal: "A folder without index.html gets an HTML page that lists its files, each a working \
               link; names escaped in the HTML and percent-encoded in the links.",
        hints: &[
            "common::resolve::resolve_under_root gives you the folder a path names (never one \
             outside the root); Path::is_dir tells you it is a folder. Let respond() answer \
             everything else, including GET and HEAD rules.",
            "std::fs::read_dir lists a folder. Sort the names so the page is the same every time.",
            "Write each link as an absolute path: the request's path, a slash if it lacks one, \
             and the encoded name. A relative link would resolve against the parent folder when \
             the URL has no trailing slash.",
            "Escape &, < and > (and \" inside attributes) in what you show; percent-encode every \
             byte of a name that is not a letter, a digit or one of - . _ ~ in what you link to.",
            "Response::from_bytes(Status::OK, \"text/html; charset=utf-8\", page) builds the \
             response; set omit_body for HEAD.",
        ],
        checks: &["listing-links-work", "listing-escapes-names"],
        arguments: &[],
        minutes: 40,
    },
    Exercise {
        id: "ch02-conditional-get",
        chapter: 2,
        title: "Last-Modified and 304 Not Modified",
        goal: "Files carry Last-Modified; If-Modified-Since not older than the file gets 304 \
               with no body, anything else the whole file.",
        hints: &[
            "respond() gives you a Response whose body is Body::File { file, .. } when a file \
             was found; File::metadata()?.modified() is its modification time.",
            "common::response::http_date(time) writes the date in the one format HTTP servers \
             send; push (\"Last-Modified\", date) onto the response's extra_headers.",
            "To compare, read the client's date back into a SystemTime. The format is fixed: \
             \"Sun, 06 Nov 1994 08:49:37 GMT\". Split it on spaces and colons.",
            "HTTP dates have whole seconds and file times have nanoseconds: compare whole \
             seconds, or a file is always newer than its own Last-Modified.",
            "For the 304, change the status to Status::new(304, \"Not Modified\") and set \
             omit_body: a 304 never has a body. An unreadable date is ignored, not an error.",
        ],
        checks: &["last-modified", "if-modified-since"],
        arguments: &[],
        minutes: 45,
    },
    Exercise {
        id: "ch02-range-requests",
        chapter: 2,
        title: "Send part of a file",
        goal: "Range: bytes=a-b, a- and -n get 206 with Content-Range and exactly those bytes; a \
               range past the end gets 416.",
        hints: &[
            "Only a 200 with a file body can become a 206: answer everything else as respond() did.",
            "Parse the header into a first and a last byte, both counted from 0 and both \
             included: bytes=0-99 is 100 bytes. bytes=-10 means the last ten.",
            "Body::File streams `length` bytes from wherever the file's read position is: \
             file.seek(SeekFrom::Start(first)) and a length of last - first + 1 make the 206.",
            "Content-Range: bytes FIRST-LAST/SIZE goes in extra_headers; Content-Length is \
             written for you from the body's length.",
            "A first byte at or past the end of the file is 416 Range Not Satisfiable, with \
             Content-Range: bytes */SIZE. A header you cannot read is ignored: send the whole file.",
        ],
        checks: &["range-request", "range-not-satisfiable"],
        arguments: &[],
        minutes: 45,
    },
    Exercise {
        id: "ch03-max-children",
        chapter: 3,
        title: "A cap on live children",
        goal: "With --max-children N, never more than N children at once: past the cap, a new \
               client gets 503 with Retry-After at once, from the parent, without a fork; once a \
               child has ended and been reaped, clients are served again.",
        hints: &[
            "The parent already counts its children: `children` goes up at each fork and down \
             by what reap_finished_children() returns. Compare it with max_children after \
             accept, before the fork.",
            "At the cap, answer in the parent and `continue` the loop: no fork. \
             common::site::error_response(Status::SERVICE_UNAVAILABLE, reason, root) builds the \
             503, and already adds Retry-After: 1; common::response::write_response writes it.",
            "Do not read the request before refusing. The parent is a single process: while it \
             waits for one client to send, it accepts nobody, which is stage 2's weakness all \
             over again. The check sends a client that says nothing.",
            "Writing a few hundred bytes to a fresh connection does not wait, because its send \
             buffer is empty; set_nonblocking(true) on the stream first makes sure it never \
             does. Dropping the stream then closes it.",
            "A child that has just exited still counts until its SIGCHLD brings the loop round \
             to reap it, so a client may be refused a moment longer than strictly needed. That \
             is what Retry-After is for.",
        ],
        checks: &["children-capped", "capped-server-serves-again"],
        arguments: &["--max-children", "64"],
        minutes: 35,
    },
    Exercise {
        id: "ch03-prefork",
        chapter: 3,
        title: "Fork the children in advance",
        goal: "With --processes N, fork N children at start; each accepts and serves one \
               connection after another and names itself in X-Served-By: PID. The parent only \
               reaps and replaces children that die: no fork per request.",
        hints: &[
            "Turn the loop inside out. The parent forks N times before anyone connects; each \
             child runs an accept loop of its own and serves the connections it accepts itself, \
             instead of forking for them. A child never returns from its loop: it ends with \
             _exit, as stage 3's children do.",
            "Every child inherited the listening socket, and the kernel lets them all accept \
             from it. Keep stage 3's way of waiting: signals::wait_for_connection, then accept. \
             All waiting children wake for each connection and only one gets it; the others see \
             WouldBlock and go back to waiting.",
            "Keep the children's signal setup as the parent's (do not call become_child): the \
             signals stay blocked while a child serves and arrive in its ppoll, so a Ctrl-C ends \
             each child between two connections, never in the middle of one.",
            "The parent now waits only for signals. SigSet::empty().suspend() (sigsuspend) \
             unblocks them and sleeps in one call, as ppoll does. When it returns, reap: change \
             reap_finished_children to return the pids it collected (WaitStatus::pid()), drop \
             them from your list of children, and fork until there are N again.",
            "X-Served-By: serve the connection with common::blocking::serve_connection_with and \
             a closure that calls respond() and pushes (\"X-Served-By\", \
             std::process::id().to_string()) onto extra_headers. On a stop, the parent sends \
             SIGTERM to each child (nix::sys::signal::kill) and waits for them.",
        ],
        checks: &["prefork-serves-from-children", "prefork-replaces-children"],
        arguments: &["--processes", "4"],
        minutes: 60,
    },
    Exercise {
        id: "ch04-status-page",
        chapter: 4,
        title: "A status page for the pool",
        goal: "GET /status answers a text/plain page: requests: N (every request read so far, \
               this one included), busy: N (pool threads serving a connection) and queued: N \
               (connections waiting for a thread).",
        hints: &[
            "Threads share memory: put what the page needs in Site, which every connection's \
             thread already shares through an Arc. To see each request, serve with \
             common::blocking::serve_connection_with and a closure that calls a method of your \
             own, which calls respond() for every path but /status.",
            "Many threads add to the count at once, so a plain u64 will not do (Rust refuses to \
             let two threads change one). std::sync::atomic::AtomicU64 and fetch_add(1, \
             Ordering::Relaxed) add in one indivisible step; Relaxed is enough for a count that \
             orders nothing else.",
            "Count a request when it is read, before its answer is made: then the page counts \
             itself, and a request whose answer is still being written already counts.",
            "threadpool counts for you: active_count() is the number of busy threads and \
             queued_count() the jobs waiting. A clone of a ThreadPool is another handle on the \
             same pool, so Site can hold one: create the pool in main, before the Site.",
            "Response::from_bytes(Status::OK, \"text/plain; charset=utf-8\", page) with the page \
             \"requests: {}\\nbusy: {}\\nqueued: {}\\n\"; set omit_body for HEAD. Then try it: \
             hold the pool with a few `nc 127.0.0.1 7804 &` and watch /status with curl.",
        ],
        checks: &["status-counts-requests", "status-shows-busy-and-queued"],
        arguments: &["--pool", "4"],
        minutes: 35,
    },
    Exercise {
        id: "ch04-per-client-limit",
        chapter: 4,
        title: "At most N connections per client",
        goal: "With --per-client N, one client address holds at most N connections at once: \
               the next gets 429 Too Many Requests with Retry-After at once, without a thread; \
               other addresses are served; an ended connection no longer counts.",
        hints: &[
            "The accept loop and the connection threads must share one table: address -> \
             connections open. A HashMap<IpAddr, usize> in a Mutex, in an Arc, does it; \
             peer.ip() is the address.",
            "Count a connection in the accept loop, before its thread starts, and refuse there: \
             then the next accept already sees it. Check and add under one lock, so that the \
             test and the change are a single step.",
            "Counting out is the hard part: a connection can end in many ways (answered, client \
             gone, timeout, even a panic). Make a small struct whose Drop takes the count back \
             down, create it when you count in, and move it into the thread's closure: it is \
             dropped when the thread ends, whichever way.",
            "Refuse without reading the request, in the accept loop: a silent client over its \
             limit must not hold anything. Status::new(429, \"Too Many Requests\"), \
             common::site::error_response for the page, a Retry-After header in extra_headers, \
             and write_response on the stream set non-blocking.",
            "Remove an address from the map when its count falls to zero, or the map grows with \
             every address that ever connected. To try it by hand, curl --interface 127.0.0.2 \
             makes curl another client: on Linux all of 127.x.y.z is this machine.",
        ],
        checks: &["per-client-limit", "per-client-slots-freed"],
        arguments: &["--per-client", "64"],
        minutes: 45,
    },
    Exercise {
        id: "ch05-head-deadline",
        chapter: 5,
        title: "A deadline for the request head",
        goal: "With --head-deadline SECS, a client has SECS from being accepted to send its \
               whole head; one that trickles it more slowly gets 408 Request Timeout, however \
               steadily it sends. A head sent in pieces in time is served as before.",
        hints: &[
            "A read timeout bounds one wait; a deadline bounds them all. Note the moment the \
             connection is accepted, add the deadline, and before each read, work out how much \
             time is left.",
            "serve_connection reads through any type that implements Read, Write and \
             common::blocking::BlockingStream. Wrap the CoroutineStream in a struct of your own \
             (a newtype, as chapter 5's CoroutineStream wraps may's socket) and give it the \
             deadline: your read() is where it is enforced.",
            "In read(), set the socket's read timeout to the smaller of the read timeout and the \
             time left, then read. When no time is left, return \
             Err(io::Error::new(io::ErrorKind::TimedOut, ...)) without reading: serve_connection \
             already answers a timed-out read with 408.",
            "set_read_timeout(Some(Duration::ZERO)) is an error, not \"do not wait\": check for \
             no time left before you set it.",
            "The deadline is for the head. Once the answer is being written (your write() is \
             called), the head has been read: stop applying the deadline, so that the lingering \
             close after an error answer keeps the read timeout it sets for itself.",
        ],
        checks: &["head-deadline"],
        arguments: &["--head-deadline", "2"],
        minutes: 40,
    },
    Exercise {
        id: "ch05-connection-limit",
        chapter: 5,
        title: "Serve N at once, park the rest",
        goal: "With --max-connections N, at most N connections are served at the same time; the \
               others wait until one ends, parked in their coroutines, without blocking a worker \
               thread.",
        hints: &[
            "What you need is a counting semaphore: N slots, a connection takes one before it is \
             served (waiting while there is none) and gives it back when it ends.",
            "Take the slot inside the coroutine, in Site::serve, not in the accept loop: the \
             accept loop would stop accepting while it waits, and a Ctrl-C could not wake it.",
            "The wait must park the coroutine, not block its thread. std::sync::Mutex and \
             Condvar block the worker thread, and with it every coroutine queued on it, \
             including the ones whose end you are waiting for: with more waiters than workers \
             the server stops for good. may::sync has coroutine-aware versions.",
            "may::sync::Semphore (spelled that way) is the semaphore: Semphore::new(n), wait() \
             takes a slot, post() gives one back. Keep it in Site, which every coroutine shares.",
            "Give the slot back on every way a connection ends: wrap it in a small struct whose \
             Drop calls post(), and hold one for as long as serve() runs.",
        ],
        checks: &["connection-limit-waits", "connection-limit-parks"],
        arguments: &["--max-connections", "4", "--workers", "2"],
        minutes: 35,
    },
    Exercise {
        id: "ch06-request-timeout",
        chapter: 6,
        title: "A deadline for the request head",
        goal: "A client whose request head is not complete --request-timeout seconds after it \
               connected gets 408 Request Timeout and the close, even if it sends a byte now \
               and then; a slow download is not cut.",
        hints: &[
            "The loop calls make_progress on every connection in every round, even when \
             nothing arrived: a connection can look at the clock itself, no change to the \
             loop needed.",
            "Read the option in main with arguments.value(\"--request-timeout\"), and hand \
             the Duration to each new connection through the closure you give serve().",
            "Give the Reading state a deadline, fixed when the connection is made: \
             Instant::now() + timeout. Do not move it when bytes arrive, or a client that \
             sends a byte a second keeps you forever (that is the slowloris attack).",
            "When the deadline has passed and the head is still not whole, switch to Sending \
             with error_response(Status::REQUEST_TIMEOUT, ...), exactly as prepare_answer \
             does for a head that is too large.",
            "The client may still be sending: set unread_input, so the connection lingers \
             after the 408 instead of closing on unread bytes, which would reset it and could \
             destroy the answer. Only Reading has a deadline: Sending never times out here.",
        ],
        checks: &["request-timeout", "request-timeout-slow-head"],
        arguments: &["--request-timeout", "2"],
        minutes: 40,
    },
    Exercise {
        id: "ch06-sendfile",
        chapter: 6,
        title: "Let the kernel send the files",
        goal: "File bodies leave through sendfile(2), from the page cache straight to the \
               socket; partial sends are finished later, HEAD still gets no body, and a small \
               page still leaves in one write.",
        hints: &[
            "Only Outgoing changes: the connection calls new(), write_to() and reads \
             bytes_sent and body_length, and none of that needs to look different.",
            "nix::sys::sendfile::sendfile(socket, file, None, count) is the call. With no \
             offset it starts at the file's position and moves it on, as read() does, so \
             keep the File itself instead of a Take<File>, and count what is left yourself.",
            "On a non-blocking socket sendfile behaves like write: it may send less than \
             asked, and fails with Errno::EAGAIN when the send buffer is full. That is \
             WriteOutcome::SocketFull, exactly as before. EINTR means try again.",
            "The head must go first and whole: write what is in `ready`, and only when it is \
             all taken, start on the file. A sendfile that returns 0 before the body is done \
             means the file shrank: return an error, so the client sees a cut, not a hang.",
            "Keep small bodies in the first write, read as before (a 1 KiB page sent as head, \
             then sendfile, is two segments; chapter 7 shows what that costs on a kept \
             connection). Mind the sizes around your limit, and the empty file.",
        ],
        checks: &["sendfile-sends-files"],
        arguments: &[],
        minutes: 45,
    },
    Exercise {
        id: "ch07-max-requests",
        chapter: 7,
        title: "A limit on requests per connection",
        goal: "The --max-requests-th answer on a connection says Connection: close and the \
               connection closes; every answer that keeps it says Keep-Alive: timeout=T, \
               max=M, M counting the requests still allowed.",
        hints: &[
            "Everything happens in the connection: the count belongs to one connection, so \
             it is a field of Connection, set in new(). Hand new() the limit through the \
             closure you give serve(), as you read the option in main.",
            "answer() decides keep_alive for every request that is answered. Count the \
             request there, and keep the connection only if another one is still allowed \
             after this one.",
            "The rest follows from keep_alive = false: the head says Connection: close, \
             send() closes gently after the answer, and whatever was pipelined behind it is \
             never read as a request.",
            "response.extra_headers.push((\"Keep-Alive\", format!(...))) adds a header. \
             Add it where keep_alive is known and true, and only there: an answer that \
             closes announces nothing.",
            "timeout= is the idle timeout in seconds: exercises::kept_alive::idle_timeout(NAME, \
             &arguments) reads it as the loop does. max= is what is left after this answer: \
             with --max-requests 4 the first answer says max=3.",
        ],
        checks: &["keep-alive-header", "max-requests"],
        arguments: &["--max-requests", "4"],
        minutes: 35,
    },
    Exercise {
        id: "ch07-expect-continue",
        chapter: 7,
        title: "Expect: 100-continue",
        goal: "An HTTP/1.1 request with a body and Expect: 100-continue gets HTTP/1.1 100 \
               Continue before the server waits for the body, then its answer as before; a body \
               that would be refused gets its 413 at once; HTTP/1.0 never gets a 100.",
        hints: &[
            "start_request is where a head with a body leads to SkippingBody. That is the \
             moment to invite the body, and only when the body will be read: a refusal \
             (413, 411) is the final answer instead.",
            "request.header(\"expect\") and request.version tell you whether the client \
             waits. Compare 100-continue without regard to case; HTTP/1.0 clients are \
             answered as before.",
            "The interim answer is exactly b\"HTTP/1.1 100 Continue\\r\\n\\r\\n\": no \
             Content-Length, no Connection header, and nothing for the access log.",
            "A write on a non-blocking socket may take part of it, or nothing (a client that \
             pipelined a big download before may not have read it yet). A new state, say \
             SendingContinue { sent, left, request }, remembers how much went; advance() \
             must know it, and it waits for ForOutput like any answer.",
            "Once the 100 is gone, go on to SkippingBody { left, request }: from there on \
             nothing changes, and the body is skipped, never read as the next request.",
        ],
        checks: &["expect-100-continue"],
        arguments: &[],
        minutes: 45,
    },
    Exercise {
        id: "ch08-per-client-limit",
        chapter: 8,
        title: "A limit on connections per client",
        goal: "One client address holds at most --max-per-client connections; one more gets \
               429 and the close, other addresses are served, and a connection that ends, \
               however it ends, frees its place.",
        hints: &[
            "accept returns the peer's address: peer.ip() is the client. A HashMap<IpAddr, \
             usize> in Server counts what each client has open now.",
            "Counting in is easy: where add_connection inserts into the table. Counting out \
             is the exercise: find every place a connection leaves the table (there are four, \
             the idle timeout among them) and make them all go through one method of yours.",
            "Keep the client's address in Entry, from accept. After a reset, \
             stream().peer_addr() fails: the socket no longer knows its peer.",
            "A refused connection never becomes a Connection: set it non-blocking, build \
             error_response(Status::new(429, \"Too Many Requests\"), ...) (the client's doing, \
             so 429 rather than 503), send it with \
             Outgoing::new(response, false) and write_to, shut down writing, and drop it.",
            "Closing a socket with unread input sends a reset, which can overtake your 429: \
             read and throw away what the client has sent (a few reads, until WouldBlock) \
             before you answer and close.",
        ],
        checks: &[
            "epoll-per-client-limit",
            "epoll-per-client-limit-after-idle",
        ],
        arguments: &["--max-per-client", "64"],
        minutes: 45,
    },
    Exercise {
        id: "ch08-worker-threads",
        chapter: 8,
        title: "One event loop per core",
        goal: "With --workers N the server runs N threads, each with its own epoll loop, all \
               accepting from the same port and each doing a share of the work under load; \
               Ctrl-C and SIGTERM still stop every worker cleanly.",
        hints: &[
            "Server is already everything one loop needs, and none of it is shared: make N of \
             them in main, each moved into a thread of its own (std::thread::Builder lets you \
             name them), and join them all.",
            "All workers can accept from one listening socket: listener.try_clone() gives each \
             a copy (a dup) to put in its own epoll set. EPOLLEXCLUSIVE on that registration \
             wakes one sleeping worker per new client instead of every one of them.",
            "Signals are the catch: the signalfd reports a signal to whoever reads it first, \
             so only one loop would stop. Let one thread wait for them \
             (common::shutdown::on_stop_signal, called before any other thread starts) and \
             tell all workers, through something each can watch in its epoll set.",
            "An eventfd (nix::sys::eventfd::EventFd) is that something: write 1 to it once \
             and it stays readable for every epoll set it is in. Share it with Arc, and \
             replace the SIGNALS token by a STOP token.",
            "When a worker stops, take the listener and the eventfd out of its epoll set with \
             epoll.delete before dropping them: epoll forgets a descriptor only when no copy \
             of it is open anywhere, and the other workers hold copies. Left in, both keep \
             waking the stopping worker, the eventfd on every wait.",
        ],
        checks: &["workers-share-load"],
        arguments: &["--workers", "2"],
        minutes: 60,
    },
];

/// The exercise called `id`.
pub fn find(id: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|exercise| exercise.id == id)
}
