//! HTTP dates, the checker's own: `Tue, 01 Dec 2026 08:30:00 GMT`.
//!
//! RFC 9110 §5.6.7 calls this form the IMF-fixdate and says a sender must use
//! it, always in GMT and always 29 characters long. The checker writes dates
//! (for `If-Modified-Since`) and reads them (a server's `Date` and
//! `Last-Modified`); it does both here rather than with the servers' code, so a
//! server whose dates are wrong cannot agree with the checker by accident.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const SECONDS_PER_DAY: u64 = 86_400;
/// 1970-01-01 was a Thursday: `DAY_NAMES[3]`.
const EPOCH_WEEKDAY: u64 = 3;

/// `time` as an IMF-fixdate. Times before 1970 are written as 1970-01-01.
pub fn format_http_date(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let days = seconds / SECONDS_PER_DAY;
    let (year, month, day) = date_of_day_number(days);
    let second_of_day = seconds % SECONDS_PER_DAY;
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAY_NAMES[((days + EPOCH_WEEKDAY) % 7) as usize],
        MONTH_NAMES[(month - 1) as usize],
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Reads an IMF-fixdate, or says what is wrong with it. The day name must be
/// the right one for the date: a server that computes it wrongly is caught.
pub fn parse_http_date(text: &str) -> Result<SystemTime, String> {
    let wanted = "an IMF-fixdate such as \"Tue, 01 Dec 2026 08:30:00 GMT\"";
    let fields: Vec<&str> = text.split(' ').collect();
    let [day_name, day, month, year, time, zone] = fields.as_slice() else {
        return Err(format!("{text:?} is not {wanted}"));
    };
    let day_name = day_name
        .strip_suffix(',')
        .ok_or_else(|| format!("{text:?} has no comma after the day name; want {wanted}"))?;
    if *zone != "GMT" {
        return Err(format!("{text:?} is not in GMT; want {wanted}"));
    }
    let month = MONTH_NAMES
        .iter()
        .position(|name| name == month)
        .ok_or_else(|| format!("{text:?} has no month name such as Dec; want {wanted}"))?
        as u64
        + 1;
    let day = digits(day, 2).filter(|day| (1..=days_in_month(0, month)).contains(day));
    let year = digits(year, 4);
    let (Some(day), Some(year)) = (day, year) else {
        return Err(format!(
            "{text:?} needs a two-digit day and a four-digit year; want {wanted}"
        ));
    };
    if day > days_in_month(year, month) {
        return Err(format!("{text:?}: {month:02}/{year} has no day {day}"));
    }
    let time: Vec<Option<u64>> = time.split(':').map(|part| digits(part, 2)).collect();
    let [Some(hour), Some(minute), Some(second)] = time.as_slice() else {
        return Err(format!(
            "{text:?} needs the time as HH:MM:SS; want {wanted}"
        ));
    };
    if *hour > 23 || *minute > 59 || *second > 60 {
        return Err(format!("{text:?} has no such time of day"));
    }
    if year < 1970 {
        return Err(format!("{text:?} is before 1970"));
    }
    let days = day_number_of_date(year, month, day);
    let real_day_name = DAY_NAMES[((days + EPOCH_WEEKDAY) % 7) as usize];
    if day_name != real_day_name {
        return Err(format!(
            "{text:?} names the wrong day of the week: that date is a {real_day_name}"
        ));
    }
    let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    Ok(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Exactly `count` ASCII digits, as a number.
fn digits(text: &str, count: usize) -> Option<u64> {
    if text.len() != count || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_leap_year(year: u64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1 to 12) of `year`; year 0 stands for "any year" (a leap
/// one), for a first check before the year is known.
fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year == 0 || is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// How many days after 1970-01-01 the date is. Counting whole years, then
/// whole months, is slow for dates far away but plain to read, and HTTP dates
/// are never far from now.
fn day_number_of_date(year: u64, month: u64, day: u64) -> u64 {
    let days_before_year: u64 = (1970..year)
        .map(|year| if is_leap_year(year) { 366 } else { 365 })
        .sum();
    let days_before_month: u64 = (1..month).map(|month| days_in_month(year, month)).sum();
    days_before_year + days_before_month + day - 1
}

/// The date `days` days after 1970-01-01: year, month (1 to 12), day.
fn date_of_day_number(mut days: u64) -> (u64, u64, u64) {
    let mut year = 1970;
    loop {
        let length = if is_leap_year(year) { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    let mut month = 1;
    while days >= days_in_month(year, month) {
        days -= days_in_month(year, month);
        month += 1;
    }
    (year, month, days + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn writes_known_dates() {
        assert_eq!(format_http_date(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 9110's own example.
        assert_eq!(
            format_http_date(at(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            format_http_date(at(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn reads_what_it_writes() {
        for seconds in [0, 784_111_777, 951_782_400, 1_798_792_200, 4_102_444_799] {
            let text = format_http_date(at(seconds));
            assert_eq!(parse_http_date(&text), Ok(at(seconds)), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_imf_fixdate() {
        for text in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Tue, 29 Feb 2022 00:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "",
        ] {
            assert!(parse_http_date(text).is_err(), "{text:?} was accepted");
        }
    }
}
