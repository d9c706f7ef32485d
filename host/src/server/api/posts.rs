//! The inbox: inbound posts by priority (or newest first) with filters, one
//! post in full, assign, close and reopen.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ingest::Ingest;
use crate::insights::priority;
use crate::replies::{self, Reply};
use crate::server::ApiError;
use crate::server::auth::{Agent, Auth, Viewer};
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Page};
use crate::store::{audit, now_ms};

pub fn routes() -> OpenApiRouter<Ingest> {
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
    status: Option<String>,
    /// A channel account's name.
    channel: Option<String>,
    /// `negative`, `neutral` or `positive`.
    sentiment: Option<String>,
    /// The post's main intent, e.g. `complaint`.
    intent: Option<String>,
    /// Assigned to this name.
    assignee: Option<String>,
    /// Only posts whose priority now is at least this.
    min_priority: Option<f64>,
    /// `priority` (default, highest first) or `newest`.
    sort: Option<String>,
    /// 1 to 200, default 50.
    limit: Option<i64>,
    cursor: Option<String>,
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

pub(super) const COLUMNS: &str = "p.id, c.name AS channel, p.external_id, p.kind, p.direction, p.text, p.url, p.thread_id, \
     p.in_reply_to, p.created_at, p.language, p.inbox_status, p.assignee, i.id AS identity_id, i.network, \
     i.handle, i.display_name, i.followers, ps.contact_id, ct.name AS contact_name, ps.sentiment, ps.intent, \
     ps.intent_confidence, ps.value_pct, ps.ltv, ps.recent_orders, ps.priority_key";

pub(super) const JOINS: &str =
    "JOIN channel_accounts c ON c.id = p.channel_id JOIN identities i ON i.id = p.identity_id";

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

pub(super) fn inbox_post(row: &AnyRow, now: i64) -> Result<InboxPost, sqlx::Error> {
    let created_at: i64 = row.try_get("created_at")?;
    let key: Option<f64> = row.try_get("priority_key")?;
    let contact_id: Option<i64> = row.try_get("contact_id")?;
    let sentiment: Option<f64> = row.try_get("sentiment")?;
    let explanation = match key {
        Some(_) => {
            let signals = priority::signals(row)?;
            Some(priority::explain(&signals, created_at, now))
        }
        None => None,
    };
    Ok(InboxPost {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        external_id: row.try_get("external_id")?,
        kind: row.try_get("kind")?,
        direction: row.try_get("direction")?,
        text: row.try_get("text")?,
        url: row.try_get("url")?,
        thread_id: row.try_get("thread_id")?,
        in_reply_to: row.try_get("in_reply_to")?,
        created_at,
        language: row.try_get("language")?,
        inbox_status: row.try_get("inbox_status")?,
        assignee: row.try_get("assignee")?,
        author: Author {
            identity_id: row.try_get("identity_id")?,
            network: row.try_get("network")?,
            handle: row.try_get("handle")?,
            display_name: row.try_get("display_name")?,
            followers: row.try_get("followers")?,
        },
        contact: match contact_id {
            Some(id) => Some(ContactRef {
                id,
                name: row.try_get("contact_name")?,
            }),
            None => None,
        },
        sentiment,
        sentiment_label: sentiment_label(sentiment),
        intent: row.try_get("intent")?,
        intent_confidence: row.try_get("intent_confidence")?,
        topics: Vec::new(),
        priority: key.map(|k| priority::priority_at(k, now)),
        priority_explanation: explanation,
        priority_key: key,
    })
}

/// Fills in the topics of `posts` with one query.
pub(super) async fn with_topics(ingest: &Ingest, posts: &mut [InboxPost]) -> Result<(), sqlx::Error> {
    if posts.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = posts.iter().map(|p| p.id.to_string()).collect();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT post_id, topic FROM post_topics WHERE post_id IN ({}) ORDER BY topic",
        ids.join(",")
    )))
    .fetch_all(ingest.db().pool())
    .await?;
    for row in rows {
        let id: i64 = row.try_get("post_id")?;
        if let Some(post) = posts.iter_mut().find(|p| p.id == id) {
            post.topics.push(row.try_get("topic")?);
        }
    }
    Ok(())
}

fn one_of<'a>(what: &str, value: Option<&'a str>, allowed: &[&str]) -> Result<Option<&'a str>, ApiError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ApiError::bad_request(format!(
            "{what} must be one of {}",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

