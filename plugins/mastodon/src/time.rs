//! ISO 8601 timestamps, as in Mastodon's `X-RateLimit-Reset`
//! (`2026-11-23T10:00:00.000000Z`), to Unix milliseconds. Small on purpose:
//! a date crate would be most of the plugin's size.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch of `YYYY-MM-DD(T| )HH:MM[:SS[.fff…]][Z|±HH[:]MM]`;
/// without an offset the time is UTC. `None` for anything else.
pub fn parse_millis(text: &str) -> Option<i64> {
    let mut p = Parser(text.trim().as_bytes());
    let year = p.digits(4)?;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    if !p.eat(b'T') && !p.eat(b't') && !p.eat(b' ') {
        return None;
    }
    let hour = p.digits(2)?;
    p.expect(b':')?;
    let minute = p.digits(2)?;
    let second = if p.eat(b':') { p.digits(2)? } else { 0 };
    let mut millis = 0;
    if p.eat(b'.') || p.eat(b',') {
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
    let offset_minutes = if p.eat(b'Z') || p.eat(b'z') || p.0.is_empty() {
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
        p.eat(b':');
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
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// The current time in Unix milliseconds (the WASI wall clock in the plugin).
pub fn now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
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

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mastodon_and_rfc3339_shapes() {
        assert_eq!(parse_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_millis("2026-11-23T10:00:00.000000Z"), Some(1_795_428_000_000));
        assert_eq!(parse_millis("2026-11-23T10:00:00.123456Z"), Some(1_795_428_000_123));
        assert_eq!(parse_millis("2026-11-23T10:00:00.5Z"), Some(1_795_428_000_500));
        assert_eq!(parse_millis("2026-11-23T11:30:00+01:30"), Some(1_795_428_000_000));
        assert_eq!(parse_millis("2026-11-23T05:00:00-0500"), Some(1_795_428_000_000));
        assert_eq!(parse_millis("2026-11-23 10:00:00"), Some(1_795_428_000_000));
        assert_eq!(parse_millis("2026-11-23T10:00Z"), Some(1_795_428_000_000));
        assert_eq!(parse_millis("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        assert_eq!(parse_millis("1969-12-31T23:59:59Z"), Some(-1_000));
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
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
            "2026-11-23T10:00:00Z trailing",
            "2026-11-23T10:00:00+25:00",
            "２０２６-11-23T10:00:00Z",
        ] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }
}
