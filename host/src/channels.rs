//! Channel accounts: add (validated against the plugin's manifest and checked
//! by the plugin itself), list, remove. Syncing is the ingest pipeline's job.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Row;

use crate::ingest::{Ingest, IngestError};
use crate::plugins::LoadedChannel;
use crate::runtime::{Account, CallError};
use crate::secrets::{SecretBox, SecretError};
use crate::store::{Db, audit, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Plugin(#[from] IngestError),
    #[error("{0}")]
    Config(String),
    #[error("a channel named `{0}` already exists")]
    Exists(String),
    #[error("no channel named `{0}` (see `socialcrm channel list`)")]
    Unknown(String),
    #[error("the plugin's check failed: {0}")]
    Check(CallError),
    #[error("the check did not finish: {0}")]
    Join(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A channel account to add.
#[derive(Clone, Debug, Default)]
pub struct NewChannel {
    pub name: String,
    /// A bundled plugin's name or a plugin directory.
    pub plugin: String,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    /// Let the plugin reach loopback and private addresses (local or test servers).
    pub allow_private: bool,
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

/// Checks config and secrets against the manifest: known fields only, each in
/// its place (a secret never in the config), every required field given.
fn validate(plugin: &LoadedChannel, new: &NewChannel) -> Result<(), ChannelError> {
    let fields = &plugin.manifest.config;
    for (name, secret) in new
        .config
        .keys()
        .map(|k| (k, false))
        .chain(new.secrets.keys().map(|k| (k, true)))
    {
        match fields.iter().find(|f| &f.name == name) {
            None => {
                let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(ChannelError::Config(format!(
                    "unknown field `{name}`; the plugin has: {}",
                    known.join(", ")
                )));
            }
            Some(f) if f.secret && !secret => {
                return Err(ChannelError::Config(format!(
                    "`{name}` is a secret: pass it with --secret {name}=..."
                )));
            }
            Some(f) if !f.secret && secret => {
                return Err(ChannelError::Config(format!(
                    "`{name}` is not a secret: pass it with --config {name}=..."
                )));
            }
            Some(_) => {}
        }
    }
    for f in fields.iter().filter(|f| f.required) {
        let given = if f.secret {
            new.secrets.contains_key(&f.name)
        } else {
            new.config.contains_key(&f.name)
        };
        if !given {
            let flag = if f.secret { "--secret" } else { "--config" };
            return Err(ChannelError::Config(format!(
                "`{}` is required: {flag} {}=...",
                f.name, f.name
            )));
        }
    }
    Ok(())
}

/// Adds a channel account after the plugin's own `check` accepts it.
pub async fn add(db: &Db, sbox: &SecretBox, ingest: &Ingest, new: NewChannel) -> Result<(), ChannelError> {
    add_as(db, sbox, ingest, new, "cli").await
}

/// [`add`] with `actor` named in the audit log.
pub async fn add_as(
    db: &Db,
    sbox: &SecretBox,
    ingest: &Ingest,
    new: NewChannel,
    actor: &str,
) -> Result<(), ChannelError> {
    let plugin = ingest.channel_plugin(&new.plugin).await?;
    validate(&plugin, &new)?;
    let account = Account {
        name: new.name.clone(),
        config: new.config.clone(),
        secrets: new.secrets.clone(),
        allow_private: new.allow_private,
        ..Account::default()
    };
    let checker = plugin.clone();
    tokio::task::spawn_blocking(move || checker.check(&account))
        .await
        .map_err(|e| ChannelError::Join(e.to_string()))?
        .map_err(ChannelError::Check)?;
    let network = plugin.manifest.network.clone().unwrap_or_default();
    let now = now_ms();
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, config, secrets, allow_private, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(&new.name)
    .bind(&new.plugin)
    .bind(&network)
    .bind(serde_json::to_string(&new.config).unwrap_or_else(|_| "{}".into()))
    .bind(sbox.seal(&new.secrets, &new.name))
    .bind(i32::from(new.allow_private))
    .bind(now)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        return Err(ChannelError::Exists(new.name));
    }
    let fields: Vec<&String> = new.config.keys().chain(new.secrets.keys()).collect();
    audit(
        &mut *tx,
        actor,
        "channel.add",
        &new.name,
        &json!({"plugin": new.plugin, "fields": fields}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(db: &Db) -> Result<Vec<ChannelSummary>, ChannelError> {
    let rows = sqlx::query(
        "SELECT c.name, c.plugin, c.network, c.status, c.last_error, c.updated_at, c.next_poll_at, \
         (SELECT COUNT(*) FROM posts p WHERE p.channel_id = c.id) AS posts FROM channel_accounts c ORDER BY c.name",
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
                next_poll_at: Some(r.try_get("next_poll_at")?).filter(|&at| at != i64::MAX),
            })
        })
        .collect()
}

/// Removes the account, its posts and replies; returns how many posts went.
pub async fn remove(db: &Db, name: &str) -> Result<u64, ChannelError> {
    remove_as(db, name, "cli").await
}

/// [`remove`] with `actor` named in the audit log.
pub async fn remove_as(db: &Db, name: &str, actor: &str) -> Result<u64, ChannelError> {
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query("SELECT id FROM channel_accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ChannelError::Unknown(name.to_string()))?
        .try_get("id")?;
    sqlx::query("DELETE FROM replies WHERE channel_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // Analyses go with their posts (ON DELETE CASCADE); identities and their links stay.
    let posts = sqlx::query("DELETE FROM posts WHERE channel_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM channel_accounts WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit(&mut *tx, actor, "channel.remove", name, &json!({"posts": posts})).await?;
    tx.commit().await?;
    Ok(posts)
}
