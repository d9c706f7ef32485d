//! What the configured plugin indexes offer, and installing from them: each
//! index is fetched and its signature verified per request; an install goes
//! through the same checks as `socialcrm plugin install NAME`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::plugins::{self, PluginSummary};
use crate::app::{App, FromIndexError};
use crate::plugins::index::catalog::{self, Catalog};
use crate::plugins::index::{Available, FetchLimits, IndexError, Spec};
use crate::plugins::registry;
use crate::server::auth::{Admin, Auth};
use crate::server::error::ErrorBody;
use crate::server::extract::Json;
use crate::server::{ApiError, openapi};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_offers))
        .routes(routes!(install_from_index))
}

/// What the indexes offer, and the indexes left out.
#[derive(Serialize, ToSchema)]
struct Offers {
    /// Each plugin with the newest version this host runs, by name then index.
    items: Vec<Available>,
    /// Indexes that could not be fetched, or were refused (signature, replay).
    refused: Vec<RefusedIndex>,
}

#[derive(Serialize, ToSchema)]
struct RefusedIndex {
    index: String,
    error: String,
}

/// What every configured plugin index offers, with installed and outdated
/// state (each index fetched and verified now).
#[utoipa::path(get, path = "/plugin-index", tag = "plugins",
    responses((status = 200, description = "The plugins the indexes offer", body = Offers)))]
async fn list_offers(_auth: Auth<Admin>, State(app): State<App>) -> Result<Json<Offers>, ApiError> {
    let catalog = match Catalog::fetch(app.db(), None, &FetchLimits::default()).await {
        Ok(catalog) => catalog,
        Err(IndexError::NoIndexes) => {
            return Ok(Json(Offers {
                items: Vec::new(),
                refused: Vec::new(),
            }));
        }
        Err(e) => return Err(index_error(e)),
    };
    let items = catalog::search(app.db(), &catalog, None).await.map_err(index_error)?;
    let refused = catalog
        .refused
        .iter()
        .map(|(index, e)| RefusedIndex {
            index: index.clone(),
            error: e.to_string(),
        })
        .collect();
    Ok(Json(Offers { items, refused }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InstallFromIndex {
    #[schema(pattern = "^[^@]+$")]
    name: String,
    /// An exact version; the newest this host runs when absent.
    #[serde(default)]
    #[schema(value_type = Option<openapi::SemVer>)]
    version: Option<String>,
    /// Only this configured index; all of them when absent.
    #[serde(default)]
    index: Option<String>,
}

/// Installs a plugin from the indexes: the index's signature verified, the
/// package's SHA-256, name and version checked against the entry, then the
/// same checks as a package upload (signature policy, component, imports).
/// Hosts over plain http, wildcard domains and bundled names are refused here.
#[utoipa::path(post, path = "/plugin-index/install", tag = "plugins",
    request_body = InstallFromIndex,
    responses((status = 201, description = "Installed", body = PluginSummary),
        (status = 404, description = "No such index, plugin or version (the message lists what exists)", body = ErrorBody),
        (status = 422, description = "Refused: the index, the package or the plugin failed a check", body = ErrorBody),
        (status = 502, description = "An index or package could not be fetched", body = ErrorBody)))]
async fn install_from_index(
    auth: Auth<Admin>,
    State(app): State<App>,
    Json(body): Json<InstallFromIndex>,
) -> Result<(StatusCode, Json<PluginSummary>), ApiError> {
    let spec = match &body.version {
        Some(v) => Spec::parse(&format!("{}@{v}", body.name)),
        None => Spec::parse(&body.name),
    }
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let allow = registry::Allow::default();
    let installed = app
        .install_from_index(
            &spec,
            body.index.as_deref(),
            allow,
            &FetchLimits::default(),
            auth.name(),
        )
        .await;
    match installed {
        Ok(_) => Ok((StatusCode::CREATED, Json(plugins::summary_of(&app, &spec.name).await?))),
        Err(FromIndexError::Registry(e)) => Err(plugins::error(e)),
        Err(FromIndexError::Index(e)) => Err(index_error(e)),
    }
}

fn index_error(e: IndexError) -> ApiError {
    match e {
        IndexError::NoIndexes
        | IndexError::UnknownIndex(_)
        | IndexError::NotFound { .. }
        | IndexError::NoVersion { .. } => ApiError::not_found(e.to_string()),
        IndexError::Invalid(_) => ApiError::bad_request(e.to_string()),
        IndexError::Fetch { .. } => ApiError::new(StatusCode::BAD_GATEWAY, "index-unavailable", e.to_string()),
        IndexError::Db(e) => e.into(),
        _ => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string()),
    }
}
