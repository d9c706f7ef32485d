//! The admin's trust: publisher keys and the `require-signatures` policy, and
//! the decision whether a package's signature is acceptable.

use serde_json::json;

use super::Package;
use super::signing::PublicKey;
use crate::store::trust as stored;
pub use crate::store::trust::TrustedKey;
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
    let found = stored::key_with_public_key(db, key_id).await?;
    Ok(found.map(|(key, text)| {
        // A stored key that does not parse matches nothing.
        let public_key = toml::from_str::<PublicKey>(&text)
            .map(|k| k.public_key)
            .unwrap_or_default();
        (key, public_key)
    }))
}

pub async fn add(db: &Db, key: &PublicKey, actor: &str) -> Result<TrustedKey, TrustError> {
    let key_id = key.id();
    if let Some(existing) = stored::key(db, &key_id).await? {
        return Err(TrustError::AlreadyTrusted {
            key_id,
            name: existing.name,
        });
    }
    let trusted = TrustedKey {
        key_id,
        name: key.name.clone(),
        added_at: now_ms(),
    };
    let mut tx = db.begin().await?;
    stored::insert_key(&mut tx, &trusted, &key.to_text()).await?;
    audit(
        &mut *tx,
        actor,
        "plugin.trust.add",
        &format!("key:{}", trusted.key_id),
        &json!({"name": key.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(trusted)
}

pub async fn list(db: &Db) -> Result<Vec<TrustedKey>, TrustError> {
    Ok(stored::keys(db).await?)
}

/// Removes the key whose id or name is `key`; installed plugins it signed stay.
pub async fn remove(db: &Db, key: &str, actor: &str) -> Result<TrustedKey, TrustError> {
    let found = list(db)
        .await?
        .into_iter()
        .find(|k| k.key_id == key || k.name == key)
        .ok_or_else(|| TrustError::UnknownKey(key.to_string()))?;
    let mut tx = db.begin().await?;
    stored::delete_key(&mut tx, &found.key_id).await?;
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
    Ok(stored::setting(db, REQUIRE_SIGNATURES).await?.as_deref() == Some("true"))
}

pub async fn set_require_signatures(db: &Db, required: bool, actor: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    stored::set_setting(&mut tx, REQUIRE_SIGNATURES, &required.to_string()).await?;
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
