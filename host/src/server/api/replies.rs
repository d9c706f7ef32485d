//! Replies: `POST /posts/{id}/replies` stores the reply, then sends it through
//! the channel plugin; a failed one is retried with `POST /replies/{id}/retry`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::replies::{self, Reply, ReplyError, ReplyTemplate};
use crate::server::auth::{Agent, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path};
use crate::server::page::Items;
use crate::server::{ApiError, openapi};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_replies, create_reply))
        .routes(routes!(create_template_reply))
        .routes(routes!(retry_reply))
        .routes(routes!(list_channel_templates))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReply {
    #[schema(value_type = openapi::NonBlank)]
    text: String,
    /// Makes a retried request safe: the same key never sends twice.
    idempotency_key: Option<String>,
}

/// A template message answering a post (a conversation whose reply window is
/// closed).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTemplateReply {
    /// The template's name, as `GET /channels/{name}/templates` lists it.
    #[schema(pattern = "^[a-z0-9_]{1,512}$")]
    name: String,
    /// Its language code (`en_US`).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,15}$")]
    language: String,
    /// The values of its placeholders `{{1}}`, `{{2}}`, ... in order.
    #[serde(default)]
    #[schema(value_type = Vec<openapi::NonBlank>, max_items = 20)]
    parameters: Vec<String>,
    idempotency_key: Option<String>,
}

/// A template the network approved for a channel.
#[derive(Serialize, ToSchema)]
struct ApprovedTemplate {
    name: String,
    language: String,
    /// As the network names it (`MARKETING`, `UTILITY`, `AUTHENTICATION`).
    category: String,
    /// The body with its placeholders `{{1}}`, `{{2}}`, ...
    body: String,
}

/// Replies to a post: stored first, then sent. A failed send answers 201 with
/// status `failed` and the error; retry it. Free text to a conversation whose
/// reply window is closed is refused (409): send a template instead.
#[utoipa::path(post, path = "/posts/{id}/replies", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    request_body = NewReply, responses((status = 201, description = "The reply as stored after sending", body = Reply),
        (status = 409, description = "The conversation's reply window is closed: send a template", body = ErrorBody)))]
async fn create_reply(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(post_id): Path<i64>,
    Json(new): Json<NewReply>,
) -> Result<(StatusCode, Json<Reply>), ApiError> {
    replies::check_route(app.ingest(), post_id, false)
        .await
        .map_err(error)?;
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

/// Answers a post with a template message the network approved: how a
/// conversation is answered once its reply window has closed (409 for a
/// channel without templates).
#[utoipa::path(post, path = "/posts/{id}/template-replies", tag = "inbox", params(("id" = i64, Path, description = "Post id")),
    request_body = NewTemplateReply, responses((status = 201, description = "The reply as stored after sending", body = Reply),
        (status = 409, description = "The post is not in a conversation of a messaging network", body = ErrorBody)))]
async fn create_template_reply(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(post_id): Path<i64>,
    Json(new): Json<NewTemplateReply>,
) -> Result<(StatusCode, Json<Reply>), ApiError> {
    let template = ReplyTemplate {
        name: new.name,
        language: new.language,
        parameters: new.parameters,
    };
    replies::check_route(app.ingest(), post_id, true).await.map_err(error)?;
    let queued = replies::queue_template(
        app.db(),
        post_id,
        &template,
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

/// The templates the network approved for a channel (a messaging network's).
#[utoipa::path(get, path = "/channels/{name}/templates", tag = "inbox", params(("name" = String, Path, description = "Channel account")),
    responses((status = 200, description = "The approved templates", body = Items<ApprovedTemplate>),
        (status = 409, description = "The channel is not a messaging network's", body = ErrorBody)))]
async fn list_channel_templates(
    _auth: Auth<Agent>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<Items<ApprovedTemplate>>, ApiError> {
    let items = replies::templates(app.ingest(), &name)
        .await
        .map_err(error)?
        .into_iter()
        .map(|t| ApprovedTemplate {
            name: t.name,
            language: t.language,
            category: t.category,
            body: t.body,
        })
        .collect();
    Ok(Json(Items { items }))
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
        ReplyError::NoPost(_) | ReplyError::NoReply(_) | ReplyError::NoChannel(_) => ApiError::not_found(e.to_string()),
        ReplyError::Empty | ReplyError::TooLong | ReplyError::BadTemplate(_) => ApiError::bad_request(e.to_string()),
        ReplyError::WindowClosed(_) | ReplyError::NoTemplates(_) => ApiError::conflict(e.to_string()),
        other => {
            tracing::error!(error = %other, "reply failed");
            ApiError::unavailable(other.to_string())
        }
    }
}
