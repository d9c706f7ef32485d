//! `plugin_indexes`: the plugin indexes an admin installs from, each with the
//! key its index must be signed with and the newest index time verified.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::Db;

/// A configured index as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRow {
    pub name: String,
    pub url: String,
    pub key_id: String,
    /// The public key file's TOML text.
    pub public_key: String,
    pub added_at: i64,
    pub added_by: String,
    /// `generated_at` of the newest index verified; `None` before the first fetch.
    pub generated_at: Option<i64>,
}

const COLUMNS: &str = "name, url, key_id, public_key, added_at, added_by, generated_at";

fn index_row(row: &AnyRow) -> Result<IndexRow, sqlx::Error> {
    Ok(IndexRow {
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        key_id: row.try_get("key_id")?,
        public_key: row.try_get("public_key")?,
        added_at: row.try_get("added_at")?,
        added_by: row.try_get("added_by")?,
        generated_at: row.try_get("generated_at")?,
    })
}

/// Every configured index, by name.
pub async fn list(db: &Db) -> Result<Vec<IndexRow>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM plugin_indexes ORDER BY name"
    )))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(index_row).collect()
}

/// The index `name`.
pub async fn get(db: &Db, name: &str) -> Result<Option<IndexRow>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM plugin_indexes WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(index_row).transpose()
}

pub async fn insert(conn: &mut AnyConnection, index: &IndexRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO plugin_indexes (name, url, key_id, public_key, added_at, added_by, generated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&index.name)
    .bind(&index.url)
    .bind(&index.key_id)
    .bind(&index.public_key)
    .bind(index.added_at)
    .bind(&index.added_by)
    .bind(index.generated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM plugin_indexes WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records `generated_at` as the newest index of `name` verified, unless a
/// newer one was recorded meanwhile. False when the stored time is newer
/// (an older index than one already seen).
pub async fn advance_generated_at(db: &Db, name: &str, generated_at: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE plugin_indexes SET generated_at = $2 \
         WHERE name = $1 AND (generated_at IS NULL OR generated_at <= $2)",
    )
    .bind(name)
    .bind(generated_at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}
