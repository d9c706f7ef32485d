//! Custom signals and the brand's taxonomy over HTTP
//! (`crate::insights::custom`).

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::insights::custom::{self, CustomError, CustomSignal, Entry, EntryBody};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path};
use crate::server::page::Items;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_signals))
        .routes(routes!(list_taxonomy))
        .routes(routes!(put_entry, remove_entry))
}

/// The custom signals analyzers declare: filter the inbox on them with
/// `GET /posts?signal=NAME`.
#[utoipa::path(get, path = "/signals", tag = "insights",
    responses((status = 200, description = "The custom signals", body = Items<CustomSignal>)))]
async fn list_signals(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Items<CustomSignal>>, ApiError> {
    let items = custom::signals(app.db()).await.map_err(error)?;
    Ok(Json(Items { items }))
}

/// The brand's taxonomy: products, features and aspects with their synonyms.
#[utoipa::path(get, path = "/taxonomy", tag = "insights",
    responses((status = 200, description = "Every entry", body = Items<Entry>)))]
async fn list_taxonomy(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Items<Entry>>, ApiError> {
    let items = custom::taxonomy(app.db()).await.map_err(error)?;
    Ok(Json(Items { items }))
}

/// Adds or replaces a taxonomy entry; analyzers match posts against it
/// from their next batch (`analyzer reanalyze` for past posts).
#[utoipa::path(put, path = "/taxonomy/{id}", tag = "insights",
    params(("id" = String, Path, pattern = "^[a-z0-9-]{1,64}$",
        description = "The entry's id, 1 to 64 of a-z, 0-9 and `-`")),
    request_body = EntryBody,
    responses((status = 200, description = "The entry", body = Entry),
        (status = 400, description = "An invalid entry", body = ErrorBody)))]
async fn put_entry(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(id): Path<String>,
    Json(body): Json<EntryBody>,
) -> Result<Json<Entry>, ApiError> {
    let entry = body.entry(id);
    custom::put(app.db(), &entry, auth.name()).await.map_err(error)?;
    Ok(Json(entry))
}

/// Removes a taxonomy entry.
#[utoipa::path(delete, path = "/taxonomy/{id}", tag = "insights",
    params(("id" = String, Path, pattern = "^[a-z0-9-]{1,64}$", description = "The entry's id")),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "No such entry", body = ErrorBody)))]
async fn remove_entry(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    custom::remove(app.db(), &id, auth.name()).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

fn error(e: CustomError) -> ApiError {
    match e {
        CustomError::Invalid(_) => ApiError::bad_request(e.to_string()),
        CustomError::NoEntry(_) => ApiError::not_found(e.to_string()),
        CustomError::Call(_) => ApiError::internal("reading custom signals", e),
        CustomError::Db(e) => e.into(),
    }
}
