//! Insights: sentiment trends, the most discussed topics, spike alerts,
//! advocates, the churn ranking, and a recompute of every score on demand.

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::insights::trends::{self, TopicCount};
use crate::insights::{
    self, Advocate, Alert, Bucket, ContactScore, DAY_MS, InsightsError, RecomputeReport, TrendPoint, TrendQuery,
};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::extract::{Json, Query};
use crate::server::page::{self, Items};
use crate::store::{audit, now_ms};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(trend))
        .routes(routes!(topics))
        .routes(routes!(alerts))
        .routes(routes!(advocates))
        .routes(routes!(churn))
        .routes(routes!(recompute))
}

/// The default window of trends and topics, in days (trends by week: 12 weeks).
const WINDOW_DAYS: i64 = 30;
const WEEKS: i64 = 12;

/// `[since, until)` from the parameters: `until` defaults to now, `since` to
/// `window` before it.
fn range(since: Option<i64>, until: Option<i64>, window: i64) -> Result<(i64, i64), ApiError> {
    let until = until.unwrap_or_else(now_ms);
    let since = since.unwrap_or(until.saturating_sub(window).max(0));
    page::since_until([since, until])?;
    Ok((since, until))
}

fn error(e: InsightsError) -> ApiError {
    match e {
        InsightsError::EmptyRange { .. } | InsightsError::TooManyBuckets(_) | InsightsError::SignalFilter(_) => {
            ApiError::bad_request(e.to_string())
        }
        InsightsError::Db(e) => e.into(),
        InsightsError::Bindings(e) => ApiError::internal("reading the signal bindings", e),
        InsightsError::Predict(e) => ApiError::internal("scoring contacts", e),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TrendParams {
    /// Only posts with this topic.
    topic: Option<String>,
    /// Only posts that mention this taxonomy entry, with the sentiment of
    /// what they say of it.
    aspect: Option<String>,
    /// Only posts by identities linked to contacts who bought this product.
    product: Option<String>,
    /// Only posts with this custom signal, as the inbox filter (`urgency`,
    /// `urgency>=0.5`, `tone:polite`); each point then has the signal's
    /// mean score.
    #[param(pattern = "^[a-z0-9-]{1,64}(>=-?[0-9]{1,15}(\\.[0-9]{1,15})?|:[a-z0-9-]{1,64})?$")]
    signal: Option<String>,
    /// `day` (default, UTC days) or `week` (ISO weeks from Monday).
    #[param(inline)]
    bucket: Option<Bucket>,
    /// Start, Unix ms; default 30 days (12 weeks by week) before `until`.
    #[param(minimum = 0, maximum = 253_402_300_799_999.0)]
    since: Option<i64>,
    /// End (exclusive), Unix ms; default now.
    #[param(minimum = 0, maximum = 253_402_300_799_999.0)]
    until: Option<i64>,
}

/// Sentiment and volume over time, one point per bucket (empty ones included).
/// `since` must be before `until`, and the range at most 10,000 buckets
/// (400 otherwise).
#[utoipa::path(get, path = "/insights/trends", tag = "insights", params(TrendParams),
    responses((status = 200, description = "The series", body = Items<TrendPoint>)))]
async fn trend(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(p): Query<TrendParams>,
) -> Result<Json<Items<TrendPoint>>, ApiError> {
    let bucket = p.bucket.unwrap_or(Bucket::Day);
    let window = match bucket {
        Bucket::Day => WINDOW_DAYS * DAY_MS,
        Bucket::Week => WEEKS * 7 * DAY_MS,
    };
    let (since, until) = range(p.since, p.until, window)?;
    let query = TrendQuery {
        topic: p.topic,
        aspect: p.aspect,
        product: p.product,
        signal: p.signal,
        bucket,
        since,
        until,
    };
    let items = insights::trend(app.db(), &query).await.map_err(error)?;
    Ok(Json(Items { items }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TopicParams {
    /// Start, Unix ms; default 30 days before `until`.
    #[param(minimum = 0, maximum = 253_402_300_799_999.0)]
    since: Option<i64>,
    /// End (exclusive), Unix ms; default now.
    #[param(minimum = 0, maximum = 253_402_300_799_999.0)]
    until: Option<i64>,
    /// How many topics: 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// The most discussed topics, with their negative posts and mean sentiment.
/// `since` must be before `until` (400 otherwise).
#[utoipa::path(get, path = "/insights/topics", tag = "insights", params(TopicParams),
    responses((status = 200, description = "Topics, most posts first", body = Items<TopicCount>)))]
async fn topics(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(p): Query<TopicParams>,
) -> Result<Json<Items<TopicCount>>, ApiError> {
    let limit = page::limit(p.limit)?;
    let (since, until) = range(p.since, p.until, WINDOW_DAYS * DAY_MS)?;
    let items = trends::top_topics(app.db(), since, until, limit).await.map_err(error)?;
    Ok(Json(Items { items }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Top {
    /// How many: 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// Spike alerts, newest first, with example posts.
#[utoipa::path(get, path = "/insights/alerts", tag = "insights", params(Top),
    responses((status = 200, description = "Alerts", body = Items<Alert>)))]
async fn alerts(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(top): Query<Top>,
) -> Result<Json<Items<Alert>>, ApiError> {
    let items = insights::alerts(app.db(), page::limit(top.limit)?)
        .await
        .map_err(error)?;
    Ok(Json(Items { items }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AdvocateParams {
    /// Only events since then, Unix ms; default all.
    since: Option<i64>,
    /// How many: 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// Advocates by points, each with the events (and their evidence) behind them.
#[utoipa::path(get, path = "/insights/advocates", tag = "insights", params(AdvocateParams),
    responses((status = 200, description = "Advocates, most points first", body = Items<Advocate>)))]
async fn advocates(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(p): Query<AdvocateParams>,
) -> Result<Json<Items<Advocate>>, ApiError> {
    let items = insights::advocates(app.db(), page::limit(p.limit)?, p.since.unwrap_or(i64::MIN))
        .await
        .map_err(error)?;
    Ok(Json(Items { items }))
}

/// Contacts by churn risk, highest first, with why.
#[utoipa::path(get, path = "/insights/churn", tag = "insights", params(Top),
    responses((status = 200, description = "Contacts most at risk first", body = Items<ContactScore>)))]
async fn churn(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(top): Query<Top>,
) -> Result<Json<Items<ContactScore>>, ApiError> {
    let items = insights::churn_ranking(app.db(), page::limit(top.limit)?)
        .await
        .map_err(error)?;
    Ok(Json(Items { items }))
}

/// Recomputes every score now (contact values and churn, post priorities and
/// topics, advocacy events, spike alerts) and says what changed.
#[utoipa::path(post, path = "/insights/recompute", tag = "insights",
    responses((status = 200, description = "What changed", body = RecomputeReport)))]
async fn recompute(auth: Auth<Admin>, State(app): State<App>) -> Result<Json<RecomputeReport>, ApiError> {
    let db = app.db().clone();
    // Its own task: a request that times out or is dropped does not stop it halfway.
    let report = tokio::spawn(async move { insights::recompute(&db, now_ms()).await })
        .await
        .map_err(|e| ApiError::internal("recomputing", e))?
        .map_err(error)?;
    let details = json!({ "report": &report, "took_ms": report.took.as_millis() as u64 });
    audit(app.db().pool(), auth.name(), "insights.recompute", "insights", &details).await?;
    Ok(Json(report))
}
