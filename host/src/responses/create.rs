//! Creating responses: the text comes from a stored template or is given (and
//! may use variables itself), and is rendered for every recipient now, so what
//! an approver sees is what will be sent. On a channel that requires approval
//! a response starts `pending-approval`, otherwise `approved`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::context::{channel_values, missing, post_values};
use super::template::{Template, Variable};
use super::{Response, ResponseError, channel, get, templates};
use crate::insights::DAY_MS;
use crate::replies::check_text;
use crate::store::insights::spikes::Subject;
use crate::store::responses::NewResponse;
use crate::store::{self, Db, audit, now_ms};

/// Most posts one macro response answers: a guard against answering a
/// whole history by mistake.
pub const MAX_RECIPIENTS: usize = 1000;

/// Where a response's text comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Content {
    /// The text itself; it may use variables like a template.
    #[schema(value_type = crate::server::openapi::NonBlank)]
    Text(String),
    /// A stored template, by name.
    Template(String),
}

/// Whose posts a macro response answers (on its channel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every post of the topic, from `since` (Unix ms) if given.
    Topic {
        topic: String,
        #[serde(default, deserialize_with = "crate::server::extract::optional_integer")]
        since: Option<i64>,
    },
    /// Every post that mentions the taxonomy entry `aspect`, from `since`
    /// (Unix ms) if given.
    Aspect {
        aspect: String,
        #[serde(default, deserialize_with = "crate::server::extract::optional_integer")]
        since: Option<i64>,
    },
    /// Every post of the alert's topic or aspect on the alert's day.
    Alert(#[serde(deserialize_with = "crate::server::extract::integer")] i64),
}

/// A broadcast on `channel` and, with an audience, a reply to each of its
/// posts (`reply`, or the broadcast's text or template rendered per post).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacroRequest {
    pub channel: String,
    pub broadcast: Content,
    pub reply: Option<Content>,
    pub audience: Option<Audience>,
}

/// A reply to post `post_id`. Every variable must have a value or a default.
pub async fn create_micro(db: &Db, post_id: i64, content: &Content, actor: &str) -> Result<Response, ResponseError> {
    let (template_name, template) = resolve(db, content).await?;
    let values = post_values(db, post_id).await?;
    let text = match template.render(&values) {
        Ok(text) => text,
        Err(variable) => return Err(missing(db, post_id, variable).await?),
    };
    let text = check_text(&text)?.to_string();
    let channel_name = values.get(&Variable::ChannelName).cloned().unwrap_or_default();
    let (channel_id, requires_approval) = channel(db, &channel_name).await?;
    let new = NewResponse {
        kind: "micro",
        channel_id,
        template: template_name,
        text: text.clone(),
        reply_template: None,
        topic: None,
        aspect: None,
        alert_id: None,
    };
    write(db, new, requires_approval, &[(post_id, Ok(text))], actor).await
}

