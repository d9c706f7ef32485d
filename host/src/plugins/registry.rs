//! Installed plugins in the database: every version kept, one active per
//! name. Install, upgrade, rollback, enable, disable and remove, each checked
//! first and audited in the same transaction as the change.

use std::future::Future;
use std::pin::Pin;

use semver::Version;
use serde_json::json;
use sqlx::{Any, Transaction};

use super::permissions::Permissions;
use super::trust::{self, TrustError};
use super::{Manifest, Package, PluginKind};
use crate::events::{Event, EventType, Outbox};
use crate::runtime::{CallError, ChannelPlugin, FailReason, LoadError, Plugin, Runtime, sha256_hex};
use crate::secrets::SecretBox;
use crate::store::accounts::load as load_account;
pub use crate::store::registry::active_digest;
use crate::store::registry::{self as stored, NewPlugin, PluginRow};
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
    #[error(
        "`{name}` is a bundled plugin's name: installing this package would replace the bundled plugin for every account that uses it; to do that, install it with --replace-bundled{}",
        widening_text(.widening)
    )]
    BundledName { name: String, widening: Vec<String> },
    #[error(
        "{name} asks to reach {hosts}: plain http, or a wildcard over a whole domain; install it with --allow-wide-hosts if that is meant"
    )]
    WideHosts { name: String, hosts: String },
    #[error("{name} {version} is not awaiting approval")]
    NotAwaiting { name: String, version: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// `; beyond the bundled plugin it may also: a; b`, or nothing.
fn widening_text(widening: &[String]) -> String {
    if widening.is_empty() {
        String::new()
    } else {
        format!(" (beyond the bundled plugin it may also: {})", widening.join("; "))
    }
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
    /// What this version may do beyond the version it would replace, waiting
    /// for an admin's approval; empty once granted.
    pub awaiting_approval: Vec<String>,
}

fn installed(row: PluginRow) -> Result<Installed, sqlx::Error> {
    let text = row.manifest;
    // Stored manifests were valid when installed; one this host no longer
    // accepts (a newer API after a host downgrade) is still listed.
    let manifest = Manifest::parse(&text)
        .or_else(|_| toml::from_str(&text))
        .map_err(|e: toml::de::Error| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Installed {
        manifest,
        manifest_text: text,
        digest: row.digest,
        package_digest: row.package_digest,
        signer: row.signer,
        active: row.active,
        enabled: row.enabled,
        installed_at: row.installed_at,
        installed_by: row.installed_by,
        awaiting_approval: row
            .awaiting_approval
            .map(|text| serde_json::from_str(&text).unwrap_or_else(|_| vec![text]))
            .unwrap_or_default(),
    })
}

/// Every installed version, by name then newest first.
pub async fn list(db: &Db) -> Result<Vec<Installed>, RegistryError> {
    let rows = stored::list(db).await?;
    let mut all = rows.into_iter().map(installed).collect::<Result<Vec<_>, _>>()?;
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
    stored::active(db, name).await?.map(with_wasm).transpose()
}

/// A row's version with its wasm, checked against the digest recorded at
/// install: wasm changed in the database (by anyone who can write it) is
/// never run.
fn with_wasm((row, wasm): (PluginRow, Vec<u8>)) -> Result<(Installed, Vec<u8>), RegistryError> {
    let installed = installed(row)?;
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
    stored::version(db, name, version).await?.map(with_wasm).transpose()
}

/// Checks `package` (signature policy, component, imports, `describe`) and
/// loads it, without storing anything.
fn load(runtime: &Runtime, manifest: &Manifest, wasm: &[u8]) -> Result<Plugin, RegistryError> {
    let plugin = super::load(runtime, manifest, wasm)?;
    match &plugin {
        Plugin::Channel(p) => p.describe().map(|_| ()),
        Plugin::Analyzer(p) => p.describe().map(|_| ()),
        Plugin::Source(p) => p.describe().map(|_| ()),
        Plugin::Scorer(p) => p.describe().map(|_| ()),
    }
    .map_err(RegistryError::Describe)?;
    Ok(plugin)
}

/// Installs a plugin that is not installed yet, active and enabled. The
/// name of a bundled plugin, and plain-http or whole-domain hosts, are
/// refused: see [`install_allowing`].
pub async fn install(db: &Db, runtime: &Runtime, package: &Package, actor: &str) -> Result<Installed, RegistryError> {
    install_allowing(db, runtime, package, Allow::default(), actor).await
}

/// What an admin explicitly allows an install, beyond the defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct Allow {
    /// Install under a bundled plugin's name, so the package replaces the
    /// bundled plugin for every account that uses that name.
    pub replace_bundled: bool,
    /// Allowed hosts over plain `http` or a wildcard over a whole domain.
    pub wide_hosts: bool,
}

