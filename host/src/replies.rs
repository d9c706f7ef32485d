//! Replies (micro responses): stored before they are sent, so a crash never
//! leaves a sent reply unrecorded. A reply is `queued`, then `sent` (with the
//! network's id and URL) or `failed` (with the error, and can be retried).
//!
//! Two idempotency layers: the reply's own key (given by the caller, or
//! derived from post and text) makes a repeated request return the same
//! reply; the plugin sends with a network idempotency key derived from the
//! same content (Mastodon's `Idempotency-Key`), so a retry after a crash
//! between the network's answer and the commit does not post twice.
//!
//! A reply goes where its post lives: through `connector.send` to a post,
//! comment or thread, and through `messaging.send-message` to a conversation
//! of a messaging network (a post with a thread, on a channel whose plugin
//! exports `messaging`). There free text goes only inside the reply window
//! the plugin reported (docs/conversations.md); outside it only a template
//! message, which the network approved beforehand.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::events::{Event, EventType, Outbox};
use crate::ingest::{ChannelRef, CommitError, Ingest, IngestError, commit_page};
use crate::plugins::LoadedChannel;
use crate::runtime::types::{ConversationTarget, MessageBody, Outbound, Sent, Template, TemplateMessage};
use crate::runtime::{Account, CallError, CallOutput, ChannelPlugin, FailReason};
use crate::store::codec::ms_rfc3339;
use crate::store::replies::Target;
pub use crate::store::replies::{Reply, ReplyTemplate};
use crate::store::{self, Db, audit, now_ms, reply_windows};

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
    #[error("template: {0}")]
    BadTemplate(String),
    #[error(
        "the conversation's reply window {0}: outside it the network allows only a template message the network approved"
    )]
    WindowClosed(String),
    #[error(
        "channel {0}: a template message answers only a conversation of a messaging network (a plugin that exports `messaging`)"
    )]
    NoTemplates(String),
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
    insert(db, channel_id, Some(post_id), text, None, &key, actor).await
}

/// Stores a template message answering post `post_id` as `queued`, like
/// [`queue`]; its text describes the template.
pub async fn queue_template(
    db: &Db,
    post_id: i64,
    template: &ReplyTemplate,
    key: Option<&str>,
    actor: &str,
) -> Result<Reply, ReplyError> {
    check_template(template)?;
    let text = describe(template);
    let key = match key {
        Some(key) => key.to_string(),
        None => hex::encode(&Sha256::digest(format!("{post_id}\ntemplate\n{text}"))[..16]),
    };
    let channel_id = store::replies::post_channel(db, post_id)
        .await?
        .ok_or(ReplyError::NoPost(post_id))?;
    insert(db, channel_id, Some(post_id), &text, Some(template), &key, actor).await
}

/// Template names are lowercase letters, digits and underscores (as
/// WhatsApp's are); parameters are non-empty and bounded.
fn check_template(t: &ReplyTemplate) -> Result<(), ReplyError> {
    let bad = |why: &str| Err(ReplyError::BadTemplate(why.to_string()));
    let name_ok = |s: &str, extra: char| {
        !s.is_empty() && s.len() <= 512 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == extra)
    };
    if !name_ok(&t.name, '_') || t.name.chars().any(|c| c.is_ascii_uppercase()) {
        return bad("a name is lowercase letters, digits and underscores");
    }
    if !name_ok(&t.language, '-') || t.language.len() > 15 {
        return bad("a language is a code such as en_US");
    }
    if t.parameters.len() > MAX_PARAMETERS {
        return bad(&format!("at most {MAX_PARAMETERS} parameters"));
    }
    if t.parameters
        .iter()
        .any(|p| p.trim().is_empty() || p.chars().count() > MAX_PARAMETER)
    {
        return bad(&format!("a parameter is 1 to {MAX_PARAMETER} characters, not blank"));
    }
    Ok(())
}

/// Parameters of one template message, and characters of one.
const MAX_PARAMETERS: usize = 20;
const MAX_PARAMETER: usize = 1024;

/// The stored text of a template reply: its name, language and parameters.
fn describe(t: &ReplyTemplate) -> String {
    let mut text = format!("[template {} ({})]", t.name, t.language);
    for (n, p) in t.parameters.iter().enumerate() {
        text.push_str(&format!(" {{{{{}}}}}={p}", n + 1));
    }
    text
}

/// Stores a broadcast (a post that answers nothing) on channel `channel` as
/// `queued`, like [`queue`]; the key is the caller's.
pub async fn queue_broadcast(db: &Db, channel: &str, text: &str, key: &str, actor: &str) -> Result<Reply, ReplyError> {
    let text = check_text(text)?;
    let channel_id = store::accounts::id(db.pool(), channel)
        .await?
        .ok_or_else(|| ReplyError::NoChannel(channel.to_string()))?;
    insert(db, channel_id, None, text, None, key, actor).await
}

