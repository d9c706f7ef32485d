//! A channel account as stored, turned into what a plugin call needs.

use std::collections::BTreeMap;

use base64::Engine as _;
use sqlx::Row;

use crate::runtime::Account;
use crate::secrets::{SecretBox, SecretError};
use crate::store::Db;

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
    let b64 = base64::engine::general_purpose::STANDARD;
    let kv: BTreeMap<String, String> = serde_json::from_str(&row.try_get::<String, _>("kv")?).unwrap_or_default();
    Ok(StoredAccount {
        id: row.try_get("id")?,
        plugin: row.try_get("plugin")?,
        network: row.try_get("network")?,
        failures: row.try_get("failures")?,
        state: row.try_get("state")?,
        account: Account {
            name: name.to_string(),
            config: serde_json::from_str(&row.try_get::<String, _>("config")?).unwrap_or_default(),
            secrets: sbox.open(&row.try_get::<String, _>("secrets")?)?,
            kv: kv
                .into_iter()
                .filter_map(|(k, v)| b64.decode(v).ok().map(|v| (k, v)))
                .collect(),
            allow_private: row.try_get::<i32, _>("allow_private")? != 0,
        },
    })
}
