//! The retention policy (docs/retention.md): each kind's period and what a
//! run now would remove, for everyone to read (it is what people are told
//! about how long their data is kept); an admin sets the periods.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::retention::{self, Due, Kind, Period, RetentionError};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::extract::{Json, Path};
use crate::server::page::Items;
use crate::store::now_ms;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(retention_policy))
        .routes(routes!(set_retention))
}

/// A kind of data: how long it is kept and what a run now would remove.
#[derive(Serialize, ToSchema)]
struct RetentionItem {
    kind: Kind,
    /// Days kept; null: never removed.
    days: Option<u32>,
    /// The period when none was set (null: never removed).
    default_days: Option<u32>,
    /// Rows counted from before this time (Unix ms) are past the period;
    /// null when kept forever.
    cutoff: Option<i64>,
    /// Rows past the period now: what the next run removes.
    due: u64,
}

impl From<Due> for RetentionItem {
    fn from(d: Due) -> RetentionItem {
        RetentionItem {
            kind: d.kind,
            days: d.period.days(),
            default_days: Period::default_for(d.kind).days(),
            cutoff: d.cutoff,
            due: d.rows,
        }
    }
}

/// Every kind's retention period and what the next run would remove (a dry run).
#[utoipa::path(get, path = "/retention", tag = "admin",
    responses((status = 200, description = "The policy, one item per kind", body = Items<RetentionItem>)))]
async fn retention_policy(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Items<RetentionItem>>, ApiError> {
    let due = retention::preview(app.db(), now_ms()).await.map_err(error)?;
    Ok(Json(Items {
        items: due.into_iter().map(RetentionItem::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewPeriod {
    /// Days to keep; null: never remove.
    // Required, though it may be null (no `default`): a missing field must
    // not mean "never".
    #[serde(deserialize_with = "crate::server::extract::optional_integer")]
    #[schema(required = true, minimum = 1, maximum = 36_500)]
    days: Option<i64>,
}

/// Sets how long a kind of data is kept (audited); the next run applies it.
#[utoipa::path(put, path = "/retention/{kind}", tag = "admin",
    params(("kind" = Kind, Path, description = "The kind of data")),
    request_body = NewPeriod,
    responses((status = 200, description = "The kind's policy now", body = RetentionItem)))]
async fn set_retention(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(kind): Path<String>,
    Json(new): Json<NewPeriod>,
) -> Result<Json<RetentionItem>, ApiError> {
    let kind = Kind::parse(&kind).ok_or(RetentionError::Kind(kind)).map_err(error)?;
    let period = Period::from_days(new.days).map_err(error)?;
    retention::set(app.db(), kind, period, auth.name())
        .await
        .map_err(error)?;
    let due = retention::preview(app.db(), now_ms()).await.map_err(error)?;
    due.into_iter()
        .find(|d| d.kind == kind)
        .map(|d| Json(d.into()))
        .ok_or_else(|| ApiError::not_found(format!("no kind {}", kind.as_str())))
}

fn error(e: RetentionError) -> ApiError {
    match e {
        RetentionError::Kind(_) => ApiError::not_found(e.to_string()),
        RetentionError::Period(_) => ApiError::bad_request(e.to_string()),
        RetentionError::Stored { .. } => ApiError::internal("reading the retention policy", e),
        RetentionError::Db(e) => e.into(),
        RetentionError::Insights(e) => ApiError::internal("refreshing the scores of contacts", e),
    }
}
