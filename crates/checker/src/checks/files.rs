//! Stage 2: serving the files under the root, byte for byte, with the right headers.

use std::fs;
use std::io::Read;
use std::time::{Duration, Instant};

use super::{Check, expect_body, expect_content_length, expect_content_type, expect_status};
use crate::client::{Connection, is_timeout};
use crate::report::Failure;
use crate::target::{Context, LARGE_FILE_SIZE};

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "index-at-root",
            stages: 2..=8,
            behaviour: "GET / serves index.html from the root, byte for byte",
            needs_pid: false,
            run: index_at_root,
        },
        Check {
            name: "files-byte-exact",
            stages: 2..=8,
            behaviour: "html, css, js, png and txt files arrive byte for byte",
            needs_pid: false,
            run: files_byte_exact,
        },
        Check {
            name: "content-type-by-extension",
            stages: 2..=8,
            behaviour: "Content-Type follows the file's extension",
            needs_pid: false,
            run: content_type_by_extension,
        },
        Check {
            name: "head-method",
            stages: 2..=8,
            behaviour: "HEAD gets the same headers as GET and no body",
            needs_pid: false,
            run: head_method,
        },
        Check {
            name: "query-string-ignored",
            stages: 2..=8,
            behaviour: "a query string (?a=1) does not change which file is served",
            needs_pid: false,
            run: query_string_ignored,
        },
        Check {
            name: "percent-decoding",
            stages: 2..=8,
            behaviour: "%20 in a path is a space: 'hello%20world.txt' is served",
            needs_pid: false,
            run: percent_decoding,
        },
        Check {
            name: "not-found-page",
            stages: 2..=8,
            behaviour: "a missing file gets 404 with the root's 404.html",
            needs_pid: false,
            run: not_found_page,
        },
        Check {
            name: "large-file-slow-reader",
            stages: 2..=8,
            behaviour: "a 24 MiB file reaches a slow reader whole and byte for byte",
            needs_pid: false,
            run: large_file_slow_reader,
        },
    ]
}

fn index_at_root(context: &Context) -> Result<(), Failure> {
    let index = context.root_file("index.html");
    let wanted = fs::read(&index).map_err(|error| {
        Failure::new(
            format!("cannot read {}: {error}", index.display()),
            "the checker's --root to be the folder the server serves",
        )
    })?;
    let exchange = context.get("/")?;
    expect_status(&exchange, 200)?;
    expect_content_length(&exchange)?;
    expect_body(&exchange, &wanted, "index.html")
}

fn files_byte_exact(context: &Context) -> Result<(), Failure> {
    for name in [
        "page.html",
        "style.css",
        "script.js",
        "image.png",
        "notes.txt",
    ] {
        let exchange = context.get(&context.fixtures.url_of(name))?;
        expect_status(&exchange, 200)?;
        expect_content_length(&exchange)?;
        expect_body(&exchange, &context.fixtures.bytes_of(name), name)?;
    }
    Ok(())
}

fn content_type_by_extension(context: &Context) -> Result<(), Failure> {
    for (name, media_type) in [
        ("page.html", "text/html"),
        ("style.css", "text/css"),
        ("script.js", "text/javascript"),
        ("image.png", "image/png"),
        ("notes.txt", "text/plain"),
    ] {
        expect_content_type(&context.get(&context.fixtures.url_of(name))?, media_type)?;
    }
    Ok(())
}