/// [`install`], with what the admin allows; what it allowed is audited.
pub async fn install_allowing(
    db: &Db,
    runtime: &Runtime,
    package: &Package,
    allow: Allow,
    actor: &str,
) -> Result<Installed, RegistryError> {
    let m = &package.manifest;
    let mut granted = Vec::new();
    let replaces = beyond_bundled(package);
    if let Some(widening) = &replaces {
        if !allow.replace_bundled {
            let widening = widening.clone();
            return Err(RegistryError::BundledName {
                name: m.name.clone(),
                widening,
            });
        }
        granted.extend(widening.iter().cloned());
    }
    let wide = wide_hosts(m);
    if !wide.is_empty() {
        if !allow.wide_hosts {
            return Err(RegistryError::WideHosts {
                name: m.name.clone(),
                hosts: wide.join(", "),
            });
        }
        granted.extend(wide.iter().map(|h| format!("may reach the wide origin `{h}`")));
    }
    let action = if replaces.is_some() {
        "plugin.replace-bundled"
    } else {
        "plugin.install"
    };
    install_new(db, runtime, package, granted, actor, action).await
}

/// The allowed-hosts patterns an admin must allow explicitly: plain `http`
/// (readable and changeable on the way), or a wildcard over a whole domain
/// such as `*.com`. Origins from config values are the admin's own.
fn wide_hosts(m: &Manifest) -> Vec<String> {
    let wide = |pattern: &str| {
        let lower = pattern.to_ascii_lowercase();
        let authority = lower.split_once("://").map_or(lower.as_str(), |(_, rest)| rest);
        let host = authority.split(['/', ':']).next().unwrap_or_default();
        let labels = |suffix: &str| suffix.split('.').filter(|l| !l.is_empty()).count();
        lower.starts_with("http://") || host.strip_prefix("*.").is_some_and(|suffix| labels(suffix) < 2)
    };
    m.allowed_hosts.iter().filter(|p| wide(p)).cloned().collect()
}

/// What `package` may do beyond the bundled plugin of its name, when it would
/// replace one (a bundled manifest this host cannot read still reserves its name).
fn beyond_bundled(package: &Package) -> Option<Vec<String>> {
    let dir = super::bundled_dir(&package.manifest.name)?;
    // The bundled plugin itself (the demo installs them so the admin screens
    // list them) replaces nothing.
    if std::fs::read(dir.join("plugin.wasm")).is_ok_and(|wasm| wasm == package.wasm) {
        return None;
    }
    let bundled = std::fs::read_to_string(dir.join("plugin.toml"))
        .ok()
        .and_then(|text| Manifest::parse(&text).ok());
    let wider = |b: &Manifest| Permissions::of(b).widened_by(&Permissions::of(&package.manifest));
    Some(bundled.as_ref().map(wider).unwrap_or_default())
}

async fn install_new(
    db: &Db,
    runtime: &Runtime,
    package: &Package,
    widening: Vec<String>,
    actor: &str,
    action: &str,
) -> Result<Installed, RegistryError> {
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
    load(runtime, m, &package.wasm)?;
    let signer = signer.map(|k| format!("{} ({})", k.key_id, k.name));
    let start = Start::Active {
        enabled: true,
        widening,
        replaces: None,
    };
    store(db, package, signer, start, actor, action, None).await
}

/// Installs a newer version of an installed plugin. When it may do nothing
/// the active version may not (hosts, secrets, credential, limits, webhook
/// bodies, signer), it becomes active once its `describe` and its `check` of
/// every channel account using it pass; the previous version is kept for
/// rollback. Otherwise it is stored awaiting an admin's [`approve`] of the
/// difference, and the active version keeps running. Before consent, the
/// check runs with only the hosts both versions may reach: a request to a new
/// host is refused there, which is not a failure of the upgrade.
pub async fn upgrade(
    db: &Db,
    runtime: &Runtime,
    sbox: &SecretBox,
    package: &Package,
    actor: &str,
    then: &dyn OnActivate,
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
    let signer = trust::check(db, package)
        .await?
        .map(|k| format!("{} ({})", k.key_id, k.name));
    let mut widening = Permissions::of(&current.manifest).widened_by(&Permissions::of(m));
    if key_id(&signer) != key_id(&current.signer) {
        let name = |s: &Option<String>| s.clone().unwrap_or_else(|| "no key (unsigned)".into());
        widening.push(format!(
            "signed by {} instead of {}",
            name(&signer),
            name(&current.signer)
        ));
    }
    if let Plugin::Channel(plugin) = load(runtime, m, &package.wasm)? {
        let granted = m
            .allowed_hosts
            .iter()
            .filter(|h| current.manifest.allowed_hosts.contains(h))
            .cloned()
            .collect();
        let narrowed = plugin.with_allowed_hosts(granted);
        check_accounts(db, sbox, &narrowed, m, current, !widening.is_empty()).await?;
    }
    if !widening.is_empty() {
        let start = Start::AwaitingApproval(widening);
        return store(
            db,
            package,
            signer,
            start,
            actor,
            "plugin.upgrade.awaiting-approval",
            None,
        )
        .await;
    }
    let start = Start::Active {
        enabled: current.enabled,
        widening,
        replaces: Some(current.manifest.version.to_string()),
    };
    let upgraded = store(db, package, signer, start, actor, "plugin.upgrade", Some(then)).await?;
    Ok(upgraded)
}

