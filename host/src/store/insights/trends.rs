//! `post_topics`: the topics of each scored post with its time and sentiment,
//! and the sentiment series read from them (or from `post_scores`).

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::{Scope, bound_analysis, quoted};
use crate::store::dialect::{self, num};
use crate::store::inbox::SignalFilter;
use crate::store::{Backend, Db};

/// Which posts a series counts, and its buckets.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    /// Only posts with this topic.
    pub topic: Option<&'a str>,
    /// Only posts that mention this taxonomy entry; their sentiment is what
    /// they say of it.
    pub aspect: Option<&'a str>,
    /// Only posts by identities linked to contacts who bought this product
    /// (a transaction of one of `order_kinds`).
    pub product: Option<&'a str>,
    pub order_kinds: &'a [&'a str],
    /// Only posts with this custom signal (a label, or a score of at
    /// least); the points then carry the signal's mean score.
    pub signal: Option<SignalFilter<'a>>,
    /// Buckets of `width` ms from `origin` (a bucket starts at `origin + k · width`).
    pub width: i64,
    pub origin: i64,
    /// `[since, until)`, Unix ms.
    pub since: i64,
    pub until: i64,
    /// A post is negative at or below this sentiment.
    pub negative: f64,
}

/// One bucket that has posts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketRow {
    pub start: i64,
    pub posts: i64,
    pub negative: i64,
    /// Mean sentiment of the posts that have one.
    pub mean_sentiment: Option<f64>,
    /// Mean score of the series' custom signal, when it has scores.
    pub mean_signal: Option<f64>,
}

/// The start of the bucket holding `column`, for times after `origin`.
fn bucket_sql(column: &str, width: i64, origin: i64) -> String {
    if origin == 0 {
        format!("({column} / {width}) * {width}")
    } else {
        format!("(({column} - {origin}) / {width}) * {width} + {origin}")
    }
}

/// The buckets of `s` that have posts, in order: one index range scan of
/// `post_topics` for a topic, `post_aspects` for an aspect, `post_scores`
/// otherwise.
pub async fn series(db: &Db, s: &Series<'_>) -> Result<Vec<BucketRow>, sqlx::Error> {
    let mut values: Vec<&str> = Vec::new();
    let mut param = |value| {
        values.push(value);
        format!("${}", values.len())
    };
    let (table, mut filters) = match (s.topic, s.aspect) {
        (topic, Some(aspect)) => {
            let mut filters = vec![format!("entry = {}", param(aspect))];
            if let Some(topic) = topic {
                filters.push(format!(
                    "post_id IN (SELECT post_id FROM post_topics WHERE topic = {})",
                    param(topic)
                ));
            }
            ("post_aspects", filters)
        }
        (Some(topic), None) => ("post_topics", vec![format!("topic = {}", param(topic))]),
        (None, None) => ("post_scores", Vec::new()),
    };
    filters.push(format!("created_at >= {} AND created_at < {}", s.since, s.until));
    if let Some(product) = s.product {
        filters.push(format!(
            "identity_id IN (SELECT l.identity_id FROM identity_links l JOIN transactions t ON t.contact_id = l.contact_id \
             WHERE l.status = 'confirmed' AND t.product = {} AND t.kind IN ({}))",
            param(product),
            quoted(s.order_kinds)
        ));
    }
    // A post's readings of the signal (several for a set of labels): its
    // best score, matched or not, joined once per post.
    let (signal_join, mean_signal) = match s.signal {
        Some(f) => {
            let name = param(f.name);
            let label = f
                .label
                .map_or(String::new(), |l| format!(" AND sg.label = {}", param(l)));
            let min = f.min.map_or(String::new(), |m| format!(" AND sg.score >= {}", num(m)));
            (
                format!(
                    " JOIN (SELECT post_id AS sg_post, MAX(score) AS sg_score FROM post_signals sg \
                     WHERE sg.name = {name}{label}{min} GROUP BY post_id) sg ON sg.sg_post = post_id"
                ),
                "AVG(sg.sg_score)".to_string(),
            )
        }
        None => (String::new(), "NULL".to_string()),
    };
    let bucket = bucket_sql("created_at", s.width, s.origin);
    let sql = format!(
        "SELECT {bucket} AS start, COUNT(*) AS posts, \
         SUM(CASE WHEN sentiment <= {neg} THEN 1 ELSE 0 END) AS negative, AVG(sentiment) AS mean_sentiment, \
         {mean_signal} AS mean_signal \
         FROM {table}{signal_join} WHERE {filters} GROUP BY {bucket} ORDER BY {bucket}",
        neg = num(s.negative),
        filters = filters.join(" AND "),
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    for value in values {
        query = query.bind(value.to_string());
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| {
            Ok(BucketRow {
                start: row.try_get("start")?,
                posts: row.try_get("posts")?,
                negative: row.try_get("negative")?,
                mean_sentiment: row.try_get("mean_sentiment")?,
                mean_signal: row.try_get("mean_signal")?,
            })
        })
        .collect()
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
/// first (ties: by name); a post is negative at or below `negative`.
pub async fn top_topics(
    db: &Db,
    since: i64,
    until: i64,
    limit: i64,
    negative: f64,
) -> Result<Vec<TopicCount>, sqlx::Error> {
    let sql = format!(
        "SELECT topic, COUNT(*) AS posts, SUM(CASE WHEN sentiment <= {neg} THEN 1 ELSE 0 END) AS negative, \
         AVG(sentiment) AS mean_sentiment FROM post_topics WHERE created_at >= $1 AND created_at < $2 \
         GROUP BY topic ORDER BY COUNT(*) DESC, topic LIMIT $3",
        neg = num(negative),
    );
    let rows = sqlx::query(db.backend().sql(sql))
        .bind(since)
        .bind(until)
        .bind(limit)
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
        .collect()
}

/// The statements of [`refresh_topics`]: drop stale topics, upsert current ones.
fn topics_sql(backend: Backend, scope: &Scope) -> [String; 2] {
    let (from, strings_only, topic) = dialect::topics_from(backend, "a.topics");
    let current = format!(
        "WITH {scope_cte} \
         {nt}, \
         cur AS {m}(SELECT DISTINCT nt.post_id, {topic} AS topic FROM nt \
                 JOIN analyses a ON a.id = nt.id AND {ra_scope}, {from} \
                 WHERE {strings_only} AND {topic} <> '')",
        scope_cte = scope.cte(),
        ra_scope = scope.pred("a.post_id"),
        m = dialect::materialized(backend),
        nt = bound_analysis("nt", "topics", scope, dialect::materialized(backend)),
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

/// Brings `post_topics` of the posts in `scope` in line with the analysis
/// bound to topics (see [`bound_analysis`]) and their scores: drops
/// topics no longer there, adds new ones, updates time and sentiment.
/// Returns rows written or deleted.
pub async fn refresh_topics(conn: &mut AnyConnection, backend: Backend, scope: &Scope) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    for sql in topics_sql(backend, scope) {
        let query = scope.bind(sqlx::query(backend.sql(sql)));
        changed += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn buckets_in_sql_start_at_their_origin() {
        assert_eq!(super::bucket_sql("t", 86_400_000, 0), "(t / 86400000) * 86400000");
        assert_eq!(
            super::bucket_sql("t", 604_800_000, 345_600_000),
            "((t - 345600000) / 604800000) * 604800000 + 345600000"
        );
    }
}
