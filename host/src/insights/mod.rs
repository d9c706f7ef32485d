//! Insights: what social posts and CRM transactions mean together.
//!
//! One module per job (formulas and thresholds in docs/insights.md):
//! - [`priority`]: a score per inbound post for the inbox (sentiment, intent,
//!   the author's value, reach, waiting time), ordered by a stored key;
//! - [`churn`]: per contact, value from transactions and churn risk;
//! - [`trends`]: sentiment over time per topic and per segment;
//! - [`spikes`]: volume and negative-share spikes against a trailing baseline,
//!   stored as alerts with example posts;
//! - [`advocacy`]: advocacy events, the points ledger and the advocates ranking.
//!
//! [`recompute`] refreshes every stored score with a few set-based statements
//! (posts in id ranges of [`POST_CHUNK`], each range in one transaction so a
//! SQLite writer is never held for long); [`refresh_posts`] scores new posts
//! after analysis. Both are idempotent: running them again with the same
//! data and `now` changes nothing.

pub mod advocacy;
pub mod churn;
pub mod priority;
pub mod schedule;
pub mod spikes;
pub mod trends;

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::store::{Backend, Db};

pub use advocacy::{AdvocacyEvent, Advocate, advocates};
pub use churn::{ContactScore, churn_ranking};
pub use priority::{InboxItem, inbox};
pub use spikes::{Alert, alerts};
pub use trends::{Bucket, TrendPoint, TrendQuery, trend};

/// The analyzer plugin whose `sentiment` is read.
pub const SENTIMENT_PLUGIN: &str = "sentiment";
/// The analyzer plugin whose `intents` and `topics` are read.
pub const INTENT_PLUGIN: &str = "intent";
/// A post is negative at or below this sentiment (VADER's label threshold,
/// the one the sentiment plugin uses for its `negative` label).
pub const NEGATIVE: f64 = -0.05;
/// Posts per statement of [`recompute`] (an id range).
pub const POST_CHUNK: i64 = 50_000;
/// SQLite page cache (KiB) while a range of posts is scored, instead of the
/// default 2 MiB: the score and topic indexes take writes all over.
const SQLITE_CACHE_KIB: i64 = 65_536;
/// Post ids per statement of [`refresh_posts`].
const ID_CHUNK: usize = 500;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum InsightsError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the time range is empty: `since` ({since}) must be before `until` ({until})")]
    EmptyRange { since: i64, until: i64 },
    #[error("a trend of {0} buckets is too long: narrow the range or use weekly buckets")]
    TooManyBuckets(i64),
}

/// What a [`recompute`] changed (rows inserted, updated or deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecomputeReport {
    pub contacts_changed: u64,
    pub posts_changed: u64,
    pub topics_changed: u64,
    pub churn_changed: u64,
    pub events_added: u64,
    pub alerts_changed: u64,
    #[serde(skip)]
    pub took: Duration,
    /// How long each step took: values, posts, churn, advocacy, spikes, analyze.
    #[serde(skip)]
    pub steps: Vec<(&'static str, Duration)>,
}

impl RecomputeReport {
    /// Whether nothing changed.
    pub fn is_unchanged(&self) -> bool {
        RecomputeReport {
            took: Duration::ZERO,
            steps: Vec::new(),
            ..self.clone()
        } == RecomputeReport::default()
    }
}

