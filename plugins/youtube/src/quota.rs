//! The Data API's daily quota: every call costs units (a list 1, a search
//! 100, a comment 50), the project has so many a day, and YouTube resets the
//! count at midnight Pacific Time. The plugin keeps the day's count in its
//! key-value store and stops before going over; a 403 `quotaExceeded` (other
//! apps of the project spend the same quota) stops it too. Either way the
//! host waits until the reset.

use serde::{Deserialize, Serialize};
use socialcrm_sdk::{PluginError, RateLimit, kv, log, time};

/// `commentThreads.list`, `channels.list`.
pub const LIST: u32 = 1;
/// `search.list`.
pub const SEARCH: u32 = 100;
/// `comments.insert`.
pub const INSERT: u32 = 50;

const KEY: &str = "quota";
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The count of one Pacific day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// `YYYY-MM-DD` in Pacific Time.
    pub day: String,
    pub used: u32,
}

impl Ledger {
    /// The count stored in `stored` if it is of the day of `now`; a new day starts at 0.
    pub fn current(stored: Option<&[u8]>, now: i64) -> Ledger {
        let day = pacific_day(now);
        stored
            .and_then(|bytes| serde_json::from_slice::<Ledger>(bytes).ok())
            .filter(|l| l.day == day)
            .unwrap_or(Ledger { day, used: 0 })
    }
}

/// The day's quota as this call spends it; each spend is written to the
/// key-value store at once (kept when the call succeeds).
pub struct Quota {
    limit: u32,
    ledger: Ledger,
    now: i64,
}

impl Quota {
    pub fn load(limit: u32) -> Quota {
        let now = time::now_millis();
        let stored = kv::get(KEY);
        Quota {
            limit,
            ledger: Ledger::current(stored.as_deref(), now),
            now,
        }
    }

    /// Whether `cost` more units stay within the day's quota.
    pub fn fits(&self, cost: u32) -> bool {
        self.ledger.used.saturating_add(cost) <= self.limit
    }

    /// Counts `cost` units for `what`, or refuses before going over.
    pub fn spend(&mut self, cost: u32, what: &str) -> Result<(), PluginError> {
        if !self.fits(cost) {
            return Err(self.exhausted(&format!(
                "{what}: {} of {} quota units used today (Pacific Time); this call costs {cost}",
                self.ledger.used, self.limit
            )));
        }
        self.ledger.used += cost;
        let encoded = serde_json::to_vec(&self.ledger).unwrap_or_default();
        if let Err(e) = kv::set(KEY, &encoded) {
            log::warn(&format!("the quota count was not stored: {e}"));
        }
        Ok(())
    }

    /// Rate-limited until the quota resets, saying `why`.
    pub fn exhausted(&self, why: &str) -> PluginError {
        exhausted_at(self.now, why)
    }
}

/// Rate-limited from `now` until the next midnight Pacific Time.
pub fn exhausted_at(now: i64, why: &str) -> PluginError {
    let reset = next_reset(now);
    PluginError::RateLimited(RateLimit {
        retry_after_ms: time::wait_ms(reset, now).max(1_000),
        message: format!("{why}; the quota resets at {}", time::format_millis(reset)),
    })
}

/// Pacific Time's offset from UTC at `utc` (ms): -7 h from the second Sunday
/// of March 2:00 PST to the first Sunday of November 2:00 PDT, else -8 h.
pub fn pacific_offset(utc: i64) -> i64 {
    let formatted = time::format_millis(utc);
    let year = formatted.get(..4).unwrap_or("1970");
    let sunday = |month: &str, nth: i64| -> Option<i64> {
        let first = time::parse_rfc3339(&format!("{year}-{month}-01T00:00:00Z"))?;
        // 1970-01-01 was a Thursday: day 0 is weekday 4 (0 = Sunday).
        let weekday = (first.div_euclid(DAY_MS) + 4).rem_euclid(7);
        Some(first + ((7 - weekday) % 7 + 7 * (nth - 1)) * DAY_MS)
    };
    match (sunday("03", 2), sunday("11", 1)) {
        // 2:00 local: 10:00 UTC in PST, 09:00 UTC in PDT.
        (Some(start), Some(end)) if utc >= start + 10 * HOUR_MS && utc < end + 9 * HOUR_MS => -7 * HOUR_MS,
        _ => -8 * HOUR_MS,
    }
}

