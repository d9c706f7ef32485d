//! Installed plugins in the database: every version kept, one active per
//! name. Install, upgrade, rollback, enable, disable and remove, each checked
//! first and audited in the same transaction as the change.

use semver::Version;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::trust::{self, TrustError};
use super::{Manifest, Package, PluginKind};
use crate::ingest::load_account;
use crate::runtime::{CallError, LoadError, Plugin, Runtime, sha256_hex};
use crate::secrets::SecretBox;
use crate::store::{Db, audit, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{name} {version} is already installed")]
    Exists { name: String, version: Version },
    #[error("{name} is already installed (version {active}); use `socialcrm plugin upgrade` for another version")]
    Installed { name: String, active: Version },
    #[error("no installed plugin `{0}` (see `socialcrm plugin list`)")]
    NotInstalled(String),
    #[error(
        "{name}: an upgrade must be newer than the active {active}, not {version}; use `socialcrm plugin rollback` to go back"
    )]
    NotNewer {
        name: String,
        active: Version,
        version: Version,
    },
    #[error("{name}: no earlier version to roll back to")]
    NoPrevious { name: String },
    #[error("{name} is used by channel(s) {channels}; remove them first")]
    InUse { name: String, channels: String },
    #[error("{name} is a {found:?} plugin, the installed one a {installed:?} plugin")]
    KindChanged {
        name: String,
        found: PluginKind,
        installed: PluginKind,
    },
    #[error("{name} {version}: the stored wasm does not match the digest recorded at install; reinstall the package")]
    Tampered { name: String, version: Version },
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("refused: {0}")]
    Load(#[from] LoadError),
    #[error("refused: {0}")]
    Describe(CallError),
    #[error("the upgrade to {version} fails on channel `{account}`, so {active} stays active: {reason}")]
    Check {
        account: String,
        version: String,
        active: String,
        reason: String,
    },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// One installed version.
#[derive(Clone, Debug)]
pub struct Installed {
    pub manifest: Manifest,
    /// `plugin.toml` as packaged.
    pub manifest_text: String,
    pub digest: String,
    pub package_digest: String,
    /// `KEY_ID (NAME)` of the trusted key that signed it.
    pub signer: Option<String>,
    pub active: bool,
    pub enabled: bool,
    pub installed_at: i64,
    pub installed_by: String,
}

const COLUMNS: &str = "manifest, digest, package_digest, signer, active, enabled, installed_at, installed_by";

fn installed(row: &AnyRow) -> Result<Installed, sqlx::Error> {
    let text: String = row.try_get("manifest")?;
    // Stored manifests were valid when installed; one this host no longer
    // accepts (a newer API after a host downgrade) is still listed.
    let manifest = Manifest::parse(&text)
        .or_else(|_| toml::from_str(&text))
        .map_err(|e: toml::de::Error| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Installed {
        manifest,
        manifest_text: text,
        digest: row.try_get("digest")?,
        package_digest: row.try_get("package_digest")?,
        signer: row.try_get("signer")?,
        active: row.try_get::<i64, _>("active")? != 0,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        installed_at: row.try_get("installed_at")?,
        installed_by: row.try_get("installed_by")?,
    })
}

/// Every installed version, by name then newest first.
pub async fn list(db: &Db) -> Result<Vec<Installed>, RegistryError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM plugins ORDER BY name, id DESC"
    )))
    .fetch_all(db.pool())
    .await?;
    let mut all = rows.iter().map(installed).collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| {
        (a.manifest.name.as_str(), &b.manifest.version).cmp(&(b.manifest.name.as_str(), &a.manifest.version))
    });
    Ok(all)
}

/// The versions of `name`, newest first.
pub async fn versions(db: &Db, name: &str) -> Result<Vec<Installed>, RegistryError> {
    let all: Vec<Installed> = list(db)
        .await?
        .into_iter()
        .filter(|p| p.manifest.name == name)
        .collect();
    if all.is_empty() {
        return Err(RegistryError::NotInstalled(name.to_string()));
    }
    Ok(all)
}

/// The active version of `name` with its wasm, if `name` is installed.
pub async fn active(db: &Db, name: &str) -> Result<Option<(Installed, Vec<u8>)>, RegistryError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, wasm FROM plugins WHERE name = $1 AND active = 1"
    )))
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| with_wasm(&r)).transpose()
}

/// A row's version with its wasm, checked against the digest recorded at
/// install: wasm changed in the database (by anyone who can write it) is
/// never run.
fn with_wasm(row: &AnyRow) -> Result<(Installed, Vec<u8>), RegistryError> {
    let (installed, wasm): (Installed, Vec<u8>) = (installed(row)?, row.try_get("wasm")?);
    if sha256_hex(&wasm) != installed.digest {
        return Err(RegistryError::Tampered {
            name: installed.manifest.name.clone(),
            version: installed.manifest.version.clone(),
        });
    }
    Ok((installed, wasm))
}

