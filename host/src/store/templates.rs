//! Reply templates (`reply_templates`): saved, replaced, listed, removed.

use sqlx::{AnyConnection, Row};

use super::{Db, now_ms};

/// A template as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRow {
    pub name: String,
    pub body: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Saves template `name`: a new one, or a new body for an existing one.
pub async fn save(conn: &mut AnyConnection, name: &str, body: &str, actor: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reply_templates (name, body, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(body)
    .bind(actor)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, name: &str) -> Result<Option<TemplateRow>, sqlx::Error> {
    sqlx::query("SELECT name, body, created_by, created_at, updated_at FROM reply_templates WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(template)
        .transpose()
}

/// Every template, by name.
pub async fn all(db: &Db) -> Result<Vec<TemplateRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, body, created_by, created_at, updated_at FROM reply_templates ORDER BY name")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(template).collect()
}

/// Removes template `name`; false when there is none.
pub async fn remove(conn: &mut AnyConnection, name: &str) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query("DELETE FROM reply_templates WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(removed != 0)
}

fn template(row: &sqlx::any::AnyRow) -> Result<TemplateRow, sqlx::Error> {
    Ok(TemplateRow {
        name: row.try_get("name")?,
        body: row.try_get("body")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
