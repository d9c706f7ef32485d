//! What the configured indexes offer: search, the release an install asks
//! for, and its download, checked against the verified index entry before
//! anything else sees it.

use semver::Version;
use serde::Serialize;
use url::Url;

use super::fetch::{self, FetchLimits};
use super::sources::{self, Source};
use super::{Index, IndexError, IndexPlugin, Release};
use crate::plugins::registry;
use crate::plugins::{Package, PluginKind};
use crate::runtime::{WIT_VERSION, sha256_hex, wit_version};
use crate::store::Db;

/// `NAME` or `NAME@VERSION`, as `plugin install` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub version: Option<Version>,
}

impl Spec {
    pub fn parse(text: &str) -> Result<Spec, IndexError> {
        let (name, version) = match text.split_once('@') {
            Some((name, version)) => {
                let version = Version::parse(version)
                    .map_err(|e| IndexError::Invalid(format!("`{text}`: version `{version}`: {e}")))?;
                (name, Some(version))
            }
            None => (text, None),
        };
        if name.is_empty() {
            return Err(IndexError::Invalid(format!("`{text}`: a plugin name is missing")));
        }
        Ok(Spec {
            name: name.to_string(),
            version,
        })
    }
}

/// Every configured index (or only `only`), fetched and verified; an index
/// that cannot be fetched or is refused is reported beside the others.
pub struct Catalog {
    pub indexes: Vec<(Source, Index)>,
    pub refused: Vec<(String, IndexError)>,
}

impl Catalog {
    pub async fn fetch(db: &Db, only: Option<&str>, limits: &FetchLimits) -> Result<Catalog, IndexError> {
        let sources = match only {
            Some(name) => vec![sources::get(db, name).await?],
            None => sources::list(db).await?,
        };
        if sources.is_empty() {
            return Err(IndexError::NoIndexes);
        }
        let (mut indexes, mut refused) = (Vec::new(), Vec::new());
        for source in sources {
            match source.fetch(db, limits).await {
                Ok(index) => indexes.push((source, index)),
                Err(e) => refused.push((source.name.clone(), e)),
            }
        }
        Ok(Catalog { indexes, refused })
    }
}

/// A plugin an index offers, its newest version for this host, and whether
/// it is installed (and older).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Available {
    /// The configured index that offers it.
    pub index: String,
    pub name: String,
    pub kind: PluginKind,
    pub network: Option<String>,
    pub description: String,
    /// The newest version this host can run.
    #[serde(flatten)]
    pub release: Release,
    /// The installed active version, if installed.
    pub installed: Option<String>,
    /// Installed, and older than `version`.
    pub outdated: bool,
}

/// What the indexes offer whose name, description or network contains `term`
/// (case-insensitive; every plugin without one), by name then index.
pub async fn search(db: &Db, catalog: &Catalog, term: Option<&str>) -> Result<Vec<Available>, IndexError> {
    let installed = installed_versions(db).await?;
    let term = term.map(str::to_lowercase);
    let matches = |p: &IndexPlugin| {
        term.as_deref().is_none_or(|t| {
            p.name.to_lowercase().contains(t)
                || p.description.to_lowercase().contains(t)
                || p.network.as_deref().is_some_and(|n| n.to_lowercase().contains(t))
        })
    };
    let host = wit_version();
    let mut found = Vec::new();
    for (source, index) in &catalog.indexes {
        for plugin in index.plugins.iter().filter(|p| matches(p)) {
            let Some(release) = plugin.newest_for(&host) else {
                continue;
            };
            let active = installed.iter().find(|(name, _)| *name == plugin.name).map(|(_, v)| v);
            found.push(Available {
                index: source.name.clone(),
                name: plugin.name.clone(),
                kind: plugin.kind,
                network: plugin.network.clone(),
                description: plugin.description.clone(),
                release: release.clone(),
                installed: active.map(Version::to_string),
                outdated: active.is_some_and(|v| *v < release.version),
            });
        }
    }
    found.sort_by(|a, b| (&a.name, &a.index).cmp(&(&b.name, &b.index)));
    Ok(found)
}

/// (name, active version) of every installed plugin.
async fn installed_versions(db: &Db) -> Result<Vec<(String, Version)>, IndexError> {
    let all = registry::list(db).await.map_err(|e| match e {
        registry::RegistryError::Db(e) => IndexError::Db(e),
        other => IndexError::Io(other.to_string()),
    })?;
    Ok(all
        .into_iter()
        .filter(|p| p.active)
        .map(|p| (p.manifest.name, p.manifest.version))
        .collect())
}

/// A release chosen from a verified index, with the package's URL.
#[derive(Clone, Debug)]
pub struct Offer {
    pub index: String,
    pub name: String,
    pub release: Release,
    pub url: Url,
}