/// The inbox.
#[utoipa::path(get, path = "/posts", tag = "inbox", params(Filter),
    responses((status = 200, description = "A page of posts", body = Page<InboxPost>)))]
async fn list_posts(
    _auth: Auth<Viewer>,
    State(ingest): State<Ingest>,
    Query(filter): Query<Filter>,
) -> Result<Json<Page<InboxPost>>, ApiError> {
    let limit = page::limit(filter.limit)?;
    let status = one_of("status", filter.status.as_deref(), &["open", "closed"])?.unwrap_or("open");
    let sentiment = one_of(
        "sentiment",
        filter.sentiment.as_deref(),
        &["negative", "neutral", "positive"],
    )?;
    let by_priority = one_of("sort", filter.sort.as_deref(), &["priority", "newest"])? != Some("newest");
    let now = now_ms();
    // Optional filters are always bound: `$N = ''` means "any".
    let common = "p.inbox_status = $1 AND ($2 = '' OR c.name = $2) AND ($3 = '' OR ps.intent = $3) \
                  AND ($4 = '' OR p.assignee = $4) AND ($5 = '' \
                  OR ($5 = 'negative' AND ps.sentiment <= $6) OR ($5 = 'positive' AND ps.sentiment >= $7) \
                  OR ($5 = 'neutral' AND ps.sentiment > $6 AND ps.sentiment < $7))";
    // priority(now) = key + c(now), so a minimum priority is a minimum key.
    let min_key = filter.min_priority.map(|p| p - priority::priority_at(0.0, now));
    let (sql, cursor_key, cursor_id) = if by_priority || min_key.is_some() {
        let cursor: Option<(f64, i64)> = page::decode(filter.cursor.as_deref())?;
        let (key, id) = cursor.unwrap_or((f64::MAX, i64::MAX));
        // `CROSS JOIN` keeps SQLite walking the priority index (see insights::priority::inbox).
        let order = if by_priority {
            "ps.priority_key DESC, ps.post_id DESC"
        } else {
            "p.id DESC"
        };
        // A row value, so both databases seek the index to the cursor.
        let after = if by_priority {
            "(ps.priority_key, ps.post_id) < ($8, $9)"
        } else {
            "p.id < $9 AND $8 = $8"
        };
        (
            format!(
                "SELECT {COLUMNS} FROM post_scores ps CROSS JOIN posts p {JOINS} \
                 LEFT JOIN contacts ct ON ct.id = ps.contact_id \
                 WHERE p.id = ps.post_id AND {common} AND {after} AND ps.priority_key >= $10 \
                 ORDER BY {order} LIMIT $11"
            ),
            key,
            id,
        )
    } else {
        let cursor: Option<i64> = page::decode(filter.cursor.as_deref())?;
        (
            format!(
                "SELECT {COLUMNS} FROM posts p {JOINS} LEFT JOIN post_scores ps ON ps.post_id = p.id \
                 LEFT JOIN contacts ct ON ct.id = ps.contact_id \
                 WHERE p.direction = 'inbound' AND {common} AND $8 = $8 AND p.id < $9 \
                 AND ($10 = $10) ORDER BY p.id DESC LIMIT $11"
            ),
            0.0,
            cursor.unwrap_or(i64::MAX),
        )
    };
    let rows = sqlx::query(ingest.db().backend().sql(sql))
        .bind(status)
        .bind(filter.channel.unwrap_or_default())
        .bind(filter.intent.unwrap_or_default())
        .bind(filter.assignee.unwrap_or_default())
        .bind(sentiment.unwrap_or_default())
        .bind(-NEUTRAL_BAND)
        .bind(NEUTRAL_BAND)
        .bind(cursor_key)
        .bind(cursor_id)
        .bind(min_key.unwrap_or(f64::MIN))
        .bind(limit)
        .fetch_all(ingest.db().pool())
        .await?;
    let mut items = rows.iter().map(|r| inbox_post(r, now)).collect::<Result<Vec<_>, _>>()?;
    with_topics(&ingest, &mut items).await?;
    Ok(Json(if by_priority {
        // The cursor holds the stored key (exact), not the priority now.
        Page::of(items, limit, |p| (p.priority_key.unwrap_or(f64::MIN), p.id))
    } else {
        Page::of(items, limit, |p| p.id)
    }))
}

