//! CSV imports from the existing CRM, as `socialcrm import contacts|transactions`:
//! the file's encoding, delimiter and header are detected, a mapping (saved,
//! a preset, `SOURCE=TARGET` pairs, or the best fit of the file's columns)
//! says which column fills which field, rows upsert on their id, a bad row is
//! reported with its line and the others are imported (or, dry, counted),
//! then stored authors are matched against the new data. docs/imports.md.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::crm::identity::{self, IdentityError};
use crate::crm::import::dates::DateOrder;
use crate::crm::import::presets::{self, Fit};
use crate::crm::import::saved::{self, SavedMapping};
use crate::crm::import::{self, Format, ImportError, ImportReport, Kind, Mapping, Request, Table, detect};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path, Query};
use crate::server::page::Items;

/// Sample rows a detection returns.
const SAMPLE_ROWS: usize = 5;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(import_contacts))
        .routes(routes!(import_transactions))
        .routes(routes!(detect_file))
        .routes(routes!(list_presets))
        .routes(routes!(list_mappings))
        .routes(routes!(save_mapping, remove_mapping))
}

/// A CSV body as the document describes it: bytes (a binary string), since
/// UTF-16 and Windows-1252 files are read too (the handlers take `Bytes`).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
struct CsvFile(());

/// A row not imported.
#[derive(Serialize, ToSchema)]
struct Rejected {
    /// The row's line in the file (the header is line 1).
    line: u64,
    reason: String,
}

/// What an import did (or, dry, would do).
#[derive(Serialize, ToSchema)]
struct Imported {
    /// Data rows read (the header not counted).
    read: usize,
    created: usize,
    updated: usize,
    unchanged: usize,
    /// In file order.
    rejected: Vec<Rejected>,
    /// Columns no field reads (ignored).
    ignored_columns: Vec<String>,
    /// How the file was read.
    format: Format,
    /// The mapping the file's columns chose when none was given: a preset's
    /// name, or `socialcrm` for socialcrm's own columns.
    chosen_mapping: Option<String>,
    /// Nothing was written.
    dry_run: bool,
    /// Stored social identities linked to a contact after the import.
    identities_linked: usize,
    /// Links proposed for review (`GET /identity-links?status=proposed`).
    identities_proposed: usize,
}

/// How to map the file. Each parameter may be left out.
#[derive(Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// A saved mapping's or a preset's name (`hubspot`, `salesforce`, `shopify`);
    /// left out, the file's columns choose among socialcrm's own and the presets.
    mapping: Option<String>,
    /// `SOURCE=TARGET`, repeated: the column that fills a field, over the
    /// mapping (`First Name+Last Name=name` joins two columns).
    map: Option<Vec<String>>,
    /// How `03/04/2024` reads: `mdy` or `dmy`.
    dates: Option<DateOrder>,
    /// The currency of transactions whose row gives none (ISO 4217).
    default_currency: Option<String>,
    /// The kind of transactions whose row gives none.
    default_kind: Option<String>,
    /// Count what would change, write nothing.
    dry_run: Option<bool>,
}

impl ImportParams {
    /// Read by hand: `map` repeats, which the query deserializer does not take.
    fn parse(query: Option<&str>) -> Result<ImportParams, ApiError> {
        let mut p = ImportParams::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                // A form's empty choice: no mapping named.
                "mapping" if value.is_empty() => {}
                "mapping" => p.mapping = Some(value),
                "map" => p.map.get_or_insert_default().push(value),
                "dates" => p.dates = Some(value.parse().map_err(ApiError::bad_request)?),
                "default_currency" => p.default_currency = Some(value),
                "default_kind" => p.default_kind = Some(value),
                "dry_run" => {
                    let dry = value
                        .parse()
                        .map_err(|_| ApiError::bad_request(format!("`dry_run` `{value}` is neither true nor false")))?;
                    p.dry_run = Some(dry);
                }
                _ => {}
            }
        }
        Ok(p)
    }

    fn request(self) -> Request {
        Request {
            mapping: self.mapping,
            map: self.map.unwrap_or_default(),
            dates: self.dates,
            currency: self.default_currency,
            kind: self.default_kind,
        }
    }
}

