//! API tokens (`api_tokens`): stored as their hash only.

use sqlx::{AnyConnection, Row};

use super::Db;

/// A token as listed (never its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The token a hash belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldToken {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub last_used_at: Option<i64>,
}

/// Stores token `name`; false when a token has that name already.
pub async fn insert(
    conn: &mut AnyConnection,
    name: &str,
    role: &str,
    hash: &str,
    created_by: &str,
    created_at: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO api_tokens (name, role, hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(role)
    .bind(hash)
    .bind(created_by)
    .bind(created_at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

/// Whether any token exists.
pub async fn any(db: &Db) -> Result<bool, sqlx::Error> {
    let any: Option<i64> = sqlx::query_scalar("SELECT id FROM api_tokens LIMIT 1")
        .fetch_optional(db.pool())
        .await?;
    Ok(any.is_some())
}

/// Deletes token `name`; false when there is none.
pub async fn delete(conn: &mut AnyConnection, name: &str) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(deleted > 0)
}

/// Every token, by name.
pub async fn list(db: &Db) -> Result<Vec<TokenRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, role, created_by, created_at, last_used_at FROM api_tokens ORDER BY name")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenRow {
                name: r.try_get("name")?,
                role: r.try_get("role")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// The token whose hash is `hash`.
pub async fn by_hash(db: &Db, hash: &str) -> Result<Option<HeldToken>, sqlx::Error> {
    let row = sqlx::query("SELECT id, name, role, last_used_at FROM api_tokens WHERE hash = $1")
        .bind(hash)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| {
        Ok(HeldToken {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            role: r.try_get("role")?,
            last_used_at: r.try_get("last_used_at")?,
        })
    })
    .transpose()
}

/// Records that token `id` was used at `now`.
pub async fn touch(db: &Db, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}
