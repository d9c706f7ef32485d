//! Data-subject rights (docs/privacy.md): what is held about a person, its
//! export, its erasure and the erasures' receipts. Admin only.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::privacy::{self, PrivacyError, Start, Subject, erase, export, holdings};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path, Query};
use crate::server::page::Items;
use crate::store::erasures::{self, Erasure};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(show_subject))
        .routes(routes!(export_subject))
        .routes(routes!(erase_subject))
        .routes(routes!(list_erasures))
        .routes(routes!(get_erasure))
}

/// Which subject, in the query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Which {
    /// `contact:ID`, `identity:ID`, `contact-external:EXTERNAL_ID` or
    /// `handle:NETWORK:HANDLE` (e.g. `handle:mastodon:maya@demo.social`).
    #[param(value_type = SubjectText)]
    subject: String,
}

/// A subject's text form: a schema only ([`privacy::START_PATTERN`]).
struct SubjectText;

impl utoipa::PartialSchema for SubjectText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(privacy::START_PATTERN))
            .examples(["contact:42", "handle:mastodon:maya@demo.social"])
            .into()
    }
}

impl ToSchema for SubjectText {}

/// The subject `text` names (see [`privacy::START_PATTERN`]).
async fn find(app: &App, text: &str) -> Result<Subject, ApiError> {
    let start = Start::parse(text).ok_or_else(|| {
        ApiError::bad_request("subject takes contact:ID, identity:ID, contact-external:ID or handle:NETWORK:HANDLE")
    })?;
    privacy::find(app.db(), &start).await.map_err(error)
}

fn error(e: PrivacyError) -> ApiError {
    match e {
        PrivacyError::NotFound(_) | PrivacyError::NoErasure(_) => ApiError::not_found(e.to_string()),
        PrivacyError::Db(e) => e.into(),
        e => ApiError::internal("data-subject request", e),
    }
}

/// What is held about a subject.
#[derive(Serialize, ToSchema)]
struct Held {
    contacts: Vec<i64>,
    identities: Vec<i64>,
    /// Rows per kind (table, or `plugin_data`).
    counts: std::collections::BTreeMap<String, usize>,
}

/// What is held about a subject: its contacts and identities (joined by
/// confirmed links) and the rows per kind.
#[utoipa::path(get, path = "/subjects", tag = "privacy", params(Which),
    responses((status = 200, description = "The subject's holdings", body = Held),
        (status = 404, description = "No contact or identity matches", body = ErrorBody)))]
async fn show_subject(
    _auth: Auth<Admin>,
    State(app): State<App>,
    Query(which): Query<Which>,
) -> Result<Json<Held>, ApiError> {
    let subject = find(&app, &which.subject).await?;
    let held = holdings::holdings(app.db(), &subject).await.map_err(error)?;
    Ok(Json(Held {
        contacts: subject.ids.contacts,
        identities: subject.ids.identities,
        counts: held.counts(),
    }))
}

/// The archive: a tar of JSON and CSV files, a manifest and a README.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
struct Archive(());

/// Everything held about a subject as one archive. Audited.
#[utoipa::path(get, path = "/subjects/export", tag = "privacy", params(Which),
    responses((status = 200, description = "The archive", content_type = "application/x-tar", body = Archive),
        (status = 404, description = "No contact or identity matches", body = ErrorBody)))]
async fn export_subject(
    auth: Auth<Admin>,
    State(app): State<App>,
    Query(which): Query<Which>,
) -> Result<impl IntoResponse, ApiError> {
    let subject = find(&app, &which.subject).await?;
    let held = holdings::holdings(app.db(), &subject).await.map_err(error)?;
    let mut archive = Vec::new();
    export::export(app.db(), &subject, &held, auth.name(), &mut archive)
        .await
        .map_err(error)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"subject-export.tar\"",
            ),
        ],
        archive,
    ))
}

/// An erasure request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EraseRequest {
    /// As the `subject` of `GET /subjects`.
    #[schema(value_type = SubjectText)]
    subject: String,
    /// Keep the transactions, anonymised, for accounting.
    #[serde(default)]
    keep_transactions: bool,
    /// Never store this person's posts again (keyed hashes, never the handle).
    #[serde(default)]
    do_not_track: bool,
}

/// Erases a subject everywhere: answers with the receipt at once, the
/// erasure runs on (its status at `/erasures/{receipt}`).
#[utoipa::path(post, path = "/subjects/erase", tag = "privacy", request_body = EraseRequest,
    responses((status = 202, description = "Erasing; the receipt", body = Erasure),
        (status = 404, description = "No contact or identity matches", body = ErrorBody)))]
async fn erase_subject(
    auth: Auth<Admin>,
    State(app): State<App>,
    Json(request): Json<EraseRequest>,
) -> Result<(StatusCode, Json<Erasure>), ApiError> {
    let options = erase::Options {
        keep_transactions: request.keep_transactions,
        do_not_track: request.do_not_track,
    };
    let subject = find(&app, &request.subject).await?;
    let db = app.db().clone();
    let receipt = erase::start(&db, app.secret_box(), &subject, options, auth.name())
        .await
        .map_err(error)?;
    let stored = erasures::by_receipt(&db, &receipt)
        .await?
        .ok_or_else(|| error(PrivacyError::NoErasure(receipt.clone())))?;
    let app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = erase::resume(&db, Some(app.ingest())).await {
            tracing::error!(error = %e, "erasure stopped; `socialcrm subject erasures` or the next request resumes it");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(stored)))
}

/// The newest erasures (receipts: who, when, rows per kind; never whom).
#[utoipa::path(get, path = "/erasures", tag = "privacy",
    responses((status = 200, description = "Erasures, newest first", body = Items<Erasure>)))]
async fn list_erasures(_auth: Auth<Admin>, State(app): State<App>) -> Result<Json<Items<Erasure>>, ApiError> {
    Ok(Json(Items {
        items: erasures::list(app.db(), 100).await?,
    }))
}

/// One erasure by its receipt.
#[utoipa::path(get, path = "/erasures/{receipt}", tag = "privacy",
    params(("receipt" = String, Path, description = "The erasure's receipt")),
    responses((status = 200, description = "The erasure", body = Erasure),
        (status = 404, description = "No erasure has this receipt", body = ErrorBody)))]
async fn get_erasure(
    _auth: Auth<Admin>,
    State(app): State<App>,
    Path(receipt): Path<String>,
) -> Result<Json<Erasure>, ApiError> {
    erasures::by_receipt(app.db(), &receipt)
        .await?
        .map(Json)
        .ok_or_else(|| error(PrivacyError::NoErasure(receipt)))
}
