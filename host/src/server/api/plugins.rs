//! Installed plugins and their lifecycle: install and upgrade from a `.scpkg`
//! body, approval of an upgrade that widens permissions, rollback, enable,
//! disable, remove. The signature policy applies exactly as for
//! `socialcrm plugin install`; a refused package is a 4xx.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::egress::{self, EgressEntry};
use crate::plugins::registry::{self, Installed, RegistryError};
use crate::plugins::trust::TrustError;
use crate::plugins::{ConfigFieldSpec, Package, PackageError, Permissions, PluginKind, world_wit};
use crate::runtime::WIT_VERSION;
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Page};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins, install_plugin))
        .routes(routes!(inspect_plugin, remove_plugin))
        .routes(routes!(upgrade_plugin))
        .routes(routes!(approve_plugin))
        .routes(routes!(plugin_egress))
        .routes(routes!(rollback_plugin))
        .routes(routes!(enable_plugin))
        .routes(routes!(disable_plugin))
}

/// An installed plugin: its active version and every version kept.
#[derive(Serialize, ToSchema)]
pub(super) struct PluginSummary {
    name: String,
    kind: PluginKind,
    /// The network a channel plugin connects to.
    network: Option<String>,
    description: String,
    /// The active version.
    version: String,
    /// A disabled plugin's channels are not polled and its analyses not run.
    enabled: bool,
    /// `KEY_ID (NAME)` of the trusted key that signed the active version; null if unsigned.
    signer: Option<String>,
    /// Every installed version, newest first.
    versions: Vec<PluginVersion>,
}

/// One installed version.
#[derive(Serialize, ToSchema)]
struct PluginVersion {
    version: String,
    active: bool,
    /// SHA-256 of the component.
    digest: String,
    /// What a signature signs.
    package_digest: String,
    signer: Option<String>,
    installed_at: i64,
    /// The token (or CLI user) that installed it.
    installed_by: String,
    /// What this version may do beyond the active one, waiting for an
    /// admin's approval (`POST /plugins/{name}/versions/{version}/approve`);
    /// empty once granted.
    awaiting_approval: Vec<String>,
}

/// An installed plugin in full, as `socialcrm plugin inspect` shows it.
#[derive(Serialize, ToSchema)]
struct PluginDetail {
    #[serde(flatten)]
    summary: PluginSummary,
    /// The range of `socialcrm:plugin` WIT versions the active version was built for.
    api: String,
    /// The `socialcrm:plugin` WIT version this host provides.
    host_wit_version: &'static str,
    /// Origins the plugin may call (config fields in braces).
    allowed_hosts: Vec<String>,
    /// The limits the plugin asks for; the host's maximums still apply.
    #[schema(value_type = Object)]
    limits: Value,
    /// What the active version may do, as an admin consented to it.
    permissions: Permissions,
    /// The configuration fields a channel account has.
    config: Vec<ConfigFieldSpec>,
    /// `plugin.toml` of the active version, as packaged.
    manifest: String,
    /// The component's imports and exports as WIT; null if it cannot be decoded.
    world: Option<String>,
}

fn summary(versions: &[Installed]) -> Result<PluginSummary, ApiError> {
    let active = versions
        .iter()
        .find(|p| p.active)
        .or(versions.first())
        .ok_or_else(|| ApiError::internal("listing plugins", "a plugin without versions"))?;
    let m = &active.manifest;
    Ok(PluginSummary {
        name: m.name.clone(),
        kind: m.kind,
        network: m.network.clone(),
        description: m.description.clone(),
        version: m.version.to_string(),
        enabled: active.enabled,
        signer: active.signer.clone(),
        versions: versions
            .iter()
            .map(|p| PluginVersion {
                version: p.manifest.version.to_string(),
                active: p.active,
                digest: p.digest.clone(),
                package_digest: p.package_digest.clone(),
                signer: p.signer.clone(),
                installed_at: p.installed_at,
                installed_by: p.installed_by.clone(),
                awaiting_approval: p.awaiting_approval.clone(),
            })
            .collect(),
    })
}

pub(super) async fn summary_of(app: &App, name: &str) -> Result<PluginSummary, ApiError> {
    summary(&registry::versions(app.db(), name).await.map_err(error)?)
}

#[derive(Serialize, ToSchema)]
struct Plugins {
    items: Vec<PluginSummary>,
}

