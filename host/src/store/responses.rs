//! Responses (`responses`, `response_recipients`): created, decided, sent per
//! recipient; and what rendering one reads of posts, contacts, orders,
//! topics and alerts.

use serde::Serialize;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Executor, Row};

use super::insights::spikes::Subject;
use super::{Db, now_ms};

/// A response as stored; its broadcast is a reply id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseRow {
    pub id: i64,
    pub kind: String,
    pub channel: String,
    pub template: Option<String>,
    pub text: String,
    pub reply_template: Option<String>,
    pub topic: Option<String>,
    pub aspect: Option<String>,
    pub alert_id: Option<i64>,
    pub status: String,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub rejected_by: Option<String>,
    pub reason: Option<String>,
    pub decided_at: Option<i64>,
    pub broadcast_reply_id: Option<i64>,
    pub counts: Counts,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Recipients by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// One post a response answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Recipient {
    pub post_id: i64,
    pub author: String,
    /// The rendered reply; `None` when skipped.
    pub text: Option<String>,
    /// `queued`, `sent`, `failed` or `skipped`.
    pub status: String,
    pub reply_id: Option<i64>,
    pub external_id: Option<String>,
    pub url: Option<String>,
    /// Why it failed or was skipped.
    pub error: Option<String>,
}

/// A response to insert.
pub struct NewResponse {
    pub kind: &'static str,
    pub channel_id: i64,
    pub template: Option<String>,
    pub text: String,
    pub reply_template: Option<String>,
    pub topic: Option<String>,
    pub aspect: Option<String>,
    pub alert_id: Option<i64>,
}

/// A recipient left to send: its rendered text and, once queued, its reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub post_id: i64,
    pub text: Option<String>,
    pub reply_id: Option<i64>,
}

/// What a template can say of a post: its text, channel and author, and the
/// author's contact (the lowest id among the confirmed links).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostContext {
    pub text: String,
    pub channel: String,
    pub handle: Option<String>,
    pub display_name: Option<String>,
    pub contact_id: Option<i64>,
}

const COLUMNS: &str = "r.id, r.kind, c.name AS channel, r.template, r.text, r.reply_template, r.topic, r.aspect, r.alert_id, \
     r.status, r.created_by, r.approved_by, r.rejected_by, r.reason, r.decided_at, r.broadcast_reply_id, \
     r.created_at, r.updated_at, \
     (SELECT COUNT(*) FROM response_recipients x WHERE x.response_id = r.id AND x.status = 'queued') AS queued, \
     (SELECT COUNT(*) FROM response_recipients x WHERE x.response_id = r.id AND x.status = 'sent') AS sent, \
     (SELECT COUNT(*) FROM response_recipients x WHERE x.response_id = r.id AND x.status = 'failed') AS failed, \
     (SELECT COUNT(*) FROM response_recipients x WHERE x.response_id = r.id AND x.status = 'skipped') AS skipped";

pub async fn get(db: &Db, id: i64) -> Result<Option<ResponseRow>, sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM responses r JOIN channel_accounts c ON c.id = r.channel_id WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .as_ref()
    .map(response)
    .transpose()
}

/// The newest `limit` responses, or those with `status`, newest first.
pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<ResponseRow>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM responses r JOIN channel_accounts c ON c.id = r.channel_id \
         WHERE ($1 = '' OR r.status = $1) ORDER BY r.id DESC LIMIT $2"
    )))
    .bind(status.unwrap_or_default())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(response).collect()
}

/// The posts response `id` answers, in post order.
pub async fn recipients(db: &Db, id: i64) -> Result<Vec<Recipient>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT x.post_id, i.handle, x.text, x.status, x.reply_id, y.external_id, y.url, x.error \
         FROM response_recipients x JOIN posts p ON p.id = x.post_id JOIN identities i ON i.id = p.identity_id \
         LEFT JOIN replies y ON y.id = x.reply_id WHERE x.response_id = $1 ORDER BY x.post_id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Recipient {
                post_id: r.try_get("post_id")?,
                author: r.try_get("handle")?,
                text: r.try_get("text")?,
                status: r.try_get("status")?,
                reply_id: r.try_get("reply_id")?,
                external_id: r.try_get("external_id")?,
                url: r.try_get("url")?,
                error: r.try_get("error")?,
            })
        })
        .collect()
}