/// Refreshes every stored score as of `now` (Unix ms): contact values, post
/// priorities and topics, churn, advocacy events, spike alerts.
pub async fn recompute(db: &Db, now: i64) -> Result<RecomputeReport, InsightsError> {
    let started = Instant::now();
    let mut step = Instant::now();
    let mut lap = |report: &mut RecomputeReport, name: &'static str| {
        report.steps.push((name, step.elapsed()));
        step = Instant::now();
    };
    let mut report = RecomputeReport {
        contacts_changed: churn::refresh_values(db, now).await?,
        ..RecomputeReport::default()
    };
    lap(&mut report, "values");
    let row = sqlx::query("SELECT MIN(id) AS lo, MAX(id) AS hi FROM posts")
        .fetch_one(db.pool())
        .await?;
    let (lo, hi): (Option<i64>, Option<i64>) = (row.try_get("lo")?, row.try_get("hi")?);
    if let (Some(lo), Some(hi)) = (lo, hi) {
        let mut start = lo - 1;
        while start < hi {
            let scope = Scope::Range(start, (start + POST_CHUNK).min(hi));
            let mut tx = db.begin().await?;
            if db.backend() == Backend::Sqlite {
                sqlx::query(AssertSqlSafe(format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}")))
                    .execute(&mut *tx)
                    .await?;
            }
            report.posts_changed += priority::score_posts(&mut tx, db.backend(), &scope).await?;
            report.topics_changed += trends::refresh_topics(&mut tx, db.backend(), &scope).await?;
            if db.backend() == Backend::Sqlite {
                sqlx::query("PRAGMA cache_size = -2000").execute(&mut *tx).await?;
            }
            tx.commit().await?;
            start += POST_CHUNK;
        }
    }
    lap(&mut report, "posts");
    report.churn_changed = churn::refresh_churn(db, now, None).await?;
    lap(&mut report, "churn");
    report.events_added = advocacy::record_events(db, now).await?;
    lap(&mut report, "advocacy");
    report.alerts_changed = spikes::detect(db, now).await?;
    lap(&mut report, "spikes");
    if db.backend() == Backend::Postgres {
        // Fresh statistics for the planner after a bulk change.
        sqlx::query("ANALYZE post_scores, post_topics, contact_scores")
            .execute(db.pool())
            .await?;
        lap(&mut report, "analyze");
    }
    report.took = started.elapsed();
    Ok(report)
}

/// Scores the posts `post_ids` (new posts, after analysis): their priority and
/// topics, and the churn risk of their authors' contacts. A contact not scored
/// yet gets its value first (its share among customers estimated against the
/// stored scores until the next [`recompute`]). Outbound posts are skipped.
/// Returns the post scores written.
pub async fn refresh_posts(db: &Db, post_ids: &[i64], now: i64) -> Result<u64, InsightsError> {
    let mut written = 0;
    for ids in post_ids.chunks(ID_CHUNK) {
        let contacts = churn::contacts_of_posts(db, ids).await?;
        if !contacts.is_empty() {
            churn::insert_missing_values(db, now, &contacts).await?;
        }
        let scope = Scope::Ids(ids.to_vec());
        let mut tx = db.begin().await?;
        written += priority::score_posts(&mut tx, db.backend(), &scope).await?;
        trends::refresh_topics(&mut tx, db.backend(), &scope).await?;
        tx.commit().await?;
        if !contacts.is_empty() {
            churn::refresh_churn(db, now, Some(&contacts)).await?;
        }
    }
    Ok(written)
}

/// The id of the analysis of `plugin` that insights read, in a `GROUP BY
/// post_id` over `analyses`: the post's analysis by the version an admin made
/// active for insights (`insights_versions`, see `crate::reanalysis`), else
/// its newest. So a new version's re-analysis changes no score until switched to.
pub(crate) fn analysis_id(plugin: &str) -> String {
    format!(
        "COALESCE(MAX(CASE WHEN version = (SELECT version FROM insights_versions WHERE plugin = '{plugin}') \
         THEN id END), MAX(id))"
    )
}

/// Which posts a statement covers: an id range `(lo, hi]` or a list of ids.
#[derive(Clone, Debug)]
pub(crate) enum Scope {
    Range(i64, i64),
    Ids(Vec<i64>),
}

impl Scope {
    /// A `WITH` entry naming the ids (`scope_ids(id)`), bound as `$1..$n`;
    /// empty for a range. Goes first so its parameters come first.
    fn cte(&self) -> String {
        match self {
            Scope::Range(..) => String::new(),
            Scope::Ids(ids) => {
                let values: Vec<String> = (1..=ids.len()).map(|i| format!("(${i})")).collect();
                format!("scope_ids(id) AS (VALUES {}),", values.join(", "))
            }
        }
    }

