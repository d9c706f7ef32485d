//! Re-analysis over HTTP: queue a job, follow its progress, compare two
//! versions' labels (the shadow comparison), switch the version insights read.
//! `serve` works queued jobs in the background (crate::reanalysis).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::insights::bindings::{self, BindError, Binding, Signal};
use crate::reanalysis::{self, Comparison, Job, ReanalysisError, Switched};
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Items};
use crate::server::{ApiError, openapi};
use crate::store::now_ms;

/// How long a switch request waits for the rescoring before answering 202.
const SWITCH_WAIT: Duration = Duration::from_secs(20);

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(reanalyze))
        .routes(routes!(compare))
        .routes(routes!(switch))
        .routes(routes!(signal_bindings))
        .routes(routes!(bind_signal, unbind_signal))
        .routes(routes!(compare_binding))
}

/// Which analyzer supplies each signal the insights read.
#[utoipa::path(get, path = "/analyzers/bindings", tag = "analyzers",
    responses((status = 200, description = "One binding per signal", body = Items<Binding>)))]
async fn signal_bindings(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Items<Binding>>, ApiError> {
    let items = bindings::list(app.db()).await.map_err(bind_error)?;
    Ok(Json(Items { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewBinding {
    /// An installed or bundled analyzer plugin.
    #[schema(pattern = "^[a-z0-9-]{1,64}$")]
    analyzer: String,
    /// Where the binding holds: `channel:NAME` or `language:CODE`; absent
    /// or null for everywhere. Per post, a channel's binding comes first,
    /// then its language's, then the one everywhere.
    #[schema(pattern = "^(channel:[^\\u0000-\\u001f]{1,128}|language:[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3})$")]
    #[serde(default)]
    scope: Option<String>,
    /// Bind even when the analyzer has analysed none of the posts the bound
    /// one did (no comparison possible). Default false: such a rebinding is
    /// refused with 409.
    #[serde(default)]
    force: bool,
}

/// Binds a signal to an analyzer; insights read it from the next recompute.
/// A candidate that analysed none of the posts the bound analyzer did is
/// refused (409) unless `force`: compare first.
#[utoipa::path(put, path = "/analyzers/bindings/{signal}", tag = "analyzers",
    params(("signal" = Signal, Path, description = "The signal")), request_body = NewBinding,
    responses((status = 200, description = "The binding now", body = Binding),
        (status = 404, description = "No such signal, analyzer or channel account", body = ErrorBody),
        (status = 409, description = "Not an analyzer, or one that analysed none of the bound analyzer's posts", body = ErrorBody)))]
async fn bind_signal(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(signal): Path<String>,
    Json(new): Json<NewBinding>,
) -> Result<Json<Binding>, ApiError> {
    let bound = bindings::bind(
        app.db(),
        &signal,
        new.scope.as_deref(),
        &new.analyzer,
        auth.name(),
        new.force,
    )
    .await
    .map_err(bind_error)?;
    Ok(Json(bound))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ScopeParam {
    /// The scope whose binding goes: `channel:NAME` or `language:CODE`.
    #[param(pattern = "^(channel:[^\\u0000-\\u001f]{1,128}|language:[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3})$")]
    scope: String,
}

/// Removes a channel's or a language's binding of a signal: its posts read
/// the next binding in line from the next recompute. The binding everywhere
/// can be changed, not removed.
#[utoipa::path(delete, path = "/analyzers/bindings/{signal}", tag = "analyzers",
    params(("signal" = Signal, Path, description = "The signal"), ScopeParam),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "No such signal, or no binding in that scope", body = ErrorBody),
        (status = 409, description = "The binding everywhere (an empty scope) can be changed, not removed", body = ErrorBody)))]
async fn unbind_signal(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(signal): Path<String>,
    Query(q): Query<ScopeParam>,
) -> Result<StatusCode, ApiError> {
    bindings::unbind(app.db(), &signal, &q.scope, auth.name())
        .await
        .map_err(bind_error)?;
    Ok(StatusCode::NO_CONTENT)
}

fn bind_error(e: BindError) -> ApiError {
    match e {
        BindError::Signal(_) | BindError::Analyzer { .. } | BindError::Channel(_) | BindError::NotBound { .. } => {
            ApiError::not_found(e.to_string())
        }
        BindError::Scope(_) => ApiError::bad_request(e.to_string()),
        BindError::NotAnalyzer(_) | BindError::NotCompared { .. } | BindError::Everywhere(_) => {
            ApiError::conflict(e.to_string())
        }
        BindError::Stored { .. } => ApiError::internal("reading the signal bindings", e),
        BindError::Compare(e) => error(*e),
        BindError::Db(e) => e.into(),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct Candidate {
    /// The analyzer that could supply the signal instead.
    #[param(pattern = "^[a-z0-9-]{1,64}$")]
    candidate: String,
    /// Changed posts to show: 0 to 50, default 5.
    #[param(minimum = 0, maximum = 50)]
    examples: Option<i64>,
    /// Compare with the analyzer in effect in this scope (`channel:NAME` or
    /// `language:CODE`); default everywhere.
    #[param(pattern = "^(channel:[^\\u0000-\\u001f]{1,128}|language:[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3})$")]
    scope: Option<String>,
}

/// How a candidate analyzer agrees with the one bound to a signal, over the
/// posts both analysed: what to read before rebinding.
#[utoipa::path(get, path = "/analyzers/bindings/{signal}/compare", tag = "analyzers",
    params(("signal" = Signal, Path, description = "The signal"), Candidate),
    responses((status = 200, description = "The bound analyzer compared with the candidate", body = Comparison),
        (status = 409, description = "The candidate is not an analyzer", body = ErrorBody)))]
