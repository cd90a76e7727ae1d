//! Reference solution of ch02-conditional-get (chapter 2).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stage01_fixed_page::date::http_date;
use stage02_file_lookup::request::Request;
use stage02_file_lookup::response::{Body, Response, Status};
use stage02_file_lookup::site::respond;

const NOT_MODIFIED: Status = Status::new(304, "Not Modified");

fn main() {
    stage02_file_lookup::run(
        "ch02-conditional-get",
        "stage 2 with conditional requests",
        answer,
    );
}

fn answer(request: &Request, root: &Path) -> Response {
    let mut response = respond(request, root);
    let Body::File { file, .. } = &response.body else {
        return response;
    };
    if response.status != Status::OK {
        return response;
    }
    let Ok(modified) = file.metadata().and_then(|metadata| metadata.modified()) else {
        return response;
    };
    response
        .extra_headers
        .push(("Last-Modified", http_date(modified)));
    let since = request
        .header("if-modified-since")
        .and_then(parse_http_date);
    // HTTP dates have whole seconds: compare at that precision.
    if since.is_some_and(|since| whole_seconds(modified) <= whole_seconds(since)) {
        response.status = NOT_MODIFIED;
        // No body; Content-Length may stay, as it is what a 200 would have sent.
        response.omit_body = true;
    }
    response
}

fn whole_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Reads `Sun, 06 Nov 1994 08:49:37 GMT`, the only format a server must send.
fn parse_http_date(text: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = text.split([' ', ':']).collect();
    let [_, day, month, year, hour, minute, second, "GMT"] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|name| *name == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let (hour, minute, second): (u64, u64, u64) = (
        hour.parse().ok()?,
        minute.parse().ok()?,
        second.parse().ok()?,
    );
    let days = days_from_civil(year, month, day);
    let seconds = u64::try_from(days).ok()? * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a date (Howard Hinnant's algorithm, the inverse of
/// the one `stage02_file_lookup::response` uses to write dates).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
