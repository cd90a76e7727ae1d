//! The checker's own reading of an HTTP/1.1 response head, strict where the
//! servers are lenient.
//!
//! An oracle must not share code with what it judges: if the checker framed
//! responses with the servers' own head reader, a server that broke a rule in
//! that reader would pass every check. So this module is written against
//! RFC 9112 (the HTTP/1.1 message syntax) and RFC 9110 (its semantics) alone,
//! and it refuses what a sender must not send:
//!
//! - the status line is `HTTP/1.x SP 3DIGIT SP reason-phrase` (§4);
//! - every line ends in CRLF: a bare LF is a failure (§2.2);
//! - a header line is `token ":" OWS value OWS`, with no whitespace between the
//!   name and the colon (§5.1), and no line starts with a space or a tab: that
//!   is obs-fold, a folded header, which a server must not send (§5.2);
//! - there is at most one `Content-Length`, and it is a decimal number
//!   (RFC 9110 §8.6);
//! - a body that runs until the connection closes is allowed only when the
//!   server said `Connection: close` (otherwise nothing says where it ends);
//! - a response to `HEAD`, and any 1xx, 204 or 304, has no body (RFC 9110
//!   §9.3.2, §15.3.5, §15.4.5); [`crate::client`] enforces that one, since it
//!   needs to see what follows the head.
//!
//! Finding the end of the head is the one lenient step: [`find_head_end`]
//! also accepts a blank line made of bare LFs, so that a server that ends its
//! lines with `\n` gets a failure that says so, not a silent timeout.

use crate::show::escape_bytes;

/// A response head that follows the grammar.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHead {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// Names as sent, values without the optional whitespace around them.
    pub headers: Vec<(String, String)>,
    /// The one `Content-Length`, if there was one.
    pub content_length: Option<u64>,
}

/// Where the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BodyFraming {
    /// No body at all: a response to HEAD, a 1xx, a 204 or a 304.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// The body runs until the server closes the connection.
    UntilClose,
}

/// Where the head ends: its length including the blank line, if `bytes` holds
/// a whole one. A blank line of bare LFs counts too, so that [`parse_head`] can
/// name the broken rule instead of the checker waiting for a CRLF that never
/// comes.
pub fn find_head_end(bytes: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    while let Some(offset) = bytes[line_start..].iter().position(|&byte| byte == b'\n') {
        let line_end = line_start + offset + 1;
        let line = &bytes[line_start..line_end];
        // The first empty line (`\r\n`, or a bare `\n`) ends the head.
        if line_start > 0 && (line == b"\r\n" || line == b"\n") {
            return Some(line_end);
        }
        line_start = line_end;
    }
    None
}

/// Parses a head that [`find_head_end`] found (blank line included), or says
/// which rule it breaks, in a sentence that shows the offending bytes.
pub fn parse_head(head: &[u8]) -> Result<ResponseHead, String> {
    let lines = split_crlf_lines(head)?;
    let (status_line, header_lines) = lines
        .split_first()
        .ok_or_else(|| "the response is empty".to_string())?;
    let (version, status, reason) = parse_status_line(status_line)?;
    let mut headers = Vec::new();
    for (index, line) in header_lines.iter().enumerate() {
        if line.is_empty() {
            break;
        }
        // Line numbers as a person counts them: the status line is line 1.
        headers.push(parse_header_line(line, index + 2)?);
    }
    let content_length = single_content_length(&headers)?;
    Ok(ResponseHead {
        version,
        status,
        reason,
        headers,
        content_length,
    })
}

/// Decides where the body ends, from the head and whether the request was HEAD.
pub fn body_framing(head: &ResponseHead, request_was_head: bool) -> Result<BodyFraming, String> {
    if request_was_head || matches!(head.status, 100..=199 | 204 | 304) {
        return Ok(BodyFraming::None);
    }
    if let Some(length) = head.content_length {
        return Ok(BodyFraming::Length(length));
    }
    let says_close = header_values(&head.headers, "connection")
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("close"));
    if says_close {
        Ok(BodyFraming::UntilClose)
    } else {
        Err(
            "the response has neither Content-Length nor Connection: close, so nothing says \
             where its body ends (RFC 9112 §6.3)"
                .to_string(),
        )
    }
}

