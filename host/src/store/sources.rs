//! What sources store (docs/sources.md): each record keyed on (source
//! account, the source's external id) in `source_contacts` and
//! `source_transactions`, pointing at a row of the CRM's own `contacts` and
//! `transactions` (whose external id is `ACCOUNT:EXTERNAL-ID`, unique
//! across sources); product lines; the admin's settings; and proposals that
//! two contacts are one person.

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::contacts::{self, ContactRow, TransactionRow};
use super::{Db, dialect};

/// The CRM external id of a source record: ids of two sources collide, the
/// account's name (unique) keeps them apart.
pub fn crm_external_id(account: &str, external_id: &str) -> String {
    format!("{account}:{external_id}")
}

/// Stores a new source account's settings.
pub async fn insert_settings(conn: &mut AnyConnection, account_id: i64, on_delete: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO source_settings (account_id, on_delete) VALUES ($1, $2)")
        .bind(account_id)
        .bind(on_delete)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a contact deleted upstream becomes for account `account_id`.
pub async fn on_delete(conn: &mut AnyConnection, account_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT on_delete FROM source_settings WHERE account_id = $1")
        .bind(account_id)
        .fetch_optional(conn)
        .await
}

/// Records that account `account_id` caught up at `now`.
pub async fn set_synced(db: &Db, account_id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE source_settings SET last_synced_at = $1 WHERE account_id = $2")
        .bind(now)
        .bind(account_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A source's contact as stored: the CRM row and the lists it has no column for (JSON).
pub struct SourceContactRow<'a> {
    pub external_id: &'a str,
    pub contact: ContactRow,
    pub emails: String,
    pub phones: String,
    pub websites: String,
    pub custom_fields: String,
}

/// Inserts or updates a source's contact (active again if it was inactive);
/// returns the CRM contact's id and whether it is new.
pub async fn upsert_contact(
    conn: &mut AnyConnection,
    account_id: i64,
    row: &SourceContactRow<'_>,
    now: i64,
) -> Result<(i64, bool), sqlx::Error> {
    let known: Option<i64> =
        sqlx::query_scalar("SELECT contact_id FROM source_contacts WHERE account_id = $1 AND external_id = $2")
            .bind(account_id)
            .bind(row.external_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (id, new) = match known {
        Some(id) => {
            contacts::update_contact(&mut *conn, &row.contact, now).await?;
            (id, false)
        }
        None => {
            contacts::insert_contact(&mut *conn, &row.contact, now).await?;
            let id = contacts::contact_id(&mut *conn, &row.contact.external_id)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            (id, true)
        }
    };
    sqlx::query(
        "INSERT INTO source_contacts (account_id, external_id, contact_id, emails, phones, websites, custom_fields, \
         active, erase_pending, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 0, $8) \
         ON CONFLICT (account_id, external_id) DO UPDATE SET emails = excluded.emails, phones = excluded.phones, \
         websites = excluded.websites, custom_fields = excluded.custom_fields, active = 1, \
         updated_at = excluded.updated_at",
    )
    .bind(account_id)
    .bind(row.external_id)
    .bind(id)
    .bind(row.emails.as_str())
    .bind(row.phones.as_str())
    .bind(row.websites.as_str())
    .bind(row.custom_fields.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok((id, new))
}

/// The CRM id of account `account_id`'s contact `external_id`, if it holds it.
pub async fn contact_id(
    conn: &mut AnyConnection,
    account_id: i64,
    external_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT contact_id FROM source_contacts WHERE account_id = $1 AND external_id = $2")
        .bind(account_id)
        .bind(external_id)
        .fetch_optional(conn)
        .await
}

/// A product line of a transaction.
pub struct LineRow<'a> {
    pub external_id: Option<&'a str>,
    pub sku: Option<&'a str>,
    pub name: &'a str,
    pub quantity: i64,
    pub amount: f64,
}

/// Inserts or updates a source's transaction and replaces its product
/// lines; returns whether it is new.
pub async fn upsert_transaction(
    conn: &mut AnyConnection,
    account_id: i64,
    external_id: &str,
    row: &TransactionRow,
    status: Option<&str>,
    lines: &[LineRow<'_>],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let known = contacts::transaction(&mut *conn, &row.external_id).await?.is_some();
    if known {
        contacts::update_transaction(&mut *conn, row, now).await?;
    } else {
        contacts::insert_transaction(&mut *conn, row, now).await?;
    }
    let id: i64 = sqlx::query_scalar("SELECT id FROM transactions WHERE external_id = $1")
        .bind(row.external_id.as_str())
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO source_transactions (account_id, external_id, transaction_id, status, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, external_id) DO UPDATE SET \
         transaction_id = excluded.transaction_id, status = excluded.status, updated_at = excluded.updated_at",
    )
    .bind(account_id)
    .bind(external_id)
    .bind(id)
    .bind(status)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM transaction_lines WHERE transaction_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for (position, line) in lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO transaction_lines (transaction_id, position, external_id, sku, name, quantity, amount) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(position as i64)
        .bind(line.external_id)
        .bind(line.sku)
        .bind(line.name)
        .bind(line.quantity)
        .bind(line.amount)
        .execute(&mut *conn)
        .await?;
    }
    Ok(!known)
}

/// Marks account `account_id`'s contact `external_id` deleted upstream:
/// inactive, and waiting for its erasure when `erase`. Returns its CRM id.
pub async fn contact_deleted(
    conn: &mut AnyConnection,
    account_id: i64,
    external_id: &str,
    erase: bool,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE source_contacts SET active = 0, erase_pending = $1, updated_at = $2 \
         WHERE account_id = $3 AND external_id = $4 RETURNING contact_id",
    )
    .bind(i64::from(erase))
    .bind(now)
    .bind(account_id)
    .bind(external_id)
    .fetch_optional(conn)
    .await
}

/// Deletes account `account_id`'s transaction `external_id` (its lines and
/// key go with it); returns whether it held it.
pub async fn transaction_deleted(
    conn: &mut AnyConnection,
    account_id: i64,
    external_id: &str,
) -> Result<bool, sqlx::Error> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT transaction_id FROM source_transactions WHERE account_id = $1 AND external_id = $2")
            .bind(account_id)
            .bind(external_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(id) = id else { return Ok(false) };
    sqlx::query("DELETE FROM transactions WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(true)
}

/// The contacts of account `account_id` whose erasure a deletion asked for
/// and that are not erased yet.
pub async fn erase_pending(db: &Db, account_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT contact_id FROM source_contacts WHERE account_id = $1 AND erase_pending = 1")
        .bind(account_id)
        .fetch_all(db.pool())
        .await
}

/// (account name, external id, emails JSON) of each source record of `contact_ids`.
pub async fn keys_of(db: &Db, contact_ids: &[i64]) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    if contact_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = contact_ids.iter().map(i64::to_string).collect();
    // Numbers only: never input.
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT c.name, s.external_id, s.emails FROM source_contacts s JOIN channel_accounts c ON c.id = s.account_id \
         WHERE s.contact_id IN ({})",
        ids.join(", ")
    )))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("external_id")?, r.try_get("emails")?)))
        .collect()
}

