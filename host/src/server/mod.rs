//! `socialcrm serve`: the HTTP server (health, webhooks, the read API) beside
//! the ingest scheduler. Nodes are stateless: several may share one PostgreSQL.

mod error;
mod hooks;
mod read;
mod replies;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::get;
use tokio::sync::watch;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;

use crate::ingest::{self, Ingest, SchedulerOptions};

/// The largest request body accepted (webhook payloads included).
const MAX_BODY: usize = 1 << 20;

/// Every route of the server.
pub fn router(ingest: Ingest) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(hooks::routes())
        .nest("/api/v1", read::routes().merge(replies::routes()))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(ingest)
}

/// Ready when the database answers.
async fn healthz(State(ingest): State<Ingest>) -> Result<&'static str, ApiError> {
    sqlx::query("SELECT 1").execute(ingest.db().pool()).await?;
    Ok("ok\n")
}

/// Serves on `listener` and runs the scheduler until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ingest: Ingest,
    scheduler: SchedulerOptions,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, node = %scheduler.node, "serving");
    let polling = tokio::spawn(ingest::run(ingest.clone(), scheduler, stop.clone()));
    let mut until_stop = stop;
    axum::serve(listener, router(ingest))
        .with_graceful_shutdown(async move {
            let _ = until_stop.wait_for(|s| *s).await;
        })
        .await?;
    let _ = polling.await;
    Ok(())
}
