//! Sentiment over time, per topic, per taxonomy entry (aspect) and per segment (the authors linked to
//! contacts who bought a product), bucketed by UTC day or ISO week (Monday).
//!
//! Topics come from the newest `intent` analysis of each inbound post and are
//! kept in `post_topics` with the post's time and sentiment, so a topic's
//! series is one index range scan.

use std::collections::BTreeMap;

use serde::Serialize;

use super::churn::ORDER_KINDS;
use super::{DAY_MS, InsightsError, NEGATIVE};
use crate::store::inbox::SignalFilter;
use crate::store::insights::trends::{BucketRow, Series};
use crate::store::{self, Db};

pub use crate::store::insights::trends::TopicCount;

/// The most buckets one series may have.
pub const MAX_BUCKETS: i64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Day,
    Week,
}

/// 1970-01-05, the first Monday of Unix time.
const FIRST_MONDAY_MS: i64 = 4 * DAY_MS;

impl Bucket {
    pub fn width(self) -> i64 {
        match self {
            Bucket::Day => DAY_MS,
            Bucket::Week => 7 * DAY_MS,
        }
    }

    /// The start of the bucket holding `t` (ms).
    pub fn start(self, t: i64) -> i64 {
        match self {
            Bucket::Day => t.div_euclid(DAY_MS) * DAY_MS,
            Bucket::Week => (t - FIRST_MONDAY_MS).div_euclid(7 * DAY_MS) * 7 * DAY_MS + FIRST_MONDAY_MS,
        }
    }

    /// Where buckets start counting: 0 for days, the first Monday for weeks
    /// ([`Bucket::start`] of `t` is `origin + k · width`).
    fn origin(self) -> i64 {
        match self {
            Bucket::Day => 0,
            Bucket::Week => FIRST_MONDAY_MS,
        }
    }
}

/// Which posts and which buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendQuery {
    /// Only posts with this topic.
    pub topic: Option<String>,
    /// Only posts that mention this taxonomy entry (docs/insights.md,
    /// "Aspects"), with the sentiment of what they say of it.
    pub aspect: Option<String>,
    /// Only posts by identities linked to contacts who bought this product.
    pub product: Option<String>,
    /// Only posts with this custom signal: `urgency`, `urgency>=0.5` or
    /// `tone:polite` (as the inbox filter); the points carry its mean score.
    pub signal: Option<String>,
    pub bucket: Bucket,
    /// `[since, until)`, Unix ms.
    pub since: i64,
    pub until: i64,
}

/// One bucket of a series.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TrendPoint {
    pub start: i64,
    pub posts: i64,
    pub negative: i64,
    /// Mean sentiment of the posts that have one.
    pub mean_sentiment: Option<f64>,
    pub negative_share: f64,
    /// With a custom signal: the mean of its scores over the bucket's posts
    /// (null for labels, or a bucket without posts).
    pub mean_signal: Option<f64>,
}

/// The series of `q`, one point per bucket from `since` to `until` (empty
/// buckets included, with no posts).
pub async fn trend(db: &Db, q: &TrendQuery) -> Result<Vec<TrendPoint>, InsightsError> {
    if q.since >= q.until {
        return Err(InsightsError::EmptyRange {
            since: q.since,
            until: q.until,
        });
    }
    let (first, last) = (q.bucket.start(q.since), q.bucket.start(q.until - 1));
    let buckets = (last - first) / q.bucket.width() + 1;
    if buckets > MAX_BUCKETS {
        return Err(InsightsError::TooManyBuckets(buckets));
    }
    let signal = match q.signal.as_deref() {
        Some(text) => Some(SignalFilter::parse(text).ok_or_else(|| InsightsError::SignalFilter(text.to_string()))?),
        None => None,
    };
    let series = Series {
        topic: q.topic.as_deref(),
        aspect: q.aspect.as_deref(),
        product: q.product.as_deref(),
        order_kinds: &ORDER_KINDS,
        signal,
        width: q.bucket.width(),
        origin: q.bucket.origin(),
        since: q.since,
        until: q.until,
        negative: NEGATIVE,
    };
    let found: BTreeMap<i64, BucketRow> = store::insights::trends::series(db, &series)
        .await?
        .into_iter()
        .map(|b| (b.start, b))
        .collect();
    Ok((0..buckets)
        .map(|i| {
            let start = first + i * q.bucket.width();
            let (posts, negative, mean_sentiment, mean_signal) = found.get(&start).map_or((0, 0, None, None), |b| {
                (b.posts, b.negative, b.mean_sentiment, b.mean_signal)
            });
            TrendPoint {
                start,
                posts,
                negative,
                mean_sentiment,
                negative_share: if posts > 0 { negative as f64 / posts as f64 } else { 0.0 },
                mean_signal,
            }
        })
        .collect())
}

/// The `limit` topics with the most posts in `[since, until)` (Unix ms), most
/// first (ties: by name).
pub async fn top_topics(db: &Db, since: i64, until: i64, limit: i64) -> Result<Vec<TopicCount>, InsightsError> {
    if since >= until {
        return Err(InsightsError::EmptyRange { since, until });
    }
    Ok(store::insights::trends::top_topics(db, since, until, limit.max(0), NEGATIVE).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_at_utc_midnight_and_monday() {
        // 2026-11-25 (a Wednesday) 15:30 UTC.
        let t = 1_795_620_600_000;
        assert_eq!(Bucket::Day.start(t), 1_795_564_800_000); // 2026-11-25 00:00
        assert_eq!(Bucket::Week.start(t), 1_795_392_000_000); // Monday 2026-11-23 00:00
        assert_eq!(Bucket::Week.start(1_795_392_000_000), 1_795_392_000_000);
        assert_eq!(Bucket::Week.start(1_795_391_999_999), 1_795_392_000_000 - 7 * DAY_MS);
    }
}