/// Contacts other than `contact_id` whose email is one of `emails`, a few at most.
pub async fn same_email(conn: &mut AnyConnection, contact_id: i64, emails: &[String]) -> Result<Vec<i64>, sqlx::Error> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id FROM contacts WHERE email IN {} AND id <> ${} ORDER BY id LIMIT 10",
        dialect::placeholders(1, emails.len()),
        emails.len() + 1
    );
    let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
    for email in emails {
        query = query.bind(email.as_str());
    }
    query.bind(contact_id).fetch_all(conn).await
}

/// Proposes that contacts `a` and `b` are one person (for `reason`); a pair
/// proposed or decided before is left as it is. Returns whether it is new.
pub async fn propose_match(
    conn: &mut AnyConnection,
    a: i64,
    b: i64,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let (low, high) = (a.min(b), a.max(b));
    let done = sqlx::query(
        "INSERT INTO contact_match_proposals (contact_id, other_id, reason, status, created_at) \
         VALUES ($1, $2, $3, 'proposed', $4) ON CONFLICT (contact_id, other_id) DO NOTHING",
    )
    .bind(low)
    .bind(high)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A source account as `source list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceSummary {
    pub name: String,
    pub plugin: String,
    /// What it reads (`shopify`).
    pub source: String,
    /// `active`, `failing`, `rate-limited` or `paused` (waits for an admin).
    pub status: String,
    pub last_error: Option<String>,
    /// `erase` or `inactive`: what a contact deleted upstream becomes.
    pub on_delete: String,
    pub contacts: i64,
    pub transactions: i64,
    pub last_synced_at: Option<i64>,
}

/// Every source account, by name.
pub async fn summaries(db: &Db) -> Result<Vec<SourceSummary>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.name, c.plugin, c.network, c.status, c.last_error, s.on_delete, s.last_synced_at, \
         (SELECT COUNT(*) FROM source_contacts x WHERE x.account_id = c.id) AS contacts, \
         (SELECT COUNT(*) FROM source_transactions x WHERE x.account_id = c.id) AS transactions \
         FROM channel_accounts c JOIN source_settings s ON s.account_id = c.id WHERE c.kind = 'source' ORDER BY c.name",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SourceSummary {
                name: r.try_get("name")?,
                plugin: r.try_get("plugin")?,
                source: r.try_get("network")?,
                status: r.try_get("status")?,
                last_error: r.try_get("last_error")?,
                on_delete: r.try_get("on_delete")?,
                contacts: r.try_get("contacts")?,
                transactions: r.try_get("transactions")?,
                last_synced_at: r.try_get("last_synced_at")?,
            })
        })
        .collect()
}

/// Pauses account `name` (kept, not synced) or makes it due now; false when
/// there is no such source account.
pub async fn set_paused(db: &Db, name: &str, paused: bool, now: i64) -> Result<bool, sqlx::Error> {
    let (status, next) = if paused { ("paused", i64::MAX) } else { ("active", now) };
    let done = sqlx::query(
        "UPDATE channel_accounts SET status = $1, next_poll_at = $2, updated_at = $3 WHERE name = $4 AND kind = 'source'",
    )
    .bind(status)
    .bind(next)
    .bind(now)
    .bind(name)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Where a contact comes from: one source account's record of it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ContactSource {
    /// The source account.
    pub account: String,
    /// What it reads (`shopify`).
    pub source: String,
    /// The source's own id of the contact.
    pub external_id: String,
    /// False once the source deleted it and the admin keeps it as inactive.
    pub active: bool,
    /// When the record last changed, and when the account last caught up (Unix ms).
    pub updated_at: i64,
    pub last_synced_at: Option<i64>,
}

/// The source records of `contact_id`, by account name.
pub async fn of_contact(db: &Db, contact_id: i64) -> Result<Vec<ContactSource>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.name, c.network, x.external_id, x.active, x.updated_at, s.last_synced_at \
         FROM source_contacts x JOIN channel_accounts c ON c.id = x.account_id \
         LEFT JOIN source_settings s ON s.account_id = x.account_id \
         WHERE x.contact_id = $1 ORDER BY c.name, x.external_id",
    )
    .bind(contact_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ContactSource {
                account: r.try_get("name")?,
                source: r.try_get("network")?,
                external_id: r.try_get("external_id")?,
                active: r.try_get::<i64, _>("active")? != 0,
                updated_at: r.try_get("updated_at")?,
                last_synced_at: r.try_get("last_synced_at")?,
            })
        })
        .collect()
}
