//! Reddit's `created_utc` (Unix seconds, a float) as the RFC 3339 time the contract wants.

/// `2026-11-23T10:00:00Z`; `None` for a value that is not a time after 1970.
pub fn rfc3339(created_utc: f64) -> Option<String> {
    // Reddit sends whole seconds as floats (`1616648939.0`); fractions are dropped.
    if !created_utc.is_finite() || !(0.0..=253_402_300_799.0).contains(&created_utc) {
        return None;
    }
    let secs = created_utc as u64;
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
    fn formats_reddit_times() {
        assert_eq!(rfc3339(1616648939.0).as_deref(), Some("2021-03-25T05:08:59Z"));
        assert_eq!(rfc3339(1149258821.9).as_deref(), Some("2006-06-02T14:33:41Z"));
        assert_eq!(rfc3339(0.0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(rfc3339(951_782_400.0).as_deref(), Some("2000-02-29T00:00:00Z"));
        assert_eq!(rfc3339(253_402_300_799.0).as_deref(), Some("9999-12-31T23:59:59Z"));
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e13] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }
}
