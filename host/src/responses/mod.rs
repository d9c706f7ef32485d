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

use crate::replies::{self, Reply, ReplyError};
use crate::store::responses::ResponseRow;
pub use crate::store::responses::{Counts, Recipient};
use crate::store::{self, Db};

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
    #[error("replies need posts to answer: give a topic, an aspect or an alert")]
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
    /// The taxonomy entry whose posts it answers (an aspect audience or alert).
    pub aspect: Option<String>,
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

pub async fn get(db: &Db, id: i64) -> Result<Response, ResponseError> {
    let row = store::responses::get(db, id)
        .await?
        .ok_or(ResponseError::NoResponse(id))?;
    response(db, row).await
}

/// The newest `limit` responses, or those with `status`, newest first.
pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<Response>, ResponseError> {
    let rows = store::responses::list(db, status, limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(response(db, row).await?);
    }
    Ok(out)
}

/// The posts response `id` answers, in post order.
pub async fn recipients(db: &Db, id: i64) -> Result<Vec<Recipient>, ResponseError> {
    Ok(store::responses::recipients(db, id).await?)
}

/// The stored response with its broadcast's reply.
async fn response(db: &Db, row: ResponseRow) -> Result<Response, ResponseError> {
    let broadcast = match row.broadcast_reply_id {
        Some(reply_id) => Some(replies::get(db, reply_id).await?),
        None => None,
    };
    Ok(Response {
        id: row.id,
        kind: row.kind,
        channel: row.channel,
        template: row.template,
        text: row.text,
        reply_template: row.reply_template,
        topic: row.topic,
        aspect: row.aspect,
        alert_id: row.alert_id,
        status: row.status,
        created_by: row.created_by,
        approved_by: row.approved_by,
        rejected_by: row.rejected_by,
        reason: row.reason,
        decided_at: row.decided_at,
        broadcast,
        counts: row.counts,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The channel named `name`: its id and whether it requires approval.
async fn channel(db: &Db, name: &str) -> Result<(i64, bool), ResponseError> {
    store::accounts::approval(db, name)
        .await?
        .ok_or_else(|| ResponseError::NoChannel(name.to_string()))
}