    /// The condition that `column` is in scope.
    fn pred(&self, column: &str) -> String {
        match self {
            Scope::Range(lo, hi) => format!("{column} > {lo} AND {column} <= {hi}"),
            Scope::Ids(_) => format!("{column} IN (SELECT id FROM scope_ids)"),
        }
    }

    fn bind<'q>(
        &'q self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        if let Scope::Ids(ids) = self {
            for id in ids {
                query = query.bind(*id);
            }
        }
        query
    }
}

/// SQL that differs between SQLite and PostgreSQL.
pub(crate) mod dialect {
    use crate::store::Backend;

    /// A float literal that is a double on both backends (PostgreSQL reads a
    /// bare `0.5` as `numeric`).
    pub fn num(x: f64) -> String {
        format!("CAST({x:?} AS DOUBLE PRECISION)")
    }

    /// `FROM` items that turn the JSON array of `{"name", "confidence"}` in
    /// `column` into rows, with the condition that keeps objects only; the
    /// name and confidence are [`intent_name`] and [`intent_confidence`].
    pub fn intents_from(backend: Backend, column: &str) -> (String, &'static str) {
        match backend {
            Backend::Sqlite => (
                format!(
                    "json_each(CASE WHEN json_valid({column}) THEN \
                     CASE WHEN json_type({column}) = 'array' THEN {column} ELSE '[]' END ELSE '[]' END) AS j"
                ),
                "j.type = 'object'",
            ),
            Backend::Postgres => (
                format!(
                    "jsonb_array_elements(CASE WHEN jsonb_typeof(CAST({column} AS jsonb)) = 'array' \
                     THEN CAST({column} AS jsonb) ELSE CAST('[]' AS jsonb) END) AS j(v)"
                ),
                "jsonb_typeof(j.v) = 'object'",
            ),
        }
    }

