//! Who am I, tokens and the audit log.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Items, Page};
use crate::store::{AuditFilter, audit_page};
use crate::tokens::{self, Caller, Role, TokenError, TokenInfo};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(audit_log))
}

/// The calling token's name and role.
#[utoipa::path(get, path = "/me", tag = "admin", responses((status = 200, description = "The caller", body = Caller)))]
async fn me(auth: Auth<Viewer>) -> Json<Caller> {
    Json(auth.caller().clone())
}

/// Every token (never their secrets).
#[utoipa::path(get, path = "/tokens", tag = "admin", responses((status = 200, description = "The tokens", body = Items<TokenInfo>)))]
async fn list_tokens(_auth: Auth<Admin>, State(app): State<App>) -> Result<Json<Items<TokenInfo>>, ApiError> {
    let items = tokens::list(app.db()).await.map_err(error)?;
    Ok(Json(Items { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    /// 1 to 64 letters, digits, `-`, `_` or `.`; the actor in the audit log.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    name: String,
    role: Role,
}

/// A new token; its secret is in this answer only.
#[derive(Serialize, ToSchema)]
struct CreatedToken {
    name: String,
    role: Role,
    token: String,
}

/// Creates a token.
#[utoipa::path(post, path = "/tokens", tag = "admin", request_body = NewToken,
    responses((status = 201, description = "The token with its secret, shown once", body = CreatedToken)))]
async fn create_token(
    auth: Auth<Admin>,
    State(app): State<App>,
    Json(new): Json<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let token = tokens::create(app.db(), &new.name, new.role, auth.name())
        .await
        .map_err(error)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            name: new.name,
            role: new.role,
            token,
        }),
    ))
}

/// Revokes a token.
#[utoipa::path(delete, path = "/tokens/{name}", tag = "admin", params(("name" = String, Path, description = "Token name")),
    responses((status = 204, description = "Revoked")))]
async fn revoke_token(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    tokens::revoke(app.db(), &name, auth.name()).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

fn error(e: TokenError) -> ApiError {
    match e {
        TokenError::Role(_) | TokenError::Name(_) => ApiError::bad_request(e.to_string()),
        TokenError::Exists(_) => ApiError::conflict(e.to_string()),
        TokenError::NotFound(_) => ApiError::not_found(e.to_string()),
        TokenError::Db(e) => e.into(),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only this action, e.g. `post.assignee`.
    action: Option<String>,
    /// Only changes by this actor (a token's name, `oidc:…`, or the CLI user).
    actor: Option<String>,
    /// From this time, Unix ms (inclusive).
    #[param(minimum = 0, maximum = 253_402_300_799_999.0)]
    since: Option<i64>,
    /// Before this time, Unix ms.
    #[param(minimum = 0, maximum = 253_402_300_799_999.0)]
    until: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

/// One change and who made it.
#[derive(Serialize, ToSchema)]
struct AuditItem {
    id: i64,
    at: i64,
    /// The token's name (or the CLI user) that made the change.
    actor: String,
    action: String,
    subject: String,
    details: Value,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, description = "A page of entries", body = Page<AuditItem>)))]
async fn audit_log(
    _auth: Auth<Admin>,
    State(app): State<App>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Page<AuditItem>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let before: i64 = page::decode(q.cursor.as_deref())?.unwrap_or(i64::MAX);
    page::since_until([q.since, q.until].into_iter().flatten())?;
    let filter = AuditFilter {
        action: q.action.as_deref(),
        actor: q.actor.as_deref(),
        since: q.since,
        until: q.until,
    };
    let items = audit_page(app.db().pool(), before, &filter, limit)
        .await?
        .into_iter()
        .map(|(id, e)| AuditItem {
            id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            details: e.details,
        })
        .collect();
    Ok(Json(Page::of(items, limit, |a| a.id)))
}
