//! Saved CSV import mappings (`import_mappings`): saved, listed, removed.

use sqlx::{AnyConnection, Row};

use super::{Db, now_ms};

/// A mapping as stored: its kind's name and its JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingRow {
    pub name: String,
    pub kind: String,
    pub mapping: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Saves mapping `name`, replacing one of that name.
pub async fn save(
    conn: &mut AnyConnection,
    name: &str,
    kind: &str,
    mapping: &str,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO import_mappings (name, kind, mapping, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, mapping = excluded.mapping, \
         updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(kind)
    .bind(mapping)
    .bind(actor)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, name: &str) -> Result<Option<MappingRow>, sqlx::Error> {
    sqlx::query("SELECT name, kind, mapping, created_by, created_at, updated_at FROM import_mappings WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(mapping)
        .transpose()
}

/// Every mapping, by name.
pub async fn all(db: &Db) -> Result<Vec<MappingRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT name, kind, mapping, created_by, created_at, updated_at FROM import_mappings ORDER BY name",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(mapping).collect()
}

/// Removes mapping `name`; false when there is none.
pub async fn remove(conn: &mut AnyConnection, name: &str) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query("DELETE FROM import_mappings WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(removed != 0)
}

fn mapping(row: &sqlx::any::AnyRow) -> Result<MappingRow, sqlx::Error> {
    Ok(MappingRow {
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        mapping: row.try_get("mapping")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
