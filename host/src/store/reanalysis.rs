//! `reanalysis_jobs` (a new analyzer version re-running over stored posts,
//! leased like a channel), `insights_versions` (the version insights read per
//! analyzer) and the comparison of two versions' `analyses`.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Executor, Row};

use super::{Backend, Db, dialect};

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for a worker or being worked.
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> JobStatus {
        match s {
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => JobStatus::Running,
        }
    }
}

/// A re-analysis job and its progress.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: i64,
    pub plugin: String,
    /// The version compared with (what insights read when the job started).
    pub from_version: Option<String>,
    pub to_version: String,
    pub status: JobStatus,
    /// Posts up to this id are the job's history.
    pub last_post_id: i64,
    pub posts_total: i64,
    pub posts_done: i64,
    /// Posts in batches the new version failed on (skipped; `error` says why).
    pub posts_failed: i64,
    /// The last post done: a resumed job goes on after it.
    pub cursor_post_id: i64,
    pub error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

impl Job {
    /// Done share in [0, 1].
    pub fn progress(&self) -> f64 {
        if self.posts_total == 0 {
            1.0
        } else {
            self.posts_done as f64 / self.posts_total as f64
        }
    }
}

const JOB_COLUMNS: &str = "id, plugin, from_version, to_version, status, last_post_id, posts_total, posts_done, \
                           posts_failed, cursor_post_id, error, lease_owner, lease_until, created_by, created_at, \
                           updated_at, finished_at";

fn job(row: &AnyRow) -> Result<Job, sqlx::Error> {
    Ok(Job {
        id: row.try_get("id")?,
        plugin: row.try_get("plugin")?,
        from_version: row.try_get("from_version")?,
        to_version: row.try_get("to_version")?,
        status: JobStatus::parse(&row.try_get::<String, _>("status")?),
        last_post_id: row.try_get("last_post_id")?,
        posts_total: row.try_get("posts_total")?,
        posts_done: row.try_get("posts_done")?,
        posts_failed: row.try_get("posts_failed")?,
        cursor_post_id: row.try_get("cursor_post_id")?,
        error: row.try_get("error")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: row.try_get("lease_until")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// The job `id`.
pub async fn get(db: &Db, id: i64) -> Result<Option<Job>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS} FROM reanalysis_jobs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| job(&r)).transpose()
}

/// Jobs, newest first; only those of `plugin` when given.
pub async fn list(db: &Db, plugin: Option<&str>, limit: i64) -> Result<Vec<Job>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS} FROM reanalysis_jobs WHERE $1 IS NULL OR plugin = $1 ORDER BY id DESC LIMIT $2"
    )))
    .bind(plugin)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(job).collect()
}

/// The id of the running job of `plugin` to version `to`, if any.
pub async fn running(conn: &mut AnyConnection, plugin: &str, to: &str) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id FROM reanalysis_jobs WHERE plugin = $1 AND to_version = $2 AND status = 'running' ORDER BY id LIMIT 1",
    )
    .bind(plugin)
    .bind(to)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("id")).transpose()
}

/// A job to queue.
#[derive(Clone, Copy, Debug)]
pub struct NewJob<'a> {
    pub plugin: &'a str,
    pub from_version: Option<&'a str>,
    pub to_version: &'a str,
    pub last_post_id: i64,
    pub posts_total: i64,
    pub created_by: &'a str,
    pub created_at: i64,
}