/// Imports contacts: fields `id` (required), `name`, `email`, `phone`,
/// `website`, `company`, and one per network with the contact's handle there
/// (`mastodon`, `bluesky`, `reddit`, `x`, ...), read from the columns the
/// mapping names (docs/imports.md).
#[utoipa::path(post, path = "/imports/contacts", tag = "imports", params(ImportParams),
    request_body(content = CsvFile, content_type = "text/csv", description = "CSV with a header row: UTF-8 (with or without BOM), UTF-16 with BOM or Windows-1252; `,` `;` tab or `|` between fields"),
    responses((status = 200, description = "The import report", body = Imported),
        (status = 404, description = "No saved mapping or preset has the name given", body = ErrorBody)))]
async fn import_contacts(
    auth: Auth<Admin>,
    State(app): State<App>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Imported>, ApiError> {
    run(&app, &auth, Kind::Contacts, query, body).await
}

/// Imports transactions of existing contacts: fields `id`, `occurred_at`, the
/// contact as `contact_id` or `contact_email`, `kind` (or a default), `amount`,
/// `currency` (or a default), `reference`, `product`, `refunded`, read from the
/// columns the mapping names (docs/imports.md).
#[utoipa::path(post, path = "/imports/transactions", tag = "imports", params(ImportParams),
    request_body(content = CsvFile, content_type = "text/csv", description = "CSV with a header row: UTF-8 (with or without BOM), UTF-16 with BOM or Windows-1252; `,` `;` tab or `|` between fields"),
    responses((status = 200, description = "The import report", body = Imported),
        (status = 404, description = "No saved mapping or preset has the name given", body = ErrorBody)))]
async fn import_transactions(
    auth: Auth<Admin>,
    State(app): State<App>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Imported>, ApiError> {
    run(&app, &auth, Kind::Transactions, query, body).await
}

async fn run(
    app: &App,
    auth: &Auth<Admin>,
    kind: Kind,
    query: Option<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Imported>, ApiError> {
    let params = ImportParams::parse(query.as_deref())?;
    let csv = body?;
    let dry_run = params.dry_run.unwrap_or(false);
    let options = params.request().options(app.db(), kind, dry_run).await.map_err(error)?;
    let (db, actor) = (app.db().clone(), auth.name().to_string());
    // On a blocking thread: the importer's future is not `Send`, and an
    // import the client stops waiting for still finishes.
    let runtime = tokio::runtime::Handle::current();
    let report = tokio::task::spawn_blocking(move || {
        runtime.block_on(import::import(&db, kind, &csv[..], &options, &|_| {}, &actor))
    })
    .await
    .map_err(|e| ApiError::internal("the import", e))?
    .map_err(error)?;
    imported(app, report).await
}

/// Links stored authors to what was imported, as the CLI does after an import.
async fn imported(app: &App, report: ImportReport) -> Result<Json<Imported>, ApiError> {
    let linked = if report.dry_run {
        identity::ResolveReport::default()
    } else {
        identity::catch_up(app.db()).await.map_err(|e| match e {
            IdentityError::Db(e) => e.into(),
            e => ApiError::internal("matching identities", e),
        })?
    };
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
        format: report.format,
        chosen_mapping: report.chosen_mapping,
        dry_run: report.dry_run,
        identities_linked: linked.confirmed,
        identities_proposed: linked.proposed,
    }))
}

/// A field a mapping fills.
#[derive(Serialize, ToSchema)]
struct MappingTarget {
    name: &'static str,
    /// Every row needs it (a transaction's contact: `contact_id` or `contact_email`).
    required: bool,
}

/// What a file is and how it would be mapped.
#[derive(Serialize, ToSchema)]
struct DetectedFile {
    format: Format,
    /// The header row, as written.
    columns: Vec<String>,
    /// The first rows after the header.
    sample: Vec<Vec<String>>,
    /// The best fit of the file's columns: socialcrm's own (`socialcrm`) or a
    /// preset's; none when none can import the file.
    best_fit: Option<Fit>,
    /// The columns each field would read (as the header spells them): of the
    /// mapping asked for, else of the best fit.
    mapping: Option<Mapping>,
    /// The fields of the kind.
    targets: Vec<MappingTarget>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DetectParams {
    /// What the file holds.
    kind: Kind,
    /// A saved mapping or a preset to map the file with.
    mapping: Option<String>,
}

/// Detects a file's encoding, delimiter, header and columns, and how a
/// mapping (the one named, else the best fit) would read it.
#[utoipa::path(post, path = "/imports/detect", tag = "imports", params(DetectParams),
    request_body(content = CsvFile, content_type = "text/csv", description = "The file, or its first part"),
    responses((status = 200, description = "What the file is", body = DetectedFile),
        (status = 404, description = "No saved mapping or preset has the name given", body = ErrorBody)))]
