//! Replies (`replies`): queued, sent or failed messages, and what sending one
//! reads of the post it answers.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{Db, now_ms};
use crate::runtime::types::ReplyTarget;

/// A reply sent as a template message the network approved (WhatsApp
/// outside the 24-hour window): stored as JSON in `replies.template`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyTemplate {
    /// The template's name, as the channel's templates list it.
    pub name: String,
    /// Its language code (`en_US`).
    pub language: String,
    /// The values of its placeholders `{{1}}`, `{{2}}`, ... in order.
    #[serde(default)]
    pub parameters: Vec<String>,
}

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
    /// Set when the reply is a template message; `text` then describes it.
    pub template: Option<ReplyTemplate>,
}

const COLUMNS: &str = "r.id, c.name AS channel, r.post_id, r.text, r.idempotency_key, r.status, r.external_id, \
     r.url, r.error, r.attempts, r.created_by, r.created_at, r.template";

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
    template: Option<&ReplyTemplate>,
    key: &str,
    actor: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let now = now_ms();
    let template = template
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(
        "INSERT INTO replies (channel_id, post_id, text, template, idempotency_key, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(channel_id)
    .bind(post_id)
    .bind(text)
    .bind(template)
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

/// The post a reply answers, as the plugin needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub channel_id: i64,
    pub channel: String,
    pub reply: ReplyTarget,
    /// The author's `external-id` (a conversation's recipient).
    pub author_id: String,
}

/// What the plugin needs to know of post `post_id`, if there is such a post.
pub async fn target(db: &Db, post_id: i64) -> Result<Option<Target>, sqlx::Error> {
    sqlx::query(
        "SELECT p.channel_id, c.name AS channel, p.external_id, p.thread_id, i.handle, i.external_user_id AS author_id \
         FROM posts p JOIN identities i ON i.id = p.identity_id JOIN channel_accounts c ON c.id = p.channel_id \
         WHERE p.id = $1",
    )
    .bind(post_id)
    .fetch_optional(db.pool())
    .await?
    .map(|row| {
        Ok(Target {
            channel_id: row.try_get("channel_id")?,
            channel: row.try_get("channel")?,
            reply: ReplyTarget {
                external_id: row.try_get("external_id")?,
                author_handle: row.try_get("handle")?,
                thread_id: row.try_get("thread_id")?,
            },
            author_id: row.try_get("author_id")?,
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
        template: row
            .try_get::<Option<String>, _>("template")?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| sqlx::Error::Decode(e.into()))?,
    })
}
