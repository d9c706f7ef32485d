//! Times as networks write them, to and from Unix milliseconds and the RFC
//! 3339 strings the contract wants. Small on purpose: a date crate would be
//! most of a plugin's size.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch of an RFC 3339 time
/// (`YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`); `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    parse(text, true)
}

/// Milliseconds since the Unix epoch of the looser ISO 8601 shapes servers
/// send in headers (`YYYY-MM-DD(T| )HH:MM[:SS[.fff…]][Z|±HH[:]MM]`, UTC
/// without an offset); `None` for anything else.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    parse(text.trim(), false)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_millis(millis: i64) -> String {
    let (days, ms_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let seconds = ms_of_day / 1_000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60,
        ms_of_day % 1_000
    )
}

/// An RFC 3339 time in the shape of [`format_millis`] (UTC, milliseconds), or
/// `None` when it is not RFC 3339.
pub fn normalize(text: &str) -> Option<String> {
    parse_rfc3339(text.trim()).map(format_millis)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds; `None` before 1970 or after 9999
/// (milliseconds passed as seconds land there).
pub fn from_unix_seconds(secs: i64) -> Option<String> {
    let secs = u64::try_from(secs).ok().filter(|s| *s <= 253_402_300_799)?;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    ))
}

/// The current time in Unix milliseconds (the WASI wall clock in a plugin).
pub fn now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Milliseconds from `now_millis` until `until_millis`; 0 once it has passed.
pub fn wait_ms(until_millis: i64, now_millis: i64) -> u64 {
    u64::try_from(until_millis.saturating_sub(now_millis)).unwrap_or(0)
}

/// Strict: RFC 3339 only. Loose: also a space for `T`, no seconds, no
/// offset (UTC), an offset without its colon, a comma before the fraction.
fn parse(text: &str, strict: bool) -> Option<i64> {
    let mut p = Parser(text.as_bytes());
    let year = p.digits(4)?;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    if !p.eat(b'T') && !p.eat(b't') && (strict || !p.eat(b' ')) {
        return None;
    }
    let hour = p.digits(2)?;
    p.expect(b':')?;
    let minute = p.digits(2)?;
    let second = if p.eat(b':') {
        p.digits(2)?
    } else if strict {
        return None;
    } else {
        0
    };
    let mut millis = 0;
    if p.eat(b'.') || (!strict && p.eat(b',')) {
        let fraction = p.take_while(|b| b.is_ascii_digit());
        if fraction.is_empty() {
            return None;
        }
        // The first three digits are the milliseconds; pad "5" to "500".
        millis = fraction
            .iter()
            .chain(b"000")
            .take(3)
            .fold(0, |ms, d| ms * 10 + i64::from(d - b'0'));
    }
    let offset_minutes = if p.eat(b'Z') || p.eat(b'z') || (!strict && p.0.is_empty()) {
        0
    } else {
        let sign = if p.eat(b'+') {
            1
        } else if p.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = p.digits(2)?;
        if !p.eat(b':') && strict {
            return None;
        }
        let minutes = p.digits(2)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        sign * (hours * 60 + minutes)
    };
    // A leap second (`:60`) is accepted and counted as the next second.
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid || !p.0.is_empty() {
        return None;
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

struct Parser<'a>(&'a [u8]);

impl Parser<'_> {
    fn eat(&mut self, byte: u8) -> bool {
        match self.0.split_first() {
            Some((&b, rest)) if b == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn digits(&mut self, count: usize) -> Option<i64> {
        let digits = self.0.get(..count)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[count..];
        Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    fn take_while(&mut self, f: impl Fn(&u8) -> bool) -> &[u8] {
        let end = self.0.iter().position(|b| !f(b)).unwrap_or(self.0.len());
        let (taken, rest) = self.0.split_at(end);
        self.0 = rest;
        taken
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`] (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        for parse in [parse_rfc3339, parse_iso8601] {
            assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
            assert_eq!(parse("2026-11-23T10:00:00.000000Z"), Some(1_795_428_000_000));
            assert_eq!(parse("2026-11-23T10:00:00.123456Z"), Some(1_795_428_000_123));
            assert_eq!(parse("2026-11-23T10:00:00.5z"), Some(1_795_428_000_500));
            assert_eq!(parse("2026-11-23T11:30:00+01:30"), Some(1_795_428_000_000));
            assert_eq!(parse("2026-11-23t05:00:00-05:00"), Some(1_795_428_000_000));
            assert_eq!(parse("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
            assert_eq!(parse("1969-12-31T23:59:59Z"), Some(-1_000));
        }
    }

    #[test]
    fn iso8601_takes_what_servers_send_in_headers() {
        for (loose, millis) in [
            ("2026-11-23T05:00:00-0500", 1_795_428_000_000),
            ("2026-11-23 10:00:00", 1_795_428_000_000),
            ("2026-11-23T10:00Z", 1_795_428_000_000),
            (" 2026-11-23T10:00:00,5Z ", 1_795_428_000_500),
        ] {
            assert_eq!(parse_iso8601(loose), Some(millis), "{loose}");
            assert_eq!(parse_rfc3339(loose), None, "{loose} is not RFC 3339");
        }
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "soon",
            "1795428000",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:00.Z",
            "2026-11-23T10:00:00Q",
            "2026-11-23T10:00:00+25:00",
            "2026-11-23T10:00:00Z trailing",
            "２０２６-11-23T10:00:00Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(parse_rfc3339("2026-11-23T10:00:00"), None, "no offset");
    }

    #[test]
    fn formats_and_normalizes() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_795_428_000_123), "2026-11-23T10:00:00.123Z");
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            normalize("2026-11-23T11:30:00.5+01:30").as_deref(),
            Some("2026-11-23T10:00:00.500Z")
        );
        assert_eq!(normalize("yesterday"), None);
    }

    #[test]
    fn waits_until_a_time_and_not_before_now() {
        assert_eq!(wait_ms(1_795_428_090_000, 1_795_428_000_000), 90_000);
        assert_eq!(wait_ms(1_795_428_000_000, 1_795_428_090_000), 0);
        assert_eq!(wait_ms(i64::MAX, i64::MIN), u64::try_from(i64::MAX).unwrap());
    }

    #[test]
    fn formats_unix_seconds() {
        assert_eq!(
            from_unix_seconds(1_605_739_553).as_deref(),
            Some("2020-11-18T22:45:53Z")
        );
        assert_eq!(from_unix_seconds(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(from_unix_seconds(951_782_400).as_deref(), Some("2000-02-29T00:00:00Z"));
        assert_eq!(from_unix_seconds(-1), None);
        assert_eq!(
            from_unix_seconds(1_605_739_553_000),
            None,
            "milliseconds are not seconds"
        );
    }
}
