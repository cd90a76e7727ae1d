//! Parsing a request head into a [`Request`].
//!
//! A head looks like this (every line ends in CRLF, and a blank line ends it):
//!
//! ```text
//! GET /about.html?lang=en HTTP/1.1
//! Host: 127.0.0.1:7802
//! User-Agent: curl/8.5.0
//! ```
//!
//! The first line is the request line: a method, a target, and a version,
//! separated by single spaces. A regular expression says that more exactly, and
//! more readably, than a page of hand-written checks. The header lines that follow
//! are `Name: value` pairs.
//!
//! The rules a server must enforce here come from RFC 9112. Each one closes a door
//! that attackers use to make two servers disagree about where a request ends
//! ("request smuggling"), so each one answers 400 rather than guessing.

use std::fmt;
use std::sync::LazyLock;

use regex::bytes::Regex;

// ANCHOR: request_line_regex
/// The request line: `METHOD SP TARGET SP HTTP/DIGIT.DIGIT`, nothing before or
/// after. A method is a "token" (letters, digits and a few symbols). A target is
/// printable ASCII without spaces: anything else must arrive percent-encoded.
static REQUEST_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?<method>[!#$%&'*+.^_`|~0-9A-Za-z-]+) (?<target>[!-~]+) HTTP/(?<major>[0-9])\.(?<minor>[0-9])$")
        .expect("the request-line pattern is valid")
});
// ANCHOR_END: request_line_regex

/// The characters a header name (a "token") may contain.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$").expect("the token pattern is valid")
});

/// The two versions of HTTP/1 a request can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// One parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, ... exactly as sent: methods are case-sensitive.
    pub method: String,
    /// The target as sent, still percent-encoded, query string included.
    pub target: String,
    pub version: Version,
    /// Header names as sent; look them up with [`Request::header`], which ignores case.
    pub headers: Vec<(String, String)>,
}

/// Why a head is not a request we can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Answer `400 Bad Request`; the text says what was wrong.
    Malformed(&'static str),
    /// Answer `505 HTTP Version Not Supported` (an `HTTP/2.0` or `HTTP/0.9` line).
    UnsupportedVersion,
}

impl fmt::Display for RequestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Malformed(reason) => write!(formatter, "malformed request: {reason}"),
            RequestError::UnsupportedVersion => formatter.write_str("unsupported HTTP version"),
        }
    }
}

impl std::error::Error for RequestError {}

/// How long the body that follows a head is, as its headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body: the next byte starts the next request.
    None,
    /// `Content-Length: n`.
    Fixed(u64),
    /// `Transfer-Encoding: chunked`: the body carries its own length markers.
    Chunked,
}

// ANCHOR: parse_request_head
/// Parses a complete head, as [`stage01_fixed_page::head::find_head_end`] found it.
pub fn parse_request_head(head: &[u8]) -> Result<Request, RequestError> {
    let mut lines = head.split(|&byte| byte == b'\n').map(strip_carriage_return);
    let request_line = lines.next().unwrap_or_default();
    let (method, target, version) = parse_request_line(request_line)?;

    let mut headers = Vec::new();
    for line in lines.take_while(|line| !line.is_empty()) {
        headers.push(parse_header_line(line)?);
    }
    let request = Request {
        method,
        target,
        version,
        headers,
    };
    check_host(&request)?;
    Ok(request)
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, Version), RequestError> {
    let parts = REQUEST_LINE.captures(line).ok_or(RequestError::Malformed(
        "the request line is not `METHOD /path HTTP/1.x`",
    ))?;
    // The groups in the order the pattern names them.
    let (_, [method, target, major, minor]) = parts.extract();
    let version = match (major, minor) {
        (b"1", b"0") => Version::Http10,
        // RFC 9110: a 1.x we do not know is answered as the highest 1.x we do.
        (b"1", _) => Version::Http11,
        _ => return Err(RequestError::UnsupportedVersion),
    };
    // The pattern only matches ASCII, so these conversions cannot lose anything.
    let text = |bytes| String::from_utf8_lossy(bytes).into_owned();
    Ok((text(method), text(target), version))
}
// ANCHOR_END: parse_request_head