/// The Pacific date of `utc`, `YYYY-MM-DD`.
pub fn pacific_day(utc: i64) -> String {
    let formatted = time::format_millis(utc + pacific_offset(utc));
    formatted.get(..10).unwrap_or(&formatted).to_string()
}

/// The next midnight Pacific Time after `utc`, in UTC ms.
pub fn next_reset(utc: i64) -> i64 {
    let local = utc + pacific_offset(utc);
    let next_local_midnight = (local.div_euclid(DAY_MS) + 1) * DAY_MS;
    // Midnight is never inside a switch (they happen at 2:00): try standard time, then daylight.
    let standard = next_local_midnight + 8 * HOUR_MS;
    if pacific_offset(standard) == -8 * HOUR_MS {
        standard
    } else {
        next_local_midnight + 7 * HOUR_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        time::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn pacific_time_follows_daylight_saving() {
        // 2026: DST from Sunday 8 March to Sunday 1 November.
        assert_eq!(pacific_offset(at("2026-01-15T12:00:00Z")), -8 * HOUR_MS);
        assert_eq!(pacific_offset(at("2026-03-08T09:59:59Z")), -8 * HOUR_MS);
        assert_eq!(pacific_offset(at("2026-03-08T10:00:00Z")), -7 * HOUR_MS);
        assert_eq!(pacific_offset(at("2026-07-04T00:00:00Z")), -7 * HOUR_MS);
        assert_eq!(pacific_offset(at("2026-11-01T08:59:59Z")), -7 * HOUR_MS);
        assert_eq!(pacific_offset(at("2026-11-01T09:00:00Z")), -8 * HOUR_MS);
        // 2027: 14 March, 7 November.
        assert_eq!(pacific_offset(at("2027-03-14T10:00:00Z")), -7 * HOUR_MS);
        assert_eq!(pacific_offset(at("2027-03-13T10:00:00Z")), -8 * HOUR_MS);
    }

    #[test]
    fn the_day_and_its_reset_are_pacific() {
        // 07:59 UTC on 7 December is still 6 December in Los Angeles.
        assert_eq!(pacific_day(at("2026-12-07T07:59:00Z")), "2026-12-06");
        assert_eq!(pacific_day(at("2026-12-07T08:00:00Z")), "2026-12-07");
        assert_eq!(next_reset(at("2026-12-07T17:00:00Z")), at("2026-12-08T08:00:00Z"));
        assert_eq!(next_reset(at("2026-07-04T06:59:59Z")), at("2026-07-04T07:00:00Z"));
        assert_eq!(next_reset(at("2026-07-04T07:00:00Z")), at("2026-07-05T07:00:00Z"));
        // Across both switches: the next midnight is in the other offset.
        assert_eq!(next_reset(at("2026-03-07T12:00:00Z")), at("2026-03-08T08:00:00Z"));
        assert_eq!(next_reset(at("2026-03-08T12:00:00Z")), at("2026-03-09T07:00:00Z"));
        assert_eq!(next_reset(at("2026-10-31T12:00:00Z")), at("2026-11-01T07:00:00Z"));
        assert_eq!(next_reset(at("2026-11-01T12:00:00Z")), at("2026-11-02T08:00:00Z"));
    }

    #[test]
    fn a_count_of_another_day_starts_again() {
        let now = at("2026-12-07T17:00:00Z");
        let today = br#"{"day":"2026-12-07","used":120}"#;
        assert_eq!(Ledger::current(Some(today), now).used, 120);
        let yesterday = br#"{"day":"2026-12-06","used":9999}"#;
        assert_eq!(
            Ledger::current(Some(yesterday), now),
            Ledger {
                day: "2026-12-07".into(),
                used: 0
            }
        );
        assert_eq!(Ledger::current(Some(b"garbage"), now).used, 0);
        assert_eq!(Ledger::current(None, now).used, 0);
    }

    #[test]
    fn exhausted_waits_until_midnight_pacific() {
        let now = at("2026-12-07T17:00:00Z");
        match exhausted_at(now, "listing comments") {
            PluginError::RateLimited(r) => {
                assert_eq!(r.retry_after_ms, 15 * HOUR_MS as u64);
                assert!(
                    r.message.contains("resets at 2026-12-08T08:00:00.000Z"),
                    "{}",
                    r.message
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
