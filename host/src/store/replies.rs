//! Replies (`replies`): queued, sent or failed messages, and what sending one
//! reads of the post it answers.

use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{Db, now_ms};
use crate::runtime::types::ReplyTarget;

/// A reply as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reply {
    pub id: i64,
    pub channel: String,
    pub post_id: Option<i64>,
    pub text: String,
    pub idempotency_key: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub external_id: Option<String>,
    pub url: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_by: String,
    pub created_at: i64,
}

const COLUMNS: &str = "r.id, c.name AS channel, r.post_id, r.text, r.idempotency_key, r.status, r.external_id, \
     r.url, r.error, r.attempts, r.created_by, r.created_at";

pub async fn get(db: &Db, id: i64) -> Result<Option<Reply>, sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM replies r JOIN channel_accounts c ON c.id = r.channel_id WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .as_ref()
    .map(reply)
    .transpose()
}

/// Replies to `post_id`, or the newest `limit` replies, newest first.
pub async fn list(db: &Db, post_id: Option<i64>, limit: i64) -> Result<Vec<Reply>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM replies r JOIN channel_accounts c ON c.id = r.channel_id \
         WHERE ($1 = 0 OR r.post_id = $1) ORDER BY r.id DESC LIMIT $2"
    )))
    .bind(post_id.unwrap_or(0))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(reply).collect()
}

/// The channel of post `post_id`, if there is such a post.
pub async fn post_channel(db: &Db, post_id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT channel_id FROM posts WHERE id = $1")
        .bind(post_id)
        .fetch_optional(db.pool())
        .await?
        .map(|row| row.try_get("channel_id"))
        .transpose()
}

/// Inserts a `queued` reply; `None` when `key` is taken (the reply exists).
pub async fn insert(
    conn: &mut AnyConnection,
    channel_id: i64,
    post_id: Option<i64>,
    text: &str,
    key: &str,
    actor: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO replies (channel_id, post_id, text, idempotency_key, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(channel_id)
    .bind(post_id)
    .bind(text)
    .bind(key)
    .bind(actor)
    .bind(now)
    .bind(now)
    .fetch_optional(conn)
    .await?
    .map(|row| row.try_get("id"))
    .transpose()
}

/// The id of the reply with idempotency key `key` (which must exist).
pub async fn id_by_key(db: &Db, key: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT id FROM replies WHERE idempotency_key = $1")
        .bind(key)
        .fetch_one(db.pool())
        .await?
        .try_get("id")
}

/// Counts an attempt to send reply `id`.
pub async fn count_attempt(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE replies SET attempts = attempts + 1, updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Marks reply `id` sent, as the network knows it.
pub async fn mark_sent(
    conn: &mut AnyConnection,
    id: i64,
    external_id: &str,
    url: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE replies SET status = 'sent', external_id = $1, url = $2, error = NULL, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(external_id)
    .bind(url)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks reply `id` failed with `error`.
pub async fn mark_failed(conn: &mut AnyConnection, id: i64, error: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE replies SET status = 'failed', error = $1, updated_at = $2 WHERE id = $3")
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What the plugin needs to know of post `post_id`, if there is such a post.
pub async fn target(db: &Db, post_id: i64) -> Result<Option<ReplyTarget>, sqlx::Error> {
    sqlx::query(
        "SELECT p.external_id, p.thread_id, i.handle FROM posts p JOIN identities i ON i.id = p.identity_id \
         WHERE p.id = $1",
    )
    .bind(post_id)
    .fetch_optional(db.pool())
    .await?
    .map(|row| {
        Ok(ReplyTarget {
            external_id: row.try_get("external_id")?,
            author_handle: row.try_get("handle")?,
            thread_id: row.try_get("thread_id")?,
        })
    })
    .transpose()
}

fn reply(row: &sqlx::any::AnyRow) -> Result<Reply, sqlx::Error> {
    Ok(Reply {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        post_id: row.try_get("post_id")?,
        text: row.try_get("text")?,
        idempotency_key: row.try_get("idempotency_key")?,
        status: row.try_get("status")?,
        external_id: row.try_get("external_id")?,
        url: row.try_get("url")?,
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}
