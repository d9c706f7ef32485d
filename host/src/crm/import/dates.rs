//! Times as CRM exports write them, to Unix milliseconds: RFC 3339 and ISO 8601
//! with or without an offset (HubSpot, Salesforce), `YYYY-MM-DD HH:MM:SS ±hhmm`
//! (Shopify), `MM/DD/YYYY` or `DD/MM/YYYY` with an optional time (report
//! exports), and epoch milliseconds. A time without an offset is UTC.

use serde::{Deserialize, Serialize};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// How a slashed date like `03/04/2024` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// Month first (`03/04/2024` is March 4), as US exports write it.
    Mdy,
    /// Day first (`03/04/2024` is 3 April).
    Dmy,
}

impl std::str::FromStr for DateOrder {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mdy" => Ok(DateOrder::Mdy),
            "dmy" => Ok(DateOrder::Dmy),
            _ => Err(format!("date order `{s}` is neither `mdy` nor `dmy`")),
        }
    }
}

const WITH_OFFSET: &[&[BorrowedFormatItem<'static>]] = &[
    // Salesforce's API and Data Loader: `2024-01-15T10:22:01.000+0000`.
    format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][offset_minute]"
    ),
    // Shopify: `2024-01-15 10:22:01 -0500`.
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"),
];

const WITHOUT_OFFSET: &[&[BorrowedFormatItem<'static>]] = &[
    format_description!("[year]-[month]-[day]T[hour]:[minute][optional [:[second]]][optional [.[subsecond]]]"),
    // HubSpot: `2024-01-15 10:22`.
    format_description!("[year]-[month]-[day] [hour]:[minute][optional [:[second]]]"),
];

const CLOCK: &[&[BorrowedFormatItem<'static>]] = &[
    format_description!("[hour padding:none]:[minute][optional [:[second]]]"),
    format_description!("[hour repr:12 padding:none]:[minute][optional [:[second]]] [period case_sensitive:false]"),
];

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `raw` as Unix milliseconds; the error names the value and the formats.
pub fn parse(raw: &str, order: Option<DateOrder>) -> Result<i64, String> {
    let raw = raw.trim();
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(ms(t));
    }
    if let Some(t) = WITH_OFFSET.iter().find_map(|f| OffsetDateTime::parse(raw, f).ok()) {
        return Ok(ms(t));
    }
    if let Some(t) = WITHOUT_OFFSET
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(raw, f).ok())
    {
        return Ok(ms(t.assume_utc()));
    }
    if let Ok(d) = Date::parse(raw, format_description!("[year]-[month]-[day]")) {
        return Ok(ms(d.midnight().assume_utc()));
    }
    // Epoch milliseconds: 11 digits or more, so that `20240115` is no time in 1970.
    if raw.len() >= 11 && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw
            .parse::<i64>()
            .map_err(|_| format!("`{raw}` is too large for epoch milliseconds"));
    }
    if raw.contains('/') {
        return slashed(raw, order);
    }
    Err(format!(
        "`{raw}` is not a time (ISO 8601, `YYYY-MM-DD HH:MM:SS ±hhmm`, MM/DD/YYYY or DD/MM/YYYY, epoch milliseconds)"
    ))
}

/// `M/D/YYYY` or `D/M/YYYY`, then optionally (after a space or `, `) `H:MM[:SS]` with or without AM/PM.
fn slashed(raw: &str, order: Option<DateOrder>) -> Result<i64, String> {
    let bad = || format!("`{raw}` is not a MM/DD/YYYY or DD/MM/YYYY date");
    let (date, clock) = match raw.split_once(' ') {
        Some((d, c)) => (d.trim_end_matches(','), Some(c.trim())),
        None => (raw, None),
    };
    let parts: Vec<&str> = date.split('/').collect();
    let [a, b, year] = parts[..] else {
        return Err(bad());
    };
    let number = |s: &str| s.parse::<u8>().ok();
    let (Some(a), Some(b), Some(year)) = (
        number(a),
        number(b),
        year.parse::<i32>().ok().filter(|_| year.len() == 4),
    ) else {
        return Err(bad());
    };
    let order = match order {
        Some(order) => order,
        None if a > 12 => DateOrder::Dmy,
        None if b > 12 || a == b => DateOrder::Mdy,
        None => {
            return Err(format!(
                "`{raw}` could be month first or day first: say which (`--dates mdy` or `--dates dmy`, the mapping's `dates`)"
            ));
        }
    };
    let (month, day) = match order {
        DateOrder::Mdy => (a, b),
        DateOrder::Dmy => (b, a),
    };
    let date = Month::try_from(month)
        .ok()
        .and_then(|m| Date::from_calendar_date(year, m, day).ok())
        .ok_or_else(bad)?;
    let time = match clock {
        None => Time::MIDNIGHT,
        Some(c) => CLOCK
            .iter()
            .find_map(|f| Time::parse(c, f).ok())
            .ok_or_else(|| format!("`{raw}`: `{c}` is not a time of day"))?,
    };
    Ok(ms(PrimitiveDateTime::new(date, time).assume_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_705_314_121_000; // 2024-01-15T10:22:01Z

    #[test]
    fn the_formats_exports_use() {
        for raw in [
            "2024-01-15T10:22:01Z",
            "2024-01-15T10:22:01.000Z",
            "2024-01-15T10:22:01.000+0000",
            "2024-01-15T05:22:01-05:00",
            "2024-01-15 05:22:01 -0500",
            "2024-01-15T10:22:01",
            "2024-01-15 10:22:01",
            "1705314121000",
            "01/15/2024 10:22:01",
            "15/01/2024 10:22:01",
            "1/15/2024, 10:22:01 AM",
        ] {
            assert_eq!(parse(raw, None), Ok(T), "{raw}");
        }
        assert_eq!(parse("2024-01-15", None), Ok(T - 37_321_000));
        assert_eq!(
            parse("1/15/2024 1:05 PM", None),
            Ok(T - 37_321_000 + 13 * 3_600_000 + 300_000)
        );
    }

    #[test]
    fn a_slashed_date_reads_as_told_or_when_unambiguous() {
        let march_4 = parse("2024-03-04", None).unwrap();
        assert_eq!(parse("03/04/2024", Some(DateOrder::Mdy)), Ok(march_4));
        assert_eq!(parse("04/03/2024", Some(DateOrder::Dmy)), Ok(march_4));
        assert!(parse("03/04/2024", None).unwrap_err().contains("--dates"));
        assert_eq!(parse("04/04/2024", None), parse("2024-04-04", None));
        assert!(parse("13/01/2024", Some(DateOrder::Mdy)).is_err());
        for bad in ["yesterday", "20240115", "1/2", "01/15/24", "01/15/2024 noon"] {
            assert!(parse(bad, None).is_err(), "{bad}");
        }
    }
}
