//! The `Date` header: the moment a response was made, in the one format HTTP
//! servers send (RFC 9110, section 5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`).
//!
//! A server with a clock must send `Date` (RFC 9110, section 6.6.1): caches use
//! it to tell how old a response is. Every stage does, from this first one on.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A moment in the format HTTP uses, such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let days = seconds / 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    let time_of_day = seconds % 86_400;
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        time_of_day / 3600,
        time_of_day / 60 % 60,
        time_of_day % 60
    )
}

/// The present moment as [`http_date`] writes it. The text changes once a
/// second and a busy server answers thousands of requests in between, so each
/// thread formats it at most once a second and hands out copies.
pub fn http_date_now() -> String {
    thread_local! {
        /// The second last formatted, since 1970, and its text.
        static LAST: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    LAST.with_borrow_mut(|(formatted_second, text)| {
        if *formatted_second != second {
            *text = http_date(now);
            *formatted_second = second;
        }
        text.clone()
    })
}

/// Year, month (1 to 12) and day of the month for a count of days since
/// 1970-01-01, by Howard Hinnant's well-known `civil_from_days` algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Reads a date in the format [`http_date`] writes, `Sun, 06 Nov 1994 08:49:37
/// GMT`, back into a moment; `None` for anything else. A server must accept
/// two older formats too (RFC 9110, section 5.6.7), but every client in use
/// today sends this one, and a date that cannot be read is simply ignored.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
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
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a date: the inverse of `civil_from_days`, by the
/// same algorithm of Howard Hinnant's.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_present_is_formatted_once_a_second_and_always_right() {
        let before = SystemTime::now();
        let first = http_date_now();
        let second = http_date_now();
        let after = SystemTime::now();
        for text in [&first, &second] {
            assert!(
                *text == http_date(before) || *text == http_date(after),
                "{text}"
            );
        }
    }

    #[test]
    fn formats_http_dates() {
        let moment = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(moment), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(http_date(leap_day), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn reads_back_what_it_writes() {
        for seconds in [0, 784_111_777, 951_782_400, 1_796_118_300] {
            let moment = UNIX_EPOCH + Duration::from_secs(seconds);
            assert_eq!(parse_http_date(&http_date(moment)), Some(moment));
        }
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
