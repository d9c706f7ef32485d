//! Contacts as the API lists and shows them: a search over names, emails,
//! external ids and handles, one contact, a contact's transactions.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use super::{Backend, Db};

/// A contact in a list, with its scores once computed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ContactItem {
    pub id: i64,
    /// The id in the CRM it was imported from.
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    /// Lifetime value in `ltv_currency` (the reporting currency); null until scored.
    pub ltv: Option<f64>,
    pub ltv_currency: Option<String>,
    /// Share among customers by lifetime value, in [0, 1]; null until scored.
    pub value_pct: Option<f64>,
    /// Churn risk in [0, 1]; null until scored.
    pub churn: Option<f64>,
}

/// A contact's fields as the CRM keeps them.
#[derive(Clone, Debug, Serialize, ToSchema)]
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
#[derive(Clone, Debug, Serialize, ToSchema)]
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

/// Contacts with ids above `after` whose name, email or external id contains
/// `q`, or a confirmed or listed handle contains `handle` (all when `q` is
/// empty), by id.
pub async fn search(db: &Db, q: &str, handle: &str, after: i64, limit: i64) -> Result<Vec<ContactItem>, sqlx::Error> {
    let listed_handles = match db.backend() {
        Backend::Sqlite => {
            "json_each(CASE WHEN json_valid(c.handles) AND json_type(c.handles) = 'object' \
             THEN c.handles ELSE '{}' END) h"
        }
        Backend::Postgres => "jsonb_each_text(CAST(c.handles AS jsonb)) h",
    };
    let sql = format!(
        "SELECT c.id, c.external_id, c.name, c.email, c.phone, c.company, cs.ltv, cs.ltv_currency, cs.value_pct, cs.churn \
         FROM contacts c LEFT JOIN contact_scores cs ON cs.contact_id = c.id \
         WHERE c.id > $1 AND ($2 = '' OR lower(c.name) LIKE $3 ESCAPE '\\' OR lower(c.email) LIKE $3 ESCAPE '\\' \
         OR lower(c.external_id) LIKE $3 ESCAPE '\\' \
         OR EXISTS (SELECT 1 FROM identity_links l JOIN identities i ON i.id = l.identity_id \
                    WHERE l.contact_id = c.id AND l.status = 'confirmed' AND lower(i.handle) LIKE $4 ESCAPE '\\') \
         OR EXISTS (SELECT 1 FROM {listed_handles} WHERE lower(h.value) LIKE $4 ESCAPE '\\')) \
         ORDER BY c.id LIMIT $5"
    );
    let rows = sqlx::query(db.backend().sql(sql))
        .bind(after)
        .bind(q)
        .bind(containing(q))
        .bind(containing(handle))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(contact_item).collect()
}

fn contact_item(r: &AnyRow) -> Result<ContactItem, sqlx::Error> {
    Ok(ContactItem {
        id: r.try_get("id")?,
        external_id: r.try_get("external_id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        company: r.try_get("company")?,
        ltv: r.try_get("ltv")?,
        ltv_currency: r.try_get("ltv_currency")?,
        value_pct: r.try_get("value_pct")?,
        churn: r.try_get("churn")?,
    })
}

/// Contact `id`, when there is one.
pub async fn get(db: &Db, id: i64) -> Result<Option<Contact>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, external_id, name, email, phone, website, company, handles, created_at, updated_at \
         FROM contacts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Contact {
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
    }))
}

/// Transactions of `contact_id`, newest first, after `(occurred_at, id)`.
pub async fn transactions(
    db: &Db,
    contact_id: i64,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<Transaction>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, external_id, kind, amount, currency, occurred_at, reference, product FROM transactions \
         WHERE contact_id = $1 AND (occurred_at, id) < ($2, $3) \
         ORDER BY occurred_at DESC, id DESC LIMIT $4",
    )
    .bind(contact_id)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
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
        .collect()
}
