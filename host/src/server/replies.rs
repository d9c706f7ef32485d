//! Replies over HTTP: `POST /api/v1/posts/{id}/replies` stores the reply,
//! then sends it; `GET` lists a post's replies; `POST /api/v1/replies/{id}/retry`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::ingest::Ingest;
use crate::replies::{self, Reply, ReplyError};

pub fn routes() -> Router<Ingest> {
    Router::new()
        .route("/posts/{id}/replies", get(list).post(create))
        .route("/replies/{id}/retry", post(retry))
}

#[derive(Deserialize)]
struct NewReply {
    text: String,
    idempotency_key: Option<String>,
}

async fn create(
    State(ingest): State<Ingest>,
    Path(post_id): Path<i64>,
    Json(new): Json<NewReply>,
) -> Result<(StatusCode, Json<Reply>), ApiError> {
    let queued = replies::queue(ingest.db(), post_id, &new.text, new.idempotency_key.as_deref(), "api")
        .await
        .map_err(error)?;
    let reply = replies::send(&ingest, queued.id, "api").await.map_err(error)?;
    Ok((StatusCode::CREATED, Json(reply)))
}

async fn retry(State(ingest): State<Ingest>, Path(id): Path<i64>) -> Result<Json<Reply>, ApiError> {
    Ok(Json(replies::send(&ingest, id, "api").await.map_err(error)?))
}

async fn list(State(ingest): State<Ingest>, Path(post_id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let items = replies::list(ingest.db(), Some(post_id), 500).await.map_err(error)?;
    Ok(Json(json!({ "items": items })))
}

fn error(e: ReplyError) -> ApiError {
    match e {
        ReplyError::NoPost(_) | ReplyError::NoReply(_) => ApiError::not_found(e.to_string()),
        ReplyError::Empty | ReplyError::TooLong => ApiError::bad_request(e.to_string()),
        other => {
            tracing::error!(error = %other, "reply failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", other.to_string())
        }
    }
}
