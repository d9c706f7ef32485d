//! Identity links: the review queue with its evidence, a manual link, and a
//! person's decisions (confirm, reject, unlink), audited with the caller's name.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::crm::identity::verification::{self, NewVerification};
use crate::crm::identity::{self, IdentityError, LinkPosition, LinkView};
use crate::server::ApiError;
use crate::server::auth::{Agent, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Page};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_links, create_link))
        .routes(routes!(confirm_link))
        .routes(routes!(reject_link))
        .routes(routes!(unlink_identity))
        .routes(routes!(verification_link))
}

/// The status a request names or a link is in: a 400, 404 or 409 of its own.
pub(super) fn error(e: IdentityError) -> ApiError {
    match e {
        IdentityError::NoLink(_)
        | IdentityError::NoIdentity(_)
        | IdentityError::NoContact(_)
        | IdentityError::Verification => ApiError::not_found(e.to_string()),
        IdentityError::Transition { .. } => ApiError::conflict(e.to_string()),
        IdentityError::Status(_) => ApiError::bad_request(e.to_string()),
        IdentityError::Db(e) => e.into(),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Filter {
    /// `proposed` (the review queue, most confident first), `confirmed` or
    /// `rejected` (most recently changed first); every link when absent.
    #[param(pattern = "^(proposed|confirmed|rejected)$")]
    status: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewLink {
    #[serde(deserialize_with = "crate::server::extract::integer")]
    identity_id: i64,
    #[serde(deserialize_with = "crate::server::extract::integer")]
    contact_id: i64,
}

/// Identity links with their evidence.
#[utoipa::path(get, path = "/identity-links", tag = "identities", params(Filter),
    responses((status = 200, description = "A page of links", body = Page<LinkView>)))]
async fn list_links(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(filter): Query<Filter>,
) -> Result<Json<Page<LinkView>>, ApiError> {
    let limit = page::limit(filter.limit)?;
    let after: Option<LinkPosition> = page::decode(filter.cursor.as_deref())?;
    let status = filter.status.as_deref();
    let links = identity::links_after(app.db(), status, after, limit)
        .await
        .map_err(error)?;
    Ok(Json(Page::of(links, limit, |l| identity::position(status, l))))
}

/// Links an identity to a contact by hand (confirmed, method `manual`); an
/// existing proposed or rejected link of the pair is confirmed.
#[utoipa::path(post, path = "/identity-links", tag = "identities", request_body = NewLink,
    responses((status = 201, description = "The link", body = LinkView),
        (status = 404, description = "No such identity or contact", body = ErrorBody)))]
async fn create_link(
    auth: Auth<Agent>,
    State(app): State<App>,
    Json(new): Json<NewLink>,
) -> Result<(StatusCode, Json<LinkView>), ApiError> {
    let link = identity::link(app.db(), new.identity_id, new.contact_id, auth.name())
        .await
        .map_err(error)?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// Confirms a proposed (or rejected) link.
#[utoipa::path(post, path = "/identity-links/{id}/confirm", tag = "identities",
    params(("id" = i64, Path, description = "Link id")),
    responses((status = 200, description = "The link", body = LinkView),
        (status = 409, description = "The link is confirmed already", body = ErrorBody)))]
async fn confirm_link(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<LinkView>, ApiError> {
    Ok(Json(identity::confirm(app.db(), id, auth.name()).await.map_err(error)?))
}

/// Rejects a proposed link: it is not proposed again on the evidence it holds.
#[utoipa::path(post, path = "/identity-links/{id}/reject", tag = "identities",
    params(("id" = i64, Path, description = "Link id")),
    responses((status = 200, description = "The link", body = LinkView),
        (status = 409, description = "The link is not proposed", body = ErrorBody)))]
async fn reject_link(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<LinkView>, ApiError> {
    Ok(Json(identity::reject(app.db(), id, auth.name()).await.map_err(error)?))
}

/// Undoes a confirmed link (it becomes rejected).
#[utoipa::path(post, path = "/identity-links/{id}/unlink", tag = "identities",
    params(("id" = i64, Path, description = "Link id")),
    responses((status = 200, description = "The link", body = LinkView),
        (status = 409, description = "The link is not confirmed", body = ErrorBody)))]
async fn unlink_identity(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<LinkView>, ApiError> {
    Ok(Json(identity::unlink(app.db(), id, auth.name()).await.map_err(error)?))
}

/// Makes a verification link for a proposed link: send the server's public
/// address followed by `path` to an address on the contact's record (not to
/// the social account). The customer confirms the link there; it works once,
/// for 7 days. The path is shown this once.
#[utoipa::path(post, path = "/identity-links/{id}/verification", tag = "identities",
    params(("id" = i64, Path, description = "Link id")),
    responses((status = 201, description = "The link's path and expiry", body = NewVerification),
        (status = 404, description = "No such link"), (status = 409, description = "The link is not proposed")))]
async fn verification_link(
    auth: Auth<Agent>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<NewVerification>), ApiError> {
    let made = verification::create(app.db(), id, auth.name()).await.map_err(error)?;
    Ok((StatusCode::CREATED, Json(made)))
}