// ANCHOR: parse_header_line
fn parse_header_line(line: &[u8]) -> Result<(String, String), RequestError> {
    if line.starts_with(b" ") || line.starts_with(b"\t") {
        // "Line folding" continued a header on the next line; RFC 9112 retired it.
        return Err(RequestError::Malformed(
            "a header line starts with white space (folding)",
        ));
    }
    let colon = line
        .iter()
        .position(|&byte| byte == b':')
        .ok_or(RequestError::Malformed("a header line has no colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // `Host : x` is refused rather than trimmed: servers that trim and servers that
    // do not would disagree about which header this is.
    if !TOKEN.is_match(name) {
        return Err(RequestError::Malformed(
            "a header name is empty, or has white space or odd characters",
        ));
    }
    let value = value.trim_ascii();
    if value.iter().any(|&byte| byte == 0 || byte == b'\r') {
        return Err(RequestError::Malformed(
            "a header value holds a NUL or a stray CR",
        ));
    }
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}
// ANCHOR_END: parse_header_line

/// RFC 9112: an HTTP/1.1 request carries exactly one `Host`; no request two.
fn check_host(request: &Request) -> Result<(), RequestError> {
    match (request.headers_named("host").count(), request.version) {
        (0, Version::Http11) => Err(RequestError::Malformed(
            "an HTTP/1.1 request needs a Host header",
        )),
        (0 | 1, _) => Ok(()),
        _ => Err(RequestError::Malformed("more than one Host header")),
    }
}

fn strip_carriage_return(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Request {
    /// The request line as the client sent it, `GET /style.css HTTP/1.1`: what
    /// the access log shows of a request.
    pub fn line(&self) -> RequestLine<'_> {
        RequestLine(self)
    }

    /// The first header with this name, ignoring case (`host` finds `Host`).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).next()
    }

    fn headers_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The path part of the target, still percent-encoded: no query string, and
    /// no `http://host` in front when a client sent the absolute form.
    pub fn path(&self) -> &str {
        let target = self.target.as_str();
        let without_scheme = target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("https://"))
            .map(|rest| rest.find('/').map_or("/", |slash| &rest[slash..]))
            .unwrap_or(target);
        without_scheme.split(['?', '#']).next().unwrap_or_default()
    }

    /// Whether a `Connection` header lists `option` (`close`, `keep-alive`).
    pub fn connection_has(&self, option: &str) -> bool {
        self.headers_named("connection")
            .flat_map(|value| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case(option))
    }

    /// Whether the client wants the connection kept open after the response:
    /// HTTP/1.1 does unless it says `Connection: close`; HTTP/1.0 does only when
    /// it says `Connection: keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.connection_has("close"),
            Version::Http10 => self.connection_has("keep-alive") && !self.connection_has("close"),
        }
    }

    /// The length of the body after this head, as RFC 9112 section 6.3 decides it.
    pub fn body_length(&self) -> Result<BodyLength, RequestError> {
        let encodings: Vec<&str> = self.headers_named("transfer-encoding").collect();
        let lengths: Vec<&str> = self.headers_named("content-length").collect();
        if !encodings.is_empty() {
            if !lengths.is_empty() {
                return Err(RequestError::Malformed(
                    "both Transfer-Encoding and Content-Length",
                ));
            }
            let last = encodings.join(",");
            let last = last.rsplit(',').next().unwrap_or_default().trim();
            if self.version == Version::Http10 || !last.eq_ignore_ascii_case("chunked") {
                return Err(RequestError::Malformed(
                    "a Transfer-Encoding we cannot find the end of",
                ));
            }
            return Ok(BodyLength::Chunked);
        }
        let mut length = None;
        for text in lengths.iter().flat_map(|value| value.split(',')) {
            let text = text.trim();
            if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(RequestError::Malformed("Content-Length is not a number"));
            }
            let value: u64 = text
                .parse()
                .map_err(|_| RequestError::Malformed("Content-Length is too large"))?;
            if length.is_some_and(|earlier| earlier != value) {
                return Err(RequestError::Malformed("Content-Length headers disagree"));
            }
            length = Some(value);
        }
        Ok(match length {
            None | Some(0) => BodyLength::None,
            Some(value) => BodyLength::Fixed(value),
        })
    }
}

/// A request line, written out only when it is displayed (see [`Request::line`]).
pub struct RequestLine<'a>(&'a Request);

impl fmt::Display for RequestLine<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = self.0;
        write!(
            formatter,
            "{} {} {}",
            request.method,
            request.target,
            request.version.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Request, RequestError> {
        parse_request_head(text.as_bytes())
    }

    #[test]
    fn parses_a_plain_get() {
        let request =
            parse("GET /a/b.html?x=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n").unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.target, "/a/b.html?x=1");
        assert_eq!(request.path(), "/a/b.html");
        assert_eq!(request.version, Version::Http11);
        assert_eq!(request.header("HOST"), Some("example"));
        assert_eq!(request.header("accept"), Some("*/*"));
    }

    #[test]
    fn accepts_bare_newlines_and_http10_without_host() {
        let request = parse("HEAD / HTTP/1.0\n\n").unwrap();
        assert_eq!(request.method, "HEAD");
        assert_eq!(request.version, Version::Http10);
    }

    #[test]
    fn absolute_form_targets_give_their_path() {
        let request =
            parse("GET http://example/x.css?v=2 HTTP/1.1\r\nHost: example\r\n\r\n").unwrap();
        assert_eq!(request.path(), "/x.css");
    }

    #[test]
    fn malformed_request_lines_are_refused() {
        for line in [
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "GET /a b HTTP/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "\r\n\r\n",
            "GET / http/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse(line), Err(RequestError::Malformed(_))),
                "{line:?}"
            );
        }
    }

    #[test]
    fn other_major_versions_are_unsupported() {
        assert_eq!(
            parse("GET / HTTP/2.0\r\n\r\n").unwrap_err(),
            RequestError::UnsupportedVersion
        );
        assert_eq!(
            parse("GET / HTTP/1.7\r\nHost: a\r\n\r\n").unwrap().version,
            Version::Http11
        );
    }

    #[test]
    fn host_rules_follow_rfc_9112() {
        assert!(parse("GET / HTTP/1.1\r\n\r\n").is_err());
        assert!(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").is_err());
        assert!(parse("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n").is_err());
    }

    #[test]
    fn suspicious_header_lines_are_refused() {
        for head in [
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n",
        ] {
            assert!(
                matches!(parse(head), Err(RequestError::Malformed(_))),
                "{head:?}"
            );
        }
    }

    #[test]
    fn keep_alive_defaults_differ_by_version() {
        assert!(
            parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap()
                .wants_keep_alive()
        );
        assert!(
            !parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n")
                .unwrap()
                .wants_keep_alive()
        );
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().wants_keep_alive());
        assert!(
            parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .unwrap()
                .wants_keep_alive()
        );
    }

    #[test]
    fn body_length_follows_the_headers() {
        let length = |head: &str| parse(head).unwrap().body_length();
        assert_eq!(
            length("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Ok(BodyLength::None)
        );
        assert_eq!(
            length("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"),
            Ok(BodyLength::Fixed(5))
        );
        assert_eq!(
            length("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Ok(BodyLength::Chunked)
        );
        assert!(
            length("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
                .is_err()
        );
        assert!(length("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(length("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(length("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n").is_err());
    }
}
