//! The inbox: inbound posts by priority (or newest first) with filters, one
//! post in full, assign, close and reopen.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::insights::priority;
use crate::replies::{self, Reply};
use crate::server::ApiError;
use crate::server::auth::{Agent, Auth, Viewer};
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Page};
use crate::store::inbox::{self, InboxOrder, InboxQuery, InboxRow, PostField, SentimentBand, SignalFilter};
use crate::store::now_ms;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_posts))
        .routes(routes!(get_post))
        .routes(routes!(assign))
        .routes(routes!(close))
        .routes(routes!(reopen))
}

/// Sentiment labels use the sentiment analyzer's ±0.05 thresholds.
const NEUTRAL_BAND: f64 = 0.05;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Filter {
    /// `open` (default) or `closed`.
    #[param(inline)]
    status: Option<InboxStatus>,
    /// A channel account's name.
    channel: Option<String>,
    #[param(inline)]
    sentiment: Option<Sentiment>,
    /// The post's main intent, e.g. `complaint`.
    intent: Option<String>,
    /// Assigned to this name.
    assignee: Option<String>,
    /// Only posts whose priority now is at least this.
    min_priority: Option<f64>,
    /// Only posts with this custom signal (see `GET /signals`): `urgency`,
    /// `urgency>=0.5` (a score of at least), or `tone:polite` (a label).
    #[param(pattern = "^[a-z0-9-]{1,64}(>=-?[0-9]{1,15}(\\.[0-9]{1,15})?|:[a-z0-9-]{1,64})?$")]
    signal: Option<String>,
    /// `priority` (default, highest first) or `newest`.
    #[param(inline)]
    sort: Option<Sort>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum InboxStatus {
    Open,
    Closed,
}

/// The sentiment label: `neutral` within ±0.05 of 0.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Sentiment {
    Negative,
    Neutral,
    Positive,
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Sort {
    Priority,
    Newest,
}

/// The author of a post.
#[derive(Serialize, ToSchema)]
pub struct Author {
    pub identity_id: i64,
    pub network: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub followers: Option<i64>,
}

/// The CRM contact an author is linked to.
#[derive(Serialize, ToSchema)]
pub struct ContactRef {
    pub id: i64,
    pub name: Option<String>,
}

/// A post as the inbox shows it.
#[derive(Serialize, ToSchema)]
pub struct InboxPost {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    /// `mention`, `reply`, `comment`, `message`, ...
    pub kind: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub text: String,
    pub url: Option<String>,
    pub thread_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub created_at: i64,
    pub language: Option<String>,
    /// `open` or `closed`.
    pub inbox_status: String,
    pub assignee: Option<String>,
    pub author: Author,
    pub contact: Option<ContactRef>,
    /// In [-1, 1]; null until analysed.
    pub sentiment: Option<f64>,
    /// `negative`, `neutral` or `positive`; null until analysed.
    pub sentiment_label: Option<String>,
    /// The main intent, e.g. `complaint`.
    pub intent: Option<String>,
    pub intent_confidence: Option<f64>,
    pub topics: Vec<String>,
    /// Custom signals, as badges show them.
    pub signals: Vec<SignalBadge>,
    /// The inbox priority now; null until scored.
    pub priority: Option<f64>,
    /// Why the priority is what it is.
    pub priority_explanation: Option<String>,
    #[serde(skip)]
    priority_key: Option<f64>,
}

/// One analyzer's output for a post.
#[derive(Serialize, ToSchema)]
pub struct PostAnalysis {
    pub plugin: String,
    pub version: String,
    pub sentiment: Option<f64>,
    pub label: Option<String>,
    /// `[{"name", "confidence"}]` as the analyzer returned them.
    pub intents: Value,
    pub topics: Value,
    pub language: Option<String>,
    /// Custom signals: `[{"name", "score" | "label" | "labels"}]`.
    pub signals: Value,
    /// Taxonomy mentions: `[{"entry", "start", "end", "sentiment"}]` (byte offsets in the text).
    pub aspects: Value,
}

/// `urgency`, `urgency>=0.5` or `tone:polite` as a filter.
fn signal_filter(text: &str) -> Result<SignalFilter<'_>, ApiError> {
    SignalFilter::parse(text)
        .ok_or_else(|| ApiError::bad_request(format!("signal `{text}` is not NAME, NAME>=NUMBER or NAME:LABEL")))
}

