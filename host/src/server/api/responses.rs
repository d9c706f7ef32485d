//! Responses beyond a one-off reply: reply templates, micro responses (a
//! reply to one post), macro responses (a broadcast and replies to a topic or
//! an alert), approval. See docs/responses.md.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::replies::ReplyError;
use crate::responses::{self, Content, MacroRequest, Recipient, Response, ResponseError, StoredTemplate, Variable};
use crate::server::auth::{Admin, Agent, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Items};
use crate::server::{ApiError, openapi};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_templates))
        .routes(routes!(save_template, remove_template))
        .routes(routes!(variables))
        .routes(routes!(create_micro))
        .routes(routes!(list_responses, create_macro))
        .routes(routes!(get_response))
        .routes(routes!(recipients))
        .routes(routes!(send))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(set_approval))
}

/// Every stored template.
#[utoipa::path(get, path = "/templates", tag = "responses",
    responses((status = 200, description = "The templates", body = Items<StoredTemplate>)))]
async fn list_templates(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Items<StoredTemplate>>, ApiError> {
    let items = responses::templates(app.db()).await.map_err(error)?;
    Ok(Json(Items { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    /// Text with `{{variable}}` or `{{variable|default}}` placeholders.
    #[schema(value_type = openapi::NonBlank)]
    body: String,
}

/// Saves a template (replacing the body of an existing one).
#[utoipa::path(put, path = "/templates/{name}", tag = "responses", params(("name" = String, Path, description = "Template name: 1 to 64 letters, digits, `-`, `_` or `.`", pattern = "^[A-Za-z0-9._-]{1,64}$")),
    request_body = TemplateBody, responses((status = 200, description = "The template as stored", body = StoredTemplate)))]
async fn save_template(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(name): Path<String>,
    Json(t): Json<TemplateBody>,
) -> Result<Json<StoredTemplate>, ApiError> {
    let saved = responses::save_template(app.db(), &name, &t.body, auth.name())
        .await
        .map_err(error)?;
    Ok(Json(saved))
}

/// Removes a template; responses made from it keep their texts.
#[utoipa::path(delete, path = "/templates/{name}", tag = "responses", params(("name" = String, Path, description = "Template name")),
    responses((status = 204, description = "Removed")))]
async fn remove_template(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    responses::remove_template(app.db(), &name, auth.name())
        .await
        .map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A variable templates can use.
#[derive(Serialize, ToSchema)]
struct VariableInfo {
    /// As written in a placeholder, e.g. `contact.first_name`.
    name: &'static str,
    description: &'static str,
}

/// The variables templates can use.
#[utoipa::path(get, path = "/templates/variables", tag = "responses",
    responses((status = 200, description = "The variables", body = Items<VariableInfo>)))]
async fn variables(_auth: Auth<Viewer>) -> Json<Items<VariableInfo>> {
    let items = Variable::ALL
        .iter()
        .map(|v| VariableInfo {
            name: v.name(),
            description: v.describe(),
        })
        .collect();
    Json(Items { items })
}

/// Sends a response that is approved (no approval needed); others are returned as they are.
async fn send_if_approved(app: &App, response: Response, actor: &str) -> Result<Response, ApiError> {
    if response.status == "approved" {
        responses::send(app.ingest(), response.id, actor).await.map_err(error)
    } else {
        Ok(response)
    }
}

/// A micro response: a reply to the post, `{"text"}` or `{"template"}`. On a
/// channel that requires approval it waits (`pending-approval`); otherwise it
/// is sent.
#[utoipa::path(post, path = "/posts/{id}/responses", tag = "responses", params(("id" = i64, Path, description = "Post id")),
    request_body = Content, responses((status = 201, description = "The response after sending, or pending approval", body = Response)))]
async fn create_micro(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(post_id): Path<i64>,
    Json(content): Json<Content>,
) -> Result<(StatusCode, Json<Response>), ApiError> {
    let created = responses::create_micro(app.db(), post_id, &content, auth.name())
        .await
        .map_err(error)?;
    let response = send_if_approved(&app, created, auth.name()).await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// A macro response: a broadcast on the channel and, with an audience, a
/// reply to each of its posts. Sent at once unless approval is required.
#[utoipa::path(post, path = "/responses", tag = "responses", request_body = MacroRequest,
    responses((status = 201, description = "The response after sending, or pending approval", body = Response),
        (status = 404, description = "No such channel, template or alert", body = ErrorBody)))]
