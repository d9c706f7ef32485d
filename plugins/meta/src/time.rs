//! Meta's Unix times (seconds in `created_time` and `time`, milliseconds in a
//! message's `timestamp`) as the RFC 3339 strings the contract wants.

/// `2026-11-23T10:00:00Z`; `None` for a time before 1970 or after 9999.
pub fn rfc3339(secs: i64) -> Option<String> {
    let secs = u64::try_from(secs).ok().filter(|s| *s <= 253_402_300_799)?;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    ))
}

/// Days since 1970-01-01 to a Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_seconds() {
        assert_eq!(rfc3339(1_605_739_553).as_deref(), Some("2020-11-18T22:45:53Z"));
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(rfc3339(951_782_400).as_deref(), Some("2000-02-29T00:00:00Z"));
        assert_eq!(rfc3339(-1), None);
        assert_eq!(rfc3339(1_605_739_553_000), None, "milliseconds are not seconds");
    }
}