/// The lines of the head without their CRLFs; a bare LF or a lone CR fails.
fn split_crlf_lines(head: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut lines = Vec::new();
    let mut rest = head;
    while !rest.is_empty() {
        let newline = rest
            .iter()
            .position(|&byte| byte == b'\n')
            .ok_or_else(|| "the head does not end in a blank line".to_string())?;
        let with_newline = &rest[..=newline];
        let number = lines.len() + 1;
        let Some(line) = with_newline.strip_suffix(b"\r\n") else {
            return Err(format!(
                "line {number} ends in a bare LF, without the CR before it: {} \
                 (RFC 9112 §2.2: every line of a response ends in CRLF, \\r\\n)",
                escape_bytes(with_newline, 200)
            ));
        };
        if line.contains(&b'\r') {
            return Err(format!(
                "line {number} holds a CR that is not followed by LF: {}",
                escape_bytes(with_newline, 200)
            ));
        }
        lines.push(line);
        rest = &rest[newline + 1..];
    }
    Ok(lines)
}

/// `HTTP/1.1 200 OK`: the version, the three-digit code, and the reason phrase.
fn parse_status_line(line: &[u8]) -> Result<(String, u16, String), String> {
    let broken = |why: &str| {
        format!(
            "the status line {} {why}; it must be HTTP-version SP 3DIGIT SP reason-phrase, \
             such as \"HTTP/1.1 200 OK\" (RFC 9112 §4)",
            escape_bytes(line, 200)
        )
    };
    let version = line.get(..8).unwrap_or(line);
    let is_http_1x =
        version.len() == 8 && version.starts_with(b"HTTP/1.") && version[7].is_ascii_digit();
    if !is_http_1x {
        return Err(broken("does not start with HTTP/1.x"));
    }
    if line.get(8) != Some(&b' ') {
        return Err(broken("has no single space after the version"));
    }
    let code = line.get(9..12).unwrap_or_default();
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(broken("has no three-digit status code"));
    }
    let status = u16::from(code[0] - b'0') * 100
        + u16::from(code[1] - b'0') * 10
        + u16::from(code[2] - b'0');
    if !(100..=599).contains(&status) {
        return Err(broken("has a status code outside 100 to 599"));
    }
    if line.get(12) != Some(&b' ') {
        return Err(broken("has no space after the status code"));
    }
    let reason = &line[13..];
    let reason_is_text = reason
        .iter()
        .all(|&byte| byte == b'\t' || byte == b' ' || byte >= 0x21 && byte != 0x7f);
    if !reason_is_text {
        return Err(broken("has a control character in its reason phrase"));
    }
    Ok((
        String::from_utf8_lossy(version).into_owned(),
        status,
        String::from_utf8_lossy(reason).into_owned(),
    ))
}