async fn detect_file(
    _auth: Auth<Admin>,
    State(app): State<App>,
    Query(params): Query<DetectParams>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DetectedFile>, ApiError> {
    let kind = params.kind;
    let named = match params.mapping.as_deref().filter(|m| !m.is_empty()) {
        Some(name) => Some(saved::named(app.db(), name, kind).await.map_err(error)?),
        None => None,
    };
    let bytes = body?;
    let (text, encoding) = detect::decode(&bytes);
    let mut table = Table::open(&text, encoding).map_err(error)?;
    let best = presets::best(kind, &table.headers, &Mapping::default());
    let mapping = match (named, &best) {
        (Some(named), _) => Some(
            named
                .resolve(kind, &table.headers)
                .map_err(error)?
                .mapping(&table.headers),
        ),
        (None, Some((_, fit))) => fit
            .resolve(kind, &table.headers)
            .ok()
            .map(|r| r.mapping(&table.headers)),
        (None, None) => None,
    };
    let required = match kind {
        Kind::Contacts => &["id"][..],
        Kind::Transactions => &["id", "occurred_at", "contact_id", "contact_email"],
    };
    Ok(Json(DetectedFile {
        columns: table.headers.iter().map(|c| c.trim().to_string()).collect(),
        sample: table.sample(SAMPLE_ROWS),
        format: table.format,
        best_fit: best.map(|(fit, _)| fit),
        mapping,
        targets: kind
            .targets()
            .into_iter()
            .map(|name| MappingTarget {
                name,
                required: required.contains(&name),
            })
            .collect(),
    }))
}

/// A preset: the mapping of a CRM's export.
#[derive(Serialize, ToSchema)]
struct PresetInfo {
    name: &'static str,
    kind: Kind,
    mapping: Mapping,
}

/// The presets for the exports of HubSpot, Salesforce and Shopify.
#[utoipa::path(get, path = "/imports/presets", tag = "imports",
    responses((status = 200, description = "The presets", body = Items<PresetInfo>)))]
async fn list_presets(_auth: Auth<Viewer>) -> Json<Items<PresetInfo>> {
    Json(Items {
        items: presets::all()
            .map(|(name, kind, mapping)| PresetInfo { name, kind, mapping })
            .collect(),
    })
}

/// The saved mappings, by name.
#[utoipa::path(get, path = "/imports/mappings", tag = "imports",
    responses((status = 200, description = "The saved mappings", body = Items<SavedMapping>)))]
async fn list_mappings(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Items<SavedMapping>>, ApiError> {
    let items = saved::list(app.db()).await.map_err(error)?;
    Ok(Json(Items { items }))
}

/// A mapping to save.
#[derive(Deserialize, ToSchema)]
struct MappingBody {
    kind: Kind,
    mapping: Mapping,
}

/// Saves a mapping (replacing one of that name); a preset's name is refused.
#[utoipa::path(put, path = "/imports/mappings/{name}", tag = "imports",
    params(("name" = String, Path, description = "Mapping name: 1 to 64 letters, digits, `-`, `_` or `.`", pattern = "^[A-Za-z0-9._-]{1,64}$")),
    request_body = MappingBody,
    responses((status = 200, description = "The mapping as stored", body = SavedMapping)))]
async fn save_mapping(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
    Json(body): Json<MappingBody>,
) -> Result<Json<SavedMapping>, ApiError> {
    let saved = saved::save(app.db(), &name, body.kind, &body.mapping, auth.name())
        .await
        .map_err(error)?;
    Ok(Json(saved))
}

/// Removes a saved mapping.
#[utoipa::path(delete, path = "/imports/mappings/{name}", tag = "imports",
    params(("name" = String, Path, description = "Mapping name")),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "No saved mapping has that name", body = ErrorBody)))]
async fn remove_mapping(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    saved::remove(app.db(), &name, auth.name()).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

fn error(e: ImportError) -> ApiError {
    match e {
        ImportError::Db(e) => e.into(),
        ImportError::Io(e) => ApiError::internal("reading the body", e),
        ImportError::NoMapping(_) => ApiError::not_found(e.to_string()),
        ImportError::Csv(_)
        | ImportError::Empty
        | ImportError::MissingColumn(_)
        | ImportError::Unmapped(_)
        | ImportError::NoSuchColumn { .. }
        | ImportError::Mapping(_) => ApiError::bad_request(e.to_string()),
    }
}