/// Inserts a running job; returns its id.
pub async fn insert(conn: &mut AnyConnection, new: &NewJob<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO reanalysis_jobs (plugin, from_version, to_version, status, last_post_id, posts_total, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(new.plugin)
    .bind(new.from_version)
    .bind(new.to_version)
    .bind(new.last_post_id)
    .bind(new.posts_total)
    .bind(new.created_by)
    .bind(new.created_at)
    .fetch_one(conn)
    .await?
    .try_get("id")
}

/// Cancels job `id` if it is running; whether it was.
pub async fn cancel(conn: &mut AnyConnection, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let cancelled = sqlx::query(
        "UPDATE reanalysis_jobs SET status = 'cancelled', lease_owner = NULL, lease_until = 0, updated_at = $1, \
         finished_at = $1 WHERE id = $2 AND status = 'running'",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(cancelled == 1)
}

/// Leases running job `id` to `owner` until `until` if it is free at `now`
/// (or `owner`'s already); whether it did.
pub async fn lease(db: &Db, id: i64, owner: &str, until: i64, now: i64) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE reanalysis_jobs SET lease_owner = $1, lease_until = $2 \
         WHERE id = $3 AND status = 'running' AND (lease_until < $4 OR lease_owner = $1)",
    )
    .bind(owner)
    .bind(until)
    .bind(id)
    .bind(now)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// A batch a job worked.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// The last post of the batch.
    pub cursor: i64,
    pub done: i64,
    pub failed: i64,
    pub error: Option<&'a str>,
    /// The lease's new expiry.
    pub lease_until: i64,
    pub now: i64,
}

/// Moves job `id`'s cursor past `batch` and renews its lease, while `owner`
/// holds it and the job is running; whether it did.
pub async fn advance(conn: &mut AnyConnection, id: i64, owner: &str, batch: &Batch<'_>) -> Result<bool, sqlx::Error> {
    let kept = sqlx::query(
        "UPDATE reanalysis_jobs SET cursor_post_id = $1, posts_done = posts_done + $2, \
         posts_failed = posts_failed + $3, error = COALESCE($4, error), lease_until = $5, updated_at = $6 \
         WHERE id = $7 AND lease_owner = $8 AND status = 'running'",
    )
    .bind(batch.cursor)
    .bind(batch.done)
    .bind(batch.failed)
    .bind(batch.error)
    .bind(batch.lease_until)
    .bind(batch.now)
    .bind(id)
    .bind(owner)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(kept == 1)
}

/// Ends running job `id` with `status` if `owner` still holds it.
pub async fn finish(
    db: &Db,
    id: i64,
    owner: &str,
    status: JobStatus,
    error: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reanalysis_jobs SET status = $1, error = COALESCE($2, error), lease_owner = NULL, lease_until = 0, \
         updated_at = $3, finished_at = $3 WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
    )
    .bind(status.as_str())
    .bind(error)
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The oldest running job nobody holds at `now`.
pub async fn due(db: &Db, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id FROM reanalysis_jobs WHERE status = 'running' AND lease_until < $1 ORDER BY id LIMIT 1")
            .bind(now)
            .fetch_optional(db.pool())
            .await?;
    row.map(|r| r.try_get("id")).transpose()
}

/// Frees `owner`'s lease on job `id`.
pub async fn release(db: &Db, id: i64, owner: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reanalysis_jobs SET lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2")
        .bind(id)
        .bind(owner)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The version insights read for `plugin`, if one is pinned.
pub async fn insights_version<'e>(
    executor: impl Executor<'e, Database = Any>,
    plugin: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT version FROM insights_versions WHERE plugin = $1")
        .bind(plugin)
        .fetch_optional(executor)
        .await?;
    row.map(|r| r.try_get("version")).transpose()
}

