//! Contacts: search, the customer 360 (identities, scores, transactions and
//! posts together), a contact's timeline of posts and its transactions.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::posts::{InboxPost, inbox_posts};
use crate::app::App;
use crate::crm::contact;
use crate::crm::identity::{self, LinkView};
use crate::insights::ContactScore;
use crate::insights::churn;
use crate::server::ApiError;
use crate::server::auth::{Auth, Viewer};
use crate::server::extract::{Json, Path, Query};
use crate::server::page::{self, Page};
use crate::store::inbox;
use crate::store::{Backend, now_ms};

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
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Paging {
    /// 1 to 200, default 50.
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A contact in a list, with its scores once computed.
#[derive(Serialize, ToSchema)]
pub struct ContactItem {
    pub id: i64,
    /// The id in the CRM it was imported from.
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    /// Lifetime value; null until scored.
    pub ltv: Option<f64>,
    /// Share among customers by lifetime value, in [0, 1]; null until scored.
    pub value_pct: Option<f64>,
    /// Churn risk in [0, 1]; null until scored.
    pub churn: Option<f64>,
}

/// A contact's fields as the CRM keeps them.
#[derive(Serialize, ToSchema)]
pub struct Contact {
    pub id: i64,
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub company: Option<String>,
    /// Handles the CRM lists, by network.
    pub handles: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One transaction of a contact.
#[derive(Serialize, ToSchema)]
pub struct Transaction {
    pub id: i64,
    pub external_id: String,
    /// `purchase`, `subscription`, `refund`, `return`, ...
    pub kind: String,
    pub amount: f64,
    pub currency: String,
    pub occurred_at: i64,
    /// The order reference.
    pub reference: Option<String>,
    pub product: Option<String>,
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
    /// The 20 newest, newest first.
    pub transactions: Vec<Transaction>,
    /// The 20 newest posts of its confirmed identities, newest first.
    pub posts: Vec<InboxPost>,
}

/// `%text%` for `LIKE ... ESCAPE '\'`, lower-cased, its wildcards taken literally.
fn containing(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
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
    let listed_handles = match app.db().backend() {
        Backend::Sqlite => {
            "json_each(CASE WHEN json_valid(c.handles) AND json_type(c.handles) = 'object' \
             THEN c.handles ELSE '{}' END) h"
        }
        Backend::Postgres => "jsonb_each_text(CAST(c.handles AS jsonb)) h",
    };
    let sql = format!(
        "SELECT c.id, c.external_id, c.name, c.email, c.phone, c.company, cs.ltv, cs.value_pct, cs.churn \
         FROM contacts c LEFT JOIN contact_scores cs ON cs.contact_id = c.id \
         WHERE c.id > $1 AND ($2 = '' OR lower(c.name) LIKE $3 ESCAPE '\\' OR lower(c.email) LIKE $3 ESCAPE '\\' \
         OR lower(c.external_id) LIKE $3 ESCAPE '\\' \
         OR EXISTS (SELECT 1 FROM identity_links l JOIN identities i ON i.id = l.identity_id \
                    WHERE l.contact_id = c.id AND l.status = 'confirmed' AND lower(i.handle) LIKE $4 ESCAPE '\\') \
         OR EXISTS (SELECT 1 FROM {listed_handles} WHERE lower(h.value) LIKE $4 ESCAPE '\\')) \
         ORDER BY c.id LIMIT $5"
    );
    let rows = sqlx::query(app.db().backend().sql(sql))
        .bind(after)
        .bind(q)
        .bind(containing(q))
        .bind(containing(&handle))
        .bind(limit)
        .fetch_all(app.db().pool())
        .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(ContactItem {
                id: r.try_get("id")?,
                external_id: r.try_get("external_id")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
                company: r.try_get("company")?,
                ltv: r.try_get("ltv")?,
                value_pct: r.try_get("value_pct")?,
                churn: r.try_get("churn")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Json(Page::of(items, limit, |c| c.id)))
}

/// Contact `id`, or 404.
async fn load(app: &App, id: i64) -> Result<Contact, ApiError> {
    let row = sqlx::query(
        "SELECT id, external_id, name, email, phone, website, company, handles, created_at, updated_at \
         FROM contacts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(app.db().pool())
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no contact {id}")))?;
    Ok(Contact {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        website: row.try_get("website")?,
        company: row.try_get("company")?,
        handles: serde_json::from_str(&row.try_get::<String, _>("handles")?).unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
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
    Ok(inbox_posts(app, rows, now_ms()).await?)
}

/// Transactions of `contact_id`, newest first, after `(occurred_at, id)`.
async fn transactions_of(
    app: &App,
    contact_id: i64,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<Transaction>, ApiError> {
    let (at, id) = after.unwrap_or((i64::MAX, i64::MAX));
    let rows = sqlx::query(
        "SELECT id, external_id, kind, amount, currency, occurred_at, reference, product FROM transactions \
         WHERE contact_id = $1 AND (occurred_at, id) < ($2, $3) \
         ORDER BY occurred_at DESC, id DESC LIMIT $4",
    )
    .bind(contact_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(app.db().pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Transaction {
                id: r.try_get("id")?,
                external_id: r.try_get("external_id")?,
                kind: r.try_get("kind")?,
                amount: r.try_get("amount")?,
                currency: r.try_get("currency")?,
                occurred_at: r.try_get("occurred_at")?,
                reference: r.try_get("reference")?,
                product: r.try_get("product")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
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
    Ok(Json(Customer360 {
        contact,
        identities,
        scores,
        transactions: transactions_of(&app, id, None, RECENT).await?,
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
    let items = transactions_of(&app, id, after, limit).await?;
    Ok(Json(Page::of(items, limit, |t| (t.occurred_at, t.id))))
}
