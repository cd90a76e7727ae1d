//! Chapter 2's exercises: directory listings, conditional requests, ranges.

use std::fs;
use std::time::{Duration, SystemTime};

use super::borrowed::http_date;
use checker::checks::{
    Check, expect_body, expect_content_length, expect_content_type, expect_status,
};
use checker::client::Connection;
use checker::report::Failure;
use checker::target::{Context, Exchange};

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "listing-links-work",
            stages: 2..=8,
            behaviour: "a folder without index.html gets an HTML list of its files, as links that work",
            needs_pid: false,
            run: listing_links_work,
        },
        Check {
            name: "listing-escapes-names",
            stages: 2..=8,
            behaviour: "a listing escapes file names in its HTML (<b>.txt shows as &lt;b&gt;.txt)",
            needs_pid: false,
            run: listing_escapes_names,
        },
        Check {
            name: "last-modified",
            stages: 2..=8,
            behaviour: "a file comes with Last-Modified: its modification time as an HTTP date",
            needs_pid: false,
            run: last_modified,
        },
        Check {
            name: "if-modified-since",
            stages: 2..=8,
            behaviour: "If-Modified-Since not older than the file gets 304 and no body; else 200",
            needs_pid: false,
            run: if_modified_since,
        },
        Check {
            name: "range-request",
            stages: 2..=8,
            behaviour: "Range: bytes=a-b, a- and -n get 206, Content-Range and exactly those bytes",
            needs_pid: false,
            run: range_request,
        },
        Check {
            name: "range-not-satisfiable",
            stages: 2..=8,
            behaviour: "a range that starts past the end gets 416 and Content-Range: bytes */size",
            needs_pid: false,
            run: range_not_satisfiable,
        },
    ]
}

/// The names planted in the `listing/` folder, which has no index.html.
const LISTED: [&str; 3] = ["alpha.txt", "beta gamma.txt", "<b>.txt"];

fn listing(context: &Context) -> Result<Exchange, Failure> {
    let exchange = context.get(&format!("{}/", context.fixtures.url_of("listing")))?;
    expect_status(&exchange, 200)?;
    expect_content_length(&exchange)?;
    expect_content_type(&exchange, "text/html")?;
    Ok(exchange)
}

fn listing_links_work(context: &Context) -> Result<(), Failure> {
    let exchange = listing(context)?;
    let folder_url = format!("{}/", context.fixtures.url_of("listing"));
    let body = String::from_utf8_lossy(&exchange.reply.body).into_owned();
    let mut reached = Vec::new();
    for link in links_in(&body) {
        let path = if link.starts_with('/') {
            link.clone()
        } else {
            format!("{folder_url}{link}")
        };
        let followed = context.get(&path)?;
        if followed.reply.status == 200 {
            reached.push(followed.reply.body);
        }
    }
    for name in LISTED {
        let content = context.fixtures.bytes_of(&format!("listing/{name}"));
        if !reached.contains(&content) {
            return Err(exchange.fail(
                format!("no link in the listing leads to {name:?}"),
                "an <a href=\"...\"> for every file, its name percent-encoded (a space is %20)",
            ));
        }
    }
    // A folder that has an index.html still serves it.
    let sub = context.get(&format!("{}/", context.fixtures.url_of("sub")))?;
    expect_status(&sub, 200)?;
    expect_body(
        &sub,
        &context.fixtures.bytes_of("sub/index.html"),
        "sub/index.html",
    )
}

/// The targets of `href="..."` (or single-quoted) attributes.
fn links_in(body: &str) -> Vec<String> {
    let mut links = Vec::new();
    for quote in ['"', '\''] {
        let opening = format!("href={quote}");
        let mut rest = body;
        while let Some(start) = rest.find(&opening) {
            rest = &rest[start + opening.len()..];
            if let Some(end) = rest.find(quote) {
                links.push(rest[..end].replace("&amp;", "&"));
                rest = &rest[end..];
            }
        }
    }
    links
}

fn listing_escapes_names(context: &Context) -> Result<(), Failure> {
    let exchange = listing(context)?;
    let body = String::from_utf8_lossy(&exchange.reply.body);
    if body.contains("<b>.txt") {
        return Err(exchange.fail(
            "the name <b>.txt appears raw in the HTML: the browser sees a <b> tag",
            "&lt;b&gt;.txt in the text of the page",
        ));
    }
    if !body.contains("&lt;b&gt;.txt") {
        return Err(exchange.fail(
            "the file <b>.txt is not listed",
            "&lt;b&gt;.txt in the text of the page",
        ));
    }
    Ok(())
}