/// Pins `version` for insights unless a version is pinned already.
pub async fn pin_insights_version(
    conn: &mut AnyConnection,
    plugin: &str,
    version: &str,
    actor: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO insights_versions (plugin, version, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (plugin) DO NOTHING",
    )
    .bind(plugin)
    .bind(version)
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes `version` the one insights read for `plugin`.
pub async fn set_insights_version(
    conn: &mut AnyConnection,
    plugin: &str,
    version: &str,
    actor: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO insights_versions (plugin, version, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (plugin) DO UPDATE SET version = excluded.version, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
    )
    .bind(plugin)
    .bind(version)
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The pairs of analyses of `$1` by versions `$2` (old, `a`) and `$3` (new,
/// `b`), with each side's top intent.
fn pairs_sql(backend: Backend) -> String {
    let top = |side: &str| {
        let (from, objects) = dialect::intents_from(backend, &format!("{side}.intents"));
        let (name, conf) = (dialect::intent_name(backend), dialect::intent_confidence(backend));
        format!(
            "(SELECT {name} FROM {from} WHERE {objects} AND {conf} IS NOT NULL ORDER BY {conf} DESC, {name} LIMIT 1)"
        )
    };
    format!(
        "pairs AS (SELECT a.post_id, a.label AS from_label, b.label AS to_label, a.sentiment AS from_sentiment, \
         b.sentiment AS to_sentiment, {a_top} AS from_intent, {b_top} AS to_intent \
         FROM analyses a JOIN analyses b ON b.post_id = a.post_id AND b.plugin = $3 AND b.version = $4 \
         WHERE a.plugin = $1 AND a.version = $2)",
        a_top = top("a"),
        b_top = top("b"),
    )
}

/// The posts both versions analysed with one combination of label and top
/// intent (`None`: no label, no intent) under each.
#[derive(Clone, Debug, PartialEq)]
pub struct Pairing {
    pub from_label: Option<String>,
    pub to_label: Option<String>,
    pub from_intent: Option<String>,
    pub to_intent: Option<String>,
    pub posts: i64,
    /// The sum of (new − old) sentiment over the posts both scored.
    pub delta: Option<f64>,
    /// The posts both scored.
    pub deltas: i64,
}

/// An analyzer's version: (plugin, version).
pub type Side<'a> = (&'a str, &'a str);

/// The posts `from` and `to` (two versions of one analyzer, or two
/// analyzers) both analysed, grouped by label and top intent on each side:
/// one row per combination, so the result is small whatever the number of posts.
pub async fn pairings(db: &Db, from: Side<'_>, to: Side<'_>) -> Result<Vec<Pairing>, sqlx::Error> {
    let pairs = pairs_sql(db.backend());
    let rows = sqlx::query(AssertSqlSafe(format!(
        "WITH {pairs} SELECT from_label, to_label, from_intent, to_intent, COUNT(*) AS posts, \
         SUM(to_sentiment - from_sentiment) AS delta, COUNT(to_sentiment - from_sentiment) AS deltas \
         FROM pairs GROUP BY from_label, to_label, from_intent, to_intent"
    )))
    .bind(from.0)
    .bind(from.1)
    .bind(to.0)
    .bind(to.1)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Pairing {
                from_label: row.try_get("from_label")?,
                to_label: row.try_get("to_label")?,
                from_intent: row.try_get("from_intent")?,
                to_intent: row.try_get("to_intent")?,
                posts: row.try_get("posts")?,
                delta: row.try_get("delta")?,
                deltas: row.try_get("deltas")?,
            })
        })
        .collect()
}

/// A post whose label or top intent changed.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Example {
    pub post_id: i64,
    pub text: String,
    pub from_label: Option<String>,
    pub to_label: Option<String>,
    pub from_intent: Option<String>,
    pub to_intent: Option<String>,
    pub from_sentiment: Option<f64>,
    pub to_sentiment: Option<f64>,
}

/// Up to `limit` posts whose label or top intent changed from `from` to
/// `to`, newest first.
pub async fn changed(db: &Db, from: Side<'_>, to: Side<'_>, limit: i64) -> Result<Vec<Example>, sqlx::Error> {
    let pairs = pairs_sql(db.backend());
    let rows = sqlx::query(AssertSqlSafe(format!(
        "WITH {pairs} SELECT pairs.*, p.text FROM pairs JOIN posts p ON p.id = pairs.post_id \
         WHERE from_label IS DISTINCT FROM to_label OR from_intent IS DISTINCT FROM to_intent \
         ORDER BY pairs.post_id DESC LIMIT $5"
    )))
    .bind(from.0)
    .bind(from.1)
    .bind(to.0)
    .bind(to.1)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Example {
                post_id: row.try_get("post_id")?,
                text: row.try_get("text")?,
                from_label: row.try_get("from_label")?,
                to_label: row.try_get("to_label")?,
                from_intent: row.try_get("from_intent")?,
                to_intent: row.try_get("to_intent")?,
                from_sentiment: row.try_get("from_sentiment")?,
                to_sentiment: row.try_get("to_sentiment")?,
            })
        })
        .collect()
}