async fn insert(
    db: &Db,
    channel_id: i64,
    post_id: Option<i64>,
    text: &str,
    template: Option<&ReplyTemplate>,
    key: &str,
    actor: &str,
) -> Result<Reply, ReplyError> {
    let mut tx = db.begin().await?;
    if let Some(id) = store::replies::insert(&mut tx, channel_id, post_id, text, template, key, actor).await? {
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

/// Where a reply goes, and what it says.
#[derive(Clone)]
enum Route {
    /// `connector.send`: a post, comment or thread reply, or a broadcast.
    Connector(Outbound),
    /// `messaging.send-message`: a conversation of a messaging network.
    Conversation(ConversationTarget, MessageBody),
}

/// The route of `reply` (answering `target`) through `plugin`, or why the
/// reply may not be sent: free text to a conversation whose reply window
/// is closed, a template to a channel that has none.
async fn route(db: &Db, plugin: &LoadedChannel, reply: &Reply, target: Option<Target>) -> Result<Route, ReplyError> {
    let in_conversation = |t: &Target| plugin.has_messaging() && t.reply.thread_id.is_some();
    let target = match target {
        Some(target) if in_conversation(&target) => target,
        other => {
            if reply.template.is_some() {
                return Err(ReplyError::NoTemplates(reply.channel.clone()));
            }
            return Ok(Route::Connector(Outbound {
                text: reply.text.clone(),
                in_reply_to: other.map(|t| t.reply),
                recipient: None,
            }));
        }
    };
    let conversation_id = target.reply.thread_id.clone().unwrap_or_default();
    let body = match &reply.template {
        Some(t) => MessageBody::Template(TemplateMessage {
            name: t.name.clone(),
            language: t.language.clone(),
            parameters: t.parameters.clone(),
        }),
        None => {
            check_window(db, target.channel_id, &conversation_id).await?;
            MessageBody::Text(reply.text.clone())
        }
    };
    let to = ConversationTarget {
        conversation_id,
        recipient: target.author_id,
        in_reply_to: Some(target.reply.external_id),
    };
    Ok(Route::Conversation(to, body))
}

/// Fails with [`ReplyError::WindowClosed`] unless the conversation's reply
/// window is open now (a conversation without a reported window is closed).
async fn check_window(db: &Db, channel_id: i64, conversation: &str) -> Result<(), ReplyError> {
    match reply_windows::open_until(db, channel_id, conversation).await? {
        Some(until) if until > now_ms() => Ok(()),
        Some(until) => Err(ReplyError::WindowClosed(format!("closed at {}", ms_rfc3339(until)))),
        None => Err(ReplyError::WindowClosed(
            "was never opened by a message of the customer".into(),
        )),
    }
}

/// Refuses, before anything is stored, a reply to post `post_id` that
/// [`send`] would refuse (the API's 409): free text to a conversation whose
/// reply window is closed, a template (`template`) to a post that is not in
/// a conversation of a messaging network. [`send`] records the same refusal
/// as a failure for a reply already queued.
pub async fn check_route(ingest: &Ingest, post_id: i64, template: bool) -> Result<(), ReplyError> {
    let db = ingest.db();
    let target = store::replies::target(db, post_id)
        .await?
        .ok_or(ReplyError::NoPost(post_id))?;
    let stored = ingest.account(&target.channel).await?;
    let messaging = ingest.channel_plugin(&stored.plugin).await?.has_messaging();
    match (target.reply.thread_id.as_deref().filter(|_| messaging), template) {
        (None, true) => Err(ReplyError::NoTemplates(target.channel)),
        (Some(conversation), false) => check_window(db, target.channel_id, conversation).await,
        _ => Ok(()),
    }
}

/// The templates the network approved for channel `channel`
/// (`messaging.templates`), for an agent to choose from.
pub async fn templates(ingest: &Ingest, channel: &str) -> Result<Vec<Template>, ReplyError> {
    store::accounts::id(ingest.db().pool(), channel)
        .await?
        .ok_or_else(|| ReplyError::NoChannel(channel.to_string()))?;
    let mut stored = ingest.account(channel).await?;
    let plugin = ingest.channel_plugin(&stored.plugin).await?;
    if !plugin.has_messaging() {
        return Err(ReplyError::NoTemplates(channel.to_string()));
    }
    let out = ingest
        .with_fresh_tokens(&plugin.manifest, &mut stored, |stored| {
            let plugin = plugin.clone();
            async move {
                let listed = tokio::task::spawn_blocking(move || plugin.templates(&stored.account).transpose())
                    .await
                    .map_err(|e| IngestError::Join(e.to_string()))?;
                listed.map_err(IngestError::from)
            }
        })
        .await?;
    Ok(out.map(|out| out.value).unwrap_or_default())
}

/// Sends a queued or failed reply through its channel's plugin and records
/// the outcome; a sent reply is returned as it is. A reply its route refuses
/// (a closed reply window) is recorded as failed with the reason.
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
    let sent = match route(db, &plugin, &reply, target).await {
        Err(refused @ (ReplyError::WindowClosed(_) | ReplyError::NoTemplates(_))) => Err(refused.to_string()),
        Err(e) => return Err(e),
        Ok(route) => ingest
            .with_fresh_tokens(&plugin.manifest, &mut stored, |stored| {
                let (plugin, route) = (plugin.clone(), route.clone());
                async move {
                    tokio::task::spawn_blocking(move || deliver(&plugin, &stored.account, &route))
                        .await
                        .map_err(|e| IngestError::Join(e.to_string()))?
                        .map_err(IngestError::from)
                }
            })
            .await
            .map_err(|e| e.to_string()),
    };
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

/// Sends along `route` in the plugin: what the network created.
fn deliver(plugin: &ChannelPlugin, account: &Account, route: &Route) -> Result<CallOutput<Sent>, CallError> {
    match route {
        Route::Connector(message) => plugin.send(account, message),
        Route::Conversation(to, body) => {
            let out = plugin.send_message(account, to, body).ok_or_else(|| CallError {
                plugin: plugin.meta().spec.name.clone(),
                function: "send-message",
                reason: FailReason::Instantiate("the plugin does not export `messaging`".into()),
                logs: Vec::new(),
            })??;
            Ok(out.map(|external_id| Sent { external_id, url: None }))
        }
    }
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