/// What else the transaction that makes an upgrade active does: the caller's
/// business (queueing an analyzer's re-analysis, `reanalysis::QueueOnUpgrade`),
/// so the registry depends on nothing above it. An error rolls the upgrade back.
pub trait OnActivate: Sync {
    /// `manifest` has replaced version `previous` as its plugin's active version.
    fn activated<'a>(
        &'a self,
        tx: &'a mut Transaction<'static, Any>,
        manifest: &'a Manifest,
        previous: &'a str,
        actor: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;
}

/// Grants what version `version` of `name` was waiting for and makes it
/// active, once its `check` of every channel account passes under the
/// permissions it asked for.
pub async fn approve(
    db: &Db,
    runtime: &Runtime,
    sbox: &SecretBox,
    name: &str,
    version: &str,
    actor: &str,
    then: &dyn OnActivate,
) -> Result<Installed, RegistryError> {
    let (pending, wasm) = self::version(db, name, version)
        .await?
        .ok_or_else(|| RegistryError::NotInstalled(format!("{name} {version}")))?;
    if pending.awaiting_approval.is_empty() {
        return Err(RegistryError::NotAwaiting {
            name: name.to_string(),
            version: version.to_string(),
        });
    }
    let existing = versions(db, name).await?;
    let current = existing.iter().find(|p| p.active).unwrap_or(&existing[0]);
    let m = &pending.manifest;
    if m.version <= current.manifest.version {
        return Err(RegistryError::NotNewer {
            name: name.to_string(),
            active: current.manifest.version.clone(),
            version: m.version.clone(),
        });
    }
    if let Plugin::Channel(plugin) = load(runtime, m, &wasm)? {
        check_accounts(db, sbox, &plugin, m, current, false).await?;
    }
    let outbox = Outbox::of(db).await?;
    let mut tx = db.begin().await?;
    stored::deactivate(&mut tx, name).await?;
    stored::activate_approved(&mut tx, name, version, current.enabled, now_ms()).await?;
    let details = json!({"version": version, "granted": pending.awaiting_approval});
    audit(&mut *tx, actor, "plugin.approve", &format!("plugin:{name}"), &details).await?;
    let data = json!({"name": name, "previous": current.manifest.version.to_string(), "actor": actor});
    let approved = Event::new(EventType::PluginApproved, data).with_fields(&details);
    outbox.write(&mut tx, [approved]).await?;
    then.activated(&mut tx, m, &current.manifest.version.to_string(), actor)
        .await?;
    tx.commit().await?;
    Ok(Installed {
        active: true,
        enabled: current.enabled,
        awaiting_approval: Vec::new(),
        ..pending
    })
}

/// The key id in a `KEY_ID (NAME)` signer.
fn key_id(signer: &Option<String>) -> Option<&str> {
    signer.as_deref().map(|s| s.split(' ').next().unwrap_or(s))
}

