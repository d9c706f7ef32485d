//! Deletion requests a network forwarded (`changes.erasure-requested`):
//! recorded in the transaction of the call that reported them, then each
//! started as an erasure (or found to concern nobody held), and looked up by
//! confirmation code for the public status page.

use sqlx::{AnyConnection, Row};

use super::{Db, now_ms};

/// A request not started yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub id: i64,
    pub network: String,
    pub external_user_id: String,
}

/// Where a request stands, as its status page tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Progress {
    Received,
    InProgress,
    Complete,
}

/// A request's status: no names, no data.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub status: Progress,
    /// When the request arrived (Unix ms).
    pub received_at: i64,
    /// When the erasure ended (Unix ms), once complete.
    pub completed_at: Option<i64>,
}

/// Records the request `code` of `external_user_id` on `network`, received
/// through channel account `channel_id`.
pub async fn record(
    conn: &mut AnyConnection,
    code: &str,
    channel_id: i64,
    network: &str,
    external_user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deletion_requests (code, channel_id, network, external_user_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'received', $5, $5)",
    )
    .bind(code)
    .bind(channel_id)
    .bind(network)
    .bind(external_user_id)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// The requests not started yet, oldest first.
pub async fn received(db: &Db) -> Result<Vec<Received>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, network, external_user_id FROM deletion_requests WHERE status = 'received' ORDER BY id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Received {
                id: row.try_get("id")?,
                network: row.try_get("network")?,
                external_user_id: row
                    .try_get::<Option<String>, _>("external_user_id")?
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Request `id` is run by erasure `erasure_id`: the user id goes (the
/// erasure's plan holds it until the erasure ends). `false` when another
/// node started it first.
pub async fn started(conn: &mut AnyConnection, id: i64, erasure_id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deletion_requests SET status = 'started', erasure_id = $1, external_user_id = NULL, updated_at = $2 \
         WHERE id = $3 AND status = 'received'",
    )
    .bind(erasure_id)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Request `id` concerns nobody held: complete at once, the user id gone.
pub async fn nothing_held(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE deletion_requests SET status = 'done', external_user_id = NULL, updated_at = $1, finished_at = $1 \
         WHERE id = $2 AND status = 'received'",
    )
    .bind(now_ms())
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The status of the request with confirmation code `code`.
pub async fn status(db: &Db, code: &str) -> Result<Option<Status>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT r.status, r.created_at, r.finished_at, e.status AS erasure, e.finished_at AS erased_at \
         FROM deletion_requests r LEFT JOIN erasures e ON e.id = r.erasure_id WHERE r.code = $1",
    )
    .bind(code)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (status, erasure): (String, Option<String>) = (row.try_get("status")?, row.try_get("erasure")?);
    let (progress, completed_at) = match (status.as_str(), erasure.as_deref()) {
        ("done", _) => (Progress::Complete, row.try_get("finished_at")?),
        (_, Some("done")) => (Progress::Complete, row.try_get("erased_at")?),
        ("started", _) => (Progress::InProgress, None),
        _ => (Progress::Received, None),
    };
    Ok(Some(Status {
        status: progress,
        received_at: row.try_get("created_at")?,
        completed_at,
    }))
}
