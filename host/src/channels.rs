//! Channel accounts: add (validated against the plugin's manifest and checked
//! by the plugin itself), list, remove. Syncing is the ingest pipeline's job.

use std::collections::BTreeMap;

use serde_json::json;

use crate::credentials;
use crate::ingest::{Ingest, IngestError};
use crate::plugins::{LoadedChannel, Manifest};
use crate::runtime::{Account, CallError};
use crate::secrets::{SecretBox, SecretError};
pub use crate::store::accounts::ChannelSummary;
use crate::store::accounts::{self, NewAccount};
use crate::store::{Db, audit};

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

/// Checks config and secrets against the manifest: known fields only, each in
/// its place (a secret never in the config), every required field given.
fn validate(plugin: &LoadedChannel, new: &NewChannel) -> Result<(), ChannelError> {
    validate_fields(&plugin.manifest, &new.config, &new.secrets).map_err(ChannelError::Config)
}

/// [`validate`] for any account of a plugin with `manifest` (sources too).
pub(crate) fn validate_fields(
    manifest: &Manifest,
    config: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<(), String> {
    let fields = &manifest.config;
    for (name, secret) in config
        .keys()
        .map(|k| (k, false))
        .chain(secrets.keys().map(|k| (k, true)))
    {
        match fields.iter().find(|f| &f.name == name) {
            None => {
                let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(format!("unknown field `{name}`; the plugin has: {}", known.join(", ")));
            }
            Some(f) if f.secret && !secret => {
                return Err(format!("`{name}` is a secret: pass it with --secret {name}=..."));
            }
            Some(f) if !f.secret && secret => {
                return Err(format!("`{name}` is not a secret: pass it with --config {name}=..."));
            }
            Some(_) => {}
        }
    }
    for f in fields.iter().filter(|f| f.required) {
        let given = if f.secret {
            secrets.contains_key(&f.name)
        } else {
            config.contains_key(&f.name)
        };
        if !given {
            let flag = if f.secret { "--secret" } else { "--config" };
            return Err(format!("`{}` is required: {flag} {}=...", f.name, f.name));
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
    let config = serde_json::to_string(&new.config).unwrap_or_else(|_| "{}".into());
    let secrets = sbox.seal(&new.secrets, &new.name);
    let mut tx = db.begin().await?;
    let inserted = accounts::insert(
        &mut tx,
        &NewAccount {
            name: &new.name,
            plugin: &new.plugin,
            network: &network,
            config: &config,
            secrets: &secrets,
            allow_private: new.allow_private,
            kind: accounts::AccountKind::Channel,
        },
    )
    .await?;
    let Some(id) = inserted else {
        return Err(ChannelError::Exists(new.name));
    };
    credentials::entered(&mut tx, &plugin.manifest, id).await?;
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
    Ok(accounts::summaries(db).await?)
}

/// Removes the account, its posts and replies; returns how many posts went.
pub async fn remove(db: &Db, name: &str) -> Result<u64, ChannelError> {
    remove_as(db, name, "cli").await
}

/// [`remove`] with `actor` named in the audit log.
pub async fn remove_as(db: &Db, name: &str, actor: &str) -> Result<u64, ChannelError> {
    let mut tx = db.begin().await?;
    let id = accounts::id(&mut *tx, name)
        .await?
        .ok_or_else(|| ChannelError::Unknown(name.to_string()))?;
    let posts = accounts::delete(&mut tx, id).await?;
    audit(&mut *tx, actor, "channel.remove", name, &json!({"posts": posts})).await?;
    tx.commit().await?;
    Ok(posts)
}
