//! Replies (micro responses): stored before they are sent, so a crash never
//! leaves a sent reply unrecorded. A reply is `queued`, then `sent` (with the
//! network's id and URL) or `failed` (with the error, and can be retried).
//!
//! Two idempotency layers: the reply's own key (given by the caller, or
//! derived from post and text) makes a repeated request return the same
//! reply; the plugin sends with a network idempotency key derived from the
//! same content (Mastodon's `Idempotency-Key`), so a retry after a crash
//! between the network's answer and the commit does not post twice.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::events::{Event, EventType, Outbox};
use crate::ingest::{ChannelRef, CommitError, Ingest, IngestError, commit_page};
use crate::runtime::types::Outbound;
pub use crate::store::replies::Reply;
use crate::store::{self, Db, audit, now_ms};

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
    let channel_id = store::replies::post_channel(db, post_id)
        .await?
        .ok_or(ReplyError::NoPost(post_id))?;
    insert(db, channel_id, Some(post_id), text, &key, actor).await
}

/// Stores a broadcast (a post that answers nothing) on channel `channel` as
/// `queued`, like [`queue`]; the key is the caller's.
pub async fn queue_broadcast(db: &Db, channel: &str, text: &str, key: &str, actor: &str) -> Result<Reply, ReplyError> {
    let text = check_text(text)?;
    let channel_id = store::accounts::id(db.pool(), channel)
        .await?
        .ok_or_else(|| ReplyError::NoChannel(channel.to_string()))?;
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
    if let Some(id) = store::replies::insert(&mut tx, channel_id, post_id, text, key, actor).await? {
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
    let id = store::replies::id_by_key(db, key).await?;
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
        Some(post_id) => Some(
            store::replies::target(db, post_id)
                .await?
                .ok_or(ReplyError::NoPost(post_id))?,
        ),
        None => None,
    };
    store::replies::count_attempt(db, id).await?;
    let mut stored = ingest.account(&reply.channel).await?;
    let plugin = ingest.channel_plugin(&stored.plugin).await?;
    let message = Outbound {
        text: reply.text.clone(),
        in_reply_to: target,
        recipient: None,
    };
    let sent = ingest
        .with_fresh_tokens(&plugin.manifest, &mut stored, |stored| {
            let (plugin, message) = (plugin.clone(), message.clone());
            async move {
                tokio::task::spawn_blocking(move || plugin.send(&stored.account, &message))
                    .await
                    .map_err(|e| IngestError::Join(e.to_string()))?
                    .map_err(IngestError::from)
            }
        })
        .await;
    let now = now_ms();
    let outbox = Outbox::of(db).await?;
    let mut tx = db.begin().await?;
    match sent {
        Ok(out) => {
            store::replies::mark_sent(&mut tx, id, &out.value.external_id, out.value.url.as_deref(), now).await?;
            audit(
                &mut *tx,
                actor,
                "reply.sent",
                &format!("reply:{id}"),
                &json!({"external_id": out.value.external_id}),
            )
            .await?;
            let outcome = json!({"external_id": out.value.external_id, "url": out.value.url});
            outbox.write(&mut tx, [sent_event(&reply, actor, outcome)]).await?;
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
            store::replies::mark_failed(&mut tx, id, &e.to_string(), now).await?;
            audit(
                &mut *tx,
                actor,
                "reply.failed",
                &format!("reply:{id}"),
                &json!({"error": e.to_string()}),
            )
            .await?;
            outbox
                .write(&mut tx, [sent_event(&reply, actor, json!({"error": e.to_string()}))])
                .await?;
            tx.commit().await?;
        }
    }
    get(db, id).await
}

/// The `response.sent` event of `reply` (`response.failed` when `outcome`
/// has an `error`), with the outcome's fields.
fn sent_event(reply: &Reply, actor: &str, outcome: serde_json::Value) -> Event {
    let kind = if outcome.get("error").is_some() {
        EventType::ResponseFailed
    } else {
        EventType::ResponseSent
    };
    let data = json!({
        "reply_id": reply.id,
        "post_id": reply.post_id,
        "channel": reply.channel,
        "text": reply.text,
        "actor": actor,
    });
    Event::new(kind, data)
        .with_fields(&outcome)
        .channel(reply.channel.as_str())
}

pub async fn get(db: &Db, id: i64) -> Result<Reply, ReplyError> {
    store::replies::get(db, id).await?.ok_or(ReplyError::NoReply(id))
}

/// Replies to `post_id`, or the newest `limit` replies, newest first.
pub async fn list(db: &Db, post_id: Option<i64>, limit: i64) -> Result<Vec<Reply>, ReplyError> {
    Ok(store::replies::list(db, post_id, limit).await?)
}
