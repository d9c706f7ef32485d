//! `socialcrm plugin ...`: the admin's lifecycle commands and the plugin
//! author's toolchain.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::{Global, plugin_dev};
use crate::plugins::index::catalog::{self, Catalog};
use crate::plugins::index::{FetchLimits, Spec, publish, sources};
use crate::plugins::registry::{self, Installed};
use crate::plugins::signing::{PublicKey, SigningKey};
use crate::plugins::{Package, trust, world_wit};
use crate::store::Db;

/// Install, inspect and manage plugins; sign packages; scaffold, test and
/// package your own.
///
/// Examples:
///   socialcrm plugin install acme-1.0.0.scpkg
///   socialcrm plugin index add acme https://plugins.acme.example/index.json --key acme-index.pub
///   socialcrm plugin search mastodon
///   socialcrm plugin install acme@1.0.0
///   socialcrm plugin outdated
///   socialcrm plugin publish acme-1.0.0.scpkg --index site/ --key acme-index.key
///   socialcrm plugin list
///   socialcrm plugin inspect acme
///   socialcrm plugin upgrade acme-1.1.0.scpkg
///   socialcrm plugin approve acme 1.1.0
///   socialcrm plugin rollback acme
///   socialcrm plugin keygen acme --out keys/
///   socialcrm plugin sign acme-1.0.0.scpkg --key keys/acme.key
///   socialcrm plugin trust add keys/acme.pub
///   socialcrm plugin policy --require-signatures true
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Install a package (.scpkg), or NAME[@VERSION] from the configured
    /// indexes (the newest version this host runs unless VERSION is given):
    /// checked (index signature, package digest, manifest, API version,
    /// component, imports, signature policy) before anything is stored.
    Install {
        /// A package file, or NAME[@VERSION] when no such file exists.
        package: String,
        /// Resolve NAME from this index only.
        #[arg(long)]
        index: Option<String>,
        /// Install under a bundled plugin's name, replacing the bundled plugin
        /// for every account that uses that name.
        #[arg(long)]
        replace_bundled: bool,
        /// Allow hosts over plain http or a wildcard over a whole domain (`*.com`).
        #[arg(long)]
        allow_wide_hosts: bool,
    },
    /// Every installed version, the active one marked.
    List,
    /// An installed plugin (by name) or a package file: manifest, digests,
    /// signer, requested hosts and limits, imports and exports as WIT.
    Inspect { plugin: String },
    /// Let a disabled plugin's channels and analyses run again.
    Enable { name: String },
    /// Stop polling a plugin's channels and running its analyses.
    Disable { name: String },
    /// Install a newer version and make it active, once its `check` passes on
    /// every channel that uses it; the previous version is kept. A version
    /// that may do more (hosts, secrets, credential, limits, signer) waits for
    /// `plugin approve`, and the active version keeps running.
    Upgrade {
        /// A package file, or NAME[@VERSION] from the indexes when no such file exists.
        package: String,
        /// Resolve NAME from this index only.
        #[arg(long)]
        index: Option<String>,
    },
    /// Plugins the configured indexes offer whose name, description or
    /// network contains TERM (all without one): the newest version this host
    /// runs, and whether it is installed.
    Search { term: Option<String> },
    /// Installed plugins that an index offers a newer version of.
    Outdated,
    /// Add a package to an index directory (DIR/index.json plus the package
    /// files) and sign the index again; serve DIR with any static file server.
    Publish {
        package: PathBuf,
        /// The index directory (created when missing).
        #[arg(long)]
        index: PathBuf,
        /// The index's signing key (made with `plugin keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Where DIR is served, for absolute package URLs (default: relative to the index).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Manage the plugin indexes `search` and `install NAME` use.
    Index {
        #[command(subcommand)]
        action: IndexAction,
    },
    /// Grant what a version awaiting approval may do beyond the active one,
    /// and make it active once its `check` passes on every channel.
    Approve { name: String, version: String },
    /// Make the previous version active again (channels keep config and state).
    Rollback { name: String },
    /// Remove every version of a plugin no channel uses.
    Remove { name: String },
    /// Build a package from a directory holding plugin.toml and plugin.wasm.
    Pack {
        dir: PathBuf,
        /// Where to write NAME-VERSION.scpkg (default: the current directory).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Make a publisher key pair: NAME.key (keep it private) and NAME.pub.
    Keygen {
        name: String,
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Sign a package in place with a publisher key.
    Sign {
        package: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Check a package's signature against the trusted keys.
    Verify { package: PathBuf },
    /// Manage the publisher keys whose signatures are trusted.
    Trust {
        #[command(subcommand)]
        action: TrustAction,
    },
    /// Show or set the signature policy.
    Policy {
        /// Refuse unsigned packages (true) or install them with a warning (false).
        #[arg(long)]
        require_signatures: Option<bool>,
    },
    #[command(flatten)]
    Dev(plugin_dev::DevCommand),
}

#[derive(Subcommand)]
enum TrustAction {
    /// Trust a public key file (NAME.pub).
    Add {
        key: PathBuf,
    },
    List,
    /// Stop trusting a key (by id or name); installed plugins stay.
    Remove {
        key: String,
    },
}

#[derive(Subcommand)]
enum IndexAction {
    /// Use the index at URL, whose index file KEY.pub (a `plugin keygen` public key) must sign.
    Add {
        name: String,
        url: String,
        #[arg(long)]
        key: PathBuf,
    },
    List,
    /// Stop using an index; plugins installed from it stay.
    Remove {
        name: String,
    },
}

fn read_package(path: &Path) -> anyhow::Result<Package> {
    Ok(Package::read(path)?)
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        PluginCommand::Dev(command) => plugin_dev::run(global, command),
        PluginCommand::Pack { dir, out } => {
            let package = Package::from_dir(&dir)?;
            crate::plugins::schema::check(&package.manifest_text)?;
            let path = out.join(package.file_name());
            package
                .write(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("{} (digest {})", path.display(), package.digest());
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Keygen { name, out } => {
            let key = SigningKey::generate(&name)?;
            let (private, public) = (out.join(format!("{name}.key")), out.join(format!("{name}.pub")));
            if private.exists() {
                anyhow::bail!("{} exists; not overwriting a key", private.display());
            }
            write_private(&private, &key.to_text())?;
            std::fs::write(&public, key.public().to_text())?;
            println!(
                "key {}: private {} (keep it secret), public {}",
                key.public().id(),
                private.display(),
                public.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Publish {
            package,
            index,
            key,
            base_url,
        } => {
            let key = SigningKey::read(&key)?;
            let published = publish::publish(&index, &package, &key, base_url.as_deref())?;
            let release = &published.release;
            println!(
                "{} {} {} in {} ({}, sha256 {})",
                if published.unchanged {
                    "already published, unchanged:"
                } else {
                    "published"
                },
                published.name,
                release.version,
                index.join(publish::INDEX_FILE).display(),
                release.url,
                release.sha256
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Sign { package, key } => {
            let key = SigningKey::read(&key)?;
            let mut pkg = read_package(&package)?;
            key.sign(&mut pkg);
            pkg.write(&package)?;
            println!(
                "signed {} with key {} ({})",
                package.display(),
                key.public().id(),
                key.name
            );
            Ok(ExitCode::SUCCESS)
        }
        command => global.runtime()?.block_on(async {
            let db = global.db().await?;
            admin(global, &db, command).await
        }),
    }
}

async fn admin(global: &Global, db: &Db, command: PluginCommand) -> anyhow::Result<ExitCode> {
    let actor = super::actor();
    match command {
        PluginCommand::Install {
            package,
            index,
            replace_bundled,
            allow_wide_hosts,
        } => {
            let allow = registry::Allow {
                replace_bundled,
                wide_hosts: allow_wide_hosts,
            };
            let app = global.bare_app(db)?;
            let installed = match from_index(&package)? {
                None => {
                    app.install_plugin(&read_package(Path::new(&package))?, allow, &actor)
                        .await?
                }
                Some(spec) => {
                    let limits = FetchLimits::default();
                    let (offer, installed) = app
                        .install_from_index(&spec, index.as_deref(), allow, &limits, &actor)
                        .await?;
                    println!("from index `{}`: {}", offer.index, offer.url);
                    installed
                }
            };
            println!("installed {}", summary(&installed));
            let features = &installed.manifest.scorer.features;
            if !features.is_empty() {
                println!("reads contact features: {}", features.join(", "));
            }
        }
        PluginCommand::Upgrade { package, index } => {
            let app = global.bare_app(db)?;
            let installed = match from_index(&package)? {
                None => app.upgrade_plugin(&read_package(Path::new(&package))?, &actor).await?,
                Some(spec) => {
                    let limits = FetchLimits::default();
                    let (offer, installed) = app.upgrade_from_index(&spec, index.as_deref(), &limits, &actor).await?;
                    println!("from index `{}`: {}", offer.index, offer.url);
                    installed
                }
            };
            if installed.active {
                println!("upgraded to {}", summary(&installed));
            } else {
                let m = &installed.manifest;
                println!("{} {} awaits approval; it may also:", m.name, m.version);
                for line in &installed.awaiting_approval {
                    println!("  - {line}");
                }
                println!("approve with `socialcrm plugin approve {} {}`", m.name, m.version);
            }
        }
        PluginCommand::Approve { name, version } => {
            let approved = global.bare_app(db)?.approve_plugin(&name, &version, &actor).await?;
            println!("approved and upgraded to {}", summary(&approved));
        }
        PluginCommand::Rollback { name } => {
            let active = registry::rollback(db, &name, &actor).await?;
            println!("rolled back to {}", summary(&active));
        }
        PluginCommand::Enable { name } => {
            registry::set_enabled(db, &name, true, &actor).await?;
            println!("enabled {name}");
        }
        PluginCommand::Disable { name } => {
            registry::set_enabled(db, &name, false, &actor).await?;
            println!("disabled {name}");
        }
        PluginCommand::Remove { name } => {
            let n = registry::remove(db, &name, &actor).await?;
            println!("removed {name} ({n} version(s))");
        }
        PluginCommand::List => {
            println!(
                "{:<20} {:<10} {:<9} {:<8} {:<8} signer",
                "name", "version", "kind", "active", "enabled"
            );
            for p in registry::list(db).await? {
                println!(
                    "{:<20} {:<10} {:<9} {:<8} {:<8} {}",
                    p.manifest.name,
                    p.manifest.version,
                    format!("{:?}", p.manifest.kind).to_lowercase(),
                    if p.active {
                        "yes"
                    } else if !p.awaiting_approval.is_empty() {
                        "pending"
                    } else {
                        ""
                    },
                    if p.enabled { "yes" } else { "no" },
                    p.signer.as_deref().unwrap_or("unsigned")
                );
            }
        }
        PluginCommand::Inspect { plugin } => inspect(db, &plugin).await?,
        PluginCommand::Verify { package } => {
            let package = read_package(&package)?;
            match trust::check(db, &package).await? {
                Some(key) => println!("OK: signed by trusted key {} ({})", key.key_id, key.name),
                None => println!("unsigned (the policy allows unsigned packages)"),
            }
        }
        PluginCommand::Trust { action } => match action {
            TrustAction::Add { key } => {
                let key = trust::add(db, &PublicKey::read(&key)?, &actor).await?;
                println!("trusting key {} ({})", key.key_id, key.name);
            }
            TrustAction::List => {
                for key in trust::list(db).await? {
                    println!("{}  {}", key.key_id, key.name);
                }
            }
            TrustAction::Remove { key } => {
                let key = trust::remove(db, &key, &actor).await?;
                println!("no longer trusting key {} ({})", key.key_id, key.name);
            }
        },
        PluginCommand::Search { term } => {
            let catalog = Catalog::fetch(db, None, &FetchLimits::default()).await?;
            warn_refused(&catalog);
            let found = catalog::search(db, &catalog, term.as_deref()).await?;
            if found.is_empty() {
                println!("no plugin found");
            }
            for a in found {
                let state = match (&a.installed, a.outdated) {
                    (Some(v), true) => format!("installed {v}, outdated"),
                    (Some(v), false) => format!("installed {v}"),
                    (None, _) => String::new(),
                };
                println!(
                    "{:<20} {:<10} {:<9} {:<12} {:<24} {}",
                    a.name,
                    a.release.version,
                    format!("{:?}", a.kind).to_lowercase(),
                    a.index,
                    state,
                    a.description
                );
                println!("    hosts: {}", list_or_none(&a.release.permissions.allowed_hosts));
            }
        }
        PluginCommand::Outdated => {
            let catalog = Catalog::fetch(db, None, &FetchLimits::default()).await?;
            warn_refused(&catalog);
            let outdated: Vec<_> = catalog::search(db, &catalog, None)
                .await?
                .into_iter()
                .filter(|a| a.outdated)
                .collect();
            if outdated.is_empty() {
                println!("every installed plugin is up to date with the indexes");
            }
            for a in outdated {
                println!(
                    "{} {} -> {} (index `{}`): socialcrm plugin upgrade {}@{}",
                    a.name,
                    a.installed.as_deref().unwrap_or_default(),
                    a.release.version,
                    a.index,
                    a.name,
                    a.release.version
                );
            }
        }
        PluginCommand::Index { action } => match action {
            IndexAction::Add { name, url, key } => {
                let source = sources::add(db, &name, &url, &PublicKey::read(&key)?, &actor).await?;
                println!(
                    "added index {} at {} (key {})",
                    source.name,
                    source.url,
                    source.key.id()
                );
            }
            IndexAction::List => {
                for s in sources::list(db).await? {
                    println!("{:<16} {}  key {} ({})", s.name, s.url, s.key.id(), s.key.name);
                }
            }
            IndexAction::Remove { name } => {
                let source = sources::remove(db, &name, &actor).await?;
                println!("removed index {} ({})", source.name, source.url);
            }
        },
        PluginCommand::Policy { require_signatures } => {
            if let Some(required) = require_signatures {
                trust::set_require_signatures(db, required, &actor).await?;
            }
            println!("require-signatures = {}", trust::require_signatures(db).await?);
        }
        // Handled by `run` without a database.
        PluginCommand::Pack { .. }
        | PluginCommand::Publish { .. }
        | PluginCommand::Keygen { .. }
        | PluginCommand::Sign { .. }
        | PluginCommand::Dev(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The index spec in an `install`/`upgrade` argument that is not a file.
fn from_index(argument: &str) -> anyhow::Result<Option<Spec>> {
    let path = Path::new(argument);
    if path.is_file() {
        return Ok(None);
    }
    if argument.ends_with(".scpkg") || argument.contains(std::path::MAIN_SEPARATOR) {
        anyhow::bail!("no package file {argument}");
    }
    Ok(Some(Spec::parse(argument)?))
}

/// Says which indexes were left out, and why.
fn warn_refused(catalog: &Catalog) {
    for (name, e) in &catalog.refused {
        eprintln!("warning: index `{name}` left out: {e}");
    }
}

fn summary(p: &Installed) -> String {
    format!(
        "{} {} ({}, {})",
        p.manifest.name,
        p.manifest.version,
        p.signer
            .as_deref()
            .map_or("unsigned".to_string(), |s| format!("signed by {s}")),
        if p.enabled { "enabled" } else { "disabled" }
    )
}

/// Prints an installed plugin's active version, or a package file.
async fn inspect(db: &Db, plugin: &str) -> anyhow::Result<()> {
    let path = Path::new(plugin);
    let (manifest_text, manifest, wasm, signer, status) = if path.is_file() {
        let package = read_package(path)?;
        let signer = match &package.signature {
            Some(sig) if sig.verifies(&package) => format!("key {} (signature valid)", sig.key_id),
            Some(sig) => format!("key {} (signature DOES NOT VERIFY)", sig.key_id),
            None => "unsigned".into(),
        };
        println!("package digest: {}", package.digest());
        (
            package.manifest_text,
            package.manifest,
            package.wasm,
            signer,
            "package file".to_string(),
        )
    } else {
        let (installed, wasm) = registry::active(db, plugin)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no installed plugin `{plugin}` and no such file"))?;
        println!("package digest: {}", installed.package_digest);
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(installed.installed_at) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default();
        let status = format!(
            "installed {at} by {}, {}",
            installed.installed_by,
            if installed.enabled { "enabled" } else { "disabled" }
        );
        (
            installed.manifest_text,
            installed.manifest,
            wasm,
            installed.signer.unwrap_or_else(|| "unsigned".into()),
            status,
        )
    };
    println!("plugin: {} {} ({:?})", manifest.name, manifest.version, manifest.kind);
    println!("status: {status}");
    println!("wasm digest: {}", crate::runtime::sha256_hex(&wasm));
    println!("signer: {signer}");
    println!("api: {}", manifest.api);
    let permissions = crate::plugins::Permissions::of(&manifest);
    println!("allowed hosts: {}", list_or_none(&permissions.allowed_hosts));
    println!("credential: {}", permissions.credential.as_deref().unwrap_or("none"));
    println!("secrets the host may use: {}", list_or_none(&permissions.secrets));
    if let Some(bytes) = permissions.webhook_max_body_bytes {
        println!("webhook bodies up to: {bytes} bytes");
    }
    println!("sees: {}", permissions.sees);
    if !permissions.features.is_empty() {
        println!("reads contact features: {}", permissions.features.join(", "));
    }
    println!(
        "requested limits: {}",
        serde_json::to_string(&manifest.limits).unwrap_or_default()
    );
    println!("\n# plugin.toml\n{}", manifest_text.trim_end());
    match world_wit(&wasm) {
        Ok(wit) => println!("\n# imports and exports\n{}", wit.trim_end()),
        Err(e) => println!("\n# imports and exports\n(cannot decode the component: {e})"),
    }
    Ok(())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
