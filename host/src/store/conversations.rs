//! Conversations: a channel's thread (docs/conversations.md). A post's
//! conversation is its `thread_id` (the network's id of the thread's first
//! post, or a messaging network's conversation id), or its own external id
//! when it has none. Its history is every post of the channel in that thread
//! plus the post the id names, with the brand's replies to any of them; and
//! how long the brand may still answer it with free text
//! (`conversation_windows`), when the channel's plugin reported that.
//!
//! A tombstone shows without its text; the author of an erased post shows as
//! `[erased]` even while its erasure runs (docs/privacy.md).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use super::Db;

/// Messages a conversation shows: its newest.
pub const MESSAGES: usize = 200;

/// Conversations a contact's list shows: those the contact spoke in last.
pub const CONTACT_CONVERSATIONS: usize = 100;

/// Characters of a conversation's newest message its summary shows.
const SNIPPET: usize = 140;

/// What a conversation's entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Entry {
    /// A post of the conversation, as the network has it.
    Post,
    /// A reply the brand sent (or is sending) from socialcrm.
    Reply,
}

/// Who wrote a post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessageAuthor {
    pub network: String,
    /// `[erased]` for an erased person's post.
    pub handle: String,
    pub display_name: Option<String>,
}

/// One message of a conversation: a post, or the brand's reply to one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Message {
    pub entry: Entry,
    /// The post; for a reply, the post it answers.
    pub post_id: i64,
    /// The reply's id (replies only).
    pub reply_id: Option<i64>,
    /// The network's id of the post (of a reply, once sent).
    pub external_id: Option<String>,
    /// The post's kind: `direct-message`, `comment`, `reply`, `mention`, ...; null for the brand's replies.
    pub kind: Option<String>,
    /// `inbound` or `outbound`; the brand's replies are `outbound`.
    pub direction: String,
    /// The post's author; null for the brand's replies.
    pub author: Option<MessageAuthor>,
    /// Null for a tombstone.
    pub text: Option<String>,
    pub created_at: i64,
    /// The post was deleted by its author, erased or is past its retention: its text is gone.
    pub tombstone: bool,
    /// A reply's status: `queued`, `sent` or `failed`.
    pub status: Option<String>,
    /// Why a reply failed.
    pub error: Option<String>,
    /// The name of the template a reply was sent as.
    pub template: Option<String>,
    /// Who sent a reply.
    pub created_by: Option<String>,
}

/// How long the brand may still answer a conversation with free text (a
/// messaging network's rule, as the channel's plugin reported it); after
/// that, only a template message can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReplyWindow {
    /// Unix milliseconds.
    pub open_until: i64,
    /// Whether `open_until` is still to come.
    pub open: bool,
}

/// A conversation with its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Conversation {
    pub channel: String,
    pub network: String,
    /// The thread's id on the network (its first post's id, or a messaging conversation's id).
    pub conversation_id: String,
    /// Oldest first: posts and the brand's replies by time.
    pub messages: Vec<Message>,
    /// Older messages were left out: only the newest 200 are listed.
    pub truncated: bool,
    /// Null when the channel reported no reply window for it.
    pub window: Option<ReplyWindow>,
}

/// One of a contact's conversations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConversationSummary {
    pub channel: String,
    pub network: String,
    pub conversation_id: String,
    /// Posts and the brand's replies in it.
    pub messages: i64,
    pub last_message_at: i64,
    /// The start of the newest message's text; null when it is a tombstone.
    pub snippet: Option<String>,
    /// The newest inbound post (the newest post when none is inbound): the
    /// one to open in the inbox to answer.
    pub latest_post_id: i64,
    /// Null when the channel reported no reply window for it.
    pub window: Option<ReplyWindow>,
}

/// A contact's conversations, the most recently active first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContactConversations {
    pub items: Vec<ConversationSummary>,
    /// More conversations were left out: only the 100 the contact spoke in last are listed.
    pub truncated: bool,
}

