//! Contacts: search, the customer 360 (identities, scores, transactions and
//! posts together), a contact's timeline of posts and its transactions.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::posts::{InboxPost, inbox_posts};
use crate::app::App;
use crate::crm::identity::{self, LinkView};
use crate::crm::{contact, currency};
use crate::insights::ContactScore;
use crate::insights::churn;
use crate::server::ApiError;
use crate::server::auth::{Auth, Viewer};
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Page};
use crate::store::currencies::{self, CurrencyValue};
use crate::store::customers::{self, Contact, ContactItem, Transaction};
use crate::store::sources::{self, ContactSource};
use crate::store::{inbox, now_ms};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(customer_360))
        .routes(routes!(timeline))
        .routes(routes!(transactions))
}

/// Transactions and posts the customer 360 shows.
const RECENT: i64 = 20;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Search {
    /// Part of a name, email, external id or handle (case-insensitive); all contacts when absent.
    q: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Paging {
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The customer 360: who the contact is on every network, what they are
/// worth and at what risk, what they bought and what they said.
#[derive(Serialize, ToSchema)]
pub struct Customer360 {
    #[serde(flatten)]
    pub contact: Contact,
    /// Confirmed links first, then proposals (rejected ones left out).
    pub identities: Vec<LinkView>,
    /// Lifetime value, orders and churn risk with why; null until scored.
    pub scores: Option<ContactScore>,
    /// What the contact spent and got back per currency, each converted
    /// into the reporting currency where a rate exists (never summed).
    pub values: Vec<CurrencyValue>,
    /// The reporting currency, when there is one.
    pub reporting_currency: Option<String>,
    /// The sources that hold the contact, and when each last synced.
    pub sources: Vec<ContactSource>,
    /// The 20 newest, newest first.
    pub transactions: Vec<Transaction>,
    /// The 20 newest posts of its confirmed identities, newest first.
    pub posts: Vec<InboxPost>,
}

/// Contacts by id, or those matching `q`.
#[utoipa::path(get, path = "/contacts", tag = "contacts", params(Search),
    responses((status = 200, description = "A page of contacts", body = Page<ContactItem>)))]
async fn search(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Query(query): Query<Search>,
) -> Result<Json<Page<ContactItem>>, ApiError> {
    let limit = page::limit(query.limit)?;
    let after: i64 = page::decode(query.cursor.as_deref())?.unwrap_or(0);
    let q = query.q.as_deref().map(str::trim).unwrap_or_default();
    if q.chars().count() > 200 {
        return Err(ApiError::bad_request("q is at most 200 characters"));
    }
    // Handles are stored lower-cased without a leading `@`.
    let handle = contact::handle(q).unwrap_or_else(|| q.to_string());
    let items = customers::search(app.db(), q, &handle, after, limit).await?;
    Ok(Json(Page::of(items, limit, |c| c.id)))
}

/// Contact `id`, or 404.
async fn load(app: &App, id: i64) -> Result<Contact, ApiError> {
    customers::get(app.db(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no contact {id}")))
}

/// Posts of the confirmed identities of `contact_id`, newest first, after
/// `(created_at, id)`.
async fn posts_of(
    app: &App,
    contact_id: i64,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<InboxPost>, ApiError> {
    let rows = inbox::of_contact(app.db(), contact_id, after.unwrap_or((i64::MAX, i64::MAX)), limit).await?;
    Ok(inbox_posts(rows, now_ms()))
}

/// The customer 360 of one contact.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", params(("id" = i64, Path, description = "Contact id")),
    responses((status = 200, description = "The contact with its identities, scores, transactions and posts",
        body = Customer360)))]
async fn customer_360(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Customer360>, ApiError> {
    let contact = load(&app, id).await?;
    let db = app.db();
    let identities = identity::contact_identities(db, id)
        .await
        .map_err(super::identity::error)?;
    let scores = churn::contact_scores(db, id)
        .await
        .map_err(|e| ApiError::internal("reading scores", e))?;
    let reporting_currency = currency::reporting(db).await?.map(|r| r.currency);
    let values = currencies::values_of_contact(
        db,
        id,
        reporting_currency.as_deref(),
        &churn::ORDER_KINDS,
        &churn::REFUND_KINDS,
    )
    .await?;
    Ok(Json(Customer360 {
        contact,
        identities,
        scores,
        values,
        reporting_currency,
        sources: sources::of_contact(db, id).await?,
        transactions: customers::transactions(app.db(), id, (i64::MAX, i64::MAX), RECENT).await?,
        posts: posts_of(&app, id, None, RECENT).await?,
    }))
}

/// Posts of the contact's confirmed identities, newest first.
#[utoipa::path(get, path = "/contacts/{id}/timeline", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id"), Paging),
    responses((status = 200, description = "A page of posts", body = Page<InboxPost>)))]
async fn timeline(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(id): Path<i64>,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<InboxPost>>, ApiError> {
    let limit = page::limit(paging.limit)?;
    let after = page::decode(paging.cursor.as_deref())?;
    load(&app, id).await?;
    let posts = posts_of(&app, id, after, limit).await?;
    Ok(Json(Page::of(posts, limit, |p| (p.created_at, p.id))))
}

/// The contact's transactions, newest first.
#[utoipa::path(get, path = "/contacts/{id}/transactions", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id"), Paging),
    responses((status = 200, description = "A page of transactions", body = Page<Transaction>)))]
async fn transactions(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(id): Path<i64>,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<Transaction>>, ApiError> {
    let limit = page::limit(paging.limit)?;
    let after = page::decode(paging.cursor.as_deref())?;
    load(&app, id).await?;
    let items = customers::transactions(app.db(), id, after.unwrap_or((i64::MAX, i64::MAX)), limit).await?;
    Ok(Json(Page::of(items, limit, |t| (t.occurred_at, t.id))))
}
