//! Channel accounts as stored, turned into what a plugin call needs; secrets
//! sealed to their account and sealed again under a new key.

use std::collections::BTreeMap;

use sqlx::Row;

use super::Db;
use super::codec::decode_kv;
use crate::runtime::Account;
use crate::secrets::{SecretBox, SecretError};

/// A stored channel account, secrets opened.
#[derive(Clone, Debug)]
pub struct StoredAccount {
    pub id: i64,
    pub plugin: String,
    pub network: String,
    pub failures: i64,
    /// The committed cursor.
    pub state: String,
    pub account: Account,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no channel named `{0}` (see `socialcrm channel list`)")]
    Unknown(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Loads the account called `name`.
pub async fn load(db: &Db, sbox: &SecretBox, name: &str) -> Result<StoredAccount, AccountError> {
    let row = sqlx::query(
        "SELECT id, plugin, network, failures, config, secrets, allow_private, state, kv \
         FROM channel_accounts WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| AccountError::Unknown(name.to_string()))?;
    Ok(StoredAccount {
        id: row.try_get("id")?,
        plugin: row.try_get("plugin")?,
        network: row.try_get("network")?,
        failures: row.try_get("failures")?,
        state: row.try_get("state")?,
        account: Account {
            name: name.to_string(),
            config: serde_json::from_str(&row.try_get::<String, _>("config")?).unwrap_or_default(),
            secrets: open_secrets(db, sbox, name, &row.try_get::<String, _>("secrets")?).await?,
            kv: decode_kv(&row.try_get::<String, _>("kv")?),
            allow_private: row.try_get::<i32, _>("allow_private")? != 0,
        },
    })
}

/// The account's secrets; a blob sealed before secrets were bound to their
/// account is sealed again, bound, on its first use.
async fn open_secrets(
    db: &Db,
    sbox: &SecretBox,
    name: &str,
    sealed: &str,
) -> Result<BTreeMap<String, String>, AccountError> {
    let secrets = sbox.open(sealed, name)?;
    if !SecretBox::is_bound(sealed) {
        sqlx::query("UPDATE channel_accounts SET secrets = $1 WHERE name = $2 AND secrets = $3")
            .bind(sbox.seal(&secrets, name))
            .bind(name)
            .bind(sealed)
            .execute(db.pool())
            .await?;
    }
    Ok(secrets)
}

/// Seals every account's secrets again with `to` (opened with `from`), in one
/// transaction: `socialcrm secrets rotate-key`. Returns the accounts resealed.
pub async fn reseal_all(db: &Db, from: &SecretBox, to: &SecretBox) -> Result<usize, AccountError> {
    let mut tx = db.begin().await?;
    let rows = sqlx::query("SELECT name, secrets FROM channel_accounts ORDER BY name")
        .fetch_all(&mut *tx)
        .await?;
    for row in &rows {
        let (name, sealed): (String, String) = (row.try_get("name")?, row.try_get("secrets")?);
        let secrets = from.open(&sealed, &name)?;
        sqlx::query("UPDATE channel_accounts SET secrets = $1 WHERE name = $2")
            .bind(to.seal(&secrets, &name))
            .bind(&name)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}