async fn load(ingest: &Ingest, id: i64) -> Result<InboxPost, ApiError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM posts p {JOINS} LEFT JOIN post_scores ps ON ps.post_id = p.id \
         LEFT JOIN contacts ct ON ct.id = ps.contact_id WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_optional(ingest.db().pool())
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no post {id}")))?;
    let mut post = [inbox_post(&row, now_ms())?];
    with_topics(ingest, &mut post).await?;
    let [post] = post;
    Ok(post)
}

/// One post with its analyses, replies and raw payload.
#[utoipa::path(get, path = "/posts/{id}", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, description = "The post", body = PostDetail)))]
async fn get_post(
    _auth: Auth<Viewer>,
    State(ingest): State<Ingest>,
    Path(id): Path<i64>,
) -> Result<Json<PostDetail>, ApiError> {
    let post = load(&ingest, id).await?;
    let db = ingest.db();
    let raw: String = sqlx::query_scalar("SELECT raw FROM posts WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await?;
    let rows = sqlx::query(
        "SELECT plugin, version, sentiment, label, intents, topics, language FROM analyses \
         WHERE post_id = $1 ORDER BY plugin, id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let parse = |s: String| serde_json::from_str::<Value>(&s).unwrap_or(Value::Null);
    let analyses = rows
        .iter()
        .map(|r| {
            Ok(PostAnalysis {
                plugin: r.try_get("plugin")?,
                version: r.try_get("version")?,
                sentiment: r.try_get("sentiment")?,
                label: r.try_get("label")?,
                intents: parse(r.try_get("intents")?),
                topics: parse(r.try_get("topics")?),
                language: r.try_get("language")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let replies = replies::list(db, Some(id), 500)
        .await
        .map_err(|e| ApiError::internal("listing replies", e))?;
    Ok(Json(PostDetail {
        post,
        analyses,
        replies,
        raw: parse(raw),
    }))
}

/// Sets `column` of post `id` and audits it.
async fn set(ingest: &Ingest, id: i64, column: &str, value: Option<&str>, actor: &str) -> Result<InboxPost, ApiError> {
    let db = ingest.db();
    let mut tx = db.begin().await?;
    let updated = sqlx::query(AssertSqlSafe(format!("UPDATE posts SET {column} = $1 WHERE id = $2")))
        .bind(value)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found(format!("no post {id}")));
    }
    audit(
        &mut *tx,
        actor,
        &format!("post.{column}"),
        &format!("post:{id}"),
        &json!({ column: value }),
    )
    .await?;
    tx.commit().await?;
    load(ingest, id).await
}

/// Assigns a post to someone (or unassigns it).
#[utoipa::path(post, path = "/posts/{id}/assign", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    request_body = Assignment, responses((status = 200, description = "The post", body = InboxPost)))]
async fn assign(
    auth: Auth<Agent>,
    State(ingest): State<Ingest>,
    Path(id): Path<i64>,
    Json(body): Json<Assignment>,
) -> Result<Json<InboxPost>, ApiError> {
    let assignee = body.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty());
    if assignee.is_some_and(|a| a.chars().count() > 100) {
        return Err(ApiError::bad_request("an assignee is at most 100 characters"));
    }
    Ok(Json(set(&ingest, id, "assignee", assignee, auth.name()).await?))
}

/// Closes a post: it leaves the open inbox.
#[utoipa::path(post, path = "/posts/{id}/close", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, description = "The post", body = InboxPost)))]
async fn close(
    auth: Auth<Agent>,
    State(ingest): State<Ingest>,
    Path(id): Path<i64>,
) -> Result<Json<InboxPost>, ApiError> {
    Ok(Json(
        set(&ingest, id, "inbox_status", Some("closed"), auth.name()).await?,
    ))
}

/// Reopens a closed post.
#[utoipa::path(post, path = "/posts/{id}/reopen", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, description = "The post", body = InboxPost)))]
async fn reopen(
    auth: Auth<Agent>,
    State(ingest): State<Ingest>,
    Path(id): Path<i64>,
) -> Result<Json<InboxPost>, ApiError> {
    Ok(Json(set(&ingest, id, "inbox_status", Some("open"), auth.name()).await?))
}
