//! The read API of the CRM core under `/api/v1`: channels and their status,
//! posts with their author and analyses. Lists page with `?before=ID` (newest first).

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::ApiError;
use crate::channels;
use crate::ingest::Ingest;

const MAX_LIMIT: i64 = 500;

pub fn routes() -> Router<Ingest> {
    Router::new()
        .route("/channels", get(list_channels))
        .route("/posts", get(list_posts))
        .route("/posts/{id}", get(get_post))
}

async fn list_channels(State(ingest): State<Ingest>) -> Result<Json<Value>, ApiError> {
    let channels = channels::list(ingest.db()).await.map_err(|e| {
        tracing::error!(error = %e, "listing channels");
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "database",
            "cannot list channels",
        )
    })?;
    let items: Vec<Value> = channels
        .into_iter()
        .map(|c| {
            json!({"name": c.name, "plugin": c.plugin, "network": c.network, "status": c.status,
                   "last_error": c.last_error, "posts": c.posts})
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
struct PostFilter {
    channel: Option<String>,
    status: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

const POST_COLUMNS: &str = "p.id, c.name AS channel, p.external_id, p.kind, p.direction, p.text, p.url, p.thread_id, \
     p.in_reply_to, p.created_at, p.language, p.inbox_status, p.assignee, i.id AS identity_id, i.network, i.handle, \
     i.display_name, i.followers";

async fn list_posts(State(ingest): State<Ingest>, Query(filter): Query<PostFilter>) -> Result<Json<Value>, ApiError> {
    let limit = filter.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be 1 to {MAX_LIMIT}")));
    }
    // Optional filters as always-bound parameters: `$1 = ''` means "any".
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {POST_COLUMNS} FROM posts p JOIN channel_accounts c ON c.id = p.channel_id \
         JOIN identities i ON i.id = p.identity_id \
         WHERE ($1 = '' OR c.name = $1) AND ($2 = '' OR p.inbox_status = $2) AND p.id < $3 \
         ORDER BY p.id DESC LIMIT $4"
    )))
    .bind(filter.channel.unwrap_or_default())
    .bind(filter.status.unwrap_or_default())
    .bind(filter.before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(ingest.db().pool())
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut post = post_json(row)?;
        post["analyses"] = analyses(&ingest, row.try_get("id")?).await?;
        items.push(post);
    }
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().and_then(|r| r.try_get::<i64, _>("id").ok()))
        .flatten();
    Ok(Json(json!({ "items": items, "next_before": next })))
}

async fn get_post(State(ingest): State<Ingest>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {POST_COLUMNS}, p.raw FROM posts p JOIN channel_accounts c ON c.id = p.channel_id \
         JOIN identities i ON i.id = p.identity_id WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_optional(ingest.db().pool())
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no post {id}")))?;
    let mut post = post_json(&row)?;
    post["raw"] = serde_json::from_str(&row.try_get::<String, _>("raw")?).unwrap_or(Value::Null);
    post["analyses"] = analyses(&ingest, id).await?;
    Ok(Json(post))
}

fn post_json(row: &sqlx::any::AnyRow) -> Result<Value, sqlx::Error> {
    Ok(json!({
        "id": row.try_get::<i64, _>("id")?,
        "channel": row.try_get::<String, _>("channel")?,
        "external_id": row.try_get::<String, _>("external_id")?,
        "kind": row.try_get::<String, _>("kind")?,
        "direction": row.try_get::<String, _>("direction")?,
        "text": row.try_get::<String, _>("text")?,
        "url": row.try_get::<Option<String>, _>("url")?,
        "thread_id": row.try_get::<Option<String>, _>("thread_id")?,
        "in_reply_to": row.try_get::<Option<String>, _>("in_reply_to")?,
        "created_at": row.try_get::<i64, _>("created_at")?,
        "language": row.try_get::<Option<String>, _>("language")?,
        "inbox_status": row.try_get::<String, _>("inbox_status")?,
        "assignee": row.try_get::<Option<String>, _>("assignee")?,
        "author": {
            "identity_id": row.try_get::<i64, _>("identity_id")?,
            "network": row.try_get::<String, _>("network")?,
            "handle": row.try_get::<String, _>("handle")?,
            "display_name": row.try_get::<Option<String>, _>("display_name")?,
            "followers": row.try_get::<Option<i64>, _>("followers")?,
        },
    }))
}

async fn analyses(ingest: &Ingest, post_id: i64) -> Result<Value, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT plugin, version, sentiment, label, intents, topics, language FROM analyses \
         WHERE post_id = $1 ORDER BY plugin, id",
    )
    .bind(post_id)
    .fetch_all(ingest.db().pool())
    .await?;
    let parse = |s: String| serde_json::from_str::<Value>(&s).unwrap_or(Value::Null);
    rows.iter()
        .map(|r| {
            Ok(json!({
                "plugin": r.try_get::<String, _>("plugin")?,
                "version": r.try_get::<String, _>("version")?,
                "sentiment": r.try_get::<Option<f64>, _>("sentiment")?,
                "label": r.try_get::<Option<String>, _>("label")?,
                "intents": parse(r.try_get("intents")?),
                "topics": parse(r.try_get("topics")?),
                "language": r.try_get::<Option<String>, _>("language")?,
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map(Value::from)
}