/// The modification time of a planted file as an HTTP date.
fn modified_date(context: &Context, name: &str) -> Result<(SystemTime, String), Failure> {
    let modified = fs::metadata(context.fixtures.dir().join(name))
        .and_then(|metadata| metadata.modified())
        .map_err(|error| Failure::new(format!("cannot read {name}'s time: {error}"), ""))?;
    Ok((modified, http_date(modified)))
}

fn last_modified(context: &Context) -> Result<(), Failure> {
    let (_, wanted) = modified_date(context, "page.html")?;
    let exchange = context.get(&context.fixtures.url_of("page.html"))?;
    expect_status(&exchange, 200)?;
    match exchange.reply.header("last-modified") {
        Some(found) if found == wanted => Ok(()),
        Some(found) => Err(exchange.fail(
            format!("Last-Modified is {found:?}"),
            format!("Last-Modified: {wanted}"),
        )),
        None => Err(exchange.fail(
            "there is no Last-Modified header",
            format!("Last-Modified: {wanted}"),
        )),
    }
}

fn if_modified_since(context: &Context) -> Result<(), Failure> {
    let path = context.fixtures.url_of("page.html");
    let (modified, date) = modified_date(context, "page.html")?;
    let earlier = http_date(modified - Duration::from_secs(86_400));
    // Not modified since the file's own time: 304, and not a byte of body.
    let request = context.request_with("GET", &path, &[("If-Modified-Since", &date)]);
    let mut connection =
        Connection::open(context.addr()).map_err(|error| Failure::new(error.describe(), ""))?;
    connection.send(&request);
    let reply = connection.read_reply(true).map_err(|error| {
        Failure::new(error.describe(), "status 304").sent(context.addr(), &request)
    })?;
    let exchange = Exchange {
        addr: context.addr(),
        request,
        reply,
    };
    expect_status(&exchange, 304)?;
    let _ = connection.wait_for_close(Duration::from_secs(3));
    if !connection.leftover().is_empty() {
        return Err(exchange.fail("a body followed the 304", "a 304 without a body"));
    }
    // Modified since a day before: the whole file.
    for since in [earlier.as_str(), "yesterday, around noon"] {
        let exchange =
            context.send(&context.request_with("GET", &path, &[("If-Modified-Since", since)]))?;
        expect_status(&exchange, 200)?;
        expect_body(
            &exchange,
            &context.fixtures.bytes_of("page.html"),
            "page.html",
        )?;
    }
    Ok(())
}

fn range_request(context: &Context) -> Result<(), Failure> {
    let path = context.fixtures.url_of("image.png");
    let bytes = context.fixtures.bytes_of("image.png");
    let size = bytes.len();
    for (range, first, last) in [
        ("bytes=0-99", 0, 99),
        (&format!("bytes={}-", size - 8)[..], size - 8, size - 1),
        ("bytes=-10", size - 10, size - 1),
    ] {
        let exchange = context.send(&context.request_with("GET", &path, &[("Range", range)]))?;
        expect_status(&exchange, 206)?;
        expect_content_length(&exchange)?;
        let wanted = format!("bytes {first}-{last}/{size}");
        if exchange.reply.header("content-range") != Some(wanted.as_str()) {
            return Err(exchange.fail(
                format!(
                    "Content-Range is {:?}",
                    exchange.reply.header("content-range")
                ),
                format!("Content-Range: {wanted}"),
            ));
        }
        expect_body(
            &exchange,
            &bytes[first..=last],
            &format!("bytes {first} to {last} of image.png"),
        )?;
    }
    Ok(())
}

fn range_not_satisfiable(context: &Context) -> Result<(), Failure> {
    let path = context.fixtures.url_of("image.png");
    let size = context.fixtures.bytes_of("image.png").len();
    let exchange = context.send(&context.request_with(
        "GET",
        &path,
        &[("Range", &format!("bytes={}-", size + 10))],
    ))?;
    expect_status(&exchange, 416)?;
    expect_content_length(&exchange)?;
    let wanted = format!("bytes */{size}");
    if exchange.reply.header("content-range") != Some(wanted.as_str()) {
        return Err(exchange.fail(
            format!(
                "Content-Range is {:?}",
                exchange.reply.header("content-range")
            ),
            format!("Content-Range: {wanted}"),
        ));
    }
    Ok(())
}
