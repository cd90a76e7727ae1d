//! What no chapter teaches but every stage needs.
//!
//! The course builds eight web servers, one per chapter of the book, and each
//! stage's crate holds what its chapter teaches; a later stage takes what an
//! earlier chapter taught from that chapter's crate, by name. This crate holds
//! only the plumbing around the lessons:
//!
//! | module         | what it holds                                                 |
//! |----------------|---------------------------------------------------------------|
//! | [`cli`]        | the options every stage shares, opening the listener, and the one-line start-up errors |
//! | [`access_log`] | one line per request, unless `--quiet`; queued, never waited for, in the event loops |
//! | [`shutdown`]   | turning Ctrl-C and SIGTERM into an orderly stop               |
//!
//! What it deliberately leaves out: anything about HTTP or any concurrency
//! model. Reading requests is stage 1's and stage 2's, answering them stage
//! 2's, the non-blocking pieces stage 6's and 7's.

pub mod access_log;
pub mod cli;
pub mod shutdown;
