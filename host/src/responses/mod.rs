//! Responses: what the brand says back, beyond a one-off reply.
//!
//! - `template.rs`: `{{variable}}` syntax; `templates.rs`: the stored reply templates;
//! - `context.rs`: the variables' values for one post (author, contact, last order);
//! - `create.rs`: a micro response (a reply to one post) or a macro response (a
//!   broadcast on a channel and, optionally, replies to every post of a topic
//!   or an alert), rendered per recipient when created;
//! - `approval.rs`: the per-channel approval setting, approve and reject;
//! - `send.rs`: sending (and resuming) through [`crate::replies`], with a status
//!   per recipient.
//!
//! Every message is a row of `replies` before it leaves, with an idempotency
//! key derived from the response and the post, so a crash mid-macro or a retry
//! never posts twice. See docs/responses.md.

mod approval;
mod context;
mod create;
mod send;
pub mod template;
mod templates;

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::replies::{self, Reply, ReplyError};
use crate::store::Db;

pub use approval::{approval_required, approve, reject, set_approval};
pub use create::{Audience, Content, MAX_RECIPIENTS, MacroRequest, create_macro, create_micro};
pub use send::send;
pub use template::{TemplateError, Variable};
pub use templates::{StoredTemplate, remove_template, save_template, template, templates};

#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error("no post {0}")]
    NoPost(i64),
    #[error("no channel named {0}")]
    NoChannel(String),
    #[error("no alert {0}")]
    NoAlert(i64),
    #[error("no response {0}")]
    NoResponse(i64),
    #[error("no template named {0}; see `socialcrm respond template list`")]
    NoTemplate(String),
    #[error("a template name is 1 to 64 letters, digits, `-`, `_` or `.` (got `{0}`)")]
    TemplateName(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{variable} has no value for post {post_id}; give it a default: {{{{{name}|...}}}}", name = variable.name())]
    MissingValue { variable: Variable, post_id: i64 },
    #[error(
        "{variable} reveals CRM data, and the author of post {post_id} is not a confirmed customer{pending}: \
         confirm the identity link (or send the customer a verification link), or give it a default: {{{{{name}|...}}}}",
        name = variable.name(),
        pending = if *proposed { " (a proposed link awaits review)" } else { "" }
    )]
    Unconfirmed {
        variable: Variable,
        post_id: i64,
        proposed: bool,
    },
    #[error("a broadcast answers no post, so it can only use {{{{channel.name}}}} (or defaults): {0} has no value")]
    BroadcastVariable(Variable),
    #[error("replies need posts to answer: give a topic or an alert")]
    RepliesWithoutAudience,
    #[error("{found} posts match; a macro answers at most {MAX_RECIPIENTS}: narrow it (e.g. a later `since`)")]
    TooManyRecipients { found: i64 },
    #[error("response {0} waits for approval")]
    NotApproved(i64),
    #[error("response {0} was rejected; it is never sent")]
    Rejected(i64),
    #[error("response {id} is {status}, not pending approval")]
    NotPending { id: i64, status: String },
    #[error("{0} drafted response {1}: someone else must approve it")]
    SelfApproval(String, i64),
    #[error(transparent)]
    Reply(#[from] ReplyError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A response as stored, with its recipients counted by status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Response {
    pub id: i64,
    /// `micro` or `macro`.
    pub kind: String,
    pub channel: String,
    pub template: Option<String>,
    /// Macro: the broadcast; micro: the reply.
    pub text: String,
    pub reply_template: Option<String>,
    pub topic: Option<String>,
    pub alert_id: Option<i64>,
    /// `pending-approval`, `approved`, `rejected`, `sending`, `sent`,
    /// `partially-failed` or `failed`.
    pub status: String,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub rejected_by: Option<String>,
    pub reason: Option<String>,
    pub decided_at: Option<i64>,
    /// Macro: the broadcast's message, once queued.
    pub broadcast: Option<Reply>,
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

const COLUMNS: &str = "r.id, r.kind, c.name AS channel, r.template, r.text, r.reply_template, r.topic, r.alert_id, \
     r.status, r.created_by, r.approved_by, r.rejected_by, r.reason, r.decided_at, r.broadcast_reply_id, \
     r.created_at, r.updated_at, \
     (SELECT COUNT(*) FROM response_recipients x WHERE x.response_id = r.id AND x.status = 'queued') AS queued, \
     (SELECT COUNT(*) FROM response_recipients x WHERE x.response_id = r.id AND x.status = 'sent') AS sent, \
     (SELECT COUNT(*) FROM response_recipients x WHERE x.response_id = r.id AND x.status = 'failed') AS failed, \
     (SELECT COUNT(*) FROM response_recipients x WHERE x.response_id = r.id AND x.status = 'skipped') AS skipped";

pub async fn get(db: &Db, id: i64) -> Result<Response, ResponseError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM responses r JOIN channel_accounts c ON c.id = r.channel_id WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(ResponseError::NoResponse(id))?;
    response(db, &row).await
}

/// The newest `limit` responses, or those with `status`, newest first.
pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<Response>, ResponseError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM responses r JOIN channel_accounts c ON c.id = r.channel_id \
         WHERE ($1 = '' OR r.status = $1) ORDER BY r.id DESC LIMIT $2"
    )))
    .bind(status.unwrap_or_default())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(response(db, row).await?);
    }
    Ok(out)
}

/// The posts response `id` answers, in post order.
pub async fn recipients(db: &Db, id: i64) -> Result<Vec<Recipient>, ResponseError> {
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

async fn response(db: &Db, row: &sqlx::any::AnyRow) -> Result<Response, ResponseError> {
    let broadcast = match row.try_get::<Option<i64>, _>("broadcast_reply_id")? {
        Some(reply_id) => Some(replies::get(db, reply_id).await?),
        None => None,
    };
    Ok(Response {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        channel: row.try_get("channel")?,
        template: row.try_get("template")?,
        text: row.try_get("text")?,
        reply_template: row.try_get("reply_template")?,
        topic: row.try_get("topic")?,
        alert_id: row.try_get("alert_id")?,
        status: row.try_get("status")?,
        created_by: row.try_get("created_by")?,
        approved_by: row.try_get("approved_by")?,
        rejected_by: row.try_get("rejected_by")?,
        reason: row.try_get("reason")?,
        decided_at: row.try_get("decided_at")?,
        broadcast,
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

/// The channel named `name`: its id and whether it requires approval.
async fn channel(db: &Db, name: &str) -> Result<(i64, bool), ResponseError> {
    let row = sqlx::query("SELECT id, requires_approval FROM channel_accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| ResponseError::NoChannel(name.to_string()))?;
    Ok((row.try_get("id")?, row.try_get::<i64, _>("requires_approval")? != 0))
}