async fn create_macro(
    auth: Auth<Agent>,
    State(app): State<App>,
    Json(request): Json<MacroRequest>,
) -> Result<(StatusCode, Json<Response>), ApiError> {
    let created = responses::create_macro(app.db(), &request, auth.name())
        .await
        .map_err(error)?;
    let response = send_if_approved(&app, created, auth.name()).await?;
    Ok((StatusCode::CREATED, Json(response)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ResponseFilter {
    /// Only this status, e.g. `pending-approval`.
    status: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// The newest responses, with their counts.
#[utoipa::path(get, path = "/responses", tag = "responses", params(ResponseFilter),
    responses((status = 200, description = "The responses, newest first", body = Items<Response>)))]
async fn list_responses(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(q): Query<ResponseFilter>,
) -> Result<Json<Items<Response>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let items = responses::list(app.db(), q.status.as_deref(), limit)
        .await
        .map_err(error)?;
    Ok(Json(Items { items }))
}

/// One response with its recipients counted by status.
#[utoipa::path(get, path = "/responses/{id}", tag = "responses", params(("id" = i64, Path, description = "Response id")),
    responses((status = 200, description = "The response", body = Response)))]
async fn get_response(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Response>, ApiError> {
    Ok(Json(responses::get(app.db(), id).await.map_err(error)?))
}

/// The posts a response answers, each with its status.
#[utoipa::path(get, path = "/responses/{id}/recipients", tag = "responses", params(("id" = i64, Path, description = "Response id")),
    responses((status = 200, description = "The recipients, in post order", body = Items<Recipient>)))]
async fn recipients(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Items<Recipient>>, ApiError> {
    let db = app.db();
    responses::get(db, id).await.map_err(error)?;
    let items = responses::recipients(db, id).await.map_err(error)?;
    Ok(Json(Items { items }))
}

/// Sends an approved response, resumes an interrupted one or retries the failed messages.
#[utoipa::path(post, path = "/responses/{id}/send", tag = "responses", params(("id" = i64, Path, description = "Response id")),
    responses((status = 200, description = "The response after this attempt", body = Response),
        (status = 409, description = "The response is not approved, or was rejected", body = ErrorBody)))]
async fn send(auth: Auth<Agent>, State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Response>, ApiError> {
    Ok(Json(
        responses::send(app.ingest(), id, auth.name()).await.map_err(error)?,
    ))
}

/// Approves a pending response and sends it; its author cannot (403).
#[utoipa::path(post, path = "/responses/{id}/approve", tag = "responses", params(("id" = i64, Path, description = "Response id")),
    responses((status = 200, description = "The response after sending", body = Response),
        (status = 409, description = "The response is not pending approval", body = ErrorBody)))]
async fn approve(auth: Auth<Agent>, State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Response>, ApiError> {
    Ok(Json(
        responses::approve(app.ingest(), id, auth.name()).await.map_err(error)?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Rejection {
    /// Why, for its author.
    reason: Option<String>,
}

/// Rejects a pending response (its author may, to withdraw it): it is never
/// sent. The body, with a reason, is optional.
#[utoipa::path(post, path = "/responses/{id}/reject", tag = "responses", params(("id" = i64, Path, description = "Response id")),
    request_body = Option<Rejection>, responses((status = 200, description = "The rejected response", body = Response),
        (status = 409, description = "The response is not pending approval", body = ErrorBody)))]
async fn reject(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(id): Path<i64>,
    body: Option<Json<Option<Rejection>>>,
) -> Result<Json<Response>, ApiError> {
    let reason = body.and_then(|Json(r)| r).and_then(|r| r.reason);
    let rejected = responses::reject(app.db(), id, auth.name(), reason.as_deref())
        .await
        .map_err(error)?;
    Ok(Json(rejected))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Approval {
    /// Whether responses on the channel wait for a second person's approval.
    required: bool,
}

/// Turns approval for the channel's responses on or off; responses already made keep their status.
#[utoipa::path(put, path = "/channels/{name}/approval", tag = "responses", params(("name" = String, Path, description = "Channel name")),
    request_body = Approval, responses((status = 200, description = "The setting", body = Approval)))]
async fn set_approval(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
    Json(a): Json<Approval>,
) -> Result<Json<Approval>, ApiError> {
    responses::set_approval(app.db(), &name, a.required, auth.name())
        .await
        .map_err(error)?;
    Ok(Json(a))
}

fn error(e: ResponseError) -> ApiError {
    use ResponseError as E;
    match e {
        E::NoPost(_) | E::NoChannel(_) | E::NoAlert(_) | E::NoResponse(_) | E::NoTemplate(_) => {
            ApiError::not_found(e.to_string())
        }
        E::TemplateName(_)
        | E::Template(_)
        | E::MissingValue { .. }
        | E::Unconfirmed { .. }
        | E::BroadcastVariable(_)
        | E::RepliesWithoutAudience
        | E::TooManyRecipients { .. }
        | E::Reply(ReplyError::Empty | ReplyError::TooLong) => ApiError::bad_request(e.to_string()),
        E::NotApproved(_) | E::Rejected(_) | E::NotPending { .. } => ApiError::conflict(e.to_string()),
        E::SelfApproval(..) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
        E::Reply(ReplyError::NoPost(_) | ReplyError::NoReply(_) | ReplyError::NoChannel(_)) => {
            ApiError::not_found(e.to_string())
        }
        E::Db(e) | E::Reply(ReplyError::Db(e)) => e.into(),
        other => {
            tracing::error!(error = %other, "response failed");
            ApiError::unavailable(other.to_string())
        }
    }
}
