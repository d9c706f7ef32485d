//! The CRM's tables: `contacts` and `transactions`, upserted by an import on
//! the external CRM id.

use sqlx::{AnyConnection, Row};

use super::Db;

/// A contact's fields as imported.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactRow {
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub company: Option<String>,
    /// Handles by network, JSON.
    pub handles: String,
}

/// A transaction's fields as imported.
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionRow {
    pub external_id: String,
    pub contact_id: i64,
    pub kind: String,
    pub amount: f64,
    pub currency: String,
    pub occurred_at: i64,
    pub reference: Option<String>,
    pub product: Option<String>,
}

/// The CRM's state: the newest change to a contact or a transaction (both
/// indexed). (A query of its own: joined to the posts' query, PostgreSQL
/// plans it ten times slower.)
pub async fn crm_version(db: &Db) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT (SELECT MAX(updated_at) FROM contacts) AS c, (SELECT MAX(updated_at) FROM transactions) AS t",
    )
    .fetch_one(db.pool())
    .await?;
    let c: Option<i64> = row.try_get("c")?;
    let t: Option<i64> = row.try_get("t")?;
    Ok(c.unwrap_or(0).max(t.unwrap_or(0)))
}

/// Whether contact `id` exists.
pub async fn contact_exists(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT id FROM contacts WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.is_some())
}

/// The id of the contact with `external_id`.
pub async fn contact_id(conn: &mut AnyConnection, external_id: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM contacts WHERE external_id = $1")
        .bind(external_id)
        .fetch_optional(conn)
        .await
}

/// The ids of (at most two) contacts with `email`: a mapping that finds a
/// transaction's contact by email needs exactly one.
pub async fn contact_ids_by_email(conn: &mut AnyConnection, email: &str) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM contacts WHERE email = $1 ORDER BY id LIMIT 2")
        .bind(email)
        .fetch_all(conn)
        .await
}

/// The contact with `external_id`.
pub async fn contact(conn: &mut AnyConnection, external_id: &str) -> Result<Option<ContactRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT external_id, name, email, phone, website, company, handles FROM contacts WHERE external_id = $1",
    )
    .bind(external_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(ContactRow {
            external_id: r.try_get("external_id")?,
            name: r.try_get("name")?,
            email: r.try_get("email")?,
            phone: r.try_get("phone")?,
            website: r.try_get("website")?,
            company: r.try_get("company")?,
            handles: r.try_get("handles")?,
        })
    })
    .transpose()
}

/// Writes `contact` over the stored one with its external id.
pub async fn update_contact(conn: &mut AnyConnection, contact: &ContactRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE contacts SET name = $1, email = $2, phone = $3, website = $4, company = $5, handles = $6, \
         updated_at = $7 WHERE external_id = $8",
    )
    .bind(contact.name.as_deref())
    .bind(contact.email.as_deref())
    .bind(contact.phone.as_deref())
    .bind(contact.website.as_deref())
    .bind(contact.company.as_deref())
    .bind(contact.handles.as_str())
    .bind(now)
    .bind(contact.external_id.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores a new contact.
pub async fn insert_contact(conn: &mut AnyConnection, contact: &ContactRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO contacts (external_id, name, email, phone, website, company, handles, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(contact.external_id.as_str())
    .bind(contact.name.as_deref())
    .bind(contact.email.as_deref())
    .bind(contact.phone.as_deref())
    .bind(contact.website.as_deref())
    .bind(contact.company.as_deref())
    .bind(contact.handles.as_str())
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The transaction with `external_id`.
pub async fn transaction(conn: &mut AnyConnection, external_id: &str) -> Result<Option<TransactionRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT contact_id, kind, amount, currency, occurred_at, reference, product FROM transactions \
         WHERE external_id = $1",
    )
    .bind(external_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(TransactionRow {
            external_id: external_id.to_string(),
            contact_id: r.try_get("contact_id")?,
            kind: r.try_get("kind")?,
            amount: r.try_get("amount")?,
            currency: r.try_get("currency")?,
            occurred_at: r.try_get("occurred_at")?,
            reference: r.try_get("reference")?,
            product: r.try_get("product")?,
        })
    })
    .transpose()
}

/// Writes `transaction` over the stored one with its external id.
pub async fn update_transaction(
    conn: &mut AnyConnection,
    transaction: &TransactionRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE transactions SET contact_id = $1, kind = $2, amount = $3, currency = $4, occurred_at = $5, \
         reference = $6, product = $7, updated_at = $8 WHERE external_id = $9",
    )
    .bind(transaction.contact_id)
    .bind(transaction.kind.as_str())
    .bind(transaction.amount)
    .bind(transaction.currency.as_str())
    .bind(transaction.occurred_at)
    .bind(transaction.reference.as_deref())
    .bind(transaction.product.as_deref())
    .bind(now)
    .bind(transaction.external_id.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores a new transaction.
pub async fn insert_transaction(
    conn: &mut AnyConnection,
    transaction: &TransactionRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO transactions (external_id, contact_id, kind, amount, currency, occurred_at, reference, \
         product, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(transaction.external_id.as_str())
    .bind(transaction.contact_id)
    .bind(transaction.kind.as_str())
    .bind(transaction.amount)
    .bind(transaction.currency.as_str())
    .bind(transaction.occurred_at)
    .bind(transaction.reference.as_deref())
    .bind(transaction.product.as_deref())
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