/// The release `spec` names: its version, or the newest this host can run;
/// from the index with the newest such version (the first by name on a tie).
pub fn resolve(mut catalog: Catalog, spec: &Spec) -> Result<Offer, IndexError> {
    let host = wit_version();
    let offered = catalog.indexes.iter().any(|(_, i)| i.plugin(&spec.name).is_some());
    if !offered && !catalog.refused.is_empty() {
        // A refused index may be the one that has it: say why it was refused.
        return Err(catalog.refused.swap_remove(0).1);
    }
    let offering: Vec<(&Source, &IndexPlugin)> = catalog
        .indexes
        .iter()
        .filter_map(|(s, i)| i.plugin(&spec.name).map(|p| (s, p)))
        .collect();
    if offering.is_empty() {
        let mut available: Vec<String> = catalog
            .indexes
            .iter()
            .flat_map(|(_, i)| i.plugins.iter().map(|p| p.name.clone()))
            .collect();
        available.sort();
        available.dedup();
        return Err(IndexError::NotFound {
            name: spec.name.clone(),
            available,
        });
    }
    let candidates = offering.iter().filter_map(|(source, plugin)| {
        let release = match &spec.version {
            Some(v) => plugin.versions.iter().find(|r| r.version == *v && r.api.matches(&host)),
            None => plugin.newest_for(&host),
        };
        release.map(|r| (*source, r))
    });
    let mut best: Option<(&Source, &Release)> = None;
    for (source, release) in candidates {
        if best.is_none_or(|(_, b)| release.version > b.version) {
            best = Some((source, release));
        }
    }
    let Some((source, release)) = best else {
        let mut versions: Vec<&Release> = offering.iter().flat_map(|(_, p)| &p.versions).collect();
        versions.sort_by(|a, b| b.version.cmp(&a.version));
        versions.dedup_by(|a, b| a.version == b.version);
        let exists = spec
            .version
            .as_ref()
            .is_none_or(|v| versions.iter().any(|r| r.version == *v));
        let listed = versions.iter().map(|r| format!("{} ({})", r.version, r.api)).collect();
        return Err(match &spec.version {
            Some(v) if !exists => IndexError::NoVersion {
                name: spec.name.clone(),
                version: v.to_string(),
                available: versions.iter().map(|r| r.version.to_string()).collect(),
            },
            _ => IndexError::Incompatible {
                name: spec.name.clone(),
                host: WIT_VERSION.to_string(),
                available: listed,
            },
        });
    };
    let url = source.url.join(&release.url).map_err(|e| {
        IndexError::Invalid(format!(
            "{} {}: package URL `{}`: {e}",
            spec.name, release.version, release.url
        ))
    })?;
    let url = fetch::parse_url(url.as_str())?;
    Ok(Offer {
        index: source.name.clone(),
        name: spec.name.clone(),
        release: release.clone(),
        url,
    })
}

/// Downloads the offered package (no more than the entry's size) and checks,
/// before it is parsed or stored, that its SHA-256 is the entry's; then that
/// it is the entry's plugin and version, with its package digest and signer.
pub async fn download(offer: &Offer, limits: &FetchLimits) -> Result<Package, IndexError> {
    let release = &offer.release;
    let what = format!("{} {}", offer.name, release.version);
    let mismatch = |reason: String| IndexError::Mismatch {
        what: what.clone(),
        url: offer.url.to_string(),
        reason,
    };
    let cap = usize::try_from(release.size)
        .unwrap_or(usize::MAX)
        .min(limits.package_bytes);
    let bytes = fetch::get(&offer.url, cap, limits.timeout).await?;
    let sha256 = sha256_hex(&bytes);
    if sha256 != release.sha256 {
        return Err(mismatch(format!(
            "its SHA-256 is {sha256}, the index says {}",
            release.sha256
        )));
    }
    let package = Package::from_reader(offer.url.as_str(), &bytes[..]).map_err(|source| IndexError::Package {
        what: what.clone(),
        source,
    })?;
    let m = &package.manifest;
    if m.name != offer.name || m.version != release.version {
        return Err(mismatch(format!("the package is {} {}", m.name, m.version)));
    }
    if package.digest() != release.package_digest {
        return Err(mismatch("its package digest differs".into()));
    }
    let signer = package.signature.as_ref().map(|s| s.key_id.clone());
    if signer != release.signer {
        return Err(mismatch(format!(
            "signed by {}, the index says {}",
            signer.as_deref().unwrap_or("no key"),
            release.signer.as_deref().unwrap_or("no key")
        )));
    }
    Ok(package)
}
