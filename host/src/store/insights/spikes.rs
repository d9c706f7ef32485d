//! `alerts`: spikes per topic and per taxonomy entry (found by
//! `crate::insights::spikes` in the daily counts of `post_topics` and
//! `post_aspects`), one per subject and day.

use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::store::dialect::{self, num};
use crate::store::{DAY_MS, Db, now_ms};

/// When the oldest scored post was written, if any.
pub async fn oldest_scored(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT MIN(created_at) AS oldest FROM post_scores")
        .fetch_one(db.pool())
        .await?
        .try_get("oldest")
}

/// What a spike is about: a topic, or a taxonomy entry (whose posts count
/// with the sentiment of what they say of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Topic,
    Aspect,
}

impl Subject {
    pub const ALL: [Subject; 2] = [Subject::Topic, Subject::Aspect];

    /// The alert's `scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Topic => "topic",
            Subject::Aspect => "aspect",
        }
    }

    pub fn parse(scope: &str) -> Option<Subject> {
        Subject::ALL.into_iter().find(|s| s.as_str() == scope)
    }

    /// The table of its posts (one row per post and subject) and its column.
    pub(crate) fn source(self) -> (&'static str, &'static str) {
        match self {
            Subject::Topic => ("post_topics", "topic"),
            Subject::Aspect => ("post_aspects", "entry"),
        }
    }
}

/// The posts of one subject on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectDay {
    pub subject: String,
    /// The day's start, Unix ms.
    pub day: i64,
    pub posts: i64,
    /// Posts at or below the `negative` sentiment asked for.
    pub negative: i64,
}

/// Per subject of `kind` and UTC day, the posts written in `[from, until]`,
/// by subject.
pub async fn subject_days(
    db: &Db,
    kind: Subject,
    from: i64,
    until: i64,
    negative: f64,
) -> Result<Vec<SubjectDay>, sqlx::Error> {
    let (table, column) = kind.source();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {column} AS subject, created_at / {DAY_MS} AS day, COUNT(*) AS posts, \
         SUM(CASE WHEN sentiment <= {neg} THEN 1 ELSE 0 END) AS negative \
         FROM {table} WHERE created_at >= {from} AND created_at <= {until} \
         GROUP BY {column}, created_at / {DAY_MS} ORDER BY {column}",
        neg = num(negative),
    )))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SubjectDay {
                subject: row.try_get("subject")?,
                day: row.try_get::<i64, _>("day")? * DAY_MS,
                posts: row.try_get("posts")?,
                negative: row.try_get("negative")?,
            })
        })
        .collect()
}

/// Up to `limit` posts of `subject` on the day starting at `start`: the most
/// negative first (`most_negative`), else those the inbox ranks first.
pub async fn examples(
    db: &Db,
    kind: Subject,
    subject: &str,
    start: i64,
    most_negative: bool,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let order = if most_negative {
        "CASE WHEN pt.sentiment IS NULL THEN 1 ELSE 0 END, pt.sentiment, pt.post_id"
    } else {
        "ps.base DESC, pt.post_id"
    };
    let (table, column) = kind.source();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT pt.post_id FROM {table} pt JOIN post_scores ps ON ps.post_id = pt.post_id \
         WHERE pt.{column} = $1 AND pt.created_at >= {start} AND pt.created_at < {end} ORDER BY {order} LIMIT {limit}",
        end = start + DAY_MS,
    )))
    .bind(subject)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| r.try_get("post_id")).collect()
}

/// A spike of one subject on one day, to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Spike<'a> {
    pub kind: Subject,
    pub subject: &'a str,
    pub bucket_start: i64,
    /// The signals that fired, comma-separated.
    pub signals: String,
    pub posts: i64,
    pub negative: i64,
    pub baseline_posts: f64,
    pub baseline_negative_share: f64,
    pub examples: &'a [i64],
    pub message: String,
}

/// Upserts the alert of `spike` (one per subject and day) in the caller's
/// transaction; an alert whose values are unchanged is not written. Returns
/// the id of the alert written and whether it is new.
pub async fn upsert_alert(conn: &mut AnyConnection, spike: &Spike<'_>) -> Result<Option<(i64, bool)>, sqlx::Error> {
    let changed = [
        "signals",
        "posts",
        "negative",
        "baseline_posts",
        "baseline_negative_share",
        "examples",
        "message",
    ];
    let now = now_ms();
    let sql = format!(
        "INSERT INTO alerts (kind, scope, subject, bucket_start, signals, posts, negative, baseline_posts, \
         baseline_negative_share, examples, message, status, created_at, updated_at) \
         VALUES ('spike', $11, $1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $10) \
         ON CONFLICT (kind, scope, subject, bucket_start) DO UPDATE SET {set}, updated_at = excluded.updated_at \
         WHERE {differs} RETURNING id, created_at",
        set = changed
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        differs = dialect::changed(&changed, "alerts", "excluded"),
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(spike.subject)
        .bind(spike.bucket_start)
        .bind(spike.signals.as_str())
        .bind(spike.posts)
        .bind(spike.negative)
        .bind(spike.baseline_posts)
        .bind(spike.baseline_negative_share)
        .bind(serde_json::to_string(spike.examples).unwrap_or_else(|_| "[]".into()))
        .bind(spike.message.as_str())
        .bind(now)
        .bind(spike.kind.as_str())
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get::<i64, _>("created_at")? == now)))
        .transpose()
}

/// A stored alert.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub scope: String,
    pub subject: String,
    pub bucket_start: i64,
    pub signals: Vec<String>,
    pub posts: i64,
    pub negative: i64,
    pub baseline_posts: f64,
    pub baseline_negative_share: f64,
    pub examples: Vec<i64>,
    pub message: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The newest `limit` alerts (by day, then id).
pub async fn alerts(db: &Db, limit: i64) -> Result<Vec<Alert>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, kind, scope, subject, bucket_start, signals, posts, negative, baseline_posts, \
         baseline_negative_share, examples, message, status, created_at, updated_at \
         FROM alerts ORDER BY bucket_start DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Alert {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                scope: r.try_get("scope")?,
                subject: r.try_get("subject")?,
                bucket_start: r.try_get("bucket_start")?,
                signals: r
                    .try_get::<String, _>("signals")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                posts: r.try_get("posts")?,
                negative: r.try_get("negative")?,
                baseline_posts: r.try_get("baseline_posts")?,
                baseline_negative_share: r.try_get("baseline_negative_share")?,
                examples: serde_json::from_str(&r.try_get::<String, _>("examples")?).unwrap_or_default(),
                message: r.try_get("message")?,
                status: r.try_get("status")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect()
}
