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
               503 and the close, other addresses are served, and a connection that ends, \
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
             error_response(Status::SERVICE_UNAVAILABLE, ...), send it with \
             Outgoing::new(response, false) and write_to, shut down writing, and drop it.",
            "Closing a socket with unread input sends a reset, which can overtake your 503: \
             read and throw away what the client has sent (a few reads, until WouldBlock) \
             before you answer and close.",
        ],
        checks: &["per-client-limit", "per-client-limit-after-idle"],
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
