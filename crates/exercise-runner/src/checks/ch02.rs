//! Chapter 2's exercises: directory listings, conditional requests, ranges.

use std::fs;
use std::time::{Duration, SystemTime};

use super::support::{ask, cannot, checks, connect, expect_closed_after, expect_header};
use checker::checks::{
    Check, expect_body, expect_content_length, expect_content_type, expect_status,
};
use checker::http_date::format_http_date as http_date;
use checker::report::Failure;
use checker::target::{Context, Exchange};

pub fn checks() -> Vec<Check> {
    checks! {
        "listing-links-work", 2..=8, listing_links_work,
            "a folder without index.html gets an HTML list of its files, as links that work";
        "listing-escapes-names", 2..=8, listing_escapes_names,
            "a listing escapes file names in its HTML (<b>.txt shows as &lt;b&gt;.txt)";
        "last-modified", 2..=8, last_modified,
            "a file comes with Last-Modified: its modification time as an HTTP date";
        "if-modified-since", 2..=8, if_modified_since,
            "If-Modified-Since not older than the file gets 304 and no body; else 200";
        "range-request", 2..=8, range_request,
            "Range: bytes=a-b, a- and -n get 206, Content-Range and exactly those bytes";
        "range-not-satisfiable", 2..=8, range_not_satisfiable,
            "a range that starts past the end gets 416 and Content-Range: bytes */size";
    }
}

/// The names planted in the `listing/` folder, which has no index.html.
const LISTED: [&str; 3] = ["alpha.txt", "beta gamma.txt", "<b>.txt"];

/// The listing of `listing/`, and its page as text.
fn listing(context: &Context) -> Result<(Exchange, String), Failure> {
    let exchange = context.get(&format!("{}/", context.fixtures.url_of("listing")))?;
    expect_status(&exchange, 200)?;
    expect_content_length(&exchange)?;
    expect_content_type(&exchange, "text/html")?;
    let page = String::from_utf8_lossy(&exchange.reply.body).into_owned();
    Ok((exchange, page))
}

fn listing_links_work(context: &Context) -> Result<(), Failure> {
    let (exchange, page) = listing(context)?;
    let folder_url = format!("{}/", context.fixtures.url_of("listing"));
    let mut reached = Vec::new();
    for link in links_in(&page) {
        let path = if link.starts_with('/') { link } else { format!("{folder_url}{link}") };
        let followed = context.get(&path)?;
        if followed.reply.status == 200 {
            reached.push(followed.reply.body);
        }
    }
    for name in LISTED {
        if !reached.contains(&context.fixtures.bytes_of(&format!("listing/{name}"))) {
            return Err(exchange.fail(
                format!("no link in the listing leads to {name:?}"),
                "an <a href=\"...\"> for every file, its name percent-encoded (a space is %20)",
            ));
        }
    }
    // A folder that has an index.html still serves it.
    let sub = context.get(&format!("{}/", context.fixtures.url_of("sub")))?;
    expect_status(&sub, 200)?;
    expect_body(&sub, &context.fixtures.bytes_of("sub/index.html"), "sub/index.html")
}

/// The targets of `href="..."` (or single-quoted) attributes.
fn links_in(page: &str) -> Vec<String> {
    let quoted = page.split("href=").skip(1).filter_map(|rest| {
        let quote = rest.chars().next().filter(|quote| matches!(quote, '"' | '\''))?;
        rest[1..].split(quote).next()
    });
    quoted.map(|link| link.replace("&amp;", "&")).collect()
}

fn listing_escapes_names(context: &Context) -> Result<(), Failure> {
    let (exchange, page) = listing(context)?;
    let problem = if page.contains("<b>.txt") {
        "the name <b>.txt appears raw in the HTML: the browser sees a <b> tag"
    } else if !page.contains("&lt;b&gt;.txt") {
        "the file <b>.txt is not listed"
    } else {
        return Ok(());
    };
    Err(exchange.fail(problem, "&lt;b&gt;.txt in the text of the page"))
}

/// The modification time of page.html, planted by the checker.
fn page_modified(context: &Context) -> Result<SystemTime, Failure> {
    fs::metadata(context.fixtures.dir().join("page.html"))
        .and_then(|metadata| metadata.modified())
        .map_err(cannot("read page.html's time"))
}

fn last_modified(context: &Context) -> Result<(), Failure> {
    let wanted = http_date(page_modified(context)?);
    let exchange = context.get(&context.fixtures.url_of("page.html"))?;
    expect_status(&exchange, 200)?;
    expect_header(&exchange, "Last-Modified", &wanted)
}

fn if_modified_since(context: &Context) -> Result<(), Failure> {
    let path = context.fixtures.url_of("page.html");
    let modified = page_modified(context)?;
    // Not modified since the file's own time: 304, and not a byte of body.
    let request =
        context.request_with("GET", &path, &[("If-Modified-Since", &http_date(modified))]);
    let mut connection = connect(context, None)?;
    let exchange = ask(context, &mut connection, &request, "", "status 304")?;
    expect_status(&exchange, 304)?;
    expect_closed_after(&mut connection, &exchange, "a 304 without a body, then the close")?;
    // Modified since a day before, or a date that is no date: the whole file.
    let earlier = http_date(modified - Duration::from_secs(86_400));
    for since in [earlier.as_str(), "yesterday, around noon"] {
        let exchange =
            context.send(&context.request_with("GET", &path, &[("If-Modified-Since", since)]))?;
        expect_status(&exchange, 200)?;
        expect_body(&exchange, &context.fixtures.bytes_of("page.html"), "page.html")?;
    }
    Ok(())
}

fn get_range(context: &Context, range: &str) -> Result<Exchange, Failure> {
    let path = context.fixtures.url_of("image.png");
    let exchange = context.send(&context.request_with("GET", &path, &[("Range", range)]))?;
    expect_content_length(&exchange)?;
    Ok(exchange)
}

fn range_request(context: &Context) -> Result<(), Failure> {
    let bytes = context.fixtures.bytes_of("image.png");
    let size = bytes.len();
    for (range, first, last) in [
        ("bytes=0-99".to_string(), 0, 99),
        (format!("bytes={}-", size - 8), size - 8, size - 1),
        ("bytes=-10".to_string(), size - 10, size - 1),
    ] {
        let exchange = get_range(context, &range)?;
        expect_status(&exchange, 206)?;
        expect_header(&exchange, "Content-Range", &format!("bytes {first}-{last}/{size}"))?;
        let what = format!("bytes {first} to {last} of image.png");
        expect_body(&exchange, &bytes[first..=last], &what)?;
    }
    Ok(())
}

fn range_not_satisfiable(context: &Context) -> Result<(), Failure> {
    let size = context.fixtures.bytes_of("image.png").len();
    let exchange = get_range(context, &format!("bytes={}-", size + 10))?;
    expect_status(&exchange, 416)?;
    expect_header(&exchange, "Content-Range", &format!("bytes */{size}"))
}