/// The posts of conversation (`$C`, `$I`) of channel `$C`, each branch by an
/// index: the thread's posts, and the post the id names when it is not
/// in the thread already. `select` names the columns (of `p`, `i`); the four
/// placeholders are numbered from `first` (channel, id, channel, id).
fn members(select: &str, first: usize) -> String {
    let [c1, i1, c2, i2] = [first, first + 1, first + 2, first + 3];
    format!(
        "SELECT {select} FROM posts p JOIN identities i ON i.id = p.identity_id \
         WHERE p.channel_id = ${c1} AND p.thread_id = ${i1} \
         UNION ALL \
         SELECT {select} FROM posts p JOIN identities i ON i.id = p.identity_id \
         WHERE p.channel_id = ${c2} AND p.external_id = ${i2} AND (p.thread_id IS NULL OR p.thread_id <> ${i2})"
    )
}

/// The conversation of post `post_id` as of `now` (Unix ms); `None` when
/// there is no such post.
pub async fn of_post(db: &Db, post_id: i64, now: i64) -> Result<Option<Conversation>, sqlx::Error> {
    let Some(head) = sqlx::query(
        "SELECT p.channel_id, COALESCE(p.thread_id, p.external_id) AS conversation_id, c.name, c.network \
         FROM posts p JOIN channel_accounts c ON c.id = p.channel_id WHERE p.id = $1",
    )
    .bind(post_id)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    let channel_id: i64 = head.try_get("channel_id")?;
    let conversation_id: String = head.try_get("conversation_id")?;
    let backend = db.backend();
    let limit = MESSAGES as i64 + 1;

    let columns = "p.id, p.external_id, p.kind, p.direction, p.text, p.created_at, p.tombstone, \
                   i.network, i.handle, i.display_name";
    let posts = sqlx::query(backend.sql(format!(
        "SELECT * FROM ({}) m ORDER BY created_at DESC, id DESC LIMIT $5",
        members(columns, 1)
    )))
    .bind(channel_id)
    .bind(&conversation_id)
    .bind(channel_id)
    .bind(&conversation_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let replies = sqlx::query(backend.sql(format!(
        "SELECT r.id, r.post_id, r.text, r.status, r.error, r.template, r.external_id, r.created_by, r.created_at \
         FROM replies r WHERE r.post_id IN ({}) ORDER BY r.created_at DESC, r.id DESC LIMIT $5",
        members("p.id", 1)
    )))
    .bind(channel_id)
    .bind(&conversation_id)
    .bind(channel_id)
    .bind(&conversation_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;

    let mut messages = replies.iter().map(reply_message).collect::<Result<Vec<_>, _>>()?;
    // A sent reply the channel also stored as the brand's own post: once, as the reply.
    let sent: HashSet<&str> = messages.iter().filter_map(|m| m.external_id.as_deref()).collect();
    let posts = posts.iter().map(post_message).collect::<Result<Vec<_>, _>>()?;
    let posts: Vec<Message> = posts
        .into_iter()
        .filter(|p| p.direction == "inbound" || !p.external_id.as_deref().is_some_and(|e| sent.contains(e)))
        .collect();
    messages.extend(posts);
    // Newest first, keep the cap, then oldest first; a reply after the post it answers.
    messages.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.entry, m.reply_id.unwrap_or(m.post_id))));
    let truncated = messages.len() > MESSAGES;
    messages.truncate(MESSAGES);
    messages.reverse();

    let window =
        sqlx::query("SELECT open_until FROM conversation_windows WHERE channel_id = $1 AND conversation_id = $2")
            .bind(channel_id)
            .bind(&conversation_id)
            .fetch_optional(db.pool())
            .await?
            .map(|row| row.try_get::<i64, _>("open_until"))
            .transpose()?
            .map(|open_until| window(open_until, now));
    Ok(Some(Conversation {
        channel: head.try_get("name")?,
        network: head.try_get("network")?,
        conversation_id,
        messages,
        truncated,
        window,
    }))
}

fn window(open_until: i64, now: i64) -> ReplyWindow {
    ReplyWindow {
        open_until,
        open: open_until > now,
    }
}