/// A macro response. The broadcast answers no post, so it may only use
/// `{{channel.name}}` and defaults; a reply that cannot be made for a post
/// (a variable without value or default, an empty or overlong text) is
/// `skipped` with the reason.
pub async fn create_macro(db: &Db, request: &MacroRequest, actor: &str) -> Result<Response, ResponseError> {
    let (channel_id, requires_approval) = channel(db, &request.channel).await?;
    let (template_name, broadcast) = resolve(db, &request.broadcast).await?;
    let text = broadcast
        .render(&channel_values(&request.channel))
        .map_err(ResponseError::BroadcastVariable)?;
    let text = check_text(&text)?.to_string();
    let (reply_template, reply) = match &request.reply {
        Some(content) => resolve(db, content).await?,
        None => (template_name.clone(), broadcast),
    };
    let ((kind, subject), alert_id, from, until) = match &request.audience {
        None if request.reply.is_some() => return Err(ResponseError::RepliesWithoutAudience),
        None => ((Subject::Topic, None), None, 0, 0),
        Some(Audience::Topic { topic, since }) => (
            (Subject::Topic, Some(topic.clone())),
            None,
            since.unwrap_or(0),
            i64::MAX,
        ),
        Some(Audience::Aspect { aspect, since }) => (
            (Subject::Aspect, Some(aspect.clone())),
            None,
            since.unwrap_or(0),
            i64::MAX,
        ),
        Some(Audience::Alert(id)) => {
            let (kind, subject, start) = alert(db, *id).await?;
            ((kind, Some(subject)), Some(*id), start, start + DAY_MS)
        }
    };
    let posts = match &subject {
        Some(subject) => subject_posts(db, kind, channel_id, subject, from, until).await?,
        None => Vec::new(),
    };
    let (topic, aspect) = match kind {
        Subject::Topic => (subject, None),
        Subject::Aspect => (None, subject),
    };
    let mut rendered = Vec::with_capacity(posts.len());
    for post_id in posts {
        let values = post_values(db, post_id).await?;
        let text = match reply.render(&values) {
            Ok(text) => check_text(&text).map(String::from).map_err(|e| e.to_string()),
            Err(variable) => Err(missing(db, post_id, variable).await?.to_string()),
        };
        rendered.push((post_id, text));
    }
    let new = NewResponse {
        kind: "macro",
        channel_id,
        template: template_name,
        text,
        reply_template: request.audience.as_ref().and(reply_template),
        topic,
        aspect,
        alert_id,
    };
    write(db, new, requires_approval, &rendered, actor).await
}

/// The template's name (when stored) and the parsed text.
async fn resolve(db: &Db, content: &Content) -> Result<(Option<String>, Template), ResponseError> {
    Ok(match content {
        Content::Text(text) => (None, Template::parse(text)?),
        Content::Template(name) => {
            let stored = templates::template(db, name).await?;
            let parsed = Template::parse(&stored.body)?;
            (Some(stored.name), parsed)
        }
    })
}

/// The posts of `subject` on the channel created in `[from, until)`.
async fn subject_posts(
    db: &Db,
    kind: Subject,
    channel_id: i64,
    subject: &str,
    from: i64,
    until: i64,
) -> Result<Vec<i64>, ResponseError> {
    let limit = MAX_RECIPIENTS as i64 + 1;
    let posts = store::responses::subject_posts(db, kind, channel_id, subject, from, until, limit).await?;
    if posts.len() > MAX_RECIPIENTS {
        let found = store::responses::count_subject_posts(db, kind, channel_id, subject, from, until).await?;
        return Err(ResponseError::TooManyRecipients { found });
    }
    Ok(posts)
}

/// An alert's subject (a topic or an aspect) and day.
async fn alert(db: &Db, id: i64) -> Result<(Subject, String, i64), ResponseError> {
    store::responses::alert_subject(db, id)
        .await?
        .ok_or(ResponseError::NoAlert(id))
}

/// Writes the response and its recipients (each with its text, or why it is skipped).
async fn write(
    db: &Db,
    new: NewResponse,
    requires_approval: bool,
    recipients: &[(i64, Result<String, String>)],
    actor: &str,
) -> Result<Response, ResponseError> {
    let status = if requires_approval {
        "pending-approval"
    } else {
        "approved"
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    let id = store::responses::insert(&mut tx, &new, status, actor, now).await?;
    for (post_id, text) in recipients {
        let (text, recipient_status, error) = match text {
            Ok(text) => (Some(text.as_str()), "queued", None),
            Err(reason) => (None, "skipped", Some(reason.as_str())),
        };
        store::responses::insert_recipient(&mut tx, id, *post_id, text, recipient_status, error, now).await?;
    }
    let skipped = recipients.iter().filter(|(_, text)| text.is_err()).count();
    audit(
        &mut *tx,
        actor,
        "response.create",
        &format!("response:{id}"),
        &json!({
            "kind": new.kind,
            "status": status,
            "template": new.template,
            "topic": new.topic,
            "alert": new.alert_id,
            "recipients": recipients.len(),
            "skipped": skipped,
        }),
    )
    .await?;
    tx.commit().await?;
    get(db, id).await
}