async fn compare_binding(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(signal): Path<String>,
    Query(q): Query<Candidate>,
) -> Result<Json<Comparison>, ApiError> {
    let examples = q.examples.unwrap_or(5);
    if !(0..=50).contains(&examples) {
        return Err(ApiError::bad_request("examples must be 0 to 50"));
    }
    let comparison = bindings::compare(app.db(), &signal, q.scope.as_deref(), &q.candidate, examples)
        .await
        .map_err(bind_error)?;
    Ok(Json(comparison))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobFilter {
    /// Only this analyzer's jobs.
    plugin: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// Re-analysis jobs, newest first, with their progress.
#[utoipa::path(get, path = "/analyzers/jobs", tag = "analyzers", params(JobFilter),
    responses((status = 200, description = "The jobs", body = Items<Job>)))]
async fn list_jobs(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(filter): Query<JobFilter>,
) -> Result<Json<Items<Job>>, ApiError> {
    let limit = page::limit(filter.limit)?;
    let items = reanalysis::list(app.db(), filter.plugin.as_deref(), limit)
        .await
        .map_err(error)?;
    Ok(Json(Items { items }))
}

/// One job.
#[utoipa::path(get, path = "/analyzers/jobs/{id}", tag = "analyzers", params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, description = "The job", body = Job)))]
async fn get_job(_auth: Auth<Viewer>, State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Job>, ApiError> {
    Ok(Json(reanalysis::get(app.db(), id).await.map_err(error)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Reanalyze {
    /// The version to run over history; default the active one.
    #[schema(value_type = Option<openapi::SemVer>)]
    version: Option<String>,
}

/// Queues a re-analysis of every stored post with a version of the analyzer.
#[utoipa::path(post, path = "/analyzers/{name}/reanalyze", tag = "analyzers",
    params(("name" = String, Path, description = "Analyzer plugin")), request_body = Reanalyze,
    responses((status = 201, description = "The queued job", body = Job)))]
async fn reanalyze(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
    Json(body): Json<Reanalyze>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let version = body.version.as_deref().map(version).transpose()?;
    let job = reanalysis::start(app.db(), &name, version.as_ref(), auth.name())
        .await
        .map_err(error)?;
    Ok((StatusCode::CREATED, Json(job)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Versions {
    /// The version insights read now, e.g. `0.1.0`.
    from: String,
    /// The candidate, e.g. `0.2.0`.
    to: String,
    /// Changed posts to show: 0 to 50, default 5.
    #[param(minimum = 0, maximum = 50)]
    examples: Option<i64>,
}

/// How the labels of two versions differ on the posts both analysed.
#[utoipa::path(get, path = "/analyzers/{name}/compare", tag = "analyzers",
    params(("name" = String, Path, description = "Analyzer plugin"), Versions),
    responses((status = 200, description = "The comparison", body = Comparison)))]
async fn compare(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(name): Path<String>,
    Query(q): Query<Versions>,
) -> Result<Json<Comparison>, ApiError> {
    let examples = q.examples.unwrap_or(5);
    if !(0..=50).contains(&examples) {
        return Err(ApiError::bad_request("examples must be 0 to 50"));
    }
    let comparison = reanalysis::compare(app.db(), &name, &q.from, &q.to, examples)
        .await
        .map_err(error)?;
    Ok(Json(comparison))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Switch {
    /// The version insights read from now on.
    #[schema(value_type = openapi::SemVer)]
    version: String,
}

/// The switch goes on in the background.
#[derive(Serialize, ToSchema)]
struct Switching {
    status: &'static str,
}

/// Makes a version the one insights read and rescores every post. Answers
/// what changed if that takes under 20 s, else 202 while it goes on.
#[utoipa::path(post, path = "/analyzers/{name}/switch", tag = "analyzers",
    params(("name" = String, Path, description = "Analyzer plugin")), request_body = Switch,
    responses(
        (status = 200, description = "Switched and rescored", body = Switched),
        (status = 202, description = "Switched; rescoring goes on", body = Switching)))]
async fn switch(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
    Json(body): Json<Switch>,
) -> Result<Response, ApiError> {
    let version = version(&body.version)?;
    let (db, actor) = (app.db().clone(), auth.name().to_string());
    // Not tied to the request: a client that stops waiting does not cut the rescoring short.
    let mut task = tokio::spawn(async move { reanalysis::switch(&db, &name, &version, &actor, now_ms()).await });
    Ok(match tokio::time::timeout(SWITCH_WAIT, &mut task).await {
        Ok(joined) => Json(joined.map_err(|e| ApiError::internal("switching", e))?.map_err(error)?).into_response(),
        Err(_) => (StatusCode::ACCEPTED, Json(Switching { status: "rescoring" })).into_response(),
    })
}

fn version(raw: &str) -> Result<semver::Version, ApiError> {
    semver::Version::parse(raw).map_err(|e| ApiError::bad_request(format!("version `{raw}`: {e}")))
}

fn error(e: ReanalysisError) -> ApiError {
    match e {
        ReanalysisError::NoJob(_)
        | ReanalysisError::UnknownVersion { .. }
        | ReanalysisError::Find(_)
        | ReanalysisError::NotAnalyzer(_) => ApiError::not_found(e.to_string()),
        ReanalysisError::NoAnalyses { .. } | ReanalysisError::Disabled(_) | ReanalysisError::Held { .. } => {
            ApiError::conflict(e.to_string())
        }
        ReanalysisError::Db(e) => e.into(),
        other => ApiError::unavailable(other.to_string()),
    }
}