fn post_message(row: &AnyRow) -> Result<Message, sqlx::Error> {
    let tombstone: Option<String> = row.try_get("tombstone")?;
    let erased = tombstone.as_deref() == Some("erased");
    Ok(Message {
        entry: Entry::Post,
        post_id: row.try_get("id")?,
        reply_id: None,
        external_id: Some(row.try_get("external_id")?),
        kind: Some(row.try_get("kind")?),
        direction: row.try_get("direction")?,
        author: Some(MessageAuthor {
            network: row.try_get("network")?,
            handle: if erased {
                "[erased]".into()
            } else {
                row.try_get("handle")?
            },
            display_name: if erased { None } else { row.try_get("display_name")? },
        }),
        text: if tombstone.is_some() {
            None
        } else {
            Some(row.try_get("text")?)
        },
        created_at: row.try_get("created_at")?,
        tombstone: tombstone.is_some(),
        status: None,
        error: None,
        template: None,
        created_by: None,
    })
}

fn reply_message(row: &AnyRow) -> Result<Message, sqlx::Error> {
    let template: Option<String> = row.try_get("template")?;
    Ok(Message {
        entry: Entry::Reply,
        post_id: row.try_get("post_id")?,
        reply_id: Some(row.try_get("id")?),
        external_id: row.try_get("external_id")?,
        kind: None,
        direction: "outbound".into(),
        author: None,
        text: Some(row.try_get("text")?),
        created_at: row.try_get("created_at")?,
        tombstone: false,
        status: Some(row.try_get("status")?),
        error: row.try_get("error")?,
        template: template.as_deref().and_then(template_name),
        created_by: Some(row.try_get("created_by")?),
    })
}

/// The `name` of a stored template (`{"name", "language", "parameters"}`).
fn template_name(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get("name")?.as_str().map(String::from)
}

