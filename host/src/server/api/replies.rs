//! Replies: `POST /posts/{id}/replies` stores the reply, then sends it through
//! the channel plugin; a failed one is retried with `POST /replies/{id}/retry`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::replies::{self, Reply, ReplyError};
use crate::server::auth::{Agent, Auth, Viewer};
use crate::server::extract::{Json, Path};
use crate::server::page::Items;
use crate::server::{ApiError, openapi};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_replies, create_reply))
        .routes(routes!(retry_reply))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReply {
    #[schema(value_type = openapi::NonBlank)]
    text: String,
    /// Makes a retried request safe: the same key never sends twice.
    idempotency_key: Option<String>,
}

/// Replies to a post: stored first, then sent. A failed send answers 201 with
/// status `failed` and the error; retry it.
#[utoipa::path(post, path = "/posts/{id}/replies", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    request_body = NewReply, responses((status = 201, description = "The reply as stored after sending", body = Reply)))]
async fn create_reply(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(post_id): Path<i64>,
    Json(new): Json<NewReply>,
) -> Result<(StatusCode, Json<Reply>), ApiError> {
    let queued = replies::queue(
        app.db(),
        post_id,
        &new.text,
        new.idempotency_key.as_deref(),
        auth.name(),
    )
    .await
    .map_err(error)?;
    let reply = replies::send(app.ingest(), queued.id, auth.name())
        .await
        .map_err(error)?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Sends a queued or failed reply again.
#[utoipa::path(post, path = "/replies/{id}/retry", tag = "inbox", params(("id" = i64, Path, description = "Reply id")),
    responses((status = 200, description = "The reply after this attempt", body = Reply)))]
async fn retry_reply(auth: Auth<Agent>, State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Reply>, ApiError> {
    Ok(Json(replies::send(app.ingest(), id, auth.name()).await.map_err(error)?))
}

/// A post's replies.
#[utoipa::path(get, path = "/posts/{id}/replies", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, description = "The replies", body = Items<Reply>)))]
async fn list_replies(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(post_id): Path<i64>,
) -> Result<Json<Items<Reply>>, ApiError> {
    let items = replies::list(app.db(), Some(post_id), 500).await.map_err(error)?;
    Ok(Json(Items { items }))
}

fn error(e: ReplyError) -> ApiError {
    match e {
        ReplyError::NoPost(_) | ReplyError::NoReply(_) => ApiError::not_found(e.to_string()),
        ReplyError::Empty | ReplyError::TooLong => ApiError::bad_request(e.to_string()),
        other => {
            tracing::error!(error = %other, "reply failed");
            ApiError::unavailable(other.to_string())
        }
    }
}