/// The installed version `version` of `name` with its wasm, if installed.
pub async fn version(db: &Db, name: &str, version: &str) -> Result<Option<(Installed, Vec<u8>)>, RegistryError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
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

/// Checks `package` (signature policy, component, imports, `describe`) and
/// loads it, without storing anything.
fn load(runtime: &Runtime, package: &Package) -> Result<Plugin, RegistryError> {
    let plugin = runtime.load(package.manifest.clone(), &package.wasm)?;
    match &plugin {
        Plugin::Channel(p) => p.describe().map(|_| ()),
        Plugin::Analyzer(p) => p.describe().map(|_| ()),
    }
    .map_err(RegistryError::Describe)?;
    Ok(plugin)
}

/// Installs a plugin that is not installed yet, active and enabled.
pub async fn install(db: &Db, runtime: &Runtime, package: &Package, actor: &str) -> Result<Installed, RegistryError> {
    let m = &package.manifest;
    match versions(db, &m.name).await {
        Ok(existing) => {
            if existing.iter().any(|p| p.manifest.version == m.version) {
                return Err(RegistryError::Exists {
                    name: m.name.clone(),
                    version: m.version.clone(),
                });
            }
            let active = existing.iter().find(|p| p.active).unwrap_or(&existing[0]);
            return Err(RegistryError::Installed {
                name: m.name.clone(),
                active: active.manifest.version.clone(),
            });
        }
        Err(RegistryError::NotInstalled(_)) => {}
        Err(e) => return Err(e),
    }
    let signer = trust::check(db, package).await?;
    load(runtime, package)?;
    store(
        db,
        package,
        signer.map(|k| format!("{} ({})", k.key_id, k.name)),
        true,
        actor,
        "plugin.install",
    )
    .await
}

/// Installs a newer version of an installed plugin and makes it active, after
/// its `describe` and its `check` of every channel account using it pass; the
/// previous version is kept for rollback.
pub async fn upgrade(
    db: &Db,
    runtime: &Runtime,
    sbox: &SecretBox,
    package: &Package,
    actor: &str,
) -> Result<Installed, RegistryError> {
    let m = &package.manifest;
    let existing = versions(db, &m.name).await?;
    let current = existing.iter().find(|p| p.active).unwrap_or(&existing[0]);
    if existing.iter().any(|p| p.manifest.version == m.version) {
        return Err(RegistryError::Exists {
            name: m.name.clone(),
            version: m.version.clone(),
        });
    }
    if m.version <= current.manifest.version {
        return Err(RegistryError::NotNewer {
            name: m.name.clone(),
            active: current.manifest.version.clone(),
            version: m.version.clone(),
        });
    }
    if m.kind != current.manifest.kind {
        return Err(RegistryError::KindChanged {
            name: m.name.clone(),
            found: m.kind,
            installed: current.manifest.kind,
        });
    }
    let signer = trust::check(db, package).await?;
    if let Plugin::Channel(plugin) = load(runtime, package)? {
        for name in channels_using(db, &m.name).await? {
            let failed = |reason: String| RegistryError::Check {
                account: name.clone(),
                version: m.version.to_string(),
                active: current.manifest.version.to_string(),
                reason,
            };
            let stored = load_account(db, sbox, &name).await.map_err(|e| failed(e.to_string()))?;
            let checked = tokio::task::block_in_place(|| plugin.check(&stored.account));
            checked.map_err(|e| failed(e.to_string()))?;
        }
    }
    let signer = signer.map(|k| format!("{} ({})", k.key_id, k.name));
    let upgraded = store(db, package, signer, current.enabled, actor, "plugin.upgrade").await?;
    if m.kind == PluginKind::Analyzer {
        // History is re-analysed in the background; insights keep reading the
        // previous version until an admin switches (`socialcrm analyzer`).
        let from = current.manifest.version.to_string();
        crate::reanalysis::queue_after_upgrade(db, &m.name, &from, &m.version.to_string(), actor).await?;
    }
    Ok(upgraded)
}