/// A custom signal of a post: its name and value (a label, or the score to 2 decimals).
#[derive(Serialize, ToSchema)]
pub struct SignalBadge {
    pub name: String,
    pub value: String,
}

/// A post in full: the inbox fields, every analysis, the replies and the
/// network's raw payload.
#[derive(Serialize, ToSchema)]
pub struct PostDetail {
    #[serde(flatten)]
    pub post: InboxPost,
    pub analyses: Vec<PostAnalysis>,
    pub replies: Vec<Reply>,
    pub raw: Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Assignment {
    /// Who works the post; null unassigns.
    assignee: Option<String>,
}

fn sentiment_label(sentiment: Option<f64>) -> Option<String> {
    sentiment.map(|s| {
        if s <= -NEUTRAL_BAND {
            "negative"
        } else if s >= NEUTRAL_BAND {
            "positive"
        } else {
            "neutral"
        }
        .to_string()
    })
}

/// The inbox's `rows` at `now`, with why each ranks where it does.
pub(super) fn inbox_posts(rows: Vec<InboxRow>, now: i64) -> Vec<InboxPost> {
    rows.into_iter().map(|r| inbox_post(r, now)).collect()
}

fn inbox_post(row: InboxRow, now: i64) -> InboxPost {
    let score = row.score.as_ref();
    let sentiment = score.and_then(|s| s.sentiment);
    let explanation = score.map(|s| {
        let signals = priority::Signals {
            sentiment: s.sentiment,
            intent: s.intent.clone(),
            intent_confidence: s.intent_confidence,
            value_pct: s.value_pct,
            ltv: s.ltv,
            recent_orders: s.recent_orders,
            author_churn: s.author_churn,
            followers: row.followers,
            known: row.contact.is_some(),
        };
        priority::explain(&signals, row.created_at, now)
    });
    InboxPost {
        id: row.id,
        channel: row.channel,
        external_id: row.external_id,
        kind: row.kind,
        direction: row.direction,
        text: row.text,
        url: row.url,
        thread_id: row.thread_id,
        in_reply_to: row.in_reply_to,
        created_at: row.created_at,
        language: row.language,
        inbox_status: row.inbox_status,
        assignee: row.assignee,
        author: Author {
            identity_id: row.identity_id,
            network: row.network,
            handle: row.handle,
            display_name: row.display_name,
            followers: row.followers,
        },
        contact: row.contact.map(|(id, name)| ContactRef { id, name }),
        sentiment,
        sentiment_label: sentiment_label(sentiment),
        intent: score.and_then(|s| s.intent.clone()),
        intent_confidence: score.and_then(|s| s.intent_confidence),
        topics: row.topics,
        signals: row
            .signals
            .into_iter()
            .filter_map(|s| {
                let (name, value) = s.split_once('=')?;
                Some(SignalBadge {
                    name: name.to_string(),
                    value: value.to_string(),
                })
            })
            .collect(),
        priority: score.map(|s| priority::priority_at(s.priority_key, now)),
        priority_explanation: explanation,
        priority_key: score.map(|s| s.priority_key),
    }
}

/// The inbox.
#[utoipa::path(get, path = "/posts", tag = "inbox", params(Filter),
    responses((status = 200, description = "A page of posts", body = Page<InboxPost>)))]