/// Runs `plugin`'s `check` on every channel account of its name. With
/// `new_hosts_pending`, a request refused because its host is not granted
/// yet is not a failure: the version waits for approval, and is checked again then.
async fn check_accounts(
    db: &Db,
    sbox: &SecretBox,
    plugin: &ChannelPlugin,
    m: &Manifest,
    current: &Installed,
    new_hosts_pending: bool,
) -> Result<(), RegistryError> {
    for name in stored::channels_using(db, &m.name).await? {
        let failed = |reason: String| RegistryError::Check {
            account: name.clone(),
            version: m.version.to_string(),
            active: current.manifest.version.to_string(),
            reason,
        };
        let stored = load_account(db, sbox, &name).await.map_err(|e| failed(e.to_string()))?;
        match tokio::task::block_in_place(|| plugin.check(&stored.account)) {
            Ok(_) => {}
            Err(e) if new_hosts_pending && refused_host(&e) => {}
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    Ok(())
}

fn refused_host(e: &CallError) -> bool {
    matches!(&e.reason, FailReason::RequestRefused(why) if why.ends_with("is not in the plugin's allowed hosts"))
}

/// Makes the version active before the current one active again. Channel
/// accounts keep their configuration and committed state throughout.
pub async fn rollback(db: &Db, name: &str, actor: &str) -> Result<Installed, RegistryError> {
    let mut tx = db.begin().await?;
    let rows = stored::activation_order(&mut tx, name).await?;
    let (Some((current, from)), Some((previous, to))) = (rows.first(), rows.get(1)) else {
        return Err(if rows.is_empty() {
            RegistryError::NotInstalled(name.to_string())
        } else {
            RegistryError::NoPrevious { name: name.to_string() }
        });
    };
    stored::deactivate(&mut tx, name).await?;
    stored::activate(&mut tx, *previous, now_ms()).await?;
    // The version rolled back from sorts behind every other until activated again.
    stored::clear_activated_at(&mut tx, *current).await?;
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
    stored::set_enabled(&mut tx, name, enabled).await?;
    let action = if enabled { "plugin.enable" } else { "plugin.disable" };
    audit(&mut *tx, actor, action, &format!("plugin:{name}"), &json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes every version of `name`, refused while channels use it.
pub async fn remove(db: &Db, name: &str, actor: &str) -> Result<usize, RegistryError> {
    let existing = versions(db, name).await?;
    let channels = stored::channels_using(db, name).await?;
    if !channels.is_empty() {
        return Err(RegistryError::InUse {
            name: name.to_string(),
            channels: channels.join(", "),
        });
    }
    let mut tx = db.begin().await?;
    stored::delete(&mut tx, name).await?;
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

/// How a stored version starts.
enum Start {
    /// Active at once, with what the act granted beyond what ran before.
    Active {
        enabled: bool,
        widening: Vec<String>,
        /// An analyzer's version it replaces: its history is re-analysed.
        replaces: Option<String>,
    },
    /// Stored inactive until an admin approves what it widens.
    AwaitingApproval(Vec<String>),
}

/// Stores `package`, active or awaiting approval.
async fn store(
    db: &Db,
    package: &Package,
    signer: Option<String>,
    start: Start,
    actor: &str,
    action: &str,
    then: Option<&dyn OnActivate>,
) -> Result<Installed, RegistryError> {
    let m = &package.manifest;
    let now = now_ms();
    let (digest, package_digest) = (sha256_hex(&package.wasm), package.digest());
    let (active, enabled, widening, awaiting, replaces) = match start {
        Start::Active {
            enabled,
            widening,
            replaces,
        } => (true, enabled, widening, Vec::new(), replaces),
        Start::AwaitingApproval(widening) => (false, true, widening.clone(), widening, None),
    };
    let outbox = Outbox::of(db).await?;
    let mut tx = db.begin().await?;
    if active {
        stored::deactivate(&mut tx, &m.name).await?;
    }
    let awaiting_json = (!awaiting.is_empty()).then(|| json!(awaiting).to_string());
    let row = NewPlugin {
        name: &m.name,
        version: &m.version.to_string(),
        kind: m.kind.name(),
        digest: &digest,
        package_digest: &package_digest,
        manifest: &package.manifest_text,
        wasm: &package.wasm,
        signer: signer.as_deref(),
        active,
        enabled,
        activated_at: active.then_some(now),
        installed_at: now,
        installed_by: actor,
        awaiting_approval: awaiting_json.as_deref(),
    };
    stored::insert(&mut tx, &row).await?;
    let details = json!({"version": m.version.to_string(), "digest": digest, "signer": signer, "widens": widening});
    audit(&mut *tx, actor, action, &format!("plugin:{}", m.name), &details).await?;
    let kind = if action.starts_with("plugin.upgrade") {
        EventType::PluginUpgraded
    } else {
        EventType::PluginInstalled
    };
    let data =
        json!({"name": m.name, "kind": row.kind, "active": active, "awaiting_approval": awaiting, "actor": actor});
    outbox
        .write(&mut tx, [Event::new(kind, data).with_fields(&details)])
        .await?;
    if let (Some(previous), Some(then)) = (replaces, then) {
        then.activated(&mut tx, m, &previous, actor).await?;
    }
    tx.commit().await?;
    Ok(Installed {
        manifest: m.clone(),
        manifest_text: package.manifest_text.clone(),
        digest,
        package_digest,
        signer,
        active,
        enabled,
        installed_at: now,
        installed_by: actor.to_string(),
        awaiting_approval: awaiting,
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
