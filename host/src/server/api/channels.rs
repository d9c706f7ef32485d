//! Channel accounts: list, add (checked by the plugin first), sync now, remove.
//!
//! Over the API an account never reaches loopback or private addresses
//! (`allow_private` is false): an admin who needs a local server adds it with
//! `socialcrm channel add --allow-private`. And `plugin` names an installed or
//! bundled plugin, never a path on the server.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::channels::{self, ChannelError, ChannelSummary, NewChannel};
use crate::credentials::RefreshError;
use crate::ingest::lease::LeaseError;
use crate::ingest::{AccountError, CommitError, IngestError, SyncReport};
use crate::plugins::registry::{FindError, RegistryError};
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path};
use crate::server::{ApiError, openapi};
use crate::store::audit;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, add_channel))
        .routes(routes!(remove_channel))
        .routes(routes!(sync_channel))
}

/// How long a sync request waits for the sync before answering 202 (under
/// the server's 30 s request timeout).
const SYNC_WAIT: Duration = Duration::from_secs(20);

#[derive(Serialize, ToSchema)]
struct Channels {
    items: Vec<ChannelSummary>,
}

/// Every channel account with its status, last error and post count.
#[utoipa::path(get, path = "/channels", tag = "channels",
    responses((status = 200, description = "The accounts, by name", body = Channels)))]
async fn list_channels(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Channels>, ApiError> {
    let items = channels::list(app.db()).await.map_err(error)?;
    Ok(Json(Channels { items }))
}

/// A channel account to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddChannel {
    /// An installed or bundled channel plugin's name.
    #[schema(pattern = "^[a-z0-9-]{1,64}$")]
    plugin: String,
    /// The account's name: unique, used in `/hooks/{name}` and the inbox.
    #[schema(value_type = openapi::NonBlank)]
    name: String,
    /// Configuration fields the plugin declares, e.g. `{"instance": "https://mastodon.social"}`
    /// (`GET /plugins/{name}` lists them); a missing or unknown one is a 400 naming it.
    #[serde(default)]
    config: BTreeMap<String, String>,
    /// Secret fields: stored encrypted, never shown again, never given to the plugin.
    #[serde(default)]
    secrets: BTreeMap<String, String>,
}

/// Adds an account once the plugin's `check` accepts its configuration and
/// credentials. Loopback and private addresses are not reachable from it.
#[utoipa::path(post, path = "/channels", tag = "channels", request_body = AddChannel,
    responses((status = 201, description = "Added (secrets are not echoed)", body = ChannelSummary),
        (status = 404, description = "No channel plugin of that name", body = ErrorBody)))]
async fn add_channel(
    auth: Auth<Admin>,
    State(app): State<App>,
    Json(body): Json<AddChannel>,
) -> Result<(StatusCode, Json<ChannelSummary>), ApiError> {
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("`name` must not be empty"));
    }
    let is_name = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !is_name(&body.plugin) {
        return Err(ApiError::bad_request(format!(
            "`plugin` must be an installed or bundled plugin's name, not `{}`",
            body.plugin
        )));
    }
    let new = NewChannel {
        name: body.name.clone(),
        plugin: body.plugin,
        config: body.config,
        secrets: body.secrets,
        allow_private: false,
    };
    channels::add_as(app.db(), app.secret_box(), app.ingest(), new, auth.name())
        .await
        .map_err(error)?;
    let added = channels::list(app.db())
        .await
        .map_err(error)?
        .into_iter()
        .find(|c| c.name == body.name)
        .ok_or_else(|| ApiError::not_found(format!("channel `{}` was removed meanwhile", body.name)))?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Removes an account with its posts and replies.
#[utoipa::path(delete, path = "/channels/{name}", tag = "channels",
    params(("name" = String, Path, description = "Channel account name")),
    responses((status = 204, description = "Removed")))]