/// Every installed plugin.
#[utoipa::path(get, path = "/plugins", tag = "plugins",
    responses((status = 200, description = "The installed plugins, by name", body = Plugins)))]
async fn list_plugins(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Plugins>, ApiError> {
    let all = registry::list(app.db()).await.map_err(error)?;
    // `list` is sorted by name, so each plugin's versions are adjacent.
    let items = all
        .chunk_by(|a, b| a.manifest.name == b.manifest.name)
        .map(summary)
        .collect::<Result<_, _>>()?;
    Ok(Json(Plugins { items }))
}

/// One installed plugin: manifest, allowed hosts, limits, WIT, every version.
#[utoipa::path(get, path = "/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 200, description = "The plugin", body = PluginDetail)))]
async fn inspect_plugin(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<PluginDetail>, ApiError> {
    let versions = registry::versions(app.db(), &name).await.map_err(error)?;
    let (active, wasm) = registry::active(app.db(), &name)
        .await
        .map_err(error)?
        .ok_or_else(|| RegistryError::NotInstalled(name.clone()))
        .map_err(error)?;
    let world = world_wit(&wasm)
        .inspect_err(|e| tracing::warn!(plugin = %name, error = %e, "cannot decode the component"))
        .ok();
    let m = active.manifest;
    let permissions = Permissions::of(&m);
    Ok(Json(PluginDetail {
        summary: summary(&versions)?,
        api: m.api.to_string(),
        host_wit_version: WIT_VERSION,
        allowed_hosts: m.allowed_hosts,
        permissions,
        limits: serde_json::to_value(m.limits).unwrap_or(Value::Null),
        config: m.config,
        manifest: active.manifest_text,
        world,
    }))
}

/// A `.scpkg` body as the document describes it: a binary string, not the
/// array of integers `Vec<u8>` would be (the handlers take `Bytes`).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
struct PackageFile(());

/// The package in a request body.
fn package(body: Result<Bytes, BytesRejection>) -> Result<Package, ApiError> {
    let body = body?;
    Package::from_reader("the request body", &body[..]).map_err(|e| match e {
        PackageError::TooLarge { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", e.to_string()),
        PackageError::Manifest { .. } => refused(e),
        _ => ApiError::bad_request(e.to_string()),
    })
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InstallQuery {
    /// Install under a bundled plugin's name, replacing the bundled plugin
    /// for every account that uses that name (409 without it).
    #[serde(default)]
    replace_bundled: bool,
    /// Allow hosts over plain http or a wildcard over a whole domain (422 without it).
    #[serde(default)]
    allow_wide_hosts: bool,
}

/// Installs a plugin not installed yet (active and enabled).
#[utoipa::path(post, path = "/plugins", tag = "plugins", params(InstallQuery),
    request_body(content = PackageFile, content_type = "application/octet-stream",
        description = "A `.scpkg` package (as `socialcrm plugin pack` writes it)"),
    responses((status = 201, description = "Installed", body = PluginSummary)))]
async fn install_plugin(
    auth: Auth<Admin>,
    State(app): State<App>,
    Query(q): Query<InstallQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PluginSummary>), ApiError> {
    let package = package(body)?;
    let name = package.manifest.name.clone();
    let allow = registry::Allow {
        replace_bundled: q.replace_bundled,
        wide_hosts: q.allow_wide_hosts,
    };
    app.install_plugin(&package, allow, auth.name()).await.map_err(error)?;
    Ok((StatusCode::CREATED, Json(summary_of(&app, &name).await?)))
}

/// Installs a newer version and makes it active once its `check` passes on
/// every channel account using it; the previous version is kept. A version
/// that may do more than the active one (hosts, secrets, credential, limits,
/// webhook bodies, signer) is stored awaiting approval instead (202), and the
/// active version keeps running.
#[utoipa::path(post, path = "/plugins/{name}/upgrade", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name; the package must be this plugin")),
    request_body(content = PackageFile, content_type = "application/octet-stream",
        description = "A `.scpkg` package of a newer version"),
    responses((status = 200, description = "Upgraded", body = PluginSummary),
        (status = 202, description = "Stored, awaiting approval of what it widens (see `versions[].awaiting_approval`)",
            body = PluginSummary)))]