/// The conversations of contact `contact_id` (those its confirmed
/// identities posted in), as of `now`; at most the 100 it spoke in last,
/// the most recently active first.
pub async fn of_contact(db: &Db, contact_id: i64, now: i64) -> Result<ContactConversations, sqlx::Error> {
    let backend = db.backend();
    let member = |first: &str, second: &str| {
        format!(
            "SELECT k.channel_id, k.conversation_id, p.id, p.created_at, p.text, p.tombstone, p.direction \
             FROM convs k JOIN posts p ON p.channel_id = k.channel_id AND {first} \
             UNION ALL \
             SELECT k.channel_id, k.conversation_id, p.id, p.created_at, p.text, p.tombstone, p.direction \
             FROM convs k JOIN posts p ON p.channel_id = k.channel_id AND {second}"
        )
    };
    let members = member(
        "p.thread_id = k.conversation_id",
        "p.external_id = k.conversation_id AND (p.thread_id IS NULL OR p.thread_id <> k.conversation_id)",
    );
    // Per conversation: its size, its newest entry, and its newest entry of
    // each kind and direction (for the newest inbound post).
    let rows = sqlx::query(backend.sql(format!(
        "WITH convs AS ( \
           SELECT p.channel_id, COALESCE(p.thread_id, p.external_id) AS conversation_id, MAX(p.created_at) AS mine \
           FROM posts p WHERE p.identity_id IN \
             (SELECT identity_id FROM identity_links WHERE contact_id = $1 AND status = 'confirmed') \
           GROUP BY p.channel_id, COALESCE(p.thread_id, p.external_id) \
           ORDER BY 3 DESC, 1, 2 LIMIT $2), \
         members AS ({members}), \
         entries AS ( \
           SELECT channel_id, conversation_id, 'post' AS entry, id, created_at, text, tombstone, direction \
           FROM members \
           UNION ALL \
           SELECT m.channel_id, m.conversation_id, 'reply', r.id, r.created_at, r.text, CAST(NULL AS TEXT), 'outbound' \
           FROM members m JOIN replies r ON r.post_id = m.id), \
         ranked AS ( \
           SELECT e.*, COUNT(*) OVER (PARTITION BY channel_id, conversation_id) AS messages, \
             ROW_NUMBER() OVER (PARTITION BY channel_id, conversation_id \
               ORDER BY created_at DESC, entry DESC, id DESC) AS newest, \
             ROW_NUMBER() OVER (PARTITION BY channel_id, conversation_id, entry, direction \
               ORDER BY created_at DESC, id DESC) AS newest_of_kind \
           FROM entries e) \
         SELECT x.channel_id, x.conversation_id, x.entry, x.id, x.created_at, x.text, x.tombstone, x.direction, \
           x.messages, x.newest, k.mine, c.name, c.network, w.open_until \
         FROM ranked x JOIN convs k ON k.channel_id = x.channel_id AND k.conversation_id = x.conversation_id \
         JOIN channel_accounts c ON c.id = x.channel_id \
         LEFT JOIN conversation_windows w ON w.channel_id = x.channel_id AND w.conversation_id = x.conversation_id \
         WHERE x.newest = 1 OR x.newest_of_kind = 1"
    )))
    .bind(contact_id)
    .bind(CONTACT_CONVERSATIONS as i64 + 1)
    .fetch_all(db.pool())
    .await?;

    /// What the rows of one conversation say.
    #[derive(Default)]
    struct Acc {
        mine: i64,
        summary: Option<ConversationSummary>,
        inbound: Option<(i64, i64)>,
        other: Option<(i64, i64)>,
    }
    let mut found: BTreeMap<(i64, String), Acc> = BTreeMap::new();
    for row in &rows {
        let key = (
            row.try_get::<i64, _>("channel_id")?,
            row.try_get::<String, _>("conversation_id")?,
        );
        let acc = found.entry(key.clone()).or_default();
        acc.mine = row.try_get("mine")?;
        let entry: String = row.try_get("entry")?;
        let id: i64 = row.try_get("id")?;
        let at: i64 = row.try_get("created_at")?;
        if entry == "post" {
            let slot = if row.try_get::<String, _>("direction")? == "inbound" {
                &mut acc.inbound
            } else {
                &mut acc.other
            };
            if slot.is_none_or(|newest| (at, id) > newest) {
                *slot = Some((at, id));
            }
        }
        if row.try_get::<i64, _>("newest")? == 1 {
            let tombstone: Option<String> = row.try_get("tombstone")?;
            let text: String = row.try_get("text")?;
            acc.summary = Some(ConversationSummary {
                channel: row.try_get("name")?,
                network: row.try_get("network")?,
                conversation_id: key.1,
                messages: row.try_get("messages")?,
                last_message_at: at,
                snippet: tombstone.is_none().then(|| snippet(&text)),
                latest_post_id: 0,
                window: row
                    .try_get::<Option<i64>, _>("open_until")?
                    .map(|open_until| window(open_until, now)),
            });
        }
    }
    // The conversations the contact spoke in last; the one past the cap says there are more.
    let mut convs: Vec<((i64, String), Acc)> = found.into_iter().collect();
    convs.sort_by(|(ka, a), (kb, b)| b.mine.cmp(&a.mine).then_with(|| ka.cmp(kb)));
    let truncated = convs.len() > CONTACT_CONVERSATIONS;
    convs.truncate(CONTACT_CONVERSATIONS);
    let mut items: Vec<ConversationSummary> = convs
        .into_iter()
        .filter_map(|(_, acc)| {
            let latest = acc.inbound.or(acc.other)?;
            let mut summary = acc.summary?;
            summary.latest_post_id = latest.1;
            Some(summary)
        })
        .collect();
    items.sort_by(|a, b| {
        b.last_message_at
            .cmp(&a.last_message_at)
            .then_with(|| b.latest_post_id.cmp(&a.latest_post_id))
    });
    Ok(ContactConversations { items, truncated })
}

/// The first [`SNIPPET`] characters of `text`, with `…` when there were more.
fn snippet(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(SNIPPET) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_and_template_names() {
        assert_eq!(snippet("  short  "), "short");
        let long = "é".repeat(SNIPPET + 5);
        assert_eq!(snippet(&long), format!("{}…", "é".repeat(SNIPPET)));
        assert_eq!(snippet(&"é".repeat(SNIPPET)), "é".repeat(SNIPPET));
        assert_eq!(
            template_name(r#"{"name":"order_update","language":"en","parameters":[]}"#).as_deref(),
            Some("order_update")
        );
        assert_eq!(template_name("not json"), None);
        assert_eq!(template_name("{}"), None);
    }

    #[test]
    fn members_number_their_placeholders_in_order() {
        let sql = members("p.id", 3);
        assert!(sql.contains("p.channel_id = $3 AND p.thread_id = $4"), "{sql}");
        assert!(
            sql.contains("p.channel_id = $5 AND p.external_id = $6 AND (p.thread_id IS NULL OR p.thread_id <> $6)"),
            "{sql}"
        );
    }
}
