//! What every stage of the course shares.
//!
//! The course builds eight web servers, one per chapter of the book. Each stage's
//! own crate holds only what its chapter teaches; everything a chapter has already
//! taught moves here, so the later stages can import it instead of repeating it.
//!
//! | module      | taught in | what it holds                                              |
//! |-------------|-----------|------------------------------------------------------------|
//! | [`cli`]     | 1         | the options every stage shares and the `listening on` line |
//! | [`accept`]  | 1         | what an accept loop does when `accept` fails               |
//! | [`head`]    | 1         | reading a request head that may arrive in many pieces      |
//! | [`request`] | 2         | parsing the request line (with `regex`) and the headers    |
//! | [`resolve`] | 2         | turning a URL path into a file that stays under the root   |
//! | [`response`]| 2         | status, headers, and a body streamed from its file          |
//! | [`site`]    | 2         | the answer to one request: file, 404, 405, ...             |
//! | [`blocking`]| 2         | one connection on a blocking socket: read, answer, close   |
//! | [`access_log`]| 2       | one line per request, unless `--quiet`                     |
//! | [`shutdown`]| 4         | turning Ctrl-C and SIGTERM into an orderly stop            |
//!
//! What it deliberately leaves out: any concurrency model. How connections are
//! accepted, waited on and scheduled is exactly what differs between the stages,
//! so that code lives in each stage and nowhere else.

pub mod accept;
pub mod access_log;
pub mod blocking;
pub mod cli;
pub mod head;
pub mod request;
pub mod resolve;
pub mod response;
pub mod shutdown;
pub mod site;
