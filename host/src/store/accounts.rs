//! Channel accounts (`channel_accounts`) as stored, turned into what a plugin
//! call needs; secrets sealed to their account and sealed again under a new
//! key; added, listed, removed, and their approval setting.

use std::collections::BTreeMap;

use sqlx::{Any, AnyConnection, Executor, Row};

use super::codec::decode_kv;
use super::{Db, now_ms};
use crate::runtime::Account;
use crate::secrets::{SecretBox, SecretError};

/// What an account of `channel_accounts` feeds: posts from a network, or
/// customer data from a source (docs/sources.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    Channel,
    Source,
}

impl AccountKind {
    pub fn name(self) -> &'static str {
        match self {
            AccountKind::Channel => "channel",
            AccountKind::Source => "source",
        }
    }

    /// As stored; only the two names are ever written.
    pub fn parse(text: &str) -> AccountKind {
        if text == "source" {
            AccountKind::Source
        } else {
            AccountKind::Channel
        }
    }
}

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

/// Seals every account's secrets, and the signing secrets of event
/// subscriptions, again with `to` (opened with `from`), in one transaction:
/// `socialcrm secrets rotate-key`. Returns the accounts resealed.
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
    // The signing secrets of event subscriptions are sealed by the same key.
    for s in super::events::subscriptions(&mut *tx, false).await? {
        let owner = super::events::secret_owner(s.id);
        let secrets = from.open(&s.secret, &owner)?;
        super::events::set_secret(
            &mut tx,
            s.id,
            &to.seal(&secrets, &owner),
            s.previous_secret_until,
            s.updated_at,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// A channel account as `channel list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ChannelSummary {
    pub name: String,
    pub plugin: String,
    pub network: String,
    /// `active`, `failing`, `rate-limited` or `paused` (waits for an admin).
    pub status: String,
    pub last_error: Option<String>,
    pub posts: i64,
    /// When the account last changed: added, a page committed or a sync ended.
    pub updated_at: i64,
    /// When the scheduler polls it next; null while paused.
    pub next_poll_at: Option<i64>,
}

/// A channel account to insert: config as JSON, secrets sealed.
pub struct NewAccount<'a> {
    pub name: &'a str,
    pub plugin: &'a str,
    pub network: &'a str,
    pub config: &'a str,
    pub secrets: &'a str,
    pub allow_private: bool,
    pub kind: AccountKind,
}

/// Inserts the account; `None` when the name is taken.
pub async fn insert(conn: &mut AnyConnection, new: &NewAccount<'_>) -> Result<Option<i64>, sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, config, secrets, allow_private, created_at, updated_at, \
         kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(new.name)
    .bind(new.plugin)
    .bind(new.network)
    .bind(new.config)
    .bind(new.secrets)
    .bind(i32::from(new.allow_private))
    .bind(now)
    .bind(now)
    .bind(new.kind.name())
    .fetch_optional(conn)
    .await?
    .map(|row| row.try_get("id"))
    .transpose()
}

/// Every channel account with its post count, by name.
pub async fn summaries(db: &Db) -> Result<Vec<ChannelSummary>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.name, c.plugin, c.network, c.status, c.last_error, c.updated_at, c.next_poll_at, \
         (SELECT COUNT(*) FROM posts p WHERE p.channel_id = c.id) AS posts FROM channel_accounts c \
         WHERE c.kind = 'channel' ORDER BY c.name",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ChannelSummary {
                name: r.try_get("name")?,
                plugin: r.try_get("plugin")?,
                network: r.try_get("network")?,
                status: r.try_get("status")?,
                last_error: r.try_get("last_error")?,
                posts: r.try_get("posts")?,
                updated_at: r.try_get("updated_at")?,
                // Stored as the largest time while paused.
                next_poll_at: Some(r.try_get("next_poll_at")?).filter(|&at| at != i64::MAX),
            })
        })
        .collect()
}

/// The id of the account called `name`.
pub async fn id<'e>(executor: impl Executor<'e, Database = Any>, name: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT id FROM channel_accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(executor)
        .await?
        .map(|row| row.try_get("id"))
        .transpose()
}

/// Deletes account `id` with its replies and posts (their analyses go with
/// them by `ON DELETE CASCADE`; identities and their links stay). Returns
/// how many posts went.
pub async fn delete(conn: &mut AnyConnection, id: i64) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM replies WHERE channel_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let posts = sqlx::query("DELETE FROM posts WHERE channel_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM channel_accounts WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(posts)
}

/// The id of the account called `name` and whether its responses need approval.
pub async fn approval(db: &Db, name: &str) -> Result<Option<(i64, bool)>, sqlx::Error> {
    sqlx::query("SELECT id, requires_approval FROM channel_accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .map(|row| Ok((row.try_get("id")?, row.try_get::<i64, _>("requires_approval")? != 0)))
        .transpose()
}

/// Sets whether responses on account `name` need approval; false when there
/// is no such account.
pub async fn set_approval(conn: &mut AnyConnection, name: &str, required: bool) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query("UPDATE channel_accounts SET requires_approval = $1, updated_at = $2 WHERE name = $3")
        .bind(i64::from(required))
        .bind(now_ms())
        .bind(name)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(updated != 0)
}

/// Gives account `name` new config and secrets (JSON and sealed) and reads
/// it again from the start: no state, no key-value data, active, no error.
pub async fn restart(db: &Db, name: &str, config: &str, sealed_secrets: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE channel_accounts SET config = $1, secrets = $2, state = '', kv = '{}', \
         status = 'active', last_error = NULL, updated_at = $3 WHERE name = $4",
    )
    .bind(config)
    .bind(sealed_secrets)
    .bind(super::now_ms())
    .bind(name)
    .execute(db.pool())
    .await?;
    Ok(())
}
