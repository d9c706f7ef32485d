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
    let rows = sqlx::query("SELECT at, actor, action, subject, details FROM audit_log ORDER BY id DESC LIMIT $1")
        .bind(limit)
        .fetch_all(executor)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                details: serde_json::from_str(&r.try_get::<String, _>("details")?).unwrap_or(Value::Null),
            })
        })
        .collect()
}
