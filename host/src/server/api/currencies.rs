//! Currencies (docs/currencies.md): the reporting currency lifetime values
//! are counted in and the rates into it, for everyone to read; an admin
//! chooses the currency and sets the rates (each change audited).

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::crm::currency::{self, CurrencyError, Overview};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::extract::{Json, Path};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(currencies))
        .routes(routes!(set_reporting))
        .routes(routes!(set_rate, remove_rate))
}

/// The reporting currency, its rates, and every currency transactions are in.
#[utoipa::path(get, path = "/currencies", tag = "admin",
    responses((status = 200, description = "Where the currencies stand", body = Overview)))]
async fn currencies(_auth: Auth<Viewer>, State(app): State<App>) -> Result<Json<Overview>, ApiError> {
    Ok(Json(currency::overview(app.db()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReporting {
    /// ISO 4217.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    currency: String,
}

/// Chooses the reporting currency; values count in it from the next recompute.
#[utoipa::path(put, path = "/currencies/reporting", tag = "admin", request_body = NewReporting,
    responses((status = 200, description = "Where the currencies stand now", body = Overview)))]
async fn set_reporting(
    auth: Auth<Admin>,
    State(app): State<App>,
    Json(new): Json<NewReporting>,
) -> Result<Json<Overview>, ApiError> {
    currency::set_reporting(app.db(), &new.currency, auth.name())
        .await
        .map_err(error)?;
    Ok(Json(currency::overview(app.db()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewRate {
    /// One unit of the currency in the reporting currency.
    #[schema(exclusive_minimum = 0.0)]
    rate: f64,
}

/// Sets the rate of a currency into the reporting currency.
#[utoipa::path(put, path = "/currencies/rates/{currency}", tag = "admin",
    params(("currency" = String, Path, description = "ISO 4217", pattern = "^[A-Za-z]{3}$")),
    request_body = NewRate,
    responses((status = 200, description = "Where the currencies stand now", body = Overview)))]
async fn set_rate(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(code): Path<String>,
    Json(new): Json<NewRate>,
) -> Result<Json<Overview>, ApiError> {
    let code = currency::code(&code).map_err(error)?;
    let rate = currency::rate(&code, new.rate).map_err(error)?;
    currency::set_rates(app.db(), &[(code, rate)], auth.name())
        .await
        .map_err(error)?;
    Ok(Json(currency::overview(app.db()).await?))
}

/// Removes the rate of a currency: its amounts stop being converted.
#[utoipa::path(delete, path = "/currencies/rates/{currency}", tag = "admin",
    params(("currency" = String, Path, description = "ISO 4217", pattern = "^[A-Za-z]{3}$")),
    responses((status = 200, description = "Where the currencies stand now", body = Overview)))]
async fn remove_rate(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(code): Path<String>,
) -> Result<Json<Overview>, ApiError> {
    if !currency::remove_rate(app.db(), &code, auth.name())
        .await
        .map_err(error)?
    {
        return Err(ApiError::not_found(format!("{code} has no rate")));
    }
    Ok(Json(currency::overview(app.db()).await?))
}

fn error(e: CurrencyError) -> ApiError {
    match e {
        CurrencyError::Db(e) => e.into(),
        CurrencyError::NoReporting | CurrencyError::Reporting(_) => ApiError::conflict(e.to_string()),
        _ => ApiError::bad_request(e.to_string()),
    }
}
