//! The policy: a period per kind of data, the admin's where one was set
//! (setting `retention.KIND`), else the default docs/retention.md justifies.

use std::fmt;
use std::str::FromStr;

use serde_json::json;

use super::{Kind, RetentionError};
use crate::store::{DAY_MS, Db, audit, trust};

/// The longest period that can be set, in days (a hundred years).
pub const MAX_DAYS: u32 = 36_500;

/// How long rows of a kind are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    Never,
}

impl Period {
    /// The default of `kind` (docs/retention.md says why).
    pub fn default_for(kind: Kind) -> Period {
        match kind {
            Kind::RawPayloads => Period::Days(30),
            // What the brand heard is what the product is for: how long to
            // keep it is the admin's decision, and one no upgrade should make.
            Kind::PostText | Kind::Analyses => Period::Never,
            Kind::Egress => Period::Days(30),
            Kind::Audit => Period::Days(400),
            Kind::ErasureReceipts => Period::Days(3 * 365),
        }
    }

    /// The days, or `None` for never; fewer than 1 or more than [`MAX_DAYS`] is refused.
    pub fn from_days(days: Option<i64>) -> Result<Period, RetentionError> {
        match days {
            None => Ok(Period::Never),
            Some(d) => match u32::try_from(d) {
                Ok(d) if (1..=MAX_DAYS).contains(&d) => Ok(Period::Days(d)),
                _ => Err(RetentionError::Period(d.to_string())),
            },
        }
    }

    pub fn days(self) -> Option<u32> {
        match self {
            Period::Days(d) => Some(d),
            Period::Never => None,
        }
    }

    /// Rows counted from before this time (Unix ms) are past the period at `now`.
    pub fn cutoff(self, now: i64) -> Option<i64> {
        self.days().map(|d| now.saturating_sub(i64::from(d) * DAY_MS))
    }
}

/// `never`, or a number of days.
impl FromStr for Period {
    type Err = RetentionError;

    fn from_str(s: &str) -> Result<Period, RetentionError> {
        match s.trim() {
            "never" => Ok(Period::Never),
            days => Period::from_days(Some(days.parse().map_err(|_| RetentionError::Period(s.to_string()))?)),
        }
    }
}

/// As [`FromStr`] reads it: `never` or the days (`30`).
impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Days(d) => write!(f, "{d}"),
            Period::Never => f.write_str("never"),
        }
    }
}

fn key(kind: Kind) -> String {
    format!("retention.{}", kind.as_str())
}

/// The period of every kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    periods: Vec<(Kind, Period)>,
}

impl Policy {
    /// The stored policy: the admin's periods over the defaults.
    pub async fn load(db: &Db) -> Result<Policy, RetentionError> {
        let mut periods = Vec::with_capacity(Kind::ALL.len());
        for kind in Kind::ALL {
            let period = match trust::setting(db, &key(kind)).await? {
                Some(value) => value.parse().map_err(|_| RetentionError::Stored {
                    kind: kind.as_str(),
                    value,
                })?,
                None => Period::default_for(kind),
            };
            periods.push((kind, period));
        }
        Ok(Policy { periods })
    }

    pub fn period(&self, kind: Kind) -> Period {
        self.periods
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or_else(|| Period::default_for(kind), |(_, p)| *p)
    }
}

/// Sets the period of `kind`, audited as `retention.set` (from, to) by
/// `actor`; setting the period it has changes nothing.
pub async fn set(db: &Db, kind: Kind, period: Period, actor: &str) -> Result<(), RetentionError> {
    let from = Policy::load(db).await?.period(kind);
    if from == period {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    trust::set_setting(&mut tx, &key(kind), &period.to_string()).await?;
    let details = json!({"from": from.to_string(), "to": period.to_string()});
    audit(&mut *tx, actor, "retention.set", kind.as_str(), &details).await?;
    tx.commit().await?;
    Ok(())
}
