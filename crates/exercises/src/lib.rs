//! What the exercises share, so that each exercise file holds only what the
//! student changes.
//!
//! The chapter 2 exercises grow stage 2 by changing how one request is answered,
//! through `stage02_file_lookup::run`; chapter 7's `ch07-max-requests` and
//! chapter 8's `ch08-per-client-limit` are policies that stages 7 and 8 ask.
//!
//! The exercises of chapters 6 to 8 grow the event-driven stages:
//! - [`polling`]: stage 6's loop, driving the exercise's own connection type;
//! - [`kept_alive`]: stage 7's loop, idle timeout included, for
//!   `ch07-expect-continue`;
//! - [`table`]: stage 8's connection table (`stage08_epoll::table`), for the
//!   exercises that grow stage 8's event loop.
//!
//! The exercises of chapters 4 and 5 change their stage's accept loop itself, so
//! each starts from a trimmed copy of the stage's `main.rs`; the modules below
//! hold the parts of the stage that they use unchanged. (Chapter 3's exercises
//! copy stage 3's `src/lib.rs`, checked by `scripts/exercise copies`.)

pub mod kept_alive;
pub mod polling;
/// Stage 8's connection table, from stage 8's library.
pub use stage08_epoll::table;

/// Stage 5's wrapper that lets `serve_connection` use `may`'s sockets.
#[path = "../../stage05-green-threads/src/coroutine_stream.rs"]
pub mod coroutine_stream;

pub mod green_threads;
pub mod stopping;
