//! Chapter 8's open-file cache: files kept open between requests, and never
//! served stale for long once they change, are replaced or are removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use super::support::{cannot, checks, retry_for};
use checker::checks::{Check, expect_body, expect_status, server_pid};
use checker::report::Failure;
use checker::target::{Context, Exchange};

pub fn checks() -> Vec<Check> {
    checks! {
        pid "open-file-cache-keeps-files-open", 8..=8, keeps_files_open,
            "a file asked for again is still open in the server between the requests";
        "open-file-cache-sees-changes", 8..=8, sees_changes,
            "a cached file replaced, rewritten or removed is served as it now is (or 404) within \
             2.5 s, and a replaced one is never a mix of the two versions";
    }
}

/// How long a changed file may still be served as it was: the exercise trusts
/// an open file for a second; the rest is room for a slow machine.
const CHANGE_SEEN_WITHIN: Duration = Duration::from_millis(2500);

/// How long a server that does not keep files takes to close one after its
/// answer: far less than this.
const CLOSED_WITHIN: Duration = Duration::from_millis(300);

/// Writes `name` in the checker's folder under the root; its path and URL.
fn plant(context: &Context, name: &str, contents: &[u8]) -> Result<(PathBuf, String), Failure> {
    let path = context.fixtures.dir().join(name);
    fs::write(&path, contents).map_err(cannot("write a file under the root"))?;
    Ok((path, context.fixtures.url_of(name)))
}

/// Whether process `pid` has a descriptor open on `path`: each link in
/// `/proc/PID/fd` names the file its descriptor is open on.
fn holds_open(pid: u32, path: &Path) -> Result<bool, Failure> {
    let path = fs::canonicalize(path).map_err(cannot("find a file under the root"))?;
    let descriptors =
        fs::read_dir(format!("/proc/{pid}/fd")).map_err(cannot("read /proc/PID/fd"))?;
    Ok(descriptors.flatten().any(|entry| fs::read_link(entry.path()).is_ok_and(|to| to == path)))
}

/// Three answers for one file, then a look at the server's descriptors: a
/// server that opens the file for each request has closed it again by then.
fn keeps_files_open(context: &Context) -> Result<(), Failure> {
    let pid = server_pid(context)?;
    let contents = b"<!doctype html>\n<title>kept open</title>\n<p>kept open</p>\n";
    let (path, url) = plant(context, "kept-open.html", contents)?;
    for _ in 0..3 {
        let exchange = context.get(&url)?;
        expect_status(&exchange, 200)?;
        expect_body(&exchange, contents, "kept-open.html")?;
    }
    thread::sleep(CLOSED_WITHIN);
    if holds_open(pid, &path)? {
        return Ok(());
    }
    Err(Failure::new(
        format!(
            "after three GET {url}, no descriptor of the server is open on it (ls -l /proc/{pid}/fd)"
        ),
        "the file kept open between requests, for the next request of the same path",
    ))
}

/// Asks for `url` until `done` says the answer is the file as it is now, for
/// up to `CHANGE_SEEN_WITHIN`. `allowed` says which other answers may come first.
fn until_seen(
    context: &Context,
    url: &str,
    after: &str,
    done: impl Fn(&Exchange) -> bool,
    allowed: impl Fn(&Exchange) -> bool,
) -> Result<(), Failure> {
    let within = CHANGE_SEEN_WITHIN.as_secs_f64();
    retry_for(CHANGE_SEEN_WITHIN, || {
        let exchange = context.get(url)?;
        if done(&exchange) {
            Ok(Ok(()))
        } else if allowed(&exchange) {
            Ok(Err(exchange.fail(
                format!("{within} s after {after}, the server still sent the old version"),
                format!("within {within} s, the file as it is now"),
            )))
        } else {
            Err(exchange.fail(
                format!("after {after}, an answer was neither the old version nor the new one"),
                "the old version until the cache looks again, then the file as it is now",
            ))
        }
    })
}

fn body_is(wanted: &[u8]) -> impl Fn(&Exchange) -> bool + '_ {
    move |exchange| exchange.reply.status == 200 && exchange.reply.body == wanted
}

/// A cached file is replaced by a rename (as editors and deployments do: then
/// an answer is either version, never a mix), rewritten in place with another
/// length (the open file itself changes, so until the cache looks again an
/// answer may mix the old length and new bytes: only the end is checked), and
/// removed (404).
fn sees_changes(context: &Context) -> Result<(), Failure> {
    let first = b"the first version\n".as_slice();
    let (path, url) = plant(context, "changing.html", first)?;
    expect_body(&context.get(&url)?, first, "changing.html")?;

    let second = b"the second version, longer than the first\n".as_slice();
    let (fresh, _) = plant(context, "changing.html.new", second)?;
    fs::rename(&fresh, &path).map_err(cannot("rename a file under the root"))?;
    let either = |exchange: &Exchange| body_is(first)(exchange) || body_is(second)(exchange);
    until_seen(context, &url, "a new file was renamed over it", body_is(second), either)?;

    let third = b"a third, shorter\n".as_slice();
    fs::write(&path, third).map_err(cannot("rewrite a file under the root"))?;
    let any_200 = |exchange: &Exchange| exchange.reply.status == 200;
    until_seen(context, &url, "it was rewritten in place", body_is(third), any_200)?;

    fs::remove_file(&path).map_err(cannot("remove a file under the root"))?;
    let not_found = |exchange: &Exchange| exchange.reply.status == 404;
    until_seen(context, &url, "it was removed", not_found, body_is(third))
}