async fn remove_channel(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    channels::remove_as(app.db(), &name, auth.name()).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a finished sync stored.
#[derive(Serialize, ToSchema)]
struct Synced {
    pages: usize,
    new_posts: usize,
    /// Posts already stored (fetched again).
    duplicates: usize,
    /// The network still had pages; the scheduler goes on at once.
    behind: bool,
}

impl From<SyncReport> for Synced {
    fn from(r: SyncReport) -> Synced {
        Synced {
            pages: r.pages,
            new_posts: r.new_posts,
            duplicates: r.duplicates,
            behind: r.behind,
        }
    }
}

/// A sync still running when the request stopped waiting.
#[derive(Serialize, ToSchema)]
struct SyncRunning {
    /// Always `running`; see `GET /channels` for the outcome.
    status: &'static str,
}

/// Catches the account up now, as `socialcrm channel sync` does: polls until
/// the network has nothing more, committing page by page, then analyses what
/// is new. Answers the report if that takes under 20 s, else 202 while the
/// sync goes on in the background.
#[utoipa::path(post, path = "/channels/{name}/sync", tag = "channels",
    params(("name" = String, Path, description = "Channel account name")),
    responses(
        (status = 200, description = "The sync finished", body = Synced),
        (status = 202, description = "The sync goes on in the background", body = SyncRunning),
        (status = 409, description = "The account is being synced already, or its plugin is disabled or missing"),
    ))]
async fn sync_channel(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    // Unique per request: a lease is re-entrant for its owner.
    static SYNCS: AtomicU64 = AtomicU64::new(0);
    let owner = format!(
        "api:{}:{}:{}",
        auth.name(),
        std::process::id(),
        SYNCS.fetch_add(1, Ordering::Relaxed)
    );
    // Not tied to the request: a client that stops waiting does not cut a sync short.
    let mut task = tokio::spawn({
        let (ingest, name) = (app.ingest().clone(), name.clone());
        async move {
            let report = ingest.sync_now(&name, &owner, &|_| {}).await?;
            // Posts an interrupted earlier sync committed may still lack their analyses.
            if let Err(e) = ingest.catch_up_analysis().await {
                tracing::warn!(channel = %name, error = %e, "analysing after a sync");
            }
            Ok::<_, IngestError>(report)
        }
    });
    let synced = match tokio::time::timeout(SYNC_WAIT, &mut task).await {
        Ok(joined) => Some(
            joined
                .map_err(|e| ApiError::internal("the sync", e))?
                .map_err(ingest_error)?,
        ),
        Err(_) => None,
    };
    audit(
        app.db().pool(),
        auth.name(),
        "channel.sync",
        &name,
        &synced.as_ref().map_or(
            json!({"finished": false}),
            |r| json!({"finished": true, "pages": r.pages, "new_posts": r.new_posts}),
        ),
    )
    .await?;
    Ok(match synced {
        Some(report) => Json(Synced::from(report)).into_response(),
        None => (StatusCode::ACCEPTED, Json(SyncRunning { status: "running" })).into_response(),
    })
}

fn error(e: ChannelError) -> ApiError {
    match e {
        ChannelError::Plugin(e @ (IngestError::Find(FindError::Resolve(_)) | IngestError::NotChannel(_))) => {
            ApiError::not_found(e.to_string())
        }
        ChannelError::Plugin(e) => ingest_error(e),
        ChannelError::Config(_) => ApiError::bad_request(e.to_string()),
        ChannelError::Exists(_) => ApiError::conflict(e.to_string()),
        ChannelError::Unknown(_) => ApiError::not_found(e.to_string()),
        ChannelError::Check(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string()),
        ChannelError::Join(_) | ChannelError::Secret(_) => ApiError::internal("adding the channel", e),
        ChannelError::Db(e) => e.into(),
    }
}

/// A plugin that cannot be had is the caller's to fix (409); a network or
/// plugin failing now is 503.
fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Db(e)
        | IngestError::Lease(LeaseError::Db(e))
        | IngestError::Account(AccountError::Db(e))
        | IngestError::Commit(CommitError::Db(e))
        | IngestError::Find(FindError::Registry(RegistryError::Db(e))) => e.into(),
        IngestError::Lease(LeaseError::Unknown { .. }) | IngestError::Account(AccountError::Unknown(_)) => {
            ApiError::not_found(e.to_string())
        }
        IngestError::Lease(LeaseError::Held { .. })
        | IngestError::LeaseLost(_)
        | IngestError::Commit(CommitError::LeaseLost(_))
        | IngestError::Find(_)
        | IngestError::Load(_)
        | IngestError::NotChannel(_)
        | IngestError::NotSource(_)
        | IngestError::Refresh(RefreshError::Refused(_)) => ApiError::conflict(e.to_string()),
        IngestError::Account(AccountError::Secret(_)) => ApiError::internal("opening the account's secrets", e),
        IngestError::Call(_) | IngestError::Commit(_) | IngestError::Join(_) | IngestError::Refresh(_) => {
            ApiError::unavailable(e.to_string())
        }
    }
}