/// Inserts the response with `status`; returns its id.
pub async fn insert(
    conn: &mut AnyConnection,
    new: &NewResponse,
    status: &str,
    actor: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO responses (kind, channel_id, template, text, reply_template, topic, alert_id, status, \
         created_by, created_at, updated_at, aspect) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) \
         RETURNING id",
    )
    .bind(new.kind)
    .bind(new.channel_id)
    .bind(&new.template)
    .bind(&new.text)
    .bind(&new.reply_template)
    .bind(&new.topic)
    .bind(new.alert_id)
    .bind(status)
    .bind(actor)
    .bind(now)
    .bind(&new.aspect)
    .fetch_one(conn)
    .await?
    .try_get("id")
}

/// Inserts a recipient of response `response_id`: its text, or why it is skipped.
pub async fn insert_recipient(
    conn: &mut AnyConnection,
    response_id: i64,
    post_id: i64,
    text: Option<&str>,
    status: &str,
    error: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO response_recipients (response_id, post_id, text, status, error, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(response_id)
    .bind(post_id)
    .bind(text)
    .bind(status)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Approves or rejects response `id` as `actor`, if it is pending approval
/// and (to approve) `actor` did not create it. One conditional update, so two
/// approvers racing decide once; false when nothing was decided.
pub async fn decide(
    conn: &mut AnyConnection,
    id: i64,
    approve: bool,
    actor: &str,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let (status, by) = if approve {
        ("approved", "approved_by")
    } else {
        ("rejected", "rejected_by")
    };
    let decided = sqlx::query(AssertSqlSafe(format!(
        "UPDATE responses SET status = $1, {by} = $2, reason = $3, decided_at = $4, updated_at = $4 \
         WHERE id = $5 AND status = 'pending-approval' AND ($1 = 'rejected' OR created_by <> $2)"
    )))
    .bind(status)
    .bind(actor)
    .bind(reason)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(decided != 0)
}

/// Response `id`'s status and who created it.
pub async fn status_and_author(conn: &mut AnyConnection, id: i64) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query("SELECT status, created_by FROM responses WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(|row| Ok((row.try_get("status")?, row.try_get("created_by")?)))
        .transpose()
}

pub async fn set_status<'e>(
    executor: impl Executor<'e, Database = Any>,
    id: i64,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE responses SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now_ms())
        .bind(id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Records reply `reply_id` as response `id`'s broadcast.
pub async fn set_broadcast(db: &Db, id: i64, reply_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE responses SET broadcast_reply_id = $1 WHERE id = $2")
        .bind(reply_id)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Response `id`'s recipients still `queued` or `failed`, in post order.
pub async fn pending(db: &Db, id: i64) -> Result<Vec<Pending>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT post_id, text, reply_id FROM response_recipients \
         WHERE response_id = $1 AND status IN ('queued', 'failed') ORDER BY post_id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Pending {
                post_id: row.try_get("post_id")?,
                text: row.try_get("text")?,
                reply_id: row.try_get("reply_id")?,
            })
        })
        .collect()
}