/// `Name: value`, with the rules a sender must follow.
fn parse_header_line(line: &[u8], number: usize) -> Result<(String, String), String> {
    let shown = escape_bytes(line, 200);
    if line.starts_with(b" ") || line.starts_with(b"\t") {
        return Err(format!(
            "line {number}, {shown}, starts with whitespace: that folds it onto the header \
             before (obs-fold), which RFC 9112 §5.2 forbids a server to send"
        ));
    }
    let colon = line
        .iter()
        .position(|&byte| byte == b':')
        .ok_or_else(|| format!("the header line {shown} has no colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.ends_with(b" ") || name.ends_with(b"\t") {
        return Err(format!(
            "the header line {shown} has whitespace before its colon, which RFC 9112 §5.1 \
             forbids (clients must reject such a response)"
        ));
    }
    if name.is_empty() || !name.iter().copied().all(is_token_byte) {
        return Err(format!(
            "the header line {shown} has a name that is not a token (letters, digits and \
             !#$%&'*+-.^_`|~ only; RFC 9110 §5.1)"
        ));
    }
    let value = trim_optional_whitespace(value);
    if value
        .iter()
        .any(|&byte| byte < 0x20 && byte != b'\t' || byte == 0x7f)
    {
        return Err(format!(
            "the header line {shown} has a control character in its value (RFC 9110 §5.5)"
        ));
    }
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

/// The characters a header name (a `token`) may hold.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A value without the spaces and tabs (OWS) around it.
fn trim_optional_whitespace(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// Every value of the header called `name`, ignoring case.
fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// The one `Content-Length`, if any: a second one, or one that is not a plain
/// decimal number, leaves a client unable to know where the body ends.
fn single_content_length(headers: &[(String, String)]) -> Result<Option<u64>, String> {
    let values: Vec<&str> = header_values(headers, "content-length").collect();
    match values.as_slice() {
        [] => Ok(None),
        [value] => decimal_length(value).map(Some),
        [first, second, ..] if first != second => Err(format!(
            "two different Content-Length headers, {first:?} and {second:?}: a client \
             cannot know where the body ends (RFC 9110 §8.6)"
        )),
        [first, ..] => Err(format!(
            "Content-Length: {first} is sent {} times; a server sends exactly one \
             (RFC 9110 §8.6)",
            values.len()
        )),
    }
}

fn decimal_length(value: &str) -> Result<u64, String> {
    let digits_only = !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit());
    let length = if digits_only {
        value.parse().ok()
    } else {
        None
    };
    length.ok_or_else(|| {
        format!(
            "Content-Length is {value:?}, not a decimal number of bytes (RFC 9110 §8.6: \
             1*DIGIT)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem_with(head: &[u8]) -> String {
        match parse_head(head) {
            Ok(parsed) => panic!("{parsed:?} was accepted"),
            Err(problem) => problem,
        }
    }

    #[test]
    fn reads_a_well_formed_head() {
        let head = b"HTTP/1.1 404 Not Found\r\nContent-Length:  3 \r\nConnection: close\r\n\r\n";
        let parsed = parse_head(head).expect("a valid head");
        assert_eq!(parsed.status, 404);
        assert_eq!(parsed.reason, "Not Found");
        assert_eq!(parsed.content_length, Some(3));
        assert_eq!(parsed.headers[1], ("Connection".into(), "close".into()));
    }

    #[test]
    fn an_empty_reason_phrase_still_needs_its_space() {
        assert!(parse_head(b"HTTP/1.1 200 \r\n\r\n").is_ok());
        assert!(problem_with(b"HTTP/1.1 200\r\n\r\n").contains("no space after the status"));
    }

    #[test]
    fn finds_the_end_of_a_head_with_bare_lfs_too() {
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r\nbody"), Some(19));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\n\nbody"), Some(17));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n"), None);
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases: [(&[u8], &str); 9] = [
            (b"HTTP/1.1 200 OK\nA: b\n\n", "bare LF"),
            (b"HTTP/1.1 200 OK\r\nA: b\n\r\n", "line 2 ends in a bare LF"),
            (b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", "obs-fold"),
            (
                b"HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
                "whitespace before its colon",
            ),
            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "no colon"),
            (b"HTTP/2 200 OK\r\n\r\n", "HTTP/1.x"),
            (b"HTTP/1.1 20 OK\r\n\r\n", "three-digit"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
                "two different Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n",
                "not a decimal",
            ),
        ];
        for (head, rule) in cases {
            let problem = problem_with(head);
            assert!(problem.contains(rule), "{problem:?} should say {rule:?}");
        }
    }

    #[test]
    fn a_body_needs_a_length_or_a_close() {
        let parse = |head: &[u8]| parse_head(head).expect("a valid head");
        let kept = parse(b"HTTP/1.1 200 OK\r\n\r\n");
        assert!(body_framing(&kept, false).is_err());
        assert_eq!(body_framing(&kept, true), Ok(BodyFraming::None));
        let closed = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        assert_eq!(body_framing(&closed, false), Ok(BodyFraming::UntilClose));
        let not_modified = parse(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n");
        assert_eq!(body_framing(&not_modified, false), Ok(BodyFraming::None));
    }
}
