//! The admin's trust: publisher keys and the `require-signatures` policy, and
//! the decision whether a package's signature is acceptable.

use serde_json::json;
use sqlx::Row;

use super::Package;
use super::signing::PublicKey;
use crate::store::{Db, audit, now_ms};

const REQUIRE_SIGNATURES: &str = "require-signatures";

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "{plugin} is not signed, and the policy requires signatures; sign it with `socialcrm plugin sign` and a trusted key"
    )]
    Unsigned { plugin: String },
    #[error(
        "{plugin}: the signature does not verify: the package changed after it was signed, or plugin.sig is corrupt"
    )]
    BadSignature { plugin: String },
    #[error(
        "{plugin} is signed by key {key_id}, which is not trusted; trust the publisher's key with `socialcrm plugin trust add KEYFILE`"
    )]
    Untrusted { plugin: String, key_id: String },
    #[error("no trusted key `{0}` (see `socialcrm plugin trust list`)")]
    UnknownKey(String),
    #[error("key {key_id} is already trusted (as `{name}`)")]
    AlreadyTrusted { key_id: String, name: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A trusted publisher key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    pub key_id: String,
    pub name: String,
    pub added_at: i64,
}

/// Who signed an acceptable package: `None` for an unsigned one the policy allows.
pub async fn check(db: &Db, package: &Package) -> Result<Option<TrustedKey>, TrustError> {
    let plugin = format!("{} {}", package.manifest.name, package.manifest.version);
    let Some(sig) = &package.signature else {
        if require_signatures(db).await? {
            return Err(TrustError::Unsigned { plugin });
        }
        tracing::warn!(%plugin, "installing an unsigned plugin (the policy allows it)");
        return Ok(None);
    };
    if !sig.verifies(package) {
        return Err(TrustError::BadSignature { plugin });
    }
    // The id is a 64-bit digest: the key trusted under it must be this very key.
    match trusted_with_key(db, &sig.key_id).await? {
        Some((key, public_key)) if public_key == sig.public_key => Ok(Some(key)),
        _ => Err(TrustError::Untrusted {
            plugin,
            key_id: sig.key_id.clone(),
        }),
    }
}

/// The trusted key `key_id` with its full public key.
async fn trusted_with_key(db: &Db, key_id: &str) -> Result<Option<(TrustedKey, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query("SELECT key_id, name, added_at, public_key FROM trusted_keys WHERE key_id = $1")
        .bind(key_id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| {
        let text: String = r.try_get("public_key")?;
        // A stored key that does not parse matches nothing.
        let public_key = toml::from_str::<PublicKey>(&text)
            .map(|k| k.public_key)
            .unwrap_or_default();
        Ok((trusted_key(&r)?, public_key))
    })
    .transpose()
}

async fn trusted(db: &Db, key_id: &str) -> Result<Option<TrustedKey>, sqlx::Error> {
    let row = sqlx::query("SELECT key_id, name, added_at FROM trusted_keys WHERE key_id = $1")
        .bind(key_id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| trusted_key(&r)).transpose()
}

fn trusted_key(row: &sqlx::any::AnyRow) -> Result<TrustedKey, sqlx::Error> {
    Ok(TrustedKey {
        key_id: row.try_get("key_id")?,
        name: row.try_get("name")?,
        added_at: row.try_get("added_at")?,
    })
}

pub async fn add(db: &Db, key: &PublicKey, actor: &str) -> Result<TrustedKey, TrustError> {
    let key_id = key.id();
    if let Some(existing) = trusted(db, &key_id).await? {
        return Err(TrustError::AlreadyTrusted {
            key_id,
            name: existing.name,
        });
    }
    let added_at = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO trusted_keys (key_id, name, public_key, added_at) VALUES ($1, $2, $3, $4)")
        .bind(&key_id)
        .bind(&key.name)
        .bind(key.to_text())
        .bind(added_at)
        .execute(&mut *tx)
        .await?;
    audit(
        &mut *tx,
        actor,
        "plugin.trust.add",
        &format!("key:{key_id}"),
        &json!({"name": key.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(TrustedKey {
        key_id,
        name: key.name.clone(),
        added_at,
    })
}

pub async fn list(db: &Db) -> Result<Vec<TrustedKey>, TrustError> {
    let rows = sqlx::query("SELECT key_id, name, added_at FROM trusted_keys ORDER BY name, key_id")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(trusted_key).collect::<Result<_, _>>()?)
}

/// Removes the key whose id or name is `key`; installed plugins it signed stay.
pub async fn remove(db: &Db, key: &str, actor: &str) -> Result<TrustedKey, TrustError> {
    let found = list(db)
        .await?
        .into_iter()
        .find(|k| k.key_id == key || k.name == key)
        .ok_or_else(|| TrustError::UnknownKey(key.to_string()))?;
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM trusted_keys WHERE key_id = $1")
        .bind(&found.key_id)
        .execute(&mut *tx)
        .await?;
    audit(
        &mut *tx,
        actor,
        "plugin.trust.remove",
        &format!("key:{}", found.key_id),
        &json!({"name": found.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(found)
}

pub async fn require_signatures(db: &Db) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(REQUIRE_SIGNATURES)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get::<String, _>("value")).transpose()?.as_deref() == Some("true"))
}

pub async fn set_require_signatures(db: &Db, required: bool, actor: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(REQUIRE_SIGNATURES)
    .bind(required.to_string())
    .execute(&mut *tx)
    .await?;
    audit(
        &mut *tx,
        actor,
        "plugin.policy",
        REQUIRE_SIGNATURES,
        &json!({"value": required}),
    )
    .await?;
    tx.commit().await
}
