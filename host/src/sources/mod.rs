//! Sources of customer data (docs/sources.md): accounts of source plugins
//! (world `crm-source`), kept in `channel_accounts` as kind `source` so that
//! they share the channels' sealed secrets, network policy, egress log,
//! schedule, leases, backoff and pause; each page a source pulls is
//! committed with its cursor in one transaction (`commit.rs`) by the runner
//! the scheduler calls for a source's lease (`sync.rs`).

mod commit;
mod sync;

use std::collections::BTreeMap;

use serde_json::json;

pub use commit::{CommitError, Committed, SourceRef, commit_page, crm_kind};
pub use sync::{SyncReport, sync, sync_now};

use crate::ingest::{Ingest, IngestError};
use crate::runtime::{Account, CallError};
use crate::secrets::SecretBox;
use crate::store::accounts::{self, AccountKind, NewAccount};
pub use crate::store::sources::SourceSummary;
use crate::store::{Db, audit, now_ms, sources};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error("{0}")]
    Config(String),
    #[error("a channel or source named `{0}` already exists")]
    Exists(String),
    #[error("no source named `{0}` (see `socialcrm source list`)")]
    Unknown(String),
    #[error("the plugin's check failed: {0}")]
    Check(CallError),
    #[error("erasing contact {contact} that the source deleted: {why}")]
    Erase { contact: i64, why: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// What the host does with a contact the source deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDelete {
    /// Kept, marked inactive (its transactions stay).
    #[default]
    Inactive,
    /// Erased as a data subject's erasure would (docs/privacy.md), and kept
    /// out of every later sync.
    Erase,
}

impl OnDelete {
    pub fn name(self) -> &'static str {
        match self {
            OnDelete::Inactive => "inactive",
            OnDelete::Erase => "erase",
        }
    }

    pub fn parse(text: &str) -> Option<OnDelete> {
        match text {
            "inactive" => Some(OnDelete::Inactive),
            "erase" => Some(OnDelete::Erase),
            _ => None,
        }
    }
}

/// A source account to add.
#[derive(Clone, Debug, Default)]
pub struct NewSource {
    pub name: String,
    /// An installed or bundled plugin's name, or a plugin directory.
    pub plugin: String,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    /// Let the plugin reach loopback and private addresses (local or test servers).
    pub allow_private: bool,
    pub on_delete: OnDelete,
}

/// Adds a source account after the plugin's own `check` accepts it;
/// `actor` is named in the audit log.
pub async fn add(db: &Db, sbox: &SecretBox, ingest: &Ingest, new: NewSource, actor: &str) -> Result<(), SourceError> {
    let plugin = ingest.source_plugin(&new.plugin).await?;
    crate::channels::validate_fields(&plugin.manifest, &new.config, &new.secrets).map_err(SourceError::Config)?;
    let account = Account {
        name: new.name.clone(),
        config: new.config.clone(),
        secrets: new.secrets.clone(),
        allow_private: new.allow_private,
        ..Account::default()
    };
    let checker = plugin.plugin.clone();
    tokio::task::spawn_blocking(move || checker.check(&account))
        .await
        .map_err(|e| IngestError::Join(e.to_string()))?
        .map_err(SourceError::Check)?;
    let network = plugin.manifest.network.clone().unwrap_or_default();
    let config = serde_json::to_string(&new.config).unwrap_or_else(|_| "{}".into());
    let secrets = sbox.seal(&new.secrets, &new.name);
    let mut tx = db.begin().await?;
    let new_account = NewAccount {
        name: &new.name,
        plugin: &new.plugin,
        network: &network,
        config: &config,
        secrets: &secrets,
        allow_private: new.allow_private,
        kind: AccountKind::Source,
    };
    let Some(id) = accounts::insert(&mut tx, &new_account).await? else {
        return Err(SourceError::Exists(new.name));
    };
    sources::insert_settings(&mut tx, id, new.on_delete.name()).await?;
    let details = json!({"plugin": new.plugin, "source": network, "on_delete": new.on_delete.name()});
    audit(&mut *tx, actor, "source.add", &format!("source:{}", new.name), &details).await?;
    tx.commit().await?;
    Ok(())
}

/// Every source account.
pub async fn list(db: &Db) -> Result<Vec<SourceSummary>, SourceError> {
    Ok(sources::summaries(db).await?)
}

/// Pauses source `name` (kept, not synced until resumed) or resumes it (due now).
pub async fn set_paused(db: &Db, name: &str, paused: bool, actor: &str) -> Result<(), SourceError> {
    if !sources::set_paused(db, name, paused, now_ms()).await? {
        return Err(SourceError::Unknown(name.to_string()));
    }
    let action = if paused { "source.pause" } else { "source.resume" };
    audit(db.pool(), actor, action, &format!("source:{name}"), &json!({})).await?;
    Ok(())
}
