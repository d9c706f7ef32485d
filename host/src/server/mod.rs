//! `socialcrm serve`: the HTTP server (health, webhooks, the JSON API and its
//! OpenAPI document) beside the ingest scheduler. Nodes are stateless: several
//! may share one PostgreSQL.

mod api;
mod auth;
mod deletions;
mod error;
pub(crate) mod extract;
mod hooks;
mod nul;
pub(crate) mod openapi;
pub(crate) mod page;
mod sso;
mod ui;
mod verify;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;

use crate::app::App;
use crate::ingest::{self, SchedulerOptions};

/// The largest request body accepted (plugin packages and CSV imports included).
const MAX_BODY: usize = 32 << 20;

/// The API's routes and the OpenAPI document that describes them.
fn api() -> (Router<App>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", api::routes())
        .split_for_parts();
    openapi::finish(&mut doc);
    (router.layer(axum::middleware::from_fn(nul::refuse)), doc)
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// Every route of the server.
pub fn router(app: App) -> Router {
    crate::metrics::handle();
    let (api, doc) = api();
    let document = Arc::new(doc.to_pretty_json().unwrap_or_default());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document.to_string()) }),
        )
        .merge(hooks::routes())
        .merge(api)
        .merge(ui::routes())
        .merge(sso::routes())
        .merge(verify::routes())
        .merge(deletions::routes())
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(error::panicked))
        .layer(axum::middleware::map_response(finish_response))
        .with_state(app)
}

/// Ready when the database answers.
async fn healthz(State(app): State<App>) -> Result<impl IntoResponse, ApiError> {
    app.db().ping().await?;
    Ok("ok\n")
}

/// Prometheus text format: see crate::metrics for what is recorded.
async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}

/// Counts every response; gives the timeout's bare 408 the error body.
async fn finish_response(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    metrics::counter!(crate::metrics::HTTP_RESPONSES, "status" => status.as_u16().to_string()).increment(1);
    if status == StatusCode::REQUEST_TIMEOUT && !response.headers().contains_key(header::CONTENT_TYPE) {
        return ApiError::new(status, "timeout", "the request took too long").into_response();
    }
    response
}

/// Serves on `listener` and runs the scheduler until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    scheduler: SchedulerOptions,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, node = %scheduler.node, "serving");
    let polling = tokio::spawn(ingest::run(app.ingest().clone(), scheduler, stop.clone()));
    let mut until_stop = stop;
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async move {
            let _ = until_stop.wait_for(|s| *s).await;
        })
        .await?;
    let _ = polling.await;
    Ok(())
}