    pub fn intent_name(backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => "json_extract(j.value, '$.name')",
            Backend::Postgres => "(j.v ->> 'name')",
        }
    }

    pub fn intent_confidence(backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => "CAST(json_extract(j.value, '$.confidence') AS DOUBLE PRECISION)",
            Backend::Postgres => {
                "CASE WHEN jsonb_typeof(j.v -> 'confidence') = 'number' \
                 THEN CAST(j.v ->> 'confidence' AS DOUBLE PRECISION) END"
            }
        }
    }

    /// `FROM` item over the JSON array of strings in `column`, the condition
    /// that keeps strings, and the expression of one topic.
    pub fn topics_from(backend: Backend, column: &str) -> (String, &'static str, &'static str) {
        match backend {
            Backend::Sqlite => (
                format!(
                    "json_each(CASE WHEN json_valid({column}) THEN \
                     CASE WHEN json_type({column}) = 'array' THEN {column} ELSE '[]' END ELSE '[]' END) AS t"
                ),
                "t.type = 'text'",
                "t.value",
            ),
            Backend::Postgres => (
                format!(
                    "jsonb_array_elements(CASE WHEN jsonb_typeof(CAST({column} AS jsonb)) = 'array' \
                     THEN CAST({column} AS jsonb) ELSE CAST('[]' AS jsonb) END) AS t(v)"
                ),
                "jsonb_typeof(t.v) = 'string'",
                "(t.v #>> '{}')",
            ),
        }
    }

    /// A JSON object (as text) of `(key, SQL expression)` pairs.
    pub fn json_object(backend: Backend, pairs: &[(&str, &str)]) -> String {
        let args: Vec<String> = pairs.iter().map(|(k, v)| format!("'{k}', {v}")).collect();
        match backend {
            Backend::Sqlite => format!("json_object({})", args.join(", ")),
            Backend::Postgres => format!("CAST(json_build_object({}) AS TEXT)", args.join(", ")),
        }
    }

    /// `MATERIALIZED ` on PostgreSQL: the CTE is computed once. Without it,
    /// tables without statistics (new, or not analysed yet) led the planner
    /// to re-run a CTE's JSON expansion for every row of a nested loop
    /// (seconds for a few hundred posts). SQLite flattens CTEs better.
    pub fn materialized(backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => "",
            Backend::Postgres => "MATERIALIZED ",
        }
    }

    /// The largest of `args` (none is NULL).
    pub fn greatest(backend: Backend, args: &[String]) -> String {
        match backend {
            Backend::Sqlite => format!("MAX({})", args.join(", ")),
            Backend::Postgres => format!("GREATEST({})", args.join(", ")),
        }
    }

    /// Null-safe "some column changed" between `old` and `new` rows:
    /// `old.c IS DISTINCT FROM new.c OR ...` (SQLite ≥ 3.39 has it too).
    pub fn changed(columns: &[&str], old: &str, new: &str) -> String {
        columns
            .iter()
            .map(|c| format!("{old}.{c} IS DISTINCT FROM {new}.{c}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    /// `INSERT INTO table (keys, columns) SELECT ... FROM (select) n` of the
    /// rows that are new or differ from the stored ones, updating those that
    /// differ. Unchanged rows are left out before the insert: an upsert that
    /// meets an existing row locks and rewrites it on PostgreSQL even when its
    /// update does nothing, which made a recompute of unchanged scores
    /// slower than computing them.
    ///
    /// `old_scope` (a condition on `o`, or empty) narrows the stored rows
    /// compared with: without it PostgreSQL may read the whole table for
    /// each range of posts.
    pub fn upsert(table: &str, keys: &[&str], columns: &[&str], select: &str, old_scope: &str) -> String {
        let all: Vec<&str> = keys.iter().chain(columns).copied().collect();
        let mut on: Vec<String> = keys.iter().map(|k| format!("o.{k} = n.{k}")).collect();
        if !old_scope.is_empty() {
            on.push(old_scope.to_string());
        }
        format!(
            "INSERT INTO {table} ({all}) SELECT {picked} FROM ({select}) n LEFT JOIN {table} o ON {on} \
             WHERE o.{key} IS NULL OR {changed} \
             ON CONFLICT ({keys}) DO UPDATE SET {set} WHERE {differs}",
            all = all.join(", "),
            picked = all.iter().map(|c| format!("n.{c}")).collect::<Vec<_>>().join(", "),
            on = on.join(" AND "),
            key = keys[0],
            changed = changed(columns, "o", "n"),
            keys = keys.join(", "),
            set = columns
                .iter()
                .map(|c| format!("{c} = excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            differs = changed(columns, table, "excluded"),
        )
    }
}

/// `1,234` style grouping for counts in explanations.
pub(crate) fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `2026-11-30`: the UTC date of `ms`.
pub fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_else(|_| ms.to_string())
}

/// `s` when `n` is not 1.
pub(crate) fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(date(1_795_564_800_000), "2026-11-25");
        assert_eq!(date(1_795_564_799_999), "2026-11-24");
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(12_400), "12,400");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-1_000), "-1,000");
    }

    #[test]
    fn scopes_name_their_posts() {
        assert_eq!(Scope::Range(0, 10).pred("p.id"), "p.id > 0 AND p.id <= 10");
        assert_eq!(Scope::Range(0, 10).cte(), "");
        let ids = Scope::Ids(vec![4, 9]);
        assert_eq!(ids.cte(), "scope_ids(id) AS (VALUES ($1), ($2)),");
        assert_eq!(ids.pred("a.post_id"), "a.post_id IN (SELECT id FROM scope_ids)");
        assert_eq!(dialect::num(0.5), "CAST(0.5 AS DOUBLE PRECISION)");
        assert_eq!(dialect::num(30.0), "CAST(30.0 AS DOUBLE PRECISION)");
        assert_eq!(
            dialect::upsert("t", &["k"], &["a", "b"], "SELECT 1 AS k, 2 AS a, 3 AS b", ""),
            "INSERT INTO t (k, a, b) SELECT n.k, n.a, n.b FROM (SELECT 1 AS k, 2 AS a, 3 AS b) n \
             LEFT JOIN t o ON o.k = n.k WHERE o.k IS NULL OR o.a IS DISTINCT FROM n.a OR o.b IS DISTINCT FROM n.b \
             ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = excluded.b \
             WHERE t.a IS DISTINCT FROM excluded.a OR t.b IS DISTINCT FROM excluded.b"
        );
    }
}
