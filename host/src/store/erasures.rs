//! Erasures (their receipts and resumption), the erasure epoch that tells
//! every node its identity caches are stale, and the do-not-track list.

use sqlx::{AnyConnection, Row};

use super::{Db, now_ms};

/// The settings key of the erasure epoch.
const EPOCH: &str = "erasure_epoch";

/// One erasure: a receipt, and while it runs, its plan and next step.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Erasure {
    pub id: i64,
    pub receipt: String,
    pub requested_by: String,
    /// running, done
    pub status: String,
    pub step: i64,
    #[serde(skip)]
    pub plan: String,
    /// Rows removed or redacted, per kind.
    #[schema(value_type = Object)]
    pub counts: serde_json::Value,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

fn erasure(row: &sqlx::any::AnyRow) -> Result<Erasure, sqlx::Error> {
    Ok(Erasure {
        id: row.try_get("id")?,
        receipt: row.try_get("receipt")?,
        requested_by: row.try_get("requested_by")?,
        status: row.try_get("status")?,
        step: row.try_get("step")?,
        plan: row.try_get("plan")?,
        counts: serde_json::from_str(&row.try_get::<String, _>("counts")?).unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

const COLUMNS: &str = "id, receipt, requested_by, status, step, plan, counts, created_at, finished_at";

/// Starts an erasure with `plan` (JSON) and its `receipt`, audited, in the
/// caller's transaction.
pub async fn create(conn: &mut AnyConnection, receipt: &str, actor: &str, plan: &str) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO erasures (receipt, requested_by, status, plan, created_at, updated_at) \
         VALUES ($1, $2, 'running', $3, $4, $4) RETURNING id",
    )
    .bind(receipt)
    .bind(actor)
    .bind(plan)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    super::audit(
        &mut *conn,
        actor,
        "subject.erase",
        &format!("erasure:{receipt}"),
        &serde_json::json!({"receipt": receipt}),
    )
    .await?;
    Ok(id)
}

/// Erasures that have not finished (a crash stopped them), oldest first.
pub async fn running(db: &Db) -> Result<Vec<Erasure>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM erasures WHERE status = 'running' ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await?;
    rows.iter().map(erasure).collect()
}

/// The erasure with `receipt`.
pub async fn by_receipt(db: &Db, receipt: &str) -> Result<Option<Erasure>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM erasures WHERE receipt = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(receipt)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(erasure).transpose()
}

/// The newest `limit` erasures.
pub async fn list(db: &Db, limit: i64) -> Result<Vec<Erasure>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM erasures ORDER BY id DESC LIMIT $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(erasure).collect()
}

/// Records that `step` is next and the counts so far.
pub async fn advance(conn: &mut AnyConnection, id: i64, step: i64, counts: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE erasures SET step = $1, counts = $2, updated_at = $3 WHERE id = $4")
        .bind(step)
        .bind(counts)
        .bind(now_ms())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends the erasure: the plan (what it looked for) is emptied.
pub async fn finish(conn: &mut AnyConnection, id: i64, counts: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "UPDATE erasures SET status = 'done', plan = '{}', counts = $1, updated_at = $2, finished_at = $2 WHERE id = $3",
    )
    .bind(counts)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The erasure epoch: it grows whenever identities are erased, so a node
/// that remembers identities by id drops what it remembers.
pub async fn epoch(db: &Db) -> Result<i64, sqlx::Error> {
    let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(EPOCH)
        .fetch_optional(db.pool())
        .await?;
    Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Grows the erasure epoch, in the transaction that erases identities.
pub async fn bump_epoch(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let current: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(EPOCH)
        .fetch_optional(&mut *conn)
        .await?;
    let next = current.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) + 1;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(EPOCH)
    .bind(next.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds keyed hashes to the do-not-track list.
pub async fn do_not_track(conn: &mut AnyConnection, erasure_id: i64, hashes: &[String]) -> Result<(), sqlx::Error> {
    for hash in hashes {
        sqlx::query(
            "INSERT INTO do_not_track (hash, erasure_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(hash)
        .bind(erasure_id)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Which of `hashes` are on the do-not-track list.
pub async fn tracked_not(db: &Db, hashes: &[String]) -> Result<Vec<String>, sqlx::Error> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT hash FROM do_not_track WHERE hash IN {}",
        super::placeholders(1, hashes.len())
    );
    let mut query = sqlx::query_scalar(db.backend().sql(sql));
    for h in hashes {
        query = query.bind(h.as_str());
    }
    query.fetch_all(db.pool()).await
}

/// Whether the do-not-track list has any entry (most installations: none,
/// and then ingest hashes nothing).
pub async fn any_do_not_track(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM do_not_track LIMIT 1) x")
        .fetch_one(db.pool())
        .await?;
    Ok(n > 0)
}
