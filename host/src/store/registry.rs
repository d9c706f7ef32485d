//! `plugins`: every installed version of a plugin, one active per name (and
//! the `channel_accounts` that use a plugin, which keep it installed).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::Db;

/// One installed version as stored.
#[derive(Clone, Debug)]
pub struct PluginRow {
    /// `plugin.toml` as packaged.
    pub manifest: String,
    pub digest: String,
    pub package_digest: String,
    pub signer: Option<String>,
    pub active: bool,
    pub enabled: bool,
    pub installed_at: i64,
    pub installed_by: String,
    /// JSON array of what the version waits an admin's approval for.
    pub awaiting_approval: Option<String>,
}

/// A version to store.
#[derive(Clone, Copy, Debug)]
pub struct NewPlugin<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// `channel` or `analyzer`.
    pub kind: &'a str,
    pub digest: &'a str,
    pub package_digest: &'a str,
    pub manifest: &'a str,
    pub wasm: &'a [u8],
    pub signer: Option<&'a str>,
    pub active: bool,
    pub enabled: bool,
    pub activated_at: Option<i64>,
    pub installed_at: i64,
    pub installed_by: &'a str,
    pub awaiting_approval: Option<&'a str>,
}

const COLUMNS: &str =
    "manifest, digest, package_digest, signer, active, enabled, installed_at, installed_by, awaiting_approval";

fn plugin_row(row: &AnyRow) -> Result<PluginRow, sqlx::Error> {
    Ok(PluginRow {
        manifest: row.try_get("manifest")?,
        digest: row.try_get("digest")?,
        package_digest: row.try_get("package_digest")?,
        signer: row.try_get("signer")?,
        active: row.try_get::<i64, _>("active")? != 0,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        installed_at: row.try_get("installed_at")?,
        installed_by: row.try_get("installed_by")?,
        awaiting_approval: row.try_get("awaiting_approval")?,
    })
}

fn with_wasm(row: &AnyRow) -> Result<(PluginRow, Vec<u8>), sqlx::Error> {
    Ok((plugin_row(row)?, row.try_get("wasm")?))
}

/// Every installed version, by name then newest install first.
pub async fn list(db: &Db) -> Result<Vec<PluginRow>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM plugins ORDER BY name, id DESC"
    )))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(plugin_row).collect()
}

/// The active version of `name` with its wasm.
pub async fn active(db: &Db, name: &str) -> Result<Option<(PluginRow, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS}, wasm FROM plugins WHERE name = $1 AND active = 1"
    )))
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| with_wasm(&r)).transpose()
}

/// The version `version` of `name` with its wasm.
pub async fn version(db: &Db, name: &str, version: &str) -> Result<Option<(PluginRow, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS}, wasm FROM plugins WHERE name = $1 AND version = $2"
    )))
    .bind(name)
    .bind(version)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| with_wasm(&r)).transpose()
}

/// The wasm digest of the active version of `name` and whether it is
/// enabled: a cheap check before reusing a loaded plugin.
pub async fn active_digest(db: &Db, name: &str) -> Result<Option<(String, bool)>, sqlx::Error> {
    let row = sqlx::query("SELECT digest, enabled FROM plugins WHERE name = $1 AND active = 1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| Ok((r.try_get("digest")?, r.try_get::<i64, _>("enabled")? != 0)))
        .transpose()
}

/// Makes no version of `name` active.
pub async fn deactivate(conn: &mut AnyConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plugins SET active = 0 WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes version `version` of `name` active, its approval granted.
pub async fn activate_approved(
    conn: &mut AnyConnection,
    name: &str,
    version: &str,
    enabled: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE plugins SET active = 1, enabled = $1, activated_at = $2, awaiting_approval = NULL \
         WHERE name = $3 AND version = $4",
    )
    .bind(i64::from(enabled))
    .bind(now)
    .bind(name)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// The (id, version) of the versions of `name` not awaiting approval, the
/// active one first, then the most recently active.
pub async fn activation_order(conn: &mut AnyConnection, name: &str) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, version, active FROM plugins WHERE name = $1 AND awaiting_approval IS NULL \
         ORDER BY active DESC, activated_at DESC, id DESC",
    )
    .bind(name)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("version")?)))
        .collect()
}

/// Makes the version with id `id` active as of `now`.
pub async fn activate(conn: &mut AnyConnection, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plugins SET active = 1, activated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sorts the version with id `id` behind every other until activated again.
pub async fn clear_activated_at(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plugins SET activated_at = 0 WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Enables or disables every version of `name`.
pub async fn set_enabled(conn: &mut AnyConnection, name: &str, enabled: bool) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plugins SET enabled = $1 WHERE name = $2")
        .bind(i64::from(enabled))
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every version of `name`.
pub async fn delete(conn: &mut AnyConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM plugins WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// The channel accounts that use plugin `name`, by name.
pub async fn channels_using(db: &Db, name: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT name FROM channel_accounts WHERE plugin = $1 ORDER BY name")
        .bind(name)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| r.try_get("name")).collect()
}

pub async fn insert(conn: &mut AnyConnection, p: &NewPlugin<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO plugins (name, version, kind, digest, package_digest, manifest, wasm, signer, active, enabled, \
         activated_at, installed_at, installed_by, awaiting_approval) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(p.name)
    .bind(p.version)
    .bind(p.kind)
    .bind(p.digest)
    .bind(p.package_digest)
    .bind(p.manifest)
    .bind(p.wasm)
    .bind(p.signer)
    .bind(i64::from(p.active))
    .bind(i64::from(p.enabled))
    .bind(p.activated_at)
    .bind(p.installed_at)
    .bind(p.installed_by)
    .bind(p.awaiting_approval)
    .execute(conn)
    .await?;
    Ok(())
}