/// Records reply `reply_id` as the message to post `post_id` of response `id`.
pub async fn set_recipient_reply(db: &Db, id: i64, post_id: i64, reply_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE response_recipients SET reply_id = $1 WHERE response_id = $2 AND post_id = $3")
        .bind(reply_id)
        .bind(id)
        .bind(post_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Sets the status (and error) of the recipient `post_id` of response `id`.
pub async fn set_recipient_status(
    db: &Db,
    id: i64,
    post_id: i64,
    status: &str,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE response_recipients SET status = $1, error = $2, updated_at = $3 \
         WHERE response_id = $4 AND post_id = $5",
    )
    .bind(status)
    .bind(error)
    .bind(now_ms())
    .bind(id)
    .bind(post_id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Post `post_id` as a template reads it, if there is such a post.
pub async fn post_context(db: &Db, post_id: i64) -> Result<Option<PostContext>, sqlx::Error> {
    sqlx::query(
        "SELECT p.text, c.name AS channel, i.handle, i.display_name, \
         (SELECT MIN(l.contact_id) FROM identity_links l \
          WHERE l.identity_id = p.identity_id AND l.status = 'confirmed') AS contact_id \
         FROM posts p JOIN identities i ON i.id = p.identity_id JOIN channel_accounts c ON c.id = p.channel_id \
         WHERE p.id = $1",
    )
    .bind(post_id)
    .fetch_optional(db.pool())
    .await?
    .map(|row| {
        Ok(PostContext {
            text: row.try_get("text")?,
            channel: row.try_get("channel")?,
            handle: row.try_get("handle")?,
            display_name: row.try_get("display_name")?,
            contact_id: row.try_get("contact_id")?,
        })
    })
    .transpose()
}

/// The name of contact `contact_id` (which must exist).
pub async fn contact_name(db: &Db, contact_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT name FROM contacts WHERE id = $1")
        .bind(contact_id)
        .fetch_one(db.pool())
        .await?
        .try_get("name")
}

/// The reference and product of the contact's latest order (a `purchase` or
/// `subscription` transaction).
pub async fn latest_order(db: &Db, contact_id: i64) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
    sqlx::query(
        "SELECT reference, product FROM transactions WHERE contact_id = $1 \
         AND kind IN ('purchase', 'subscription') ORDER BY occurred_at DESC, id DESC LIMIT 1",
    )
    .bind(contact_id)
    .fetch_optional(db.pool())
    .await?
    .map(|row| Ok((row.try_get("reference")?, row.try_get("product")?)))
    .transpose()
}

/// The statuses of the identity links of post `post_id`'s author.
pub async fn link_statuses(db: &Db, post_id: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT l.status FROM identity_links l JOIN posts p ON p.identity_id = l.identity_id WHERE p.id = $1",
    )
    .bind(post_id)
    .fetch_all(db.pool())
    .await
}

/// The first `limit` posts of `subject` (a topic or a taxonomy entry) on
/// the channel created in `[from, until)`.
pub async fn subject_posts(
    db: &Db,
    kind: Subject,
    channel_id: i64,
    subject: &str,
    from: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let (table, column) = kind.source();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT pt.post_id FROM {table} pt JOIN posts p ON p.id = pt.post_id \
         WHERE pt.{column} = $1 AND p.channel_id = $2 AND pt.created_at >= $3 AND pt.created_at < $4 \
         ORDER BY pt.post_id LIMIT $5"
    )))
    .bind(subject)
    .bind(channel_id)
    .bind(from)
    .bind(until)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| r.try_get("post_id")).collect()
}

/// How many posts of `subject` on the channel were created in `[from, until)`.
pub async fn count_subject_posts(
    db: &Db,
    kind: Subject,
    channel_id: i64,
    subject: &str,
    from: i64,
    until: i64,
) -> Result<i64, sqlx::Error> {
    let (table, column) = kind.source();
    sqlx::query(AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {table} pt JOIN posts p ON p.id = pt.post_id \
         WHERE pt.{column} = $1 AND p.channel_id = $2 AND pt.created_at >= $3 AND pt.created_at < $4"
    )))
    .bind(subject)
    .bind(channel_id)
    .bind(from)
    .bind(until)
    .fetch_one(db.pool())
    .await?
    .try_get("n")
}

/// Alert `id`'s subject and day, if there is such an alert.
pub async fn alert_subject(db: &Db, id: i64) -> Result<Option<(Subject, String, i64)>, sqlx::Error> {
    let Some(row) = sqlx::query("SELECT scope, subject, bucket_start FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    let scope: String = row.try_get("scope")?;
    Subject::parse(&scope)
        .map(|kind| Ok((kind, row.try_get("subject")?, row.try_get("bucket_start")?)))
        .transpose()
}

fn response(row: &sqlx::any::AnyRow) -> Result<ResponseRow, sqlx::Error> {
    Ok(ResponseRow {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        channel: row.try_get("channel")?,
        template: row.try_get("template")?,
        text: row.try_get("text")?,
        reply_template: row.try_get("reply_template")?,
        topic: row.try_get("topic")?,
        aspect: row.try_get("aspect")?,
        alert_id: row.try_get("alert_id")?,
        status: row.try_get("status")?,
        created_by: row.try_get("created_by")?,
        approved_by: row.try_get("approved_by")?,
        rejected_by: row.try_get("rejected_by")?,
        reason: row.try_get("reason")?,
        decided_at: row.try_get("decided_at")?,
        broadcast_reply_id: row.try_get("broadcast_reply_id")?,
        counts: Counts {
            queued: row.try_get("queued")?,
            sent: row.try_get("sent")?,
            failed: row.try_get("failed")?,
            skipped: row.try_get("skipped")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
