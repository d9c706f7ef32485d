//! CSV imports from the existing CRM, as `socialcrm import contacts|transactions`:
//! rows upsert on their `id`, a bad row is reported with its line and the
//! others are imported, then stored authors are matched against the new data.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::crm::identity::{self, IdentityError};
use crate::crm::import::{self, ImportError, ImportReport};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth};
use crate::server::extract::Json;
use crate::store::Db;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(import_contacts))
        .routes(routes!(import_transactions))
}

/// A row not imported.
#[derive(Serialize, ToSchema)]
struct Rejected {
    /// The row's line in the file (the header is line 1).
    line: u64,
    reason: String,
}

/// What an import did.
#[derive(Serialize, ToSchema)]
struct Imported {
    /// Data rows read (the header not counted).
    read: usize,
    created: usize,
    updated: usize,
    unchanged: usize,
    /// In file order.
    rejected: Vec<Rejected>,
    /// Columns the importer does not know (ignored).
    ignored_columns: Vec<String>,
    /// Stored social identities linked to a contact after the import.
    identities_linked: usize,
    /// Links proposed for review (`GET /identity-links?status=proposed`).
    identities_proposed: usize,
}

/// Imports contacts: columns `id` (required), `name`, `email`, `phone`,
/// `website`, `company`, and one per network with the contact's handle there
/// (`mastodon`, `bluesky`, `reddit`, `x`, ...).
#[utoipa::path(post, path = "/imports/contacts", tag = "imports",
    request_body(content = String, content_type = "text/csv", description = "UTF-8 CSV with a header row"),
    responses((status = 200, description = "The import report", body = Imported)))]
async fn import_contacts(
    auth: Auth<Admin>,
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Imported>, ApiError> {
    let csv = csv_body(body)?;
    let report = run(&app, &auth, async move |db, actor| {
        import::contacts_as(&db, &csv[..], &|_| {}, &actor).await
    })
    .await?;
    imported(&app, report).await
}

/// Imports transactions of existing contacts: columns `id`, `contact_id`,
/// `kind`, `occurred_at` (required), `amount`, `currency`, `reference`, `product`.
#[utoipa::path(post, path = "/imports/transactions", tag = "imports",
    request_body(content = String, content_type = "text/csv", description = "UTF-8 CSV with a header row"),
    responses((status = 200, description = "The import report", body = Imported)))]
async fn import_transactions(
    auth: Auth<Admin>,
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Imported>, ApiError> {
    let csv = csv_body(body)?;
    let report = run(&app, &auth, async move |db, actor| {
        import::transactions_as(&db, &csv[..], &|_| {}, &actor).await
    })
    .await?;
    imported(&app, report).await
}

/// The body, refused whole when it is empty or not UTF-8 (rather than a
/// rejection on every row).
fn csv_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    let body = body?;
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the CSV is not UTF-8 (byte {}); save it as UTF-8 and try again",
            e.valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "the CSV is empty: send a header row and data rows",
        ));
    }
    Ok(body)
}

/// Runs an import on a blocking thread: the importer's future is not `Send`,
/// and an import the client stops waiting for still finishes.
async fn run(
    app: &App,
    auth: &Auth<Admin>,
    import: impl AsyncFnOnce(Db, String) -> Result<ImportReport, ImportError> + Send + 'static,
) -> Result<ImportReport, ApiError> {
    let (db, actor) = (app.db().clone(), auth.name().to_string());
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(import(db, actor)))
        .await
        .map_err(|e| ApiError::internal("the import", e))?
        .map_err(error)
}

/// Links stored authors to what was imported, as the CLI does after an import.
async fn imported(app: &App, report: ImportReport) -> Result<Json<Imported>, ApiError> {
    let linked = identity::catch_up(app.db()).await.map_err(|e| match e {
        IdentityError::Db(e) => e.into(),
        e => ApiError::internal("matching identities", e),
    })?;
    Ok(Json(Imported {
        read: report.read,
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        rejected: report
            .rejected
            .into_iter()
            .map(|(line, reason)| Rejected { line, reason })
            .collect(),
        ignored_columns: report.ignored_columns,
        identities_linked: linked.confirmed,
        identities_proposed: linked.proposed,
    }))
}

fn error(e: ImportError) -> ApiError {
    match e {
        ImportError::Csv(_) | ImportError::MissingColumn(_) => ApiError::bad_request(e.to_string()),
        ImportError::Db(e) => e.into(),
    }
}
