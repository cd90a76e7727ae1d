//! Showing a person what happened: the request as a command they can paste into a
//! shell, and the answer as escaped, trimmed bytes.

use std::fmt::Write as _;
use std::net::SocketAddr;

/// How many received bytes a failure shows before it cuts.
pub const SHOWN_BYTES: usize = 320;

/// Bytes as a quoted string a person can read: `\r`, `\n`, `\t` and `\xHH` for the
/// rest, cut after `limit` bytes with a note of how many more there were.
pub fn escape_bytes(bytes: &[u8], limit: usize) -> String {
    if bytes.is_empty() {
        return "(nothing)".to_string();
    }
    let mut text = String::from("\"");
    for &byte in bytes.iter().take(limit) {
        match byte {
            b'\r' => text.push_str("\\r"),
            b'\n' => text.push_str("\\n"),
            b'\t' => text.push_str("\\t"),
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            0x20..=0x7e => text.push(byte as char),
            _ => {
                let _ = write!(text, "\\x{byte:02x}");
            }
        }
    }
    text.push('"');
    if bytes.len() > limit {
        let _ = write!(
            text,
            " ... ({} more bytes, {} in all)",
            bytes.len() - limit,
            bytes.len()
        );
    }
    text
}

/// Bytes escaped as [`escape_bytes`] does, without the quotes or the note of
/// what was cut: for records whose other fields say how long the bytes were.
pub fn escape_bytes_unquoted(bytes: &[u8], limit: usize) -> String {
    let shown = &bytes[..bytes.len().min(limit)];
    if shown.is_empty() {
        return String::new();
    }
    let quoted = escape_bytes(shown, limit);
    quoted[1..quoted.len() - 1].to_string()
}

/// What came back, for a failure: the head in full (escaped), then the start of
/// the body if it is text, or just its size if it is binary.
pub fn describe_received(bytes: &[u8]) -> String {
    let Some(head_end) = crate::response_reader::find_head_end(bytes) else {
        return escape_bytes(bytes, SHOWN_BYTES);
    };
    let (head, body) = bytes.split_at(head_end);
    let mut text = escape_bytes(head, SHOWN_BYTES * 4);
    if body.is_empty() {
        return text;
    }
    let printable = body
        .iter()
        .take(256)
        .filter(|byte| byte.is_ascii_graphic() || byte.is_ascii_whitespace())
        .count();
    if printable * 10 >= body.len().min(256) * 9 {
        text.push_str(&format!(
            " then the body {}",
            escape_bytes(body, SHOWN_BYTES / 2)
        ));
    } else {
        text.push_str(&format!(" then {} bytes of binary body", body.len()));
    }
    text
}

/// The shell command that sends `request` to `addr`: `curl -v` when curl would
/// send the same request line and headers that matter, `printf ... | nc` otherwise.
pub fn command_for(addr: SocketAddr, request: &[u8]) -> String {
    curl_command(addr, request).unwrap_or_else(|| nc_command(addr, request))
}

fn curl_command(addr: SocketAddr, request: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(request).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let mut words = lines.next()?.split(' ');
    let (method, path, version) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() || !path.starts_with('/') || path.contains(['\'', '\\']) {
        return None;
    }
    let mut command = String::from("curl -v");
    match method {
        "GET" => {}
        "HEAD" => command.push_str(" --head"),
        _ => return None,
    }
    match version {
        "HTTP/1.1" => {}
        "HTTP/1.0" => command.push_str(" --http1.0"),
        _ => return None,
    }
    for line in lines {
        let (name, value) = line.split_once(": ")?;
        match name.to_ascii_lowercase().as_str() {
            "host" => {}
            "connection" | "range" | "if-modified-since" => {
                let _ = write!(command, " -H '{name}: {value}'");
            }
            _ => return None,
        }
    }
    if path.contains("/.") {
        // Without this, curl tidies `/../` away before sending.
        command.push_str(" --path-as-is");
    }
    let _ = write!(command, " 'http://{addr}{path}'");
    Some(command)
}

/// `printf 'GET / HTTP/1.0\r\n\r\n' | nc 127.0.0.1 7802`, with long runs of one
/// byte written as `%s` and a generated argument, so a 16 KiB header stays short.
fn nc_command(addr: SocketAddr, request: &[u8]) -> String {
    let mut format = String::new();
    let mut arguments = Vec::new();
    let mut index = 0;
    while index < request.len() {
        let byte = request[index];
        let run = request[index..]
            .iter()
            .take_while(|&&other| other == byte)
            .count();
        if run >= 32 && byte.is_ascii_alphanumeric() {
            format.push_str("%s");
            arguments.push(format!(
                "\"$(head -c {run} /dev/zero | tr '\\0' '{}')\"",
                byte as char
            ));
            index += run;
            continue;
        }
        match byte {
            b'\r' => format.push_str("\\r"),
            b'\n' => format.push_str("\\n"),
            b'\t' => format.push_str("\\t"),
            b'\\' => format.push_str("\\\\"),
            b'%' => format.push_str("%%"),
            b'\'' => format.push_str("\\x27"),
            0x20..=0x7e => format.push(byte as char),
            _ => {
                let _ = write!(format, "\\x{byte:02x}");
            }
        }
        index += 1;
    }
    let mut command = format!("printf '{format}'");
    for argument in arguments {
        command.push(' ');
        command.push_str(&argument);
    }
    let _ = write!(command, " | nc {} {}", addr.ip(), addr.port());
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:7802".parse().unwrap()
    }

    #[test]
    fn escapes_and_cuts() {
        assert_eq!(escape_bytes(b"OK\r\n\x00", 100), "\"OK\\r\\n\\x00\"");
        assert_eq!(
            escape_bytes(b"abcdef", 3),
            "\"abc\" ... (3 more bytes, 6 in all)"
        );
    }

    #[test]
    fn plain_requests_become_curl() {
        let request = b"HEAD /a.css HTTP/1.0\r\nHost: x\r\n\r\n";
        assert_eq!(
            command_for(addr(), request),
            "curl -v --head --http1.0 'http://127.0.0.1:7802/a.css'"
        );
        let climbing = b"GET /../x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        assert_eq!(
            command_for(addr(), climbing),
            "curl -v -H 'Connection: close' --path-as-is 'http://127.0.0.1:7802/../x'"
        );
    }

    #[test]
    fn odd_requests_become_printf_and_nc() {
        let request = b"GET /%2e%2e HTTP/1.0\r\nX: \x00\r\n\r\n";
        assert_eq!(
            command_for(addr(), request),
            "printf 'GET /%%2e%%2e HTTP/1.0\\r\\nX: \\x00\\r\\n\\r\\n' | nc 127.0.0.1 7802"
        );
        let long = [
            b"GET / HTTP/1.0\r\nX: ".as_slice(),
            &[b'a'; 40],
            b"\r\n\r\n",
        ]
        .concat();
        assert!(
            command_for(addr(), &long)
                .contains("%s\\r\\n\\r\\n' \"$(head -c 40 /dev/zero | tr '\\0' 'a')\"")
        );
    }
}
