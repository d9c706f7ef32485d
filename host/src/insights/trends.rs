//! Sentiment over time, per topic and per segment (the authors linked to
//! contacts who bought a product), bucketed by UTC day or ISO week (Monday).
//!
//! Topics come from the newest `intent` analysis of each inbound post and are
//! kept in `post_topics` with the post's time and sentiment, so a topic's
//! series is one index range scan.

use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::dialect::{self, num};
use super::{DAY_MS, INTENT_PLUGIN, InsightsError, NEGATIVE, Scope};
use crate::store::{Backend, Db};

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

    /// The same as [`Bucket::start`] in SQL, for times after 1970-01-05.
    fn sql(self, column: &str) -> String {
        match self {
            Bucket::Day => format!("({column} / {DAY_MS}) * {DAY_MS}"),
            Bucket::Week => format!(
                "(({column} - {FIRST_MONDAY_MS}) / {w}) * {w} + {FIRST_MONDAY_MS}",
                w = 7 * DAY_MS
            ),
        }
    }
}

/// Which posts and which buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendQuery {
    /// Only posts with this topic.
    pub topic: Option<String>,
    /// Only posts by identities linked to contacts who bought this product.
    pub product: Option<String>,
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
    let mut n = 0;
    let mut param = || {
        n += 1;
        format!("${n}")
    };
    let (table, mut filters) = match &q.topic {
        Some(_) => ("post_topics", vec![format!("topic = {}", param())]),
        None => ("post_scores", Vec::new()),
    };
    filters.push(format!("created_at >= {} AND created_at < {}", q.since, q.until));
    if q.product.is_some() {
        filters.push(format!(
            "identity_id IN (SELECT l.identity_id FROM identity_links l JOIN transactions t ON t.contact_id = l.contact_id \
             WHERE l.status = 'confirmed' AND t.product = {} AND t.kind IN ({}))",
            param(),
            super::churn::ORDER_KINDS
        ));
    }
    let bucket = q.bucket.sql("created_at");
    let sql = format!(
        "SELECT {bucket} AS start, COUNT(*) AS posts, \
         SUM(CASE WHEN sentiment <= {neg} THEN 1 ELSE 0 END) AS negative, AVG(sentiment) AS mean_sentiment \
         FROM {table} WHERE {filters} GROUP BY {bucket} ORDER BY {bucket}",
        neg = num(NEGATIVE),
        filters = filters.join(" AND "),
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    for value in [&q.topic, &q.product].into_iter().flatten() {
        query = query.bind(value.clone());
    }
    let rows = query.fetch_all(db.pool()).await?;
    let mut found = std::collections::BTreeMap::new();
    for row in &rows {
        let start: i64 = row.try_get("start")?;
        found.insert(
            start,
            (
                row.try_get::<i64, _>("posts")?,
                row.try_get::<i64, _>("negative")?,
                row.try_get::<Option<f64>, _>("mean_sentiment")?,
            ),
        );
    }
    Ok((0..buckets)
        .map(|i| {
            let start = first + i * q.bucket.width();
            let (posts, negative, mean_sentiment) = found.get(&start).copied().unwrap_or((0, 0, None));
            TrendPoint {
                start,
                posts,
                negative,
                mean_sentiment,
                negative_share: if posts > 0 { negative as f64 / posts as f64 } else { 0.0 },
            }
        })
        .collect())
}

/// How much one topic was discussed over a window.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TopicCount {
    pub topic: String,
    pub posts: i64,
    pub negative: i64,
    /// Mean sentiment of the posts that have one.
    pub mean_sentiment: Option<f64>,
}

/// The `limit` topics with the most posts in `[since, until)` (Unix ms), most
/// first (ties: by name).
pub async fn top_topics(db: &Db, since: i64, until: i64, limit: i64) -> Result<Vec<TopicCount>, InsightsError> {
    if since >= until {
        return Err(InsightsError::EmptyRange { since, until });
    }
    let sql = format!(
        "SELECT topic, COUNT(*) AS posts, SUM(CASE WHEN sentiment <= {neg} THEN 1 ELSE 0 END) AS negative, \
         AVG(sentiment) AS mean_sentiment FROM post_topics WHERE created_at >= $1 AND created_at < $2 \
         GROUP BY topic ORDER BY COUNT(*) DESC, topic LIMIT $3",
        neg = num(NEGATIVE),
    );
    let rows = sqlx::query(db.backend().sql(sql))
        .bind(since)
        .bind(until)
        .bind(limit.max(0))
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TopicCount {
                topic: r.try_get("topic")?,
                posts: r.try_get("posts")?,
                negative: r.try_get("negative")?,
                mean_sentiment: r.try_get("mean_sentiment")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Brings `post_topics` of the posts in `scope` in line with their newest
/// intent analysis and their scores: drops topics no longer there, adds new
/// ones, updates time and sentiment. Returns rows written or deleted.
/// The statements of [`refresh_topics`]: drop stale topics, upsert current ones.
pub(crate) fn topics_sql(backend: Backend, scope: &Scope) -> [String; 2] {
    let (from, strings_only, topic) = dialect::topics_from(backend, "a.topics");
    let current = format!(
        "WITH {scope_cte} \
         ni AS {m}(SELECT post_id, {pick_i} AS id FROM analyses WHERE plugin = '{INTENT_PLUGIN}' AND {a_scope} \
                GROUP BY post_id), \
         cur AS {m}(SELECT DISTINCT ni.post_id, {topic} AS topic FROM ni \
                 JOIN analyses a ON a.id = ni.id AND a.plugin = '{INTENT_PLUGIN}' AND {ra_scope}, {from} \
                 WHERE {strings_only} AND {topic} <> '')",
        scope_cte = scope.cte(),
        a_scope = scope.pred("post_id"),
        ra_scope = scope.pred("a.post_id"),
        m = dialect::materialized(backend),
        pick_i = super::analysis_id(INTENT_PLUGIN),
    );
    let delete = format!(
        "{current} DELETE FROM post_topics WHERE {p_scope} AND NOT EXISTS \
         (SELECT 1 FROM cur WHERE cur.post_id = post_topics.post_id AND cur.topic = post_topics.topic)",
        p_scope = scope.pred("post_topics.post_id"),
    );
    let upsert = format!(
        "{current} {}",
        dialect::upsert(
            "post_topics",
            &["topic", "post_id"],
            &["identity_id", "created_at", "sentiment"],
            &format!(
                "SELECT cur.topic, ps.post_id, ps.identity_id, ps.created_at, ps.sentiment \
                 FROM cur JOIN post_scores ps ON ps.post_id = cur.post_id AND {}",
                scope.pred("ps.post_id")
            ),
            &scope.pred("o.post_id"),
        )
    );
    [delete, upsert]
}

pub(crate) async fn refresh_topics(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    scope: &Scope,
) -> Result<u64, InsightsError> {
    let mut changed = 0;
    for sql in topics_sql(backend, scope) {
        let query = scope.bind(sqlx::query(backend.sql(sql)));
        changed += query.execute(&mut **tx).await?.rows_affected();
    }
    Ok(changed)
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
