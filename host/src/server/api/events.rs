//! Event subscriptions (admin): subscribe, list, enable or disable, rotate
//! the secret, remove; the delivery log and replay.
//!
//! Over the API a subscription never reaches loopback or private addresses
//! (`allow_private` is false): an admin who needs a receiver on the local
//! network subscribes it with `socialcrm events subscribe --allow-private`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::events::subscriptions::{self, DEFAULT_GRACE};
use crate::events::{Created, Delivery, DeliveryStatus, EventError, EventType, NewSubscription, Rotated, Subscription};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth};
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Items, Page};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list, subscribe))
        .routes(routes!(get, remove))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(rotate_secret))
        .routes(routes!(deliveries))
        .routes(routes!(replay))
}

/// A subscription to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Subscribe {
    /// Where events are POSTed: http or https, a public address (checked again
    /// at each delivery), at most 2048 characters.
    #[schema(pattern = "^https?://", max_length = 2048)]
    url: String,
    /// The event types wanted (at least one).
    #[schema(min_items = 1)]
    types: Vec<EventType>,
    /// Only events of this channel account (applies to post.* and response.*).
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,100}$")]
    channel: Option<String>,
    /// Only posts with this strongest intent (applies to post.analyzed).
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,100}$")]
    intent: Option<String>,
    /// Only posts of at least this inbox priority (applies to post.analyzed).
    #[schema(minimum = 0, maximum = 1000)]
    min_priority: Option<f64>,
}

/// Every subscription, oldest first (never their secrets).
#[utoipa::path(get, path = "/events/subscriptions", tag = "events",
    responses((status = 200, description = "The subscriptions", body = Items<Subscription>)))]
async fn list(_auth: Auth<Admin>, State(app): State<App>) -> Result<Json<Items<Subscription>>, ApiError> {
    let items = subscriptions::list(app.db()).await.map_err(error)?;
    Ok(Json(Items { items }))
}

/// Subscribes a URL; the answer holds its signing secret, shown only now.
#[utoipa::path(post, path = "/events/subscriptions", tag = "events", request_body = Subscribe,
    responses(
        (status = 201, description = "The subscription and its secret", body = Created),
        (status = 400, description = "Invalid: URL, types, a filter", body = crate::server::error::ErrorBody),
        (status = 422, description = "The URL is a loopback or private address", body = crate::server::error::ErrorBody),
    ))]
async fn subscribe(
    auth: Auth<Admin>,
    State(app): State<App>,
    Json(body): Json<Subscribe>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let new = NewSubscription {
        url: body.url,
        types: body.types,
        channel: body.channel,
        intent: body.intent,
        min_priority: body.min_priority,
        allow_private: false,
    };
    let created = subscriptions::subscribe(app.db(), app.secret_box(), &new, auth.name())
        .await
        .map_err(error)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One subscription with its status (a disabled one says why).
#[utoipa::path(get, path = "/events/subscriptions/{id}", tag = "events",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription", body = Subscription)))]
async fn get(_auth: Auth<Admin>, State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(subscriptions::get(app.db(), id).await.map_err(error)?))
}

/// Removes a subscription with its delivery log.
#[utoipa::path(delete, path = "/events/subscriptions/{id}", tag = "events",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 204, description = "Removed")))]
async fn remove(auth: Auth<Admin>, State(app): State<App>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    subscriptions::remove(app.db(), id, auth.name()).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a subscription (after its receiver is fixed); its failure run
/// starts over and its pending deliveries go out again.
#[utoipa::path(post, path = "/events/subscriptions/{id}/enable", tag = "events",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription, active", body = Subscription)))]
async fn enable(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Subscription>, ApiError> {
    let s = subscriptions::set_enabled(app.db(), id, true, auth.name()).await;
    Ok(Json(s.map_err(error)?))
}

/// Disables a subscription: nothing is delivered to it, and events of its
/// types are not recorded for it, until it is enabled.
#[utoipa::path(post, path = "/events/subscriptions/{id}/disable", tag = "events",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription, disabled", body = Subscription)))]
async fn disable(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Subscription>, ApiError> {
    let s = subscriptions::set_enabled(app.db(), id, false, auth.name()).await;
    Ok(Json(s.map_err(error)?))
}

/// How long the old secret keeps signing.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Rotation {
    /// Seconds (default 86400, at most 604800).
    #[schema(minimum = 0, maximum = 604800)]
    grace_seconds: Option<u64>,
}

/// A new signing secret, shown only now. Until the grace period ends each
/// delivery carries two signatures, by the new and the old secret. The body is optional.
#[utoipa::path(post, path = "/events/subscriptions/{id}/rotate-secret", tag = "events",
    params(("id" = i64, Path, description = "Subscription id")), request_body = Option<Rotation>,
    responses(
        (status = 200, description = "The new secret", body = Rotated),
        (status = 400, description = "A grace period over a week", body = crate::server::error::ErrorBody),
    ))]
async fn rotate_secret(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(id): Path<i64>,
    body: Option<Json<Option<Rotation>>>,
) -> Result<Json<Rotated>, ApiError> {
    let grace = body
        .and_then(|Json(r)| r)
        .and_then(|r| r.grace_seconds)
        .map_or(DEFAULT_GRACE, Duration::from_secs);
    let rotated = subscriptions::rotate_secret(app.db(), app.secret_box(), id, grace, auth.name()).await;
    Ok(Json(rotated.map_err(error)?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// Only this subscription's deliveries.
    #[param(minimum = 1)]
    subscription: Option<i64>,
    /// Only deliveries with this status.
    #[param(inline)]
    status: Option<DeliveryStatus>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The delivery log, newest first: per event and subscription, its status,
/// attempts, and the last attempt's HTTP status, latency and error.
#[utoipa::path(get, path = "/events/deliveries", tag = "events", params(DeliveryQuery),
    responses((status = 200, description = "A page of deliveries", body = Page<Delivery>)))]
async fn deliveries(
    _auth: Auth<Admin>,
    State(app): State<App>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    let limit = page::limit(q.limit)?;
    let before: i64 = page::decode(q.cursor.as_deref())?.unwrap_or(i64::MAX);
    let items = subscriptions::deliveries(app.db(), q.subscription, q.status, before, limit)
        .await
        .map_err(error)?;
    Ok(Json(Page::of(items, limit, |d| d.id)))
}

/// Delivers an event to its subscription again (the same `webhook-id`, a
/// fresh run of attempts): `pending` until a worker sends it.
#[utoipa::path(post, path = "/events/deliveries/{id}/replay", tag = "events",
    params(("id" = i64, Path, description = "Delivery id")),
    responses((status = 200, description = "The delivery, pending", body = Delivery)))]
async fn replay(auth: Auth<Admin>, State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Delivery>, ApiError> {
    Ok(Json(
        subscriptions::replay(app.db(), id, auth.name()).await.map_err(error)?,
    ))
}

fn error(e: EventError) -> ApiError {
    match e {
        EventError::NoSubscription(_) | EventError::NoDelivery(_) => ApiError::not_found(e.to_string()),
        EventError::Invalid(_) => ApiError::bad_request(e.to_string()),
        EventError::Refused(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string()),
        EventError::Secret(_) => ApiError::internal("opening the subscription's secret", e),
        EventError::Db(e) => e.into(),
    }
}
