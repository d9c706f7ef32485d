//! `trusted_keys` (publisher keys an admin trusts) and `settings` (named
//! values, such as the signature policy).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::Db;

/// A trusted publisher key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    pub key_id: String,
    pub name: String,
    pub added_at: i64,
}

fn trusted_key(row: &AnyRow) -> Result<TrustedKey, sqlx::Error> {
    Ok(TrustedKey {
        key_id: row.try_get("key_id")?,
        name: row.try_get("name")?,
        added_at: row.try_get("added_at")?,
    })
}

/// The trusted key `key_id` with its public key as stored (TOML text).
pub async fn key_with_public_key(db: &Db, key_id: &str) -> Result<Option<(TrustedKey, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT key_id, name, added_at, public_key FROM trusted_keys WHERE key_id = $1")
        .bind(key_id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| Ok((trusted_key(&r)?, r.try_get("public_key")?)))
        .transpose()
}

/// The trusted key `key_id`.
pub async fn key(db: &Db, key_id: &str) -> Result<Option<TrustedKey>, sqlx::Error> {
    let row = sqlx::query("SELECT key_id, name, added_at FROM trusted_keys WHERE key_id = $1")
        .bind(key_id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| trusted_key(&r)).transpose()
}

/// Every trusted key, by name then id.
pub async fn keys(db: &Db) -> Result<Vec<TrustedKey>, sqlx::Error> {
    let rows = sqlx::query("SELECT key_id, name, added_at FROM trusted_keys ORDER BY name, key_id")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(trusted_key).collect()
}

/// Stores `key` with its public key (TOML text).
pub async fn insert_key(conn: &mut AnyConnection, key: &TrustedKey, public_key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO trusted_keys (key_id, name, public_key, added_at) VALUES ($1, $2, $3, $4)")
        .bind(&key.key_id)
        .bind(&key.name)
        .bind(public_key)
        .bind(key.added_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_key(conn: &mut AnyConnection, key_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM trusted_keys WHERE key_id = $1")
        .bind(key_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The setting `key`, if set.
pub async fn setting(db: &Db, key: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| r.try_get("value")).transpose()
}

pub async fn set_setting(conn: &mut AnyConnection, key: &str, value: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}