fn head_method(context: &Context) -> Result<(), Failure> {
    let path = context.fixtures.url_of("page.html");
    let get = context.get(&path)?;
    let head = context.send_head(&context.request("HEAD", &path))?;
    expect_status(&head, 200)?;
    let size = context.fixtures.bytes_of("page.html").len();
    if head.reply.content_length() != Some(size as u64) {
        return Err(head.fail(
            format!(
                "Content-Length is {:?}",
                head.reply.header("content-length")
            ),
            format!("Content-Length: {size}, the length a GET would get"),
        ));
    }
    if head.reply.header("content-type") != get.reply.header("content-type") {
        return Err(head.fail(
            "HEAD and GET disagree on Content-Type",
            "the same headers as GET",
        ));
    }
    // Anything after the head is a body that HEAD must not have. Wait for the close
    // and see whether bytes came first.
    let mut connection =
        Connection::open(context.addr()).map_err(|error| head.fail(error.describe(), ""))?;
    connection.send(&head.request);
    // The reader itself refuses a body that arrives with the head.
    if let Err(error) = connection.read_reply(false) {
        return Err(
            Failure::new(error.describe(), "no body at all after the head")
                .sent(context.addr(), &head.request)
                .received(error.received()),
        );
    }
    match connection.wait_for_close(Duration::from_secs(3)) {
        Ok(()) if connection.leftover().is_empty() => Ok(()),
        Ok(()) | Err(_) => Err(Failure::new(
            format!(
                "{} bytes followed the head of a HEAD response",
                connection.leftover().len()
            ),
            "no body at all after the head",
        )
        .sent(context.addr(), &head.request)
        .received(connection.leftover())),
    }
}

fn query_string_ignored(context: &Context) -> Result<(), Failure> {
    let path = format!("{}?lang=en&v=%20", context.fixtures.url_of("page.html"));
    let exchange = context.get(&path)?;
    expect_status(&exchange, 200)?;
    expect_body(
        &exchange,
        &context.fixtures.bytes_of("page.html"),
        "page.html",
    )
}

fn percent_decoding(context: &Context) -> Result<(), Failure> {
    let exchange = context.get(&context.fixtures.url_of("hello%20world.txt"))?;
    expect_status(&exchange, 200)?;
    expect_body(
        &exchange,
        &context.fixtures.bytes_of("hello world.txt"),
        "'hello world.txt'",
    )
}

fn not_found_page(context: &Context) -> Result<(), Failure> {
    let page = context.root_file("404.html");
    let wanted = fs::read(&page).map_err(|error| {
        Failure::new(
            format!("cannot read {}: {error}", page.display()),
            "a 404.html in the root",
        )
    })?;
    let exchange = context.get(&context.fixtures.url_of("no-such-file.html"))?;
    expect_status(&exchange, 404)?;
    expect_content_length(&exchange)?;
    expect_content_type(&exchange, "text/html")?;
    expect_body(&exchange, &wanted, "404.html")
}

/// Asks for the large file, then reads slowly: nothing at all for half a second,
/// so every buffer between server and client fills and the server's writes start
/// to come up short, then in small gulps with pauses. A server that assumes one
/// `write` sends everything loses the rest here.
fn large_file_slow_reader(context: &Context) -> Result<(), Failure> {
    let request = context.request("GET", &context.fixtures.url_of("large.bin"));
    let failure = |problem: String| {
        Failure::new(
            problem,
            format!("all {LARGE_FILE_SIZE} bytes of large.bin, in order"),
        )
        .sent(context.addr(), &request)
    };
    let mut connection =
        Connection::open(context.addr()).map_err(|error| failure(error.describe()))?;
    connection.send(&request);
    std::thread::sleep(Duration::from_millis(500));

    let mut received = Vec::with_capacity(LARGE_FILE_SIZE + 1024);
    let mut chunk = vec![0; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut gulps = 0;
    loop {
        match connection.stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(count) => received.extend_from_slice(&chunk[..count]),
            Err(error) if is_timeout(&error) => {
                return Err(failure(format!(
                    "the transfer stalled after {} bytes: nothing more came for 5 s",
                    received.len()
                )));
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(failure(format!("after {} bytes: {error}", received.len()))),
        }
        gulps += 1;
        if gulps % 64 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        if Instant::now() > deadline {
            return Err(failure("60 s passed before the transfer ended".into()));
        }
    }
    let Some(head_end) = crate::response_reader::find_head_end(&received) else {
        return Err(failure("no complete response head arrived".into()).received(&received));
    };
    let body = &received[head_end..];
    let wanted = context.fixtures.bytes_of("large.bin");
    if body == wanted.as_slice() {
        return Ok(());
    }
    let head = &received[..head_end];
    let problem = match body
        .iter()
        .zip(&wanted)
        .position(|(got, expected)| got != expected)
    {
        Some(at) => format!("the body differs from large.bin at byte {at}"),
        None => format!("the body had {} of the {} bytes", body.len(), wanted.len()),
    };
    Err(failure(problem).received(head))
}