async fn upgrade_plugin(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PluginSummary>), ApiError> {
    let package = package(body)?;
    if package.manifest.name != name {
        return Err(ApiError::bad_request(format!(
            "the package is plugin `{}`, not `{name}`",
            package.manifest.name
        )));
    }
    let upgraded = app.upgrade_plugin(&package, auth.name()).await.map_err(error)?;
    let status = if upgraded.active {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(summary_of(&app, &name).await?)))
}

/// Grants what a version awaiting approval may do beyond the active one and
/// makes it active, once its `check` passes on every channel account.
#[utoipa::path(post, path = "/plugins/{name}/versions/{version}/approve", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name"),
        ("version" = String, Path, description = "The version awaiting approval")),
    responses((status = 200, description = "Approved and active", body = PluginSummary),
        (status = 409, description = "That version is not awaiting approval", body = ErrorBody)))]
async fn approve_plugin(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PluginSummary>, ApiError> {
    app.approve_plugin(&name, &version, auth.name()).await.map_err(error)?;
    Ok(Json(summary_of(&app, &name).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EgressQuery {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The plugin's outgoing requests, newest first (refused ones included),
/// as long as the retention keeps them (30 days).
#[utoipa::path(get, path = "/plugins/{name}/egress", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name"), EgressQuery),
    responses((status = 200, description = "A page of requests", body = Page<EgressEntry>)))]
async fn plugin_egress(
    _auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
    Query(q): Query<EgressQuery>,
) -> Result<Json<Page<EgressEntry>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let before: i64 = page::decode(q.cursor.as_deref())?.unwrap_or(i64::MAX);
    let items = egress::list(app.db(), &name, limit, before).await?;
    Ok(Json(Page::of(items, limit, |e| e.id)))
}

/// Makes the version active before the current one active again.
#[utoipa::path(post, path = "/plugins/{name}/rollback", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 200, description = "Rolled back", body = PluginSummary),
        (status = 409, description = "No earlier version to roll back to", body = ErrorBody)))]
async fn rollback_plugin(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<PluginSummary>, ApiError> {
    registry::rollback(app.db(), &name, auth.name()).await.map_err(error)?;
    Ok(Json(summary_of(&app, &name).await?))
}

/// Lets a disabled plugin's channels and analyses run again.
#[utoipa::path(post, path = "/plugins/{name}/enable", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 200, description = "Enabled", body = PluginSummary)))]
async fn enable_plugin(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<PluginSummary>, ApiError> {
    set_enabled(&app, &name, true, auth.name()).await
}

/// Stops polling the plugin's channels and running its analyses.
#[utoipa::path(post, path = "/plugins/{name}/disable", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 200, description = "Disabled", body = PluginSummary)))]
async fn disable_plugin(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<PluginSummary>, ApiError> {
    set_enabled(&app, &name, false, auth.name()).await
}

async fn set_enabled(app: &App, name: &str, enabled: bool, actor: &str) -> Result<Json<PluginSummary>, ApiError> {
    registry::set_enabled(app.db(), name, enabled, actor)
        .await
        .map_err(error)?;
    Ok(Json(summary_of(app, name).await?))
}

/// Removes every version of a plugin no channel uses.
#[utoipa::path(delete, path = "/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 204, description = "Removed"),
        (status = 409, description = "Channel accounts still use the plugin", body = ErrorBody)))]
async fn remove_plugin(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    registry::remove(app.db(), &name, auth.name()).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A package that is well formed but not acceptable here.
fn refused(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string())
}

pub(super) fn error(e: RegistryError) -> ApiError {
    match e {
        RegistryError::NotInstalled(_) => ApiError::not_found(e.to_string()),
        RegistryError::Exists { .. }
        | RegistryError::Installed { .. }
        | RegistryError::NotNewer { .. }
        | RegistryError::NoPrevious { .. }
        | RegistryError::InUse { .. }
        | RegistryError::KindChanged { .. }
        | RegistryError::Tampered { .. }
        | RegistryError::BundledName { .. }
        | RegistryError::NotAwaiting { .. } => ApiError::conflict(e.to_string()),
        RegistryError::Db(e) | RegistryError::Trust(TrustError::Db(e)) => e.into(),
        RegistryError::Trust(_)
        | RegistryError::Load(_)
        | RegistryError::Describe(_)
        | RegistryError::Check { .. }
        | RegistryError::WideHosts { .. } => refused(e),
    }
}
