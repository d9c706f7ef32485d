//! Replies (micro responses): stored before they are sent, so a crash never
//! leaves a sent reply unrecorded. A reply is `queued`, then `sent` (with the
//! network's id and URL) or `failed` (with the error, and can be retried).
//!
//! Two idempotency layers: the reply's own key (given by the caller, or
//! derived from post and text) makes a repeated request return the same
//! reply; the plugin sends with a network idempotency key derived from the
//! same content (Mastodon's `Idempotency-Key`), so a retry after a crash
//! between the network's answer and the commit does not post twice.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::ingest::{ChannelRef, CommitError, Ingest, IngestError, commit_page};
use crate::runtime::bindings::{Outbound, ReplyTarget};
use crate::store::{Db, audit, now_ms};

/// Longest reply text accepted (networks cut far shorter; this guards the store).
const MAX_TEXT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("no post {0}")]
    NoPost(i64),
    #[error("no reply {0}")]
    NoReply(i64),
    #[error("no channel named {0}")]
    NoChannel(String),
    #[error("the reply is empty")]
    Empty,
    #[error("the reply is longer than {MAX_TEXT} characters")]
    TooLong,
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
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
}

/// `text` trimmed, if it is a sendable reply.
pub fn check_text(text: &str) -> Result<&str, ReplyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ReplyError::Empty);
    }
    if text.chars().count() > MAX_TEXT {
        return Err(ReplyError::TooLong);
    }
    Ok(text)
}

/// Stores a reply to post `post_id` as `queued`; with a key already used,
/// returns that reply instead (a repeated request changes nothing).
pub async fn queue(db: &Db, post_id: i64, text: &str, key: Option<&str>, actor: &str) -> Result<Reply, ReplyError> {
    let text = check_text(text)?;
    let key = match key {
        Some(key) => key.to_string(),
        None => hex::encode(&Sha256::digest(format!("{post_id}\n{text}"))[..16]),
    };
    let channel_id: i64 = sqlx::query("SELECT channel_id FROM posts WHERE id = $1")
        .bind(post_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(ReplyError::NoPost(post_id))?
        .try_get("channel_id")?;
    insert(db, channel_id, Some(post_id), text, &key, actor).await
}

/// Stores a broadcast (a post that answers nothing) on channel `channel` as
/// `queued`, like [`queue`]; the key is the caller's.
pub async fn queue_broadcast(db: &Db, channel: &str, text: &str, key: &str, actor: &str) -> Result<Reply, ReplyError> {
    let text = check_text(text)?;
    let channel_id: i64 = sqlx::query("SELECT id FROM channel_accounts WHERE name = $1")
        .bind(channel)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| ReplyError::NoChannel(channel.to_string()))?
        .try_get("id")?;
    insert(db, channel_id, None, text, key, actor).await
}

async fn insert(
    db: &Db,
    channel_id: i64,
    post_id: Option<i64>,
    text: &str,
    key: &str,
    actor: &str,
) -> Result<Reply, ReplyError> {
    let mut tx = db.begin().await?;
    let now = now_ms();
    let inserted = sqlx::query(
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
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        let id: i64 = row.try_get("id")?;
        audit(
            &mut *tx,
            actor,
            "reply.queue",
            &format!("reply:{id}"),
            &json!({"post": post_id}),
        )
        .await?;
    }
    tx.commit().await?;
    let id: i64 = sqlx::query("SELECT id FROM replies WHERE idempotency_key = $1")
        .bind(key)
        .fetch_one(db.pool())
        .await?
        .try_get("id")?;
    get(db, id).await
}

/// Sends a queued or failed reply through its channel's plugin and records
/// the outcome; a sent reply is returned as it is.
pub async fn send(ingest: &Ingest, id: i64, actor: &str) -> Result<Reply, ReplyError> {
    let db = ingest.db();
    let reply = get(db, id).await?;
    if reply.status == "sent" {
        return Ok(reply);
    }
    let target = match reply.post_id {
        Some(post_id) => Some(target(db, post_id).await?),
        None => None,
    };
    sqlx::query("UPDATE replies SET attempts = attempts + 1, updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(db.pool())
        .await?;
    let stored = ingest.account(&reply.channel).await?;
    let plugin = ingest.channel_plugin(&stored.plugin).await?;
    let message = Outbound {
        text: reply.text.clone(),
        in_reply_to: target,
        recipient: None,
    };
    let account = stored.account.clone();
    let sent = tokio::task::spawn_blocking(move || plugin.send(&account, &message))
        .await
        .map_err(|e| IngestError::Join(e.to_string()))?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    match sent {
        Ok(out) => {
            sqlx::query(
                "UPDATE replies SET status = 'sent', external_id = $1, url = $2, error = NULL, updated_at = $3 \
                 WHERE id = $4",
            )
            .bind(&out.value.external_id)
            .bind(&out.value.url)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit(
                &mut *tx,
                actor,
                "reply.sent",
                &format!("reply:{id}"),
                &json!({"external_id": out.value.external_id}),
            )
            .await?;
            tx.commit().await?;
            // A refreshed token the plugin kept, for instance.
            let channel = ChannelRef {
                id: stored.id,
                network: stored.network,
                lease_owner: None,
            };
            commit_page(db, &channel, &[], &[], None, &out.kv_changes).await?;
        }
        Err(e) => {
            sqlx::query("UPDATE replies SET status = 'failed', error = $1, updated_at = $2 WHERE id = $3")
                .bind(e.to_string())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit(
                &mut *tx,
                actor,
                "reply.failed",
                &format!("reply:{id}"),
                &json!({"error": e.to_string()}),
            )
            .await?;
            tx.commit().await?;
        }
    }
    get(db, id).await
}

/// What the plugin needs to know of the post being answered.
async fn target(db: &Db, post_id: i64) -> Result<ReplyTarget, ReplyError> {
    let row = sqlx::query(
        "SELECT p.external_id, p.thread_id, i.handle FROM posts p JOIN identities i ON i.id = p.identity_id \
         WHERE p.id = $1",
    )
    .bind(post_id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(ReplyError::NoPost(post_id))?;
    Ok(ReplyTarget {
        external_id: row.try_get("external_id")?,
        author_handle: row.try_get("handle")?,
        thread_id: row.try_get("thread_id")?,
    })
}

const COLUMNS: &str = "r.id, c.name AS channel, r.post_id, r.text, r.idempotency_key, r.status, r.external_id, \
     r.url, r.error, r.attempts, r.created_by, r.created_at";

pub async fn get(db: &Db, id: i64) -> Result<Reply, ReplyError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM replies r JOIN channel_accounts c ON c.id = r.channel_id WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(ReplyError::NoReply(id))?;
    Ok(reply(&row)?)
}

/// Replies to `post_id`, or the newest `limit` replies, newest first.
pub async fn list(db: &Db, post_id: Option<i64>, limit: i64) -> Result<Vec<Reply>, ReplyError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM replies r JOIN channel_accounts c ON c.id = r.channel_id \
         WHERE ($1 = 0 OR r.post_id = $1) ORDER BY r.id DESC LIMIT $2"
    )))
    .bind(post_id.unwrap_or(0))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(reply).collect::<Result<_, _>>()?)
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