async fn list_posts(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(filter): Query<Filter>,
) -> Result<Json<Page<InboxPost>>, ApiError> {
    let limit = page::limit(filter.limit)?;
    let signal = filter.signal.as_deref().map(signal_filter).transpose()?;
    let status = match filter.status {
        Some(InboxStatus::Closed) => "closed",
        _ => "open",
    };
    let sentiment = filter.sentiment.map(|s| match s {
        Sentiment::Negative => "negative",
        Sentiment::Neutral => "neutral",
        Sentiment::Positive => "positive",
    });
    let by_priority = filter.sort != Some(Sort::Newest);
    let now = now_ms();
    // priority(now) = key + c(now), so a minimum priority is a minimum key.
    let min_key = filter.min_priority.map(|p| p - priority::priority_at(0.0, now));
    // Either order's cursor is (stored priority key, id), so one taken under
    // one sort stays valid under the other.
    let cursor: Option<(f64, i64)> = page::decode(filter.cursor.as_deref())?;
    let order = if by_priority {
        InboxOrder::Priority {
            after: cursor.unwrap_or((f64::MAX, i64::MAX)),
            min_key: min_key.unwrap_or(f64::MIN),
        }
    } else {
        InboxOrder::Newest {
            before: cursor.map_or(i64::MAX, |(_, id)| id),
            min_key,
        }
    };
    let query = InboxQuery {
        status,
        channel: filter.channel.as_deref(),
        intent: filter.intent.as_deref(),
        assignee: filter.assignee.as_deref(),
        sentiment: sentiment.map(|label| SentimentBand {
            label,
            band: NEUTRAL_BAND,
        }),
        signal,
        order,
        limit,
    };
    let items = inbox_posts(inbox::list(app.db(), &query).await?, now);
    // The cursor holds the stored key (exact), not the priority now.
    Ok(Json(Page::of(items, limit, |p| {
        (p.priority_key.unwrap_or(f64::MIN), p.id)
    })))
}

async fn load(app: &App, id: i64) -> Result<InboxPost, ApiError> {
    let row = inbox::get(app.db(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no post {id}")))?;
    Ok(inbox_post(row, now_ms()))
}

/// One post with its analyses, replies and raw payload.
#[utoipa::path(get, path = "/posts/{id}", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, description = "The post", body = PostDetail)))]
async fn get_post(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<PostDetail>, ApiError> {
    let post = load(&app, id).await?;
    let db = app.db();
    let raw = inbox::raw(db, id).await?.unwrap_or_default();
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let analyses = inbox::analyses(db, id)
        .await?
        .into_iter()
        .map(|a| PostAnalysis {
            intents: parse(&a.intents),
            topics: parse(&a.topics),
            signals: parse(&a.signals),
            aspects: parse(&a.aspects),
            plugin: a.plugin,
            version: a.version,
            sentiment: a.sentiment,
            label: a.label,
            language: a.language,
        })
        .collect();
    let replies = replies::list(db, Some(id), 500)
        .await
        .map_err(|e| ApiError::internal("listing replies", e))?;
    Ok(Json(PostDetail {
        post,
        analyses,
        replies,
        raw: parse(&raw),
    }))
}

/// Sets `field` of post `id` (audited) and returns the post.
async fn set(app: &App, id: i64, field: PostField, value: Option<&str>, actor: &str) -> Result<InboxPost, ApiError> {
    if !inbox::set(app.db(), id, field, value, actor).await? {
        return Err(ApiError::not_found(format!("no post {id}")));
    }
    load(app, id).await
}

/// Assigns a post to someone (or unassigns it).
#[utoipa::path(post, path = "/posts/{id}/assign", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    request_body = Assignment, responses((status = 200, description = "The post", body = InboxPost)))]
async fn assign(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(id): Path<i64>,
    Json(body): Json<Assignment>,
) -> Result<Json<InboxPost>, ApiError> {
    let assignee = body.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty());
    if assignee.is_some_and(|a| a.chars().count() > 100) {
        return Err(ApiError::bad_request("an assignee is at most 100 characters"));
    }
    Ok(Json(set(&app, id, PostField::Assignee, assignee, auth.name()).await?))
}

/// Closes a post: it leaves the open inbox.
#[utoipa::path(post, path = "/posts/{id}/close", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, description = "The post", body = InboxPost)))]
async fn close(auth: Auth<Agent>, State(app): State<App>, Path(id): Path<i64>) -> Result<Json<InboxPost>, ApiError> {
    Ok(Json(
        set(&app, id, PostField::InboxStatus, Some("closed"), auth.name()).await?,
    ))
}

/// Reopens a closed post.
#[utoipa::path(post, path = "/posts/{id}/reopen", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, description = "The post", body = InboxPost)))]
async fn reopen(auth: Auth<Agent>, State(app): State<App>, Path(id): Path<i64>) -> Result<Json<InboxPost>, ApiError> {
    Ok(Json(
        set(&app, id, PostField::InboxStatus, Some("open"), auth.name()).await?,
    ))
}
