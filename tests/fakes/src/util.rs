//! Small HTTP helpers shared by the fake servers, written by hand so the test
//! crate needs no extra URL or date dependencies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Decodes `application/x-www-form-urlencoded` text (also used for query
/// strings) into ordered pairs, keeping repeated keys such as `types[]`.
/// Never fails: bad escapes are kept literally, bad UTF-8 is replaced.
pub fn parse_form(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(part), String::new()),
        })
        .collect()
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Escapes like Ruby's `CGI.escape`, which Rails' `to_query` uses to build
/// Mastodon's Link headers: only `*-._` and alphanumerics stay, space is `+`.
pub fn cgi_escape(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Formats a time as ISO 8601 UTC with millisecond precision, the shape of
/// Mastodon's `created_at` fields (`2023-05-28T12:06:50.000Z`).
pub fn iso8601_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    format!("{}.{:03}Z", iso8601_seconds(d.as_secs()), d.subsec_millis())
}

/// Formats a time as ISO 8601 UTC with microseconds, the shape Mastodon
/// sends in `X-RateLimit-Reset` (`2019-12-05T06:00:00.369102Z`).
pub fn iso8601_micros(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    format!("{}.{:06}Z", iso8601_seconds(d.as_secs()), d.subsec_micros())
}

/// `2023-05-28T12:06:50`, without a zone (callers add theirs).
pub fn iso8601_seconds(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SS[.fff]Z` (the RFC 3339 UTC times
/// clients send, e.g. YouTube's `publishedAfter`); `None` for anything else.
pub fn parse_utc(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !text.ends_with('Z') && !text.ends_with("+00:00") {
        return None;
    }
    let n = |from: usize, to: usize| text.get(from..to)?.parse::<u64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60
    {
        return None;
    }
    // Howard Hinnant's `days_from_civil`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`, restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_repeated_and_escaped_keys() {
        let pairs = parse_form("types%5B%5D=mention&types[]=status&a=b+c&bad=%zz&x");
        assert_eq!(
            pairs,
            vec![
                ("types[]".into(), "mention".into()),
                ("types[]".into(), "status".into()),
                ("a".into(), "b c".into()),
                ("bad".into(), "%zz".into()),
                ("x".into(), String::new()),
            ]
        );
        assert_eq!(parse_form("t=%"), vec![("t".into(), "%".into())]);
        assert_eq!(parse_form("t=%4"), vec![("t".into(), "%4".into())]);
    }

    #[test]
    fn escapes_like_rails() {
        assert_eq!(cgi_escape("types[]"), "types%5B%5D");
        assert_eq!(cgi_escape("a b/é"), "a+b%2F%C3%A9");
    }

    #[test]
    fn formats_iso8601() {
        let t = UNIX_EPOCH + Duration::from_micros(1_685_275_610_369_102);
        assert_eq!(iso8601_millis(t), "2023-05-28T12:06:50.369Z");
        assert_eq!(iso8601_micros(t), "2023-05-28T12:06:50.369102Z");
        assert_eq!(iso8601_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601_millis(leap), "2000-02-29T00:00:00.000Z");
        assert_eq!(parse_utc("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_utc("2023-05-28T12:06:50.369Z"), Some(1_685_275_610));
        assert_eq!(
            parse_utc(&format!("{}Z", iso8601_seconds(1_685_275_610))),
            Some(1_685_275_610)
        );
        assert_eq!(parse_utc("2023-05-28 12:06:50"), None);
    }
}
