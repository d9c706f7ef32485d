//! The audit log: who changed what, when. Written in the same transaction as
//! the change it records.

use serde_json::Value;
use sqlx::{Any, Executor, Row};

use super::now_ms;

/// One audit entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: Value,
}

/// Records `action` on `subject` by `actor`.
pub async fn audit<'e>(
    executor: impl Executor<'e, Database = Any>,
    actor: &str,
    action: &str,
    subject: &str,
    details: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, subject, details) VALUES ($1, $2, $3, $4, $5)")
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(details.to_string())
        .execute(executor)
        .await?;
    Ok(())
}

/// The newest `limit` entries, newest first.
pub async fn audit_entries<'e>(
    executor: impl Executor<'e, Database = Any>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let page = audit_page(executor, i64::MAX, &AuditFilter::default(), limit).await?;
    Ok(page.into_iter().map(|(_, entry)| entry).collect())
}

/// Which entries a page holds: each field that is set narrows it.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter<'a> {
    pub action: Option<&'a str>,
    pub actor: Option<&'a str>,
    /// From this time (Unix ms, inclusive).
    pub since: Option<i64>,
    /// Before this time (Unix ms).
    pub until: Option<i64>,
}

/// `(id, entry)` of up to `limit` entries with ids below `before` that
/// `filter` keeps, newest first.
pub async fn audit_page<'e>(
    executor: impl Executor<'e, Database = Any>,
    before: i64,
    filter: &AuditFilter<'_>,
    limit: i64,
) -> Result<Vec<(i64, AuditEntry)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, subject, details FROM audit_log \
         WHERE id < $1 AND ($2 = '' OR action = $2) AND ($3 = '' OR actor = $3) AND at >= $4 AND at < $5 \
         ORDER BY id DESC LIMIT $6",
    )
    .bind(before)
    .bind(filter.action.unwrap_or_default())
    .bind(filter.actor.unwrap_or_default())
    .bind(filter.since.unwrap_or(i64::MIN))
    .bind(filter.until.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|r| {
            let entry = AuditEntry {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                details: serde_json::from_str(&r.try_get::<String, _>("details")?).unwrap_or(Value::Null),
            };
            Ok((r.try_get("id")?, entry))
        })
        .collect()
}