/// Makes the version active before the current one active again. Channel
/// accounts keep their configuration and committed state throughout.
pub async fn rollback(db: &Db, name: &str, actor: &str) -> Result<Installed, RegistryError> {
    let mut tx = db.begin().await?;
    let rows = sqlx::query(
        "SELECT id, version, active FROM plugins WHERE name = $1 ORDER BY active DESC, activated_at DESC, id DESC",
    )
    .bind(name)
    .fetch_all(&mut *tx)
    .await?;
    let (Some(current), Some(previous)) = (rows.first(), rows.get(1)) else {
        return Err(if rows.is_empty() {
            RegistryError::NotInstalled(name.to_string())
        } else {
            RegistryError::NoPrevious { name: name.to_string() }
        });
    };
    let (from, to): (String, String) = (current.try_get("version")?, previous.try_get("version")?);
    sqlx::query("UPDATE plugins SET active = 0 WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE plugins SET active = 1, activated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(previous.try_get::<i64, _>("id")?)
        .execute(&mut *tx)
        .await?;
    // The version rolled back from sorts behind every other until activated again.
    sqlx::query("UPDATE plugins SET activated_at = 0 WHERE id = $1")
        .bind(current.try_get::<i64, _>("id")?)
        .execute(&mut *tx)
        .await?;
    audit(
        &mut *tx,
        actor,
        "plugin.rollback",
        &format!("plugin:{name}"),
        &json!({"from": from, "to": to}),
    )
    .await?;
    tx.commit().await?;
    versions(db, name)
        .await?
        .into_iter()
        .find(|p| p.active)
        .ok_or_else(|| RegistryError::NotInstalled(name.to_string()))
}

/// Enables or disables every version of `name`: a disabled plugin's channels
/// are not polled and its analyses not run.
pub async fn set_enabled(db: &Db, name: &str, enabled: bool, actor: &str) -> Result<(), RegistryError> {
    versions(db, name).await?;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE plugins SET enabled = $1 WHERE name = $2")
        .bind(i64::from(enabled))
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let action = if enabled { "plugin.enable" } else { "plugin.disable" };
    audit(&mut *tx, actor, action, &format!("plugin:{name}"), &json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes every version of `name`, refused while channels use it.
pub async fn remove(db: &Db, name: &str, actor: &str) -> Result<usize, RegistryError> {
    let existing = versions(db, name).await?;
    let channels = channels_using(db, name).await?;
    if !channels.is_empty() {
        return Err(RegistryError::InUse {
            name: name.to_string(),
            channels: channels.join(", "),
        });
    }
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM plugins WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let versions: Vec<String> = existing.iter().map(|p| p.manifest.version.to_string()).collect();
    audit(
        &mut *tx,
        actor,
        "plugin.remove",
        &format!("plugin:{name}"),
        &json!({"versions": versions}),
    )
    .await?;
    tx.commit().await?;
    Ok(existing.len())
}

async fn channels_using(db: &Db, name: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT name FROM channel_accounts WHERE plugin = $1 ORDER BY name")
        .bind(name)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| r.try_get("name")).collect()
}

/// Stores `package` as the active version of its name.
async fn store(
    db: &Db,
    package: &Package,
    signer: Option<String>,
    enabled: bool,
    actor: &str,
    action: &str,
) -> Result<Installed, RegistryError> {
    let m = &package.manifest;
    let now = now_ms();
    let (digest, package_digest) = (sha256_hex(&package.wasm), package.digest());
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE plugins SET active = 0 WHERE name = $1")
        .bind(&m.name)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO plugins (name, version, kind, digest, package_digest, manifest, wasm, signer, active, enabled, \
         activated_at, installed_at, installed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10, $11)",
    )
    .bind(&m.name)
    .bind(m.version.to_string())
    .bind(if m.kind == PluginKind::Channel {
        "channel"
    } else {
        "analyzer"
    })
    .bind(&digest)
    .bind(&package_digest)
    .bind(&package.manifest_text)
    .bind(package.wasm.as_slice())
    .bind(signer.as_deref())
    .bind(i64::from(enabled))
    .bind(now)
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    let details = json!({"version": m.version.to_string(), "digest": digest, "signer": signer});
    audit(&mut *tx, actor, action, &format!("plugin:{}", m.name), &details).await?;
    tx.commit().await?;
    Ok(Installed {
        manifest: m.clone(),
        manifest_text: package.manifest_text.clone(),
        digest,
        package_digest,
        signer,
        active: true,
        enabled,
        installed_at: now,
        installed_by: actor.to_string(),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("plugin `{0}` is disabled (`socialcrm plugin enable {0}`)")]
    Disabled(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Resolve(#[from] super::ResolveError),
}

/// A plugin as channels and analyzers run it.
pub struct Found {
    pub manifest: Manifest,
    pub wasm: Vec<u8>,
    /// The installed version's wasm digest; `None` for a bundled plugin or a path.
    pub digest: Option<String>,
}

/// The plugin `name`: the active installed version, else a bundled plugin or
/// a path (see [`super::resolve`]).
pub async fn find(db: &Db, name: &str) -> Result<Found, FindError> {
    match active(db, name).await? {
        Some((installed, _)) if !installed.enabled => Err(FindError::Disabled(name.to_string())),
        Some((installed, wasm)) => Ok(Found {
            manifest: installed.manifest,
            wasm,
            digest: Some(installed.digest),
        }),
        None => {
            let (manifest, wasm) = super::resolve(name)?;
            Ok(Found {
                manifest,
                wasm,
                digest: None,
            })
        }
    }
}
